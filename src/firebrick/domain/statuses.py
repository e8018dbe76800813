"""Volume statuses and the transitions the API allows, as Cinder names them."""

from __future__ import annotations

from typing import Final

CREATING: Final = "creating"
AVAILABLE: Final = "available"
DELETING: Final = "deleting"
ERROR: Final = "error"
ERROR_DELETING: Final = "error_deleting"
ERROR_EXTENDING: Final = "error_extending"
ERROR_RESTORING: Final = "error_restoring"
ERROR_MANAGING: Final = "error_managing"
IN_USE: Final = "in-use"
ATTACHING: Final = "attaching"
DETACHING: Final = "detaching"
RESERVED: Final = "reserved"
EXTENDING: Final = "extending"
RETYPING: Final = "retyping"
MAINTENANCE: Final = "maintenance"
DOWNLOADING: Final = "downloading"
REVERTING: Final = "reverting"
# A snapshot a volume is being reverted to.
RESTORING: Final = "restoring"

ALL: Final = frozenset(
    {
        CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING, ERROR_MANAGING, "managing",
        ATTACHING, IN_USE, DETACHING, MAINTENANCE, "restoring-backup", ERROR_RESTORING,
        RESERVED, "awaiting-transfer", "backing-up", "error_backing-up", ERROR_EXTENDING,
        DOWNLOADING, "uploading", RETYPING, EXTENDING, REVERTING,
    }
)  # fmt: skip

DETACHED: Final = "detached"
ATTACHED: Final = "attached"

# A volume may be deleted (without force) only from these statuses.
DELETABLE: Final = frozenset({AVAILABLE, ERROR, ERROR_RESTORING, ERROR_EXTENDING, ERROR_MANAGING})

# Statuses a volume only passes through; recovery must move it on.
TRANSITIONAL: Final = frozenset({CREATING, DELETING, DOWNLOADING})

# What the API shows for internal statuses.
DISPLAY: Final = {"managing": CREATING, ERROR_MANAGING: ERROR, "error_managing_deleting": DELETING}


def shown(status: str) -> str:
    """The status a client sees for ``status``."""
    return DISPLAY.get(status, status)
