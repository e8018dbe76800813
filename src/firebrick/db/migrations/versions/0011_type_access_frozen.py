"""Private volume types shared with projects; frozen volume services.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volume_type_projects",
        sa.Column("volume_type_id", sa.String(36), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["volume_type_id"], ["volume_types.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("volume_type_id", "project_id"),
    )
    with op.batch_alter_table("services") as batch:
        batch.add_column(
            sa.Column("frozen", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_column("frozen")
    op.drop_table("volume_type_projects")
