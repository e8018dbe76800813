"""Cinder's extra-spec operators: does a reported capability satisfy a type's requirement?

A requirement's first word may be an operator: ``=`` (numeric at least), ``==``, ``!=``,
``>=``, ``<=`` (numeric), ``s==``, ``s!=``, ``s<``, ``s<=``, ``s>``, ``s>=`` (string),
``<in>`` (substring), ``<is>`` (boolean), ``<or> a <or> b`` (any equal). Without an
operator the whole requirement must equal the value. As in Cinder, an operator compares
only against the next word.

One deliberate difference: Cinder compares non-string capabilities (``True``, ``100``)
to the requirement's text as-is, so ``multiattach=True`` can never match and ``s<``
against a number raises. Here such values are compared by their string form.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Final

_TRUE_STRINGS: Final = frozenset({"1", "t", "true", "on", "y", "yes"})


def bool_from_string(value: object) -> bool:
    """oslo's lenient ``bool_from_string``: anything not recognisably true is False."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE_STRINGS


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[object, str], bool]:
    def check(value: object, wanted: str) -> bool:
        return compare(float(_text(value)), float(wanted))

    return check


def _textual(compare: Callable[[str, str], bool]) -> Callable[[object, str], bool]:
    def check(value: object, wanted: str) -> bool:
        return compare(_text(value), wanted)

    return check


_OPERATORS: Final[dict[str, Callable[[object, str], bool]]] = {
    "=": _numeric(operator.ge),
    "==": _numeric(operator.eq),
    "!=": _numeric(operator.ne),
    ">=": _numeric(operator.ge),
    "<=": _numeric(operator.le),
    "s==": _textual(operator.eq),
    "s!=": _textual(operator.ne),
    "s<": _textual(operator.lt),
    "s<=": _textual(operator.le),
    "s>": _textual(operator.gt),
    "s>=": _textual(operator.ge),
    "<in>": _textual(lambda value, wanted: wanted in value),
    "<is>": lambda value, wanted: bool_from_string(value) is bool_from_string(wanted),
}


def match(value: object, requirement: str | None) -> bool:
    """Whether a capability ``value`` satisfies ``requirement``; lists match on any element."""
    if isinstance(value, list):
        return any(_match_one(item, requirement) for item in value)
    return _match_one(value, requirement)


def _match_one(value: object, requirement: str | None) -> bool:
    if requirement is None:
        return value is None
    words = requirement.split()
    op = words[0] if words else ""
    if op == "<or>":
        # "<or> a <or> b": the alternatives sit between the keywords.
        return value is not None and _text(value) in words[1::2]
    check = _OPERATORS.get(op)
    if check is None:
        return value == requirement or (value is not None and _text(value) == requirement)
    if value is None or len(words) < 2:
        return False
    try:
        return check(value, words[1])
    except ValueError:
        return False
