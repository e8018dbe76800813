"""Every extra-spec operator of Cinder's extra_specs_ops.match."""

from __future__ import annotations

import pytest

from firebrick.domain.extra_specs import bool_from_string, match


@pytest.mark.parametrize(
    ("value", "requirement", "expected"),
    [
        # '=' means "at least", numerically
        ("123", "= 123", True),
        ("124", "= 123", True),
        ("122", "= 123", False),
        (200, "= 123.5", True),
        ("abc", "= 1", False),
        # numeric comparisons
        ("12", "== 12.0", True),
        ("12", "== 13", False),
        ("12", "!= 13", True),
        ("12", "!= 12", False),
        ("12", ">= 12", True),
        ("11", ">= 12", False),
        ("12", "<= 12", True),
        ("13", "<= 12", False),
        # string comparisons
        ("abc", "s== abc", True),
        ("abd", "s== abc", False),
        ("abd", "s!= abc", True),
        ("abc", "s!= abc", False),
        ("abc", "s< abd", True),
        ("abd", "s< abc", False),
        ("abc", "s<= abc", True),
        ("abd", "s<= abc", False),
        ("abd", "s> abc", True),
        ("abc", "s> abd", False),
        ("abc", "s>= abc", True),
        ("abc", "s>= abd", False),
        # substring
        ("iSCSI,FC", "<in> FC", True),
        ("iSCSI", "<in> FC", False),
        # boolean
        (True, "<is> True", True),
        ("true", "<is> True", True),
        (False, "<is> True", False),
        ("no", "<is> False", True),
        # any of
        ("b", "<or> a <or> b <or> c", True),
        ("d", "<or> a <or> b <or> c", False),
        ("a", "<or> a", True),
        # plain equality, including multi-word values
        ("lvmdriver-1", "lvmdriver-1", True),
        ("lvmdriver-2", "lvmdriver-1", False),
        ("Open Source", "Open Source", True),
    ],
)
def test_operator(value: object, requirement: str, expected: bool) -> None:
    assert match(value, requirement) is expected


def test_operator_compares_only_the_next_word() -> None:
    assert not match("Open Source", "s== Open Source")
    assert match("Open", "s== Open Source")


def test_operator_without_operand_never_matches() -> None:
    assert not match("abc", "s==")
    assert not match("abc", "<or>")


def test_missing_value_only_matches_missing_requirement() -> None:
    assert match(None, None)
    assert not match("x", None)
    assert not match(None, "<is> True")
    assert not match(None, "<or> a <or> b")
    assert not match(None, "x")


def test_lists_match_if_any_element_matches() -> None:
    assert match(["iSCSI", "FC"], "FC")
    assert match(["1", "5"], ">= 4")
    assert not match(["iSCSI", "FC"], "NFS")
    assert not match([], "anything")


def test_non_string_values_compare_by_text() -> None:
    # Cinder compares True == "True" and fails; we compare the text form.
    assert match(True, "True")
    assert match(100, "100")
    assert match(100, "s< 2")
    assert match(3.5, "<in> .5")


def test_bool_from_string_is_lenient() -> None:
    assert bool_from_string("Yes")
    assert bool_from_string(" on ")
    assert bool_from_string(1)
    assert not bool_from_string("maybe")
    assert not bool_from_string(None)
