"""Volumes from Glance images: their image metadata, and the image-volume cache.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volume_glance_metadata",
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["volume_id"], ["volumes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("volume_id", "key"),
    )
    op.create_table(
        "image_volume_cache_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("image_updated_at", sa.String(64), nullable=True),
        sa.Column("checksum", sa.String(255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("last_used", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("host", "image_id", name="uq_image_cache_host_image"),
    )


def downgrade() -> None:
    op.drop_table("image_volume_cache_entries")
    op.drop_table("volume_glance_metadata")
