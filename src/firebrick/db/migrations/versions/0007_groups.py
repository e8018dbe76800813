"""Schema for generic volume groups, group types and group snapshots.

Adds the group tables, ``volumes.group_id`` and ``snapshots.group_snapshot_id``, and
Cinder's reserved group type ``default_cgsnapshot_type`` (its initial migration creates
it too, with ``consistent_group_snapshot_enabled = <is> True``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    group_types = op.create_table(
        "group_types",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    specs = op.create_table(
        "group_type_specs",
        sa.Column("group_type_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(["group_type_id"], ["group_types.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_type_id", "key"),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("availability_zone", sa.String(255), nullable=True),
        sa.Column("group_type_id", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("group_snapshot_id", sa.String(36), nullable=True),
        sa.Column("source_group_id", sa.String(36), nullable=True),
        sa.Column("replication_status", sa.String(32), nullable=True),
        sa.Column("task_state", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["group_type_id"], ["group_types.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_groups_project_created", "groups", ["project_id", "created_at"])
    op.create_index("ix_groups_host", "groups", ["host"])
    op.create_table(
        "group_volume_types",
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("volume_type_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["volume_type_id"], ["volume_types.id"]),
        sa.PrimaryKeyConstraint("group_id", "volume_type_id"),
    )
    op.create_table(
        "group_snapshots",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("group_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("group_type_id", sa.String(36), nullable=False),
        sa.Column("task_state", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_group_snapshots_project_created", "group_snapshots", ["project_id", "created_at"]
    )
    op.create_index("ix_group_snapshots_group", "group_snapshots", ["group_id"])
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("group_id", sa.String(36), nullable=True))
        batch.create_index("ix_volumes_group", ["group_id"])
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("group_snapshot_id", sa.String(36), nullable=True))
        batch.create_index("ix_snapshots_group_snapshot", ["group_snapshot_id"])

    stamp = datetime.now(UTC).replace(tzinfo=None)
    type_id = str(uuid.uuid4())
    op.bulk_insert(
        group_types,
        [{"id": type_id, "name": "default_cgsnapshot_type",
          "description": "Default group type for migrating cgsnapshot", "is_public": True,
          "created_at": stamp, "updated_at": stamp}],
    )  # fmt: skip
    op.bulk_insert(
        specs,
        [{"group_type_id": type_id, "key": "consistent_group_snapshot_enabled",
          "value": "<is> True"}],
    )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_index("ix_snapshots_group_snapshot")
        batch.drop_column("group_snapshot_id")
    with op.batch_alter_table("volumes") as batch:
        batch.drop_index("ix_volumes_group")
        batch.drop_column("group_id")
    op.drop_index("ix_group_snapshots_group", table_name="group_snapshots")
    op.drop_index("ix_group_snapshots_project_created", table_name="group_snapshots")
    op.drop_table("group_snapshots")
    op.drop_table("group_volume_types")
    op.drop_index("ix_groups_host", table_name="groups")
    op.drop_index("ix_groups_project_created", table_name="groups")
    op.drop_table("groups")
    op.drop_table("group_type_specs")
    op.drop_table("group_types")
