"""Request bodies of ``/qos-specs`` and ``/types/{id}/encryption``, checked as Cinder's
JSON schemas (``cinder/api/schemas/qos_specs.py``, ``volume_type_encryption.py``) check
them, with the messages jsonschema words and Cinder wraps:
``Invalid input for field/attribute <field>. Value: <value>. <what is wrong>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from firebrick.domain.encryption import CONTROL_LOCATIONS, DB_MAX_INT
from firebrick.domain.errors import Invalid, InvalidInput
from firebrick.domain.qos import check_spec_strings

MAX_STRING: Final = 255
SPEC_FIELDS: Final = ("key_size", "provider", "control_location", "cipher")  # schema order
REQUIRED_ON_CREATE: Final = ("provider", "control_location")
_SPEC_KEY: Final = re.compile(r"^[a-zA-Z0-9-_:. /]{1,255}$")


def _field_error(name: object, value: object, message: str) -> Invalid:
    shown = value if isinstance(value, str) else repr(value)
    return Invalid(f"Invalid input for field/attribute {name}. Value: {shown}. {message}")


def _body(body: object) -> dict[str, Any]:
    """A body must be an object. jsonschema's order follows: a member's own errors come
    before a missing member or an unexpected one (``_only``, called last)."""
    if not isinstance(body, dict):
        raise Invalid(f"{body!r} is not of type 'object'")
    return body


def _only(body: Mapping[str, Any], key: str) -> None:
    if key not in body:
        raise Invalid(f"'{key}' is a required property")
    extra = sorted(set(body) - {key})
    if extra:
        listed = ", ".join(repr(k) for k in extra)
        verb = "was" if len(extra) == 1 else "were"
        raise Invalid(f"Additional properties are not allowed ({listed} {verb} unexpected)")


def _object(name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _field_error(name, value, f"{value!r} is not of type 'object'")
    return value


# -- QoS specs -------------------------------------------------------------------------


def qos_create(body: object) -> tuple[str, dict[str, str | None]]:
    """(name, the other keys) of ``POST /qos-specs``: the name stripped, the keys (the
    ``consumer`` among them) strings of Cinder's lengths."""
    outer = _body(body)
    if "qos_specs" in outer:
        specs = _object("qos_specs", outer["qos_specs"])
        _check_properties(specs)
        if "name" not in specs:
            raise _field_error("qos_specs", specs, "'name' is a required property")
    _only(outer, "qos_specs")
    rest = dict(outer["qos_specs"])
    name = rest.pop("name")
    return name.strip(), check_spec_strings(rest)


def _check_properties(specs: Mapping[str, Any]) -> None:
    if "name" not in specs:
        return
    name = specs["name"]
    if not isinstance(name, str):
        raise _field_error("name", name, f"{name!r} is not of type 'string'")
    invalid = "An invalid 'name' value was provided."
    if not name:
        raise Invalid(f"{invalid} The 'name' can not be None.")
    if not name.strip():
        raise Invalid(f"{invalid} The 'name' can not be empty.")
    if len(name.strip()) > MAX_STRING:
        raise Invalid(f"{invalid} The 'name' can not be greater than 255 characters.")


def qos_set(body: object) -> dict[str, str | None]:
    """The keys of ``PUT /qos-specs/{id}``: spec-key names, string or null values."""
    outer = _body(body)
    if "qos_specs" in outer:
        _check_spec_values(_object("qos_specs", outer["qos_specs"]))
    _only(outer, "qos_specs")
    return dict(outer["qos_specs"])


def _check_spec_values(specs: Mapping[str, Any]) -> None:
    for key, value in specs.items():
        if not _SPEC_KEY.match(key):
            continue
        if value is not None and not isinstance(value, str):
            raise _field_error(key, value, f"{value!r} is not of type 'string', 'null'")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise _field_error(key, value, f"{value!r} is too long")
    bad = sorted(k for k in specs if not _SPEC_KEY.match(k))
    if bad:
        listed = ", ".join(repr(k) for k in bad)
        verb = "was" if len(bad) == 1 else "were"
        message = f"Additional properties are not allowed ({listed} {verb} unexpected)"
        raise _field_error("qos_specs", specs, message)


def qos_unset(body: object) -> list[str]:
    """The ``keys`` of ``PUT /qos-specs/{id}/delete_keys``: unique strings of 1-255."""
    outer = _body(body)
    if "keys" in outer:
        _check_keys(outer["keys"])
    _only(outer, "keys")
    return list(outer["keys"])


def _check_keys(keys: object) -> None:
    if not isinstance(keys, list):
        raise _field_error("keys", keys, f"{keys!r} is not of type 'array'")
    for index, key in enumerate(keys):
        if not isinstance(key, str):
            raise _field_error(index, key, f"{key!r} is not of type 'string'")
        if not key:
            raise _field_error(index, key, f"{key!r} is too short")
        if len(key) > MAX_STRING:
            raise _field_error(index, key, f"{key!r} is too long")
    if len(set(keys)) != len(keys):
        raise _field_error("keys", keys, f"{keys!r} has non-unique elements")


# -- volume type encryption ------------------------------------------------------------


def encryption_spec(body: object, *, create: bool) -> dict[str, Any]:
    """The ``encryption`` object of a create or update, ``key_size`` made an integer.

    Only the four known fields are kept: Cinder's table has no room for anything else.
    """
    outer = _body(body)
    if "encryption" in outer:
        spec = _object("encryption", outer["encryption"])
        for name in SPEC_FIELDS:
            if name in spec:
                _check_encryption_field(name, spec[name])
        if create:
            for name in REQUIRED_ON_CREATE:
                if name not in spec:
                    raise _field_error("encryption", spec, f"'{name}' is a required property")
    _only(outer, "encryption")
    spec = outer["encryption"]
    parsed = {name: spec[name] for name in SPEC_FIELDS if name in spec}
    if parsed.get("key_size") is not None:
        parsed["key_size"] = int(parsed["key_size"])
    return parsed


def _check_encryption_field(name: str, value: object) -> None:
    if name == "key_size":
        _check_key_size(value)
    elif name == "control_location":
        if value not in CONTROL_LOCATIONS:
            raise _field_error(name, value, f"{value!r} is not one of {list(CONTROL_LOCATIONS)!r}")
    else:  # provider, cipher (which may be null)
        nullable = name == "cipher"
        if not isinstance(value, str) and not (nullable and value is None):
            kinds = "'string', 'null'" if nullable else "'string'"
            raise _field_error(name, value, f"{value!r} is not of type {kinds}")
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise _field_error(name, value, f"{value!r} is too long")


def _check_key_size(value: object) -> None:
    """Cinder's ``parameter_types.key_size``: an integer, or a string of one, 0..2**31-1."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _field_error(
            "key_size", value, f"{value!r} is not of type 'string', 'integer', 'null'"
        )
    number = _int_like(value)
    if number is not None and number < 0:
        raise _field_error("key_size", value, f"{number} is less than the minimum of 0")
    if number is not None and number > DB_MAX_INT:
        raise _field_error(
            "key_size", value, f"{number} is greater than the maximum of {DB_MAX_INT}"
        )
    if number is None:
        raise InvalidInput("key_size must be an integer.")


def _int_like(value: int | str) -> int | None:
    """oslo's ``is_int_like``: the value reads back as the same integer text."""
    try:
        number = int(value)
    except ValueError:
        return None
    return number if str(number) == str(value) else None
