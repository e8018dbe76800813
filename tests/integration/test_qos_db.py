"""The QoS and encryption repositories on SQLite and a real PostgreSQL: specs and their
keys, associations, the unique name, type encryption, and volume keys going with their
volume (the database's cascade, on both backends)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

# The migrated-database fixtures of the repository tests, on both backends.
from test_postgres_db import BACKENDS, db, empty_url, pg_server  # noqa: F401

from firebrick.db import encryption, qos, types, volumes
from firebrick.db.engine import Database
from firebrick.db.schema import volume_encryption_keys
from firebrick.domain.qos import QoSSpecsKeyNotFound, QoSSpecsNotFound

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_specs_keys_and_associations(db: Database) -> None:  # noqa: F811
    with db.write() as conn:
        gold = qos.create(conn, "gold", "front-end", {"read_iops_sec": "10", "x": None})
        silver = qos.create(conn, "silver", "back-end", {})
        vtype = types.create(conn, "t-gold")
    with pytest.raises(IntegrityError), db.write() as conn:
        qos.create(conn, "gold", "both", {})
    with db.write() as conn:
        qos.set_specs(conn, gold.id, "both", {"read_iops_sec": "20", "y": "1"})
        with pytest.raises(QoSSpecsKeyNotFound):
            qos.delete_keys(conn, qos.get(conn, gold.id), ["y", "missing"])
        qos.delete_keys(conn, qos.get(conn, gold.id), ["x"])
        qos.associate(conn, gold.id, vtype.id)
    with db.read() as conn:
        got = qos.get(conn, gold.id)
        assert (got.consumer, got.specs) == ("both", {"read_iops_sec": "20", "y": "1"})
        assert got.updated_at is not None
        assert qos.associations(conn, gold.id) == [(vtype.id, "t-gold")]
        assert types.get(conn, vtype.id).qos_specs_id == gold.id
        assert qos.of_type(conn, vtype.id) == got
        assert qos.of_type(conn, None) is None
        names = [s.name for s in qos.list_specs(conn, filters={}, sort=[("name", "desc")],
                                                 limit=None, marker=None)]  # fmt: skip
        assert names == ["silver", "gold"]
        assert qos.list_specs(conn, filters={"consumer": "back-end"}, sort=[("id", "asc")],
                              limit=None, marker=None) == [silver]  # fmt: skip
        assert qos.list_specs(conn, filters={"colour": "x"}, sort=[("id", "asc")],
                              limit=None, marker=None) == []  # fmt: skip
    with db.write() as conn:
        qos.disassociate(conn, silver.id, vtype.id)  # not its specs: nothing happens
        assert qos.type_qos_id(conn, vtype.id) == gold.id
        qos.disassociate_all(conn, gold.id)
        qos.remove(conn, gold.id)
    with db.read() as conn:
        assert types.get(conn, vtype.id).qos_specs_id is None
        with pytest.raises(QoSSpecsNotFound):
            qos.get(conn, gold.id)


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_type_encryption_and_volume_keys(db: Database) -> None:  # noqa: F811
    spec = {"provider": "luks", "cipher": "aes-xts-plain64", "key_size": 256,
            "control_location": "front-end"}  # fmt: skip
    with db.write() as conn:
        vtype = types.create(conn, "t-enc")
        created = encryption.create(conn, vtype.id, spec)
        assert encryption.update_spec(conn, vtype.id, {"key_size": 512})
        assert not encryption.update_spec(conn, str(uuid.uuid4()), {"key_size": 1})
        volume_id, key_id, copy_id, copy_key = (str(uuid.uuid4()) for _ in range(4))
        for vid, kid in ((volume_id, key_id), (copy_id, copy_key)):
            volumes.insert_volume(conn, {
                "id": vid, "project_id": "p", "user_id": "u", "size": 1, "status": "available",
                "attach_status": "detached", "bootable": False, "multiattach": False,
                "scheduling_attempts": 0, "created_at": volumes.now(),
                "volume_type_id": vtype.id, "encryption_key_id": kid}, {})  # fmt: skip
        encryption.store_new_key(conn, key_id, volume_id, "aes", 256)
        encryption.store_copy_of_key(conn, key_id, copy_key, copy_id)
    with db.read() as conn:
        got = encryption.get(conn, vtype.id)
        assert (
            got is not None and got.key_size == 512 and got.encryption_id == created.encryption_id
        )
        assert volumes.get(conn, volume_id).encryption_key_id == key_id
        secrets = dict(conn.execute(select(volume_encryption_keys.c.id,
                                           volume_encryption_keys.c.secret)).all())  # fmt: skip
        assert len(secrets[key_id]) == 64 and secrets[copy_key] == secrets[key_id]
    with db.write() as conn:
        volumes.remove(conn, copy_id)
    with db.read() as conn:
        assert encryption.key_exists(conn, key_id)
        assert not encryption.key_exists(conn, copy_key)
    with db.write() as conn:
        volumes.remove(conn, volume_id)
        types.remove(conn, vtype.id)
    with db.read() as conn:
        assert not encryption.key_exists(conn, key_id)
        assert encryption.get(conn, vtype.id) is None
