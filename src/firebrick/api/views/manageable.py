"""Manageable volumes and snapshots as Cinder lists them (``manageable_volumes.py``,
``manageable_snapshots.py``): a summary and a detail view of the backend's entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_SUMMARY = ("reference", "size", "safe_to_manage")
_DETAIL = ("reference", "size", "safe_to_manage", "reason_not_safe", "cinder_id", "extra_info")


def manageable_list(
    entries: Sequence[Mapping[str, Any]], *, kind: str, detailed: bool
) -> dict[str, Any]:
    """``{"manageable-volumes": [...]}`` (or ``-snapshots``, which add source_reference)."""
    keys = _DETAIL if detailed else _SUMMARY
    if kind == "snapshot":
        keys = (*keys, "source_reference")
    return {f"manageable-{kind}s": [{k: entry.get(k) for k in keys} for entry in entries]}
