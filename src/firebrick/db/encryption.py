"""Volume type encryption specs, and the keys of encrypted volumes.

A key's secret is written here and read by nothing in the API: Firebrick stands in for
Cinder's key manager only as far as giving each encrypted volume a key id of its own.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from firebrick.db.schema import volume_encryption_keys, volume_type_encryption, volume_types
from firebrick.db.volumes import now
from firebrick.domain.encryption import Encryption
from firebrick.domain.errors import VolumeTypeNotFound

_FIELDS = ("provider", "cipher", "key_size", "control_location")


def _to_encryption(row: Row[Any]) -> Encryption:
    return Encryption(
        volume_type_id=row.volume_type_id,
        encryption_id=row.encryption_id,
        provider=row.provider,
        cipher=row.cipher,
        key_size=row.key_size,
        control_location=row.control_location,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def check_type(conn: Connection, type_id: str) -> None:
    """VolumeTypeNotFound unless a type has this id (by id only, as Cinder looks it up)."""
    found = conn.execute(select(volume_types.c.id).where(volume_types.c.id == type_id)).first()
    if found is None:
        raise VolumeTypeNotFound(type_id)


_GET = select(volume_type_encryption).where(
    volume_type_encryption.c.volume_type_id == bindparam("type_id")
)


def get(conn: Connection, type_id: str | None) -> Encryption | None:
    if type_id is None:
        return None
    row = conn.execute(_GET, {"type_id": type_id}).first()
    return _to_encryption(row) if row is not None else None


def create(conn: Connection, type_id: str, spec: Mapping[str, Any]) -> Encryption:
    conn.execute(
        insert(volume_type_encryption).values(
            volume_type_id=type_id,
            encryption_id=str(uuid.uuid4()),
            created_at=now(),
            **{k: spec.get(k) for k in _FIELDS},
        )
    )
    created = get(conn, type_id)
    assert created is not None
    return created


def update_spec(conn: Connection, type_id: str, spec: Mapping[str, Any]) -> bool:
    """Change the given fields; False when the type has no encryption."""
    values = {k: spec[k] for k in _FIELDS if k in spec}
    result = conn.execute(
        update(volume_type_encryption)
        .where(volume_type_encryption.c.volume_type_id == type_id)
        .values(updated_at=now(), **values)
    )
    return result.rowcount > 0


def remove(conn: Connection, type_id: str) -> bool:
    result = conn.execute(
        delete(volume_type_encryption).where(volume_type_encryption.c.volume_type_id == type_id)
    )
    return result.rowcount > 0


# -- volume keys -----------------------------------------------------------------------
# A key row names its volume, so it is inserted after the volume row (which already
# carries the key's id) and goes when that row goes.


def new_key_id() -> str:
    return str(uuid.uuid4())


def store_new_key(
    conn: Connection, key_id: str, volume_id: str, algorithm: str | None, bits: int
) -> None:
    """A new random key of ``bits`` for the volume."""
    _insert_key(conn, key_id, volume_id, algorithm, bits, secrets.token_hex(bits // 8))


def store_copy_of_key(conn: Connection, source_key_id: str, key_id: str, volume_id: str) -> None:
    """The volume gets a key of its own holding the same secret as ``source_key_id``: a
    copy's data was encrypted with its source's key (Cinder's ``clone_encryption_key``)."""
    row = conn.execute(
        select(volume_encryption_keys).where(volume_encryption_keys.c.id == source_key_id)
    ).one()
    _insert_key(conn, key_id, volume_id, row.algorithm, row.bit_length, row.secret)


def _insert_key(
    conn: Connection, key_id: str, volume_id: str, algorithm: str | None, bits: int, secret: str
) -> None:
    conn.execute(
        insert(volume_encryption_keys).values(
            id=key_id, volume_id=volume_id, algorithm=algorithm, bit_length=bits,
            secret=secret, created_at=now(),
        )
    )  # fmt: skip


def key_exists(conn: Connection, key_id: str) -> bool:
    query = select(volume_encryption_keys.c.id).where(volume_encryption_keys.c.id == key_id)
    return conn.execute(query).first() is not None
