"""The encryption key of a new volume, decided while the create records it.

Cinder asks its key manager for a key when a volume of an encrypted type is created, and
for a copy of the source's key when the volume is made from an encrypted volume or
snapshot. Firebrick keeps the key in its own table (``db/encryption.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from firebrick.db import encryption
from firebrick.domain.encryption import key_algorithm, key_bits
from firebrick.domain.errors import InvalidVolume
from firebrick.domain.model import Volume, VolumeType


@dataclass(frozen=True)
class VolumeKey:
    key_id: str
    copy_of: str | None = None  # the source volume's key, for a copy of an encrypted volume
    algorithm: str | None = None
    bits: int = 0


def plan(
    conn: Connection, volume_type: VolumeType, origin: Volume | None, multiattach: bool
) -> VolumeKey | None:
    """The key the volume will have, or None for a type without encryption.

    Raises before anything is written: an encrypted multiattach type (Cinder's 400), or a
    type whose spec a key cannot be made for (no cipher, an impossible ``key_size``).
    """
    spec = encryption.get(conn, volume_type.id)
    if spec is None:
        return None
    if multiattach:
        raise InvalidVolume("Multiattach cannot be used with encrypted volumes.")
    source = origin.encryption_key_id if origin is not None else None
    if source is not None and encryption.key_exists(conn, source):
        return VolumeKey(encryption.new_key_id(), copy_of=source)
    return VolumeKey(encryption.new_key_id(), algorithm=key_algorithm(spec), bits=key_bits(spec))


def store(conn: Connection, key: VolumeKey, volume_id: str) -> None:
    """Write the planned key, once the volume's row (which names it) is in."""
    if key.copy_of is not None:
        encryption.store_copy_of_key(conn, key.copy_of, key.key_id, volume_id)
    else:
        encryption.store_new_key(conn, key.key_id, volume_id, key.algorithm, key.bits)


def encryption_differs(conn: Connection, type_id: str | None, other_type_id: str | None) -> bool:
    """Whether two types encrypt differently (Cinder's ``volume_types_encryption_changed``):
    a copy cannot change it, nor can a retype in place."""
    first, second = encryption.get(conn, type_id), encryption.get(conn, other_type_id)
    return (first.spec() if first else None) != (second.spec() if second else None)
