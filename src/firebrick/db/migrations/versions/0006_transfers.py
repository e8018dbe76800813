"""Volume transfers: the offer of a volume to another project, with its key's hash.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("crypt_hash", sa.String(64), nullable=False),
        sa.Column("no_snapshots", sa.Boolean(), nullable=False),
        sa.Column("source_project_id", sa.String(255), nullable=True),
        sa.Column("destination_project_id", sa.String(255), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["volume_id"], ["volumes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transfers_volume", "transfers", ["volume_id"])


def downgrade() -> None:
    op.drop_index("ix_transfers_volume", table_name="transfers")
    op.drop_table("transfers")
