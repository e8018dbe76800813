"""Volume migration between backends: its statuses and phases, as Cinder names them.

A volume's ``migration_status`` goes ``starting`` → ``migrating`` → ``completing`` →
``success`` (or ``error``). The copy made on the destination is a volume row of its own
whose ``migration_status`` is ``target:<source id>`` until the records are swapped; it
then holds the source's old storage, ``deleting``, until that storage is gone.

The phase of a migration in flight (``volume_migrations.phase``) says whose turn it is:
the scheduler's (``scheduling``), the destination's (``placed``, ``creating``,
``copying``), the source's (``exporting``: a remote destination waits for a read-only
export of the source) or an admin's abort (``aborting``).
"""

from __future__ import annotations

from typing import Final

STARTING: Final = "starting"
MIGRATING: Final = "migrating"
COMPLETING: Final = "completing"
SUCCESS: Final = "success"
ERROR: Final = "error"
DELETING: Final = "deleting"
TARGET_PREFIX: Final = "target:"

# Cinder's AVAILABLE_MIGRATION_STATUS: a volume in one of these is not being migrated.
NOT_MIGRATING: Final = frozenset({None, DELETING, ERROR, SUCCESS})
# What a source volume's status may be while its migration runs, and what it returns to.
LOCKED_STATUSES: Final = frozenset({"maintenance", "retyping"})

# Phases of volume_migrations.phase
SCHEDULING: Final = "scheduling"
PLACED: Final = "placed"
CREATING: Final = "creating"
EXPORTING: Final = "exporting"
EXPORTED: Final = "exported"
COPYING: Final = "copying"
ABORTING: Final = "aborting"
# Before any of these nothing exists on the destination yet.
ON_DESTINATION: Final = frozenset({PLACED, CREATING, EXPORTING, EXPORTED, COPYING, ABORTING})


def is_migrating(migration_status: str | None) -> bool:
    return migration_status not in NOT_MIGRATING


def target_status(source_id: str) -> str:
    """The migration_status of the copy that will replace ``source_id``."""
    return f"{TARGET_PREFIX}{source_id}"


def is_target(migration_status: str | None) -> bool:
    return bool(migration_status) and str(migration_status).startswith(TARGET_PREFIX)


def backend_of(host: str) -> str:
    """``host@backend`` of ``host@backend#pool`` (or of ``host@backend``)."""
    return host.split("#", 1)[0]


def per_type_usage(size: int, type_name: str | None, *, count: int = 1) -> dict[str, int]:
    """The per-type quota usage (``volumes_<type>``, ``gigabytes_<type>``) of a volume."""
    if not type_name:
        return {}
    return {f"volumes_{type_name}": count, f"gigabytes_{type_name}": size * count}


def retype_usage(size: int, old_type: str | None, new_type: str | None) -> dict[str, int]:
    """What a retype moves between the per-type quotas (its negation moves it back)."""
    moved = per_type_usage(size, old_type, count=-1)
    for key, delta in per_type_usage(size, new_type).items():
        moved[key] = moved.get(key, 0) + delta
    return moved
