"""The records the layers hand each other: plain dataclasses, no behaviour tied to I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Volume:
    id: str
    project_id: str
    user_id: str
    size: int
    status: str
    created_at: datetime
    name: str | None = None
    description: str | None = None
    availability_zone: str | None = None
    volume_type_id: str | None = None
    volume_type_name: str | None = None
    host: str | None = None  # host@backend#pool once scheduled
    snapshot_id: str | None = None
    source_volid: str | None = None
    bootable: bool = False
    multiattach: bool = False
    attach_status: str = "detached"
    replication_status: str | None = None
    migration_status: str | None = None
    provider_location: str | None = None
    updated_at: datetime | None = None
    launched_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    readonly: bool = False
    previous_status: str | None = None
    encryption_key_id: str | None = None  # set for volumes of an encrypted type
    group_id: str | None = None
    name_id: str | None = None  # Cinder's _name_id: set once a migration swapped storage
    use_quota: bool = True  # False for a migration's temporary copy

    @property
    def storage_id(self) -> str:
        """The id the volume's storage is named after (Cinder's ``name_id``)."""
        return self.name_id or self.id


@dataclass
class VolumeType:
    id: str
    name: str
    description: str | None = None
    is_public: bool = True
    extra_specs: dict[str, str] = field(default_factory=dict)
    qos_specs_id: str | None = None


@dataclass
class PoolState:
    """One pool as the scheduler sees it: the latest report plus exact allocations.

    ``capabilities`` is the driver's pool report merged with its backend-level keys
    (volume_backend_name, storage_protocol, ...). ``allocated_capacity_gb`` is kept in the
    database and already includes every placement made so far.
    """

    name: str  # host@backend#pool
    backend: str  # host@backend
    availability_zone: str
    capabilities: dict[str, Any]
    allocated_capacity_gb: float = 0.0

    @property
    def total_capacity_gb(self) -> float | str | None:
        value: float | str | None = self.capabilities.get("total_capacity_gb")
        return value

    @property
    def free_capacity_gb(self) -> float | str | None:
        value: float | str | None = self.capabilities.get("free_capacity_gb")
        return value

    @property
    def provisioned_capacity_gb(self) -> float:
        """Everything provisioned on the pool; a driver may report more than ours."""
        reported = self.capabilities.get("provisioned_capacity_gb")
        if isinstance(reported, (int, float)):
            return max(float(reported), self.allocated_capacity_gb)
        return self.allocated_capacity_gb


@dataclass
class RequestSpec:
    """What the scheduler needs to place one volume."""

    volume_id: str
    size: int
    volume_type: VolumeType | None = None
    availability_zones: list[str] = field(default_factory=list)
    resource_backend: str | None = None  # pin to host@backend[#pool] (clones, snapshots)
    operation: str = "create_volume"


@dataclass
class RetryInfo:
    num_attempts: int = 0
    backends: list[str] = field(default_factory=list)
    last_error: str | None = None


@dataclass
class Snapshot:
    id: str
    volume_id: str
    project_id: str
    user_id: str
    volume_size: int
    status: str
    created_at: datetime
    name: str | None = None
    description: str | None = None
    progress: str = "0%"
    provider_location: str | None = None
    updated_at: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    group_snapshot_id: str | None = None
