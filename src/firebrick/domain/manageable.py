"""Sorting and paging lists of manageable storage, as Cinder's ``paginate_entries_list``.

The entries come from a backend, not from the database, so they are sorted and cut here:
by ``reference`` (a reference object sorts by the smallest of its values) and ``size``,
after the entry whose reference equals the marker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from firebrick.domain.errors import InvalidInput

SORT_KEYS = ("reference", "size")
SORT_DIRS = ("asc", "desc")


def _value(entry: Mapping[str, Any], key: str) -> Any:
    value = entry.get(key)
    if isinstance(value, Mapping):
        values = sorted(str(v) for v in value.values())
        return values[0] if values else ""
    return value


def _compare(left: Any, right: Any) -> int:
    if left == right:
        return 0
    if left is None or right is None:  # an unknown size sorts first
        return -1 if left is None else 1
    return -1 if left < right else 1


def paginate(
    entries: Sequence[Mapping[str, Any]],
    *,
    marker: str | None,
    limit: int,
    offset: int,
    sort_keys: Sequence[str],
    sort_dirs: Sequence[str],
) -> list[Mapping[str, Any]]:
    """The page of ``entries`` after ``marker`` (a reference, as JSON), sorted."""

    def order(left: Mapping[str, Any], right: Mapping[str, Any]) -> int:
        for key, direction in zip(sort_keys, sort_dirs, strict=False):
            found = _compare(_value(left, key), _value(right, key))
            if found:
                return found if direction == "asc" else -found
        return 0

    ordered = sorted(entries, key=functools.cmp_to_key(order))
    start = 0
    if marker:
        try:
            wanted = json.loads(marker)
        except ValueError:
            raise InvalidInput(
                f"marker {marker} can not be analysed, please use json like format"
            ) from None
        positions = [i for i, e in enumerate(ordered) if e.get("reference") == wanted]
        if not positions:
            raise InvalidInput(f"marker not found: {marker}")
        start = positions[0] + 1
    return list(ordered[start + offset : start + offset + limit])
