"""Managing existing storage: the table through which the API asks a volume service.

Listing manageable volumes and measuring the storage a manage request names need an
answer from the volume service that owns the backend; the answer comes back in a row of
``backend_calls``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backend_calls",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("backend", sa.String(255), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backend_calls_created", "backend_calls", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_backend_calls_created", table_name="backend_calls")
    op.drop_table("backend_calls")
