"""Request bodies of the group APIs, checked with Cinder's own JSON schemas.

Cinder validates these bodies with Draft 4 JSON schemas (``cinder/api/schemas/group*.py``)
and a few format checkers; checking them the same way, with the same ``jsonschema``
library (already installed: TaskFlow needs it), gives Cinder's answers, messages
included, without re-deriving each rule by hand. It is imported with the first group
request (3 MB an API process keeps otherwise, for requests most deployments never make).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING, Any, Final

from firebrick.api.validation import is_uuid_like
from firebrick.domain.errors import Invalid, InvalidInput
from firebrick.domain.groups import (
    GROUP_SNAPSHOT_STATUSES,
    GROUP_STATUSES,
    InvalidGroupSnapshotStatus,
    InvalidGroupStatus,
)

if TYPE_CHECKING:
    import jsonschema  # type: ignore[import-untyped]  # no stubs; TaskFlow's dependency

Schema = dict[str, Any]


class _InvalidName(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"An invalid 'name' value was provided. {reason}")


def _printable(char: str) -> bool:
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


@functools.cache
def _description_pattern() -> str:
    """Cinder's ``valid_description_regex``: printable characters of the BMP only."""
    ranges: list[str] = []
    start: int | None = None
    for code in range(0xFFFF + 1):
        ok = code < 0xFFFF and _printable(chr(code))
        if ok and start is None:
            start = code
        elif not ok and start is not None:
            last = code - 1
            ranges.append(re.escape(chr(start)) + ("" if last == start else
                                                     "-" + re.escape(chr(last))))  # fmt: skip
            start = None
    return "^[" + "".join(ranges) + "]*$"


def _check_length(value: str, name: str, max_length: int = 255) -> None:
    """oslo's ``check_string_length`` after stripping, as Cinder's format checkers call it."""
    if not value:
        raise Invalid(f"The '{name}' can not be None.")
    length = len(value.strip())
    if length < 1:
        raise InvalidInput(f"{name} has {length} characters, less than 1.")
    if length > max_length:
        raise InvalidInput(f"{name} has {length} characters, more than {max_length}.")


def _uuid(value: object) -> bool:
    return not isinstance(value, str) or is_uuid_like(value)


def _name(value: object) -> bool:
    if not value:
        raise _InvalidName("The 'name' can not be None.")
    if isinstance(value, str) and not value.strip():
        raise _InvalidName("The 'name' can not be empty.")
    return True


def _group_type(value: object) -> bool:
    if isinstance(value, str):
        _check_length(value, "group_type")
    return True


def _availability_zone(value: object) -> bool:
    # Not in ``raises``: Cinder's InvalidInput leaves the validator as it is (a 400).
    if isinstance(value, str):
        _check_length(value, "availability_zone")
    return True


def _group_status(value: object) -> bool:
    if isinstance(value, str):
        if not value.strip():
            raise InvalidGroupStatus("The 'status' can not be empty.")
        # Cinder checks against the group snapshot statuses here (so 'in-use' is refused).
        if value.lower() not in GROUP_SNAPSHOT_STATUSES:
            raise InvalidGroupStatus(
                f"Group status: {value} is invalid, valid status are: {GROUP_STATUSES}."
            )
    return True


def _group_snapshot_status(value: object) -> bool:
    if isinstance(value, str):
        if not value.strip():
            raise InvalidGroupSnapshotStatus("The 'status' can not be empty.")
        if value.lower() not in GROUP_SNAPSHOT_STATUSES:
            raise InvalidGroupSnapshotStatus(
                f"Group snapshot status: {value} is invalid, valid statuses are: "
                f"{GROUP_SNAPSHOT_STATUSES}."
            )
    return True


@functools.cache
def _formats() -> jsonschema.FormatChecker:
    import jsonschema

    formats = jsonschema.FormatChecker(formats=())
    formats.checks("uuid")(_uuid)
    formats.checks("name", raises=_InvalidName)(_name)
    formats.checks("group_type", raises=(Invalid,))(_group_type)
    formats.checks("availability_zone")(_availability_zone)
    formats.checks("group_status")(_group_status)
    formats.checks("group_snapshot_status")(_group_snapshot_status)
    return formats


# Cinder's parameter types ------------------------------------------------------------

BOOLEAN: Final[Schema] = {
    "type": ["boolean", "string"],
    "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
             False, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n",
             "f"],
}  # fmt: skip
NAME: Final[Schema] = {"type": "string", "minLength": 1, "maxLength": 255, "format": "name"}
NAME_ALLOW_ZERO: Final[Schema] = {"type": ["string", "null"], "minLength": 0, "maxLength": 255}
UUID: Final[Schema] = {"type": "string", "format": "uuid"}
SPEC_KEY: Final = "^[a-zA-Z0-9-_:. /]{1,255}$"
GROUP_SPEC_KEY: Final = "^[a-zA-Z0-9-_:.]{1,255}$"


def _description() -> Schema:
    return {"type": ["string", "null"], "minLength": 0, "maxLength": 255,
            "pattern": _description_pattern()}  # fmt: skip


def _wrapped(key: str, inner: Schema) -> Schema:
    return {"type": "object", "properties": {key: inner}, "required": [key],
            "additionalProperties": False}  # fmt: skip


def _object(properties: Schema, required: tuple[str, ...] = (), **extra: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


@functools.cache
def schemas() -> dict[str, Schema]:
    """Cinder's request schemas of the group APIs, by name."""
    description = _description()
    group_specs_nullable = {
        "type": "object",
        "patternProperties": {GROUP_SPEC_KEY: {"type": ["string", "null"], "maxLength": 255}},
        "additionalProperties": False,
    }
    type_specs = {
        "type": ["object", "null"],
        "patternProperties": {SPEC_KEY: {"type": "string", "maxLength": 255}},
        "additionalProperties": False,
    }
    return {
        "group_type_create": _wrapped("group_type", _object(
            {"name": NAME, "description": description, "is_public": BOOLEAN,
             "group_specs": type_specs}, ("name",))),
        "group_type_update": _wrapped("group_type", _object(
            {"name": NAME_ALLOW_ZERO, "description": description, "is_public": BOOLEAN})),
        "group_specs_create": _wrapped("group_specs", group_specs_nullable),
        "group_specs_update": {**group_specs_nullable, "minProperties": 1, "maxProperties": 1},
        "group_create": _wrapped("group", _object(
            {"description": description,
             "group_type": {"type": "string", "format": "group_type"},
             "name": NAME_ALLOW_ZERO,
             "volume_types": {"type": "array", "minItems": 1,
                              "items": {"type": "string", "maxLength": 255},
                              "uniqueItems": True},
             "availability_zone": {"type": ["string", "null"], "format": "availability_zone"}},
            ("group_type", "volume_types"))),
        "group_create_from_src": _wrapped("create-from-src", _object(
            {"description": description, "name": NAME_ALLOW_ZERO,
             "source_group_id": UUID, "group_snapshot_id": UUID},
            oneOf=[{"required": ["group_snapshot_id"]}, {"required": ["source_group_id"]}])),
        "group_delete": _wrapped("delete", _object({"delete-volumes": BOOLEAN})),
        "group_reset_status": _wrapped("reset_status", _object(
            {"status": {"type": "string", "format": "group_status"}}, ("status",))),
        "group_update": _wrapped("group", _object(
            {"description": description, "name": NAME_ALLOW_ZERO,
             "add_volumes": description, "remove_volumes": description},
            anyOf=[{"required": ["name"]}, {"required": ["description"]},
                   {"required": ["add_volumes"]}, {"required": ["remove_volumes"]}])),
        "group_snapshot_create": _wrapped("group_snapshot", _object(
            {"group_id": UUID, "name": NAME_ALLOW_ZERO, "description": description},
            ("group_id",))),
        "group_snapshot_reset_status": _wrapped("reset_status", _object(
            {"status": {"type": "string", "format": "group_snapshot_status"}}, ("status",))),
    }  # fmt: skip


@functools.cache
def _validator(name: str) -> jsonschema.Draft4Validator:
    import jsonschema

    return jsonschema.Draft4Validator(schemas()[name], format_checker=_formats())


def validate(name: str, body: object) -> dict[str, Any]:
    """``body`` checked against Cinder's schema ``name``; a 400 with Cinder's words if not.

    Returns the body (a dict, once valid).
    """
    import jsonschema

    try:
        _validator(name).validate(body)
    except jsonschema.ValidationError as exc:
        if isinstance(exc.cause, _InvalidName):
            raise Invalid(exc.cause.message) from None
        if exc.path:
            raise Invalid(
                f"Invalid input for field/attribute {exc.path.pop()}. Value: {exc.instance}. "
                f"{exc.message}"
            ) from None
        raise Invalid(exc.message) from None
    assert isinstance(body, dict)
    return body


def parse_bool(value: object) -> bool:
    """oslo's ``bool_from_string`` on a value the schema already limited to booleans."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "t", "true", "on", "y", "yes"}
