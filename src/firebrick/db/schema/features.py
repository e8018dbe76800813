"""The tables of the API families beyond the core: QoS and encryption, transfers, groups,
manage, migration, images and type access; each family at its own [anchor]."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from firebrick.db.schema.core import metadata, volume_types, volumes

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

# [backups]
# Cinder's backups: one row per backup, kept (``deleted``) once deleted so that an export
# record can bring it back. ``device`` and ``point_id`` are Firebrick's: where the backup
# service reads the data (with an export's secret when it reads from afar) and the
# backend's reference copy that the next incremental is compared with.
backups = Table(
    "backups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("volume_id", String(36), nullable=False),  # no foreign key: backups outlive it
    Column("snapshot_id", String(36)),
    Column("host", String(255)),  # the backup service's host
    Column("availability_zone", String(255)),
    Column("display_name", String(255)),
    Column("display_description", String(255)),
    Column("container", String(255)),
    Column("status", String(32), nullable=False),
    Column("fail_reason", Text),
    Column("service", String(255)),
    Column("service_metadata", String(255)),
    Column("size", Integer, nullable=False),
    Column("object_count", Integer, nullable=False, default=0),
    Column("parent_id", String(36)),
    Column("num_dependent_backups", Integer, nullable=False, default=0),
    Column("temp_snapshot_id", String(36)),
    Column("restore_volume_id", String(36)),
    Column("data_timestamp", DateTime),
    Column("encryption_key_id", String(36)),
    Column("device", JSON),
    Column("point_id", String(36)),
    Column("point_host", String(255)),  # host@backend that keeps the point
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime),
    Column("deleted_at", DateTime),
    Index("ix_backups_project_created", "project_id", "created_at"),
    Index("ix_backups_volume", "volume_id"),
    Index("ix_backups_host_status", "host", "status"),
    Index("ix_backups_parent", "parent_id"),
)

backup_metadata = Table(
    "backup_metadata",
    metadata,
    Column("backup_id", String(36), ForeignKey("backups.id", ondelete="CASCADE"),
           primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(255)),
)  # fmt: skip

# [rbd]

# [notifications]
# What the usage audit needs of a volume or snapshot once its row is gone (Cinder keeps
# soft-deleted rows for it): its usage payload as it was deleted, written in the delete's
# transaction, so that billing sees every resource that existed in a period.
deleted_resources = Table(
    "deleted_resources",
    metadata,
    Column("resource_type", String(16), primary_key=True),  # volume, snapshot (backup)
    Column("id", String(36), primary_key=True),
    Column("project_id", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("deleted_at", DateTime, nullable=False),
    Column("usage", JSON, nullable=False),
    Index("ix_deleted_resources_deleted_at", "deleted_at"),
)

# [metrics]
# What each run of a volume's create flow did (its tasks with their times and outcomes),
# for the dashboard's timeline: written in the transaction that ends the run — the volume
# made available, sent back to the scheduler or errored — never in one of its own.
volume_flow_runs = Table(
    "volume_flow_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("volume_id", String(36), ForeignKey("volumes.id", ondelete="CASCADE"),
           nullable=False),
    Column("flow", String(64), nullable=False),
    Column("host", String(255)),  # the pool the run was on (host@backend#pool)
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # success, rescheduled or error
    Column("reason", Text),
    Column("request_id", String(255)),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    Column("tasks", JSON, nullable=False),
    Index("ix_volume_flow_runs_volume", "volume_id", "id"),
)  # fmt: skip

# [core]
# Projects that may use a private volume type (Cinder's volume_type_projects).
volume_type_projects = Table(
    "volume_type_projects",
    metadata,
    Column("volume_type_id", String(36), ForeignKey("volume_types.id", ondelete="CASCADE"),
           primary_key=True),
    Column("project_id", String(255), primary_key=True),
)  # fmt: skip
