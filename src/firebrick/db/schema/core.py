"""The core tables: types, volumes, snapshots, attachments, services, pools, quotas,
messages; and the ``metadata`` every table of Firebrick belongs to."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

volume_types = Table(
    "volume_types",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", String(255)),
    Column("is_public", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
)

volume_type_extra_specs = Table(
    "volume_type_extra_specs",
    metadata,
    Column("volume_type_id", String(36), ForeignKey("volume_types.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(255), nullable=False),
)  # fmt: skip

volumes = Table(
    "volumes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("display_name", String(255)),
    Column("display_description", String(255)),
    Column("size", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("attach_status", String(32), nullable=False, default="detached"),
    Column("availability_zone", String(255)),
    Column("volume_type_id", String(36), ForeignKey("volume_types.id")),
    Column("host", String(255)),
    Column("snapshot_id", String(36)),
    Column("source_volid", String(36)),
    Column("bootable", Boolean, nullable=False, default=False),
    Column("multiattach", Boolean, nullable=False, default=False),
    Column("replication_status", String(32)),
    Column("migration_status", String(255)),  # "target:<id>" on a migration's copy
    Column("provider_location", String(255)),
    # Recovery journal: the last step of the volume's running flow, written in the same
    # transaction as the state change that step makes.
    Column("task_state", String(64)),
    Column("previous_status", String(32)),  # what an action (extend, ...) returns to
    Column("readonly", Boolean, nullable=False, default=False, server_default=false()),
    Column("scheduling_attempts", Integer, nullable=False, default=0),
    # Cinder's _name_id: the id the storage is named after, once a migration swapped it.
    Column("name_id", String(36)),
    # False for a migration's temporary copy, which no quota counts.
    Column("use_quota", Boolean, nullable=False, default=True, server_default=true()),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Column("launched_at", DateTime),
    Column("scheduled_at", DateTime),
    Column("group_id", String(36)),  # the generic volume group it belongs to
    Index("ix_volumes_project_created", "project_id", "created_at"),
    Index("ix_volumes_host", "host"),
    Index("ix_volumes_status", "status"),
    Index("ix_volumes_group", "group_id"),
)

volume_metadata = Table(
    "volume_metadata",
    metadata,
    Column("volume_id", String(36), ForeignKey("volumes.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(255), nullable=False),
    Index("ix_volume_metadata_kv", "key", "value"),
)  # fmt: skip

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("volume_id", String(36), ForeignKey("volumes.id"), nullable=False),
    Column("project_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("display_name", String(255)),
    Column("display_description", String(255)),
    Column("volume_size", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("progress", String(32), nullable=False, default="0%"),
    Column("provider_location", String(255)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Column("group_snapshot_id", String(36)),  # the group snapshot it is a member of
    Index("ix_snapshots_volume", "volume_id"),
    Index("ix_snapshots_project_created", "project_id", "created_at"),
    Index("ix_snapshots_group_snapshot", "group_snapshot_id"),
)

snapshot_metadata = Table(
    "snapshot_metadata",
    metadata,
    Column("snapshot_id", String(36), ForeignKey("snapshots.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(255), nullable=False),
)  # fmt: skip

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("volume_id", String(36), ForeignKey("volumes.id"), nullable=False),
    Column("project_id", String(255), nullable=False),
    Column("instance_uuid", String(36)),
    Column("attached_host", String(255)),
    Column("mountpoint", String(255)),
    Column("attach_mode", String(8), nullable=False, default="null"),
    Column("attach_status", String(32), nullable=False),
    Column("connector", JSON),
    # Holds the target's CHAP/PSK secret: never logged, shown only to the attachment's owner.
    Column("connection_info", JSON),
    Column("error", Text),
    Column("attach_time", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Index("ix_attachments_volume", "volume_id"),
)

# A client's Idempotency-Key on a create, per project: a retried request gets the
# resource the first one made (EBS's ClientToken semantics).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("project_id", String(255), primary_key=True),
    Column("resource_type", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("resource_id", String(36), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("fingerprint", String(64)),  # of the request: a reused key must mean the same
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("host", String(255), nullable=False),
    Column("binary", String(255), nullable=False),
    Column("topic", String(255), nullable=False),
    Column("availability_zone", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("disabled_reason", String(255)),
    # A frozen volume service takes no new work and refuses changes to its volumes.
    Column("frozen", Boolean, nullable=False, default=False, server_default=false()),
    Column("report_count", Integer, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    UniqueConstraint("host", "binary", name="uq_services_host_binary"),
)

pools = Table(
    "pools",
    metadata,
    Column("name", String(255), primary_key=True),  # host@backend#pool
    Column("backend", String(255), nullable=False),  # host@backend
    Column("availability_zone", String(255), nullable=False),
    Column("capabilities", JSON, nullable=False),
    # Exact: raised by the scheduler when it places a volume, lowered on delete/reschedule.
    Column("allocated_capacity_gb", Float, nullable=False, default=0),
    Column("updated_at", DateTime, nullable=False),
)

quotas = Table(
    "quotas",
    metadata,
    Column("project_id", String(255), primary_key=True),
    Column("resource", String(300), primary_key=True),  # volumes_<type name of 255>
    Column("hard_limit", Integer, nullable=False),
)

quota_usages = Table(
    "quota_usages",
    metadata,
    Column("project_id", String(255), primary_key=True),
    Column("resource", String(300), primary_key=True),
    Column("in_use", BigInteger, nullable=False, default=0),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False),
    Column("request_id", String(255)),
    Column("resource_type", String(255)),
    Column("resource_uuid", String(36)),
    Column("event_id", String(255), nullable=False),
    Column("message_level", String(255), nullable=False),
    Column("detail", Text),  # the per-pool explanation Firebrick adds to Cinder's text
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),
    Index("ix_messages_project", "project_id", "created_at"),
    Index("ix_messages_resource", "resource_uuid"),
)
