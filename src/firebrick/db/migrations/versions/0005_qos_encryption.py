"""QoS specs and their association with volume types; volume type encryption and the
keys of encrypted volumes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quality_of_service_specs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("consumer", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "qos_spec_items",
        sa.Column("specs_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(["specs_id"], ["quality_of_service_specs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("specs_id", "key"),
    )
    # Plain ALTER TABLE ADD COLUMN on SQLite too (no foreign key: no table rebuild).
    with op.batch_alter_table("volume_types") as batch:
        batch.add_column(sa.Column("qos_specs_id", sa.String(36), nullable=True))
    op.create_table(
        "volume_type_encryption",
        sa.Column("volume_type_id", sa.String(36), nullable=False),
        sa.Column("encryption_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(255), nullable=True),
        sa.Column("cipher", sa.String(255), nullable=True),
        sa.Column("key_size", sa.Integer(), nullable=True),
        sa.Column("control_location", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["volume_type_id"], ["volume_types.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("volume_type_id"),
        sa.UniqueConstraint("encryption_id"),
    )
    op.create_table(
        "volume_encryption_keys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("algorithm", sa.String(64), nullable=True),
        sa.Column("bit_length", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["volume_id"], ["volumes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("volume_id"),
    )
    with op.batch_alter_table("volumes") as batch:
        batch.add_column(sa.Column("encryption_key_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volumes") as batch:
        batch.drop_column("encryption_key_id")
    op.drop_table("volume_encryption_keys")
    op.drop_table("volume_type_encryption")
    with op.batch_alter_table("volume_types") as batch:
        batch.drop_column("qos_specs_id")
    op.drop_table("qos_spec_items")
    op.drop_table("quality_of_service_specs")
