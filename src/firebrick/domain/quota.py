"""Quota rules: whether a request fits a project's limits (-1 is unlimited)."""

from __future__ import annotations

from collections.abc import Mapping

from firebrick.config import QuotaDefaults
from firebrick.domain.errors import (
    VolumeLimitExceeded,
    VolumeSizeExceedsAvailableQuota,
    VolumeSizeExceedsLimit,
)


def defaults_dict(defaults: QuotaDefaults) -> dict[str, int]:
    return {
        "volumes": defaults.volumes,
        "snapshots": defaults.snapshots,
        "gigabytes": defaults.gigabytes,
        "per_volume_gigabytes": defaults.per_volume_gigabytes,
    }


def check_volume_create(size: int, limits: Mapping[str, int], usage: Mapping[str, int]) -> None:
    """Raise the quota error Cinder raises if one more volume of ``size`` GiB does not fit."""
    per_volume = limits.get("per_volume_gigabytes", -1)
    if per_volume >= 0 and size > per_volume:
        raise VolumeSizeExceedsLimit(size, per_volume)
    gb_limit = limits.get("gigabytes", -1)
    gb_used = usage.get("gigabytes", 0)
    if gb_limit >= 0 and gb_used + size > gb_limit:
        raise VolumeSizeExceedsAvailableQuota(size, gb_used, gb_limit)
    count_limit = limits.get("volumes", -1)
    if count_limit >= 0 and usage.get("volumes", 0) + 1 > count_limit:
        raise VolumeLimitExceeded(count_limit)
