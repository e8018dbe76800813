"""Schema for the usage audit of notifications.

``deleted_resources``: the usage payload of each volume and snapshot as it was deleted,
for ``firebrick volume-usage-audit``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deleted_resources",
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "id"),
    )
    op.create_index("ix_deleted_resources_deleted_at", "deleted_resources", ["deleted_at"])


def downgrade() -> None:
    op.drop_index("ix_deleted_resources_deleted_at", table_name="deleted_resources")
    op.drop_table("deleted_resources")
