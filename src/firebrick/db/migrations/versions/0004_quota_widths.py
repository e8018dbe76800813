"""Quota rows fit every per-type resource and every usage.

A volume type's name may have 255 characters, so ``snapshots_<name>`` needs more than
255; a project with unlimited gigabytes may use more than 2**31 of them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESOURCE_LENGTH = 300


def upgrade() -> None:
    with op.batch_alter_table("quotas") as batch:
        batch.alter_column(
            "resource", type_=sa.String(RESOURCE_LENGTH), existing_type=sa.String(255)
        )
    with op.batch_alter_table("quota_usages") as batch:
        batch.alter_column(
            "resource", type_=sa.String(RESOURCE_LENGTH), existing_type=sa.String(255)
        )
        batch.alter_column(
            "in_use", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quota_usages") as batch:
        batch.alter_column("in_use", type_=sa.Integer(), existing_type=sa.BigInteger())
        batch.alter_column("resource", type_=sa.String(255))
    with op.batch_alter_table("quotas") as batch:
        batch.alter_column("resource", type_=sa.String(255))
