"""The volume lifecycle: snapshots, idempotency keys, a volume's previous status and flag.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("previous_status", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("readonly", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("display_description", sa.String(255), nullable=True),
        sa.Column("volume_size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("progress", sa.String(32), nullable=False),
        sa.Column("provider_location", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["volume_id"], ["volumes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_snapshots_volume", "snapshots", ["volume_id"])
    op.create_index("ix_snapshots_project_created", "snapshots", ["project_id", "created_at"])
    op.create_table(
        "snapshot_metadata",
        sa.Column("snapshot_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("snapshot_id", "key"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource_type", "key"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("snapshot_metadata")
    op.drop_index("ix_snapshots_project_created", table_name="snapshots")
    op.drop_index("ix_snapshots_volume", table_name="snapshots")
    op.drop_table("snapshots")
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("readonly")
        batch.drop_column("previous_status")
