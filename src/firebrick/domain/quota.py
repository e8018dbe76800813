"""Quota rules: the usage a request adds and whether it fits a project's limits.

Resources are Cinder's: project-wide ``volumes``, ``gigabytes``, ``snapshots``,
``backups``, ``backup_gigabytes``, ``groups``, the per-request cap
``per_volume_gigabytes``, and for every volume type T ``volumes_T``, ``gigabytes_T``
and ``snapshots_T`` (unlimited unless set). A limit of -1 is unlimited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping

from firebrick.config import QuotaDefaults
from firebrick.domain.errors import (
    Invalid,
    InvalidInput,
    QuotaExceeded,
    VolumeLimitExceeded,
    VolumeSizeExceedsAvailableQuota,
    VolumeSizeExceedsLimit,
)

UNLIMITED = -1
MAX_LIMIT = 2**31 - 1  # Cinder's db.MAX_INT
PER_TYPE = ("volumes", "snapshots", "gigabytes")
# Keys clients send in a quota set besides quotas (cinderclient sends tenant_id).
NON_QUOTA_KEYS = frozenset({"id", "tenant_id"})
# A cap on one request, not a running total: it has no usage.
PER_REQUEST = frozenset({"per_volume_gigabytes"})

BACKUP_RESOURCES = frozenset({"backups", "backup_gigabytes"})

_INTEGER = re.compile(r"\s*-?[0-9]+\s*")


class SnapshotLimitExceeded(QuotaExceeded):
    def __init__(self, allowed: int, name: str = "snapshots") -> None:
        super().__init__(
            f"SnapshotLimitExceeded: Maximum number of snapshots allowed ({allowed}) exceeded"
        )


class BackupLimitExceeded(QuotaExceeded):
    def __init__(self, allowed: int, name: str = "backups") -> None:
        super().__init__(
            f"BackupLimitExceeded: Maximum number of backups allowed ({allowed}) exceeded"
        )


class GroupLimitExceeded(QuotaExceeded):
    def __init__(self, allowed: int, name: str = "groups") -> None:
        super().__init__(
            f"GroupLimitExceeded: Maximum number of groups allowed ({allowed}) exceeded"
        )


class VolumeBackupSizeExceedsAvailableQuota(QuotaExceeded):
    def __init__(self, requested: int, consumed: int, quota: int) -> None:
        super().__init__(
            "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed Backup "
            f"gigabytes quota. Requested {requested}G, quota is {quota}G and {consumed}G has "
            "been consumed."
        )


# The error for a count over its limit, by what the resource counts; each takes
# (allowed, resource name) like Cinder's, though only VolumeLimitExceeded shows the name.
_COUNT_EXCEEDED: dict[str, Callable[[int, str], QuotaExceeded]] = {
    "volumes": VolumeLimitExceeded,
    "snapshots": SnapshotLimitExceeded,
    "backups": BackupLimitExceeded,
    "groups": GroupLimitExceeded,
}


# Names -----------------------------------------------------------------------------


def per_type_resources(type_name: str) -> tuple[str, str, str]:
    """``volumes_T``, ``snapshots_T``, ``gigabytes_T`` for volume type ``T``."""
    return (f"volumes_{type_name}", f"snapshots_{type_name}", f"gigabytes_{type_name}")


def resource_names(type_names: Iterable[str]) -> list[str]:
    """Every quota resource, in the order Cinder lists them, for these volume types."""
    names = ["volumes", "per_volume_gigabytes", "snapshots", "gigabytes", "backups",
             "backup_gigabytes"]  # fmt: skip
    for type_name in type_names:
        names.extend(per_type_resources(type_name))
    names.append("groups")
    return names


def kind(resource: str) -> str:
    """What a resource counts: ``volumes_gold`` -> ``volumes``; a base name is itself."""
    if resource in BACKUP_RESOURCES or resource in PER_REQUEST or resource == "groups":
        return resource
    head, sep, _type_name = resource.partition("_")
    return head if sep and head in PER_TYPE else resource


def defaults_dict(defaults: QuotaDefaults, type_names: Iterable[str] = ()) -> dict[str, int]:
    """The configured default limits; per-type resources default to unlimited."""
    found = {
        "volumes": defaults.volumes,
        "snapshots": defaults.snapshots,
        "gigabytes": defaults.gigabytes,
        "per_volume_gigabytes": defaults.per_volume_gigabytes,
        "backups": defaults.backups,
        "backup_gigabytes": defaults.backup_gigabytes,
        "groups": defaults.groups,
    }
    for type_name in type_names:
        found.update(dict.fromkeys(per_type_resources(type_name), UNLIMITED))
    return found


# Usage a request adds ---------------------------------------------------------------


def volume_deltas(size: int, type_name: str | None, *, count: int = 1) -> dict[str, int]:
    """The usage ``count`` volumes of ``size`` GiB of type ``type_name`` add.

    ``count=-1`` gives what deleting one gives back.
    """
    deltas = {"volumes": count, "gigabytes": size * count}
    if type_name:
        deltas[f"volumes_{type_name}"] = count
        deltas[f"gigabytes_{type_name}"] = size * count
    return deltas


def snapshot_deltas(
    size: int, type_name: str | None, *, count: int = 1, no_snapshot_gb_quota: bool = False
) -> dict[str, int]:
    """The usage a snapshot of a ``size`` GiB volume adds (``count=-1``: its deletion).

    Like Cinder, a snapshot counts its volume's size in ``gigabytes`` (and
    ``gigabytes_T``) unless ``no_snapshot_gb_quota``.
    """
    deltas = {"snapshots": count}
    if not no_snapshot_gb_quota:
        deltas["gigabytes"] = size * count
    if type_name:
        deltas[f"snapshots_{type_name}"] = count
        if not no_snapshot_gb_quota:
            deltas[f"gigabytes_{type_name}"] = size * count
    return deltas


# Checks ----------------------------------------------------------------------------


def over_limit(
    deltas: Mapping[str, int], limits: Mapping[str, int], usage: Mapping[str, int]
) -> list[str]:
    """The resources ``deltas`` would take over their limit, sorted as Cinder sorts them."""
    return sorted(
        resource
        for resource, delta in deltas.items()
        if delta >= 0 and 0 <= limits.get(resource, UNLIMITED) < usage.get(resource, 0) + delta
    )


def check(deltas: Mapping[str, int], limits: Mapping[str, int], usage: Mapping[str, int]) -> None:
    """Raise the 413 Cinder raises if adding ``deltas`` to ``usage`` exceeds ``limits``.

    Of several resources over their limit, the first in sorted order is reported (so a
    size problem, ``gigabytes*``, comes before a count problem), as Cinder does.
    """
    overs = over_limit(deltas, limits, usage)
    if not overs:
        return
    over = overs[0]
    allowed, consumed, requested = limits[over], usage.get(over, 0), deltas[over]
    what = kind(over)
    if what == "backup_gigabytes":
        raise VolumeBackupSizeExceedsAvailableQuota(requested, consumed, allowed)
    if what == "gigabytes":
        raise VolumeSizeExceedsAvailableQuota(requested, consumed, allowed, name=over)
    if what in _COUNT_EXCEEDED:
        raise _COUNT_EXCEEDED[what](allowed, over)
    raise QuotaExceeded(f"UnexpectedOverQuota: Unexpected over quota on {over}.")


def check_volume_size(size: int, limits: Mapping[str, int]) -> None:
    """Raise VolumeSizeExceedsLimit if one volume of ``size`` GiB exceeds the per-volume cap."""
    cap = limits.get("per_volume_gigabytes", UNLIMITED)
    if 0 <= cap < size:
        raise VolumeSizeExceedsLimit(size, cap)


def check_volume_create(
    size: int,
    limits: Mapping[str, int],
    usage: Mapping[str, int],
    type_name: str | None = None,
) -> None:
    """Raise the quota error Cinder raises if one more volume of the type does not fit."""
    check_volume_size(size, limits)
    check(volume_deltas(size, type_name), limits, usage)


# Changing limits -------------------------------------------------------------------


def parse_limit(name: str, value: object) -> int:
    """A requested limit as oslo's ``validate_integer(value, name, -1, MAX_INT)`` reads it."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"{name} must be an integer")
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value):
            raise Invalid(f"{name} must be an integer")
        value = int(value)
    if value < UNLIMITED:
        raise Invalid(f"{name} must be >= {UNLIMITED}")
    if value > MAX_LIMIT:
        raise Invalid(f"{name} must be <= {MAX_LIMIT}")
    return value


def parse_limits(
    raw: Mapping[str, object],
    known: Iterable[str],
    *,
    what: str = "quota set",
    ignored: Collection[str] = (),
) -> dict[str, int]:
    """``{resource: limit}`` from a request's quota (class) set; 400 on bad keys or values.

    ``ignored`` keys are skipped (pass NON_QUOTA_KEYS for a project's quota set).

    Values of known keys are checked first, in order, then unknown keys are reported
    all at once, as Cinder's ``quota_set`` format checker does.
    """
    allowed = set(known)
    limits: dict[str, int] = {}
    bad: list[str] = []
    for key, value in raw.items():
        if key in ignored:
            continue
        if key not in allowed:
            bad.append(key)
            continue
        limits[key] = parse_limit(key, value)
    if bad:
        raise InvalidInput(f"Bad key(s) in {what}: {', '.join(bad)}")
    return limits


def check_not_below_usage(limits: Mapping[str, int], usage: Mapping[str, int]) -> None:
    """400 if a new limit is below what the project already uses (-1 always fits)."""
    for resource, limit in limits.items():
        if resource in PER_REQUEST or limit == UNLIMITED:
            continue
        used = usage.get(resource, 0)
        if limit < used:
            raise Invalid(
                f"Quota {resource} limit must be equal or greater than existing resources. "
                f"Current usage is {used} and the requested limit is {limit}."
            )
