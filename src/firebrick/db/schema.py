"""Tables, in SQLAlchemy Core: the volume service's whole persistent state."""

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

# Each family of tables below goes at its own [anchor].
# [qos]
# QoS specs: a name, a consumer and free-form keys; a volume type points at one.
quality_of_service_specs = Table(
    "quality_of_service_specs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("consumer", String(16), nullable=False),  # front-end, back-end or both
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
)

qos_spec_items = Table(
    "qos_spec_items",
    metadata,
    Column("specs_id", String(36),
           ForeignKey("quality_of_service_specs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(255)),  # Cinder lets PUT set a key to null
)  # fmt: skip

# Cinder's VolumeType.qos_specs_id; kept consistent by the QoS calls (delete refuses or
# disassociates), without a foreign key so that SQLite adds the column in place.
volume_types.append_column(Column("qos_specs_id", String(36)))

# A volume type's encryption spec (Cinder's ``encryption`` table): at most one per type.
volume_type_encryption = Table(
    "volume_type_encryption",
    metadata,
    Column("volume_type_id", String(36), ForeignKey("volume_types.id", ondelete="CASCADE"),
           primary_key=True),
    Column("encryption_id", String(36), nullable=False, unique=True),
    Column("provider", String(255)),
    Column("cipher", String(255)),
    Column("key_size", Integer),
    Column("control_location", String(255)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
)  # fmt: skip

# The key of each encrypted volume: what Cinder keeps in its key manager (Barbican). The
# secret never leaves this table through the API, the logs or the notifications; it goes
# with its volume's row.
volume_encryption_keys = Table(
    "volume_encryption_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("volume_id", String(36), ForeignKey("volumes.id", ondelete="CASCADE"),
           nullable=False, unique=True),
    Column("algorithm", String(64)),
    Column("bit_length", Integer, nullable=False),
    Column("secret", Text, nullable=False),  # hex
    Column("created_at", DateTime, nullable=False),
)  # fmt: skip

# Cinder's Volume.encryption_key_id: set for volumes of an encrypted type.
volumes.append_column(Column("encryption_key_id", String(36)))

# [transfers]
# A volume offered to another project. Only a salted hash of its key is kept. Accepted
# and deleted transfers stay as history (``deleted``), as Cinder keeps them; they go with
# their volume's row.
transfers = Table(
    "transfers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("volume_id", String(36), ForeignKey("volumes.id", ondelete="CASCADE"),
           nullable=False),
    Column("display_name", String(255)),
    Column("salt", String(64), nullable=False),
    Column("crypt_hash", String(64), nullable=False),
    Column("no_snapshots", Boolean, nullable=False, default=False),
    Column("source_project_id", String(255)),
    Column("destination_project_id", String(255)),
    Column("accepted", Boolean, nullable=False, default=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Column("deleted_at", DateTime),
    Index("ix_transfers_volume", "volume_id"),
)  # fmt: skip

# [groups]
group_types = Table(
    "group_types",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", String(255)),
    Column("is_public", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
)

group_type_specs = Table(
    "group_type_specs",
    metadata,
    Column("group_type_id", String(36), ForeignKey("group_types.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(255)),  # Cinder accepts null spec values
)  # fmt: skip

groups = Table(
    "groups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("name", String(255)),
    Column("description", String(255)),
    Column("status", String(32), nullable=False),
    Column("availability_zone", String(255)),
    Column("group_type_id", String(36), ForeignKey("group_types.id"), nullable=False),
    Column("host", String(255)),  # host@backend#pool once the scheduler placed it
    Column("group_snapshot_id", String(36)),  # created from this group snapshot
    Column("source_group_id", String(36)),  # or as a copy of this group
    Column("replication_status", String(32)),
    # Recovery journal: set before a copy of a source group starts, cleared when it ends.
    Column("task_state", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Index("ix_groups_project_created", "project_id", "created_at"),
    Index("ix_groups_host", "host"),
)

group_volume_types = Table(
    "group_volume_types",
    metadata,
    Column("group_id", String(36), ForeignKey("groups.id", ondelete="CASCADE"),
           primary_key=True),
    Column("volume_type_id", String(36), ForeignKey("volume_types.id"), primary_key=True),
    Column("position", Integer, nullable=False),  # the order the request named them in
)  # fmt: skip

group_snapshots = Table(
    "group_snapshots",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("group_id", String(36), ForeignKey("groups.id"), nullable=False),
    Column("project_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("name", String(255)),
    Column("description", String(255)),
    Column("status", String(32), nullable=False),
    Column("group_type_id", String(36), nullable=False),
    # Recovery journal: set before the members are taken, cleared when they all are.
    Column("task_state", String(64)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Index("ix_group_snapshots_project_created", "project_id", "created_at"),
    Index("ix_group_snapshots_group", "group_id"),
)

# [manage]
# A call to a volume service made of a cast and this row (``api/backend_call.py``): the
# service writes its answer here, the API reads it and removes the row.
backend_calls = Table(
    "backend_calls",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("backend", String(255), nullable=False),  # host@backend
    Column("method", String(64), nullable=False),
    Column("result", JSON),
    Column("error_code", Integer),
    Column("error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Index("ix_backend_calls_created", "created_at"),
)

# [migration]
# One row per migration in flight (the source volume's id): what was asked, where the copy
# goes and how far it got, so that any process can finish or undo it after a crash.
volume_migrations = Table(
    "volume_migrations",
    metadata,
    Column("volume_id", String(36), primary_key=True),
    Column("target_id", String(36)),  # the copy's volume row, once placed
    Column("source_host", String(255), nullable=False),
    Column("requested_host", String(255)),  # os-migrate_volume's host; None for a retype
    Column("dest_host", String(255)),  # the copy's pool, once placed
    Column("new_type_id", String(36)),  # a retype's new type
    Column("lock_volume", Boolean, nullable=False),
    Column("phase", String(32), nullable=False),
    # The source's read-only export for a remote destination: holds the target's secret.
    Column("connection_info", JSON),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

# [images]
# Cinder's volume_glance_metadata: what a volume keeps of the image it was made from.
volume_glance_metadata = Table(
    "volume_glance_metadata",
    metadata,
    Column("volume_id", String(36), ForeignKey("volumes.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)  # fmt: skip

# Cinder's image_volume_cache_entries: per backend, one cached copy of an image's data.
image_volume_cache_entries = Table(
    "image_volume_cache_entries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("image_id", String(36), nullable=False),
    Column("image_updated_at", String(64)),
    Column("checksum", String(255)),
    Column("size", Integer, nullable=False),
    Column("last_used", DateTime, nullable=False),
    UniqueConstraint("host", "image_id", name="uq_image_cache_host_image"),
)

# [core]
# Projects that may use a private volume type (Cinder's volume_type_projects).
volume_type_projects = Table(
    "volume_type_projects",
    metadata,
    Column("volume_type_id", String(36), ForeignKey("volume_types.id", ondelete="CASCADE"),
           primary_key=True),
    Column("project_id", String(255), primary_key=True),
)  # fmt: skip
