"""Manageable lists are sorted and paged as Cinder's paginate_entries_list does."""

from __future__ import annotations

import json

import pytest

from firebrick.domain.errors import InvalidInput
from firebrick.domain.manageable import paginate

ENTRIES = [
    {"reference": {"source-name": name}, "size": size}
    for name, size in [("b", 3), ("a", 1), ("d", 2), ("c", 3), ("e", None)]
]


def names(entries: list) -> list[str]:
    return [e["reference"]["source-name"] for e in entries]


def page(**options: object) -> list[str]:
    args = {"marker": None, "limit": 1000, "offset": 0, "sort_keys": ["reference"],
            "sort_dirs": ["desc"], **options}  # fmt: skip
    return names(paginate(ENTRIES, **args))  # type: ignore[arg-type]


def test_reference_sorts_by_its_value_newest_name_first_by_default() -> None:
    assert page() == ["e", "d", "c", "b", "a"]
    assert page(sort_dirs=["asc"]) == ["a", "b", "c", "d", "e"]


def test_several_keys_break_ties_in_order() -> None:
    assert page(sort_keys=["size", "reference"], sort_dirs=["desc", "asc"]) == [
        "b", "c", "d", "a", "e"
    ]  # fmt: skip


def test_marker_limit_and_offset() -> None:
    marker = json.dumps({"source-name": "c"})
    assert page(marker=marker) == ["b", "a"]
    assert page(marker=marker, limit=1) == ["b"]
    assert page(marker=marker, offset=1) == ["a"]
    assert page(limit=2, offset=1) == ["d", "c"]
    assert page(limit=0) == []


@pytest.mark.parametrize("marker", ["not json", json.dumps({"source-name": "zz"})])
def test_a_marker_that_is_not_a_listed_reference_is_a_400(marker: str) -> None:
    with pytest.raises(InvalidInput):
        page(marker=marker)
