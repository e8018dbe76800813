"""Volume migration between backends and revert to snapshot.

``volumes.name_id`` is Cinder's ``_name_id``: the id the volume's storage is named after
once a host-assisted migration has swapped it for its copy's. ``volumes.use_quota`` is
false for a migration's temporary volume, which counts against no quota.
``migration_status`` holds ``target:<volume id>`` (43 characters) on such a volume.
``volume_migrations`` journals each migration in flight, so that any process can tell
what is left to do (or to undo) after a crash.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.alter_column("migration_status", type_=sa.String(255), existing_type=sa.String(32))
        batch.add_column(sa.Column("name_id", sa.String(36), nullable=True))
        batch.add_column(
            sa.Column("use_quota", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "volume_migrations",
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=True),
        sa.Column("source_host", sa.String(255), nullable=False),
        sa.Column("requested_host", sa.String(255), nullable=True),
        sa.Column("dest_host", sa.String(255), nullable=True),
        sa.Column("new_type_id", sa.String(36), nullable=True),
        sa.Column("lock_volume", sa.Boolean(), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("connection_info", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("volume_id"),
    )


def downgrade() -> None:
    op.drop_table("volume_migrations")
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("use_quota")
        batch.drop_column("name_id")
        batch.alter_column("migration_status", type_=sa.String(32), existing_type=sa.String(255))
