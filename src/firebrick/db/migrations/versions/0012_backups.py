"""Schema for the backup service and its backups.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("snapshot_id", sa.String(36)),
        sa.Column("host", sa.String(255)),
        sa.Column("availability_zone", sa.String(255)),
        sa.Column("display_name", sa.String(255)),
        sa.Column("display_description", sa.String(255)),
        sa.Column("container", sa.String(255)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("fail_reason", sa.Text()),
        sa.Column("service", sa.String(255)),
        sa.Column("service_metadata", sa.String(255)),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("object_count", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("num_dependent_backups", sa.Integer(), nullable=False),
        sa.Column("temp_snapshot_id", sa.String(36)),
        sa.Column("restore_volume_id", sa.String(36)),
        sa.Column("data_timestamp", sa.DateTime()),
        sa.Column("encryption_key_id", sa.String(36)),
        sa.Column("device", sa.JSON()),
        sa.Column("point_id", sa.String(36)),
        sa.Column("point_host", sa.String(255)),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime()),
        sa.Column("deleted_at", sa.DateTime()),
    )
    op.create_index("ix_backups_project_created", "backups", ["project_id", "created_at"])
    op.create_index("ix_backups_volume", "backups", ["volume_id"])
    op.create_index("ix_backups_host_status", "backups", ["host", "status"])
    op.create_index("ix_backups_parent", "backups", ["parent_id"])
    op.create_table(
        "backup_metadata",
        sa.Column("backup_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255)),
        sa.ForeignKeyConstraint(["backup_id"], ["backups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("backup_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("backup_metadata")
    op.drop_index("ix_backups_parent", "backups")
    op.drop_index("ix_backups_host_status", "backups")
    op.drop_index("ix_backups_volume", "backups")
    op.drop_index("ix_backups_project_created", "backups")
    op.drop_table("backups")
