"""Generic volume groups: group types, groups and group snapshots, as Cinder models them.

A group holds volumes of the volume types it names, all on one backend, so that they can
be snapshotted (and copied) together; a group type carries group specs the scheduler
matches against the backends' capabilities as a volume type's extra specs are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from firebrick.domain.errors import Conflict, Invalid, NotFound

# Cinder's group type reserved for consistency groups migrated to groups: the group APIs
# refuse it (its groups can only be operated by the CG APIs).
DEFAULT_CGSNAPSHOT_TYPE: Final = "default_cgsnapshot_type"

# Group statuses (Cinder's GroupStatus).
CREATING: Final = "creating"
AVAILABLE: Final = "available"
DELETING: Final = "deleting"
ERROR: Final = "error"
UPDATING: Final = "updating"
IN_USE: Final = "in-use"
ERROR_DELETING: Final = "error_deleting"
DELETED: Final = "deleted"
GROUP_STATUSES: Final = (ERROR, AVAILABLE, CREATING, DELETING, DELETED, UPDATING, IN_USE,
                         ERROR_DELETING)  # fmt: skip
GROUP_SNAPSHOT_STATUSES: Final = (ERROR, AVAILABLE, CREATING, DELETING, DELETED, UPDATING,
                                  ERROR_DELETING)  # fmt: skip

# What a volume must be to join or leave a group (Cinder's group API).
VALID_ADD_VOL_TO_GROUP_STATUS: Final = ("available", "in-use")
VALID_REMOVE_VOL_FROM_GROUP_STATUS: Final = ("available", "in-use", "error", "error_deleting")
# A group a new volume may join (Cinder's GROUP_PROCEED_STATUS).
GROUP_PROCEED_STATUS: Final = (AVAILABLE, CREATING)


@dataclass
class GroupType:
    id: str
    name: str
    description: str | None = None
    is_public: bool = True
    group_specs: dict[str, str | None] = field(default_factory=dict)
    created_at: datetime | None = None


@dataclass
class Group:
    id: str
    project_id: str
    user_id: str
    status: str
    group_type_id: str
    created_at: datetime
    name: str | None = None
    description: str | None = None
    availability_zone: str | None = None
    host: str | None = None  # host@backend#pool once placed
    group_snapshot_id: str | None = None
    source_group_id: str | None = None
    replication_status: str | None = None
    volume_type_ids: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    task_state: str | None = None  # the recovery journal

    @property
    def backend(self) -> str | None:
        """``host@backend`` of the group: its volumes may be on any pool of it."""
        return self.host.split("#", 1)[0] if self.host else None


@dataclass
class GroupSnapshot:
    id: str
    group_id: str
    project_id: str
    user_id: str
    status: str
    group_type_id: str
    created_at: datetime
    name: str | None = None
    description: str | None = None
    updated_at: datetime | None = None
    task_state: str | None = None  # the recovery journal


# Errors, with Cinder's messages ------------------------------------------------------


class GroupTypeNotFound(NotFound):
    def __init__(self, group_type_id: str) -> None:
        super().__init__(f"Group type {group_type_id} could not be found.")


class GroupTypeNotFoundByName(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Group type with name {name} could not be found.")


class GroupTypeSpecsNotFound(NotFound):
    def __init__(self, group_type_id: str, key: str) -> None:
        super().__init__(f"Group Type {group_type_id} has no specs with key {key}.")


class GroupTypeExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"Group Type {name} already exists.")


class GroupNotFound(NotFound):
    def __init__(self, group_id: str) -> None:
        super().__init__(f"Group {group_id} could not be found.")


class GroupSnapshotNotFound(NotFound):
    def __init__(self, group_snapshot_id: str) -> None:
        super().__init__(f"GroupSnapshot {group_snapshot_id} could not be found.")


class InvalidGroup(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid Group: {reason}")


class InvalidGroupType(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid group type: {reason}")


class InvalidGroupSnapshot(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid GroupSnapshot: {reason}")


class InvalidGroupStatus(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid Group Status: {reason}")


class InvalidGroupSnapshotStatus(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid GroupSnapshot Status: {reason}")


def reserved_type_refused(group_type_id: str, *, snapshots: bool = False) -> Invalid:
    """The 400 the group APIs answer for the reserved ``default_cgsnapshot_type``."""
    what = "Migrated group snapshots can only be operated by CG snapshot APIs." if snapshots \
        else "Migrated group can only be operated by CG APIs."  # fmt: skip
    return Invalid(f"Group_type {group_type_id} is reserved for migrating CGs to groups. {what}")
