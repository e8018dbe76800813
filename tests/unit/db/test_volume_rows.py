"""A volume row read back as a Volume: each field from its own column."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from firebrick.db import types, volumes
from firebrick.db.engine import Database
from firebrick.domain.model import Volume


def test_every_field_comes_from_its_column(db: Database) -> None:
    # Every value distinct, so that a field read from another column shows.
    with db.write() as conn:
        vtype = types.create(conn, "gold")
        row = {
            "id": "v-id", "project_id": "v-project", "user_id": "v-user", "size": 7,
            "status": "v-status", "created_at": datetime(2026, 1, 2, 3, 4, 5, 6),
            "display_name": "v-name", "display_description": "v-description",
            "availability_zone": "v-zone", "volume_type_id": vtype.id, "host": "v-host",
            "snapshot_id": "v-snapshot", "source_volid": "v-source", "bootable": True,
            "multiattach": True, "attach_status": "v-attach", "replication_status": "v-repl",
            "migration_status": "v-migration", "provider_location": "v-location",
            "updated_at": datetime(2026, 2, 3, 4, 5, 6, 7),
            "launched_at": datetime(2026, 3, 4, 5, 6, 7, 8), "readonly": True,
            "previous_status": "v-previous", "encryption_key_id": "v-key", "group_id": "v-group",
            "name_id": "v-name-id", "use_quota": False, "scheduling_attempts": 0,
        }  # fmt: skip
        volumes.insert_volume(conn, row, {"k": "v"})
    with db.read() as conn:
        got = volumes.get(conn, "v-id")
        [listed] = volumes.list_volumes(
            conn, project_id="v-project", filters={}, sort=[], limit=None, marker=None
        )
    column = {"name": "display_name", "description": "display_description"}
    for field in dataclasses.fields(Volume):
        if field.name == "metadata":
            assert got.metadata == {"k": "v"}
        elif field.name == "volume_type_name":
            assert got.volume_type_name == "gold"
        else:
            assert getattr(got, field.name) == row[column.get(field.name, field.name)], field.name
    assert listed == got
