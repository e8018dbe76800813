"""QoS specs: who consumes them, what their keys may hold, and what a volume of a given
size gets from them (Cinder's ``cinder/volume/qos_specs.py`` and the volume manager's
``_parse_connection_options``). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from firebrick.domain.errors import Conflict, Invalid, InvalidInput, NotFound

FRONT_END: Final = "front-end"
BACK_END: Final = "back-end"
BOTH: Final = "both"
CONSUMERS: Final = (BACK_END, FRONT_END, BOTH)  # Cinder's QoSConsumerValues.ALL
DEFAULT_CONSUMER: Final = BACK_END
MAX_STRING: Final = 255

# The rates libvirt (front-end) and most back-ends understand; each may also be given per
# GiB of the volume (``<rate>_per_gb``, bounded by ``<rate>_per_gb_min`` and ``<rate>_max``).
TUNE_OPTIONS: Final = (
    "read_iops_sec", "read_bytes_sec", "write_iops_sec", "write_bytes_sec",
    "total_iops_sec", "total_bytes_sec",
)  # fmt: skip

# What Cinder prints as the valid consumers: the repr of its enum field, verbatim.
_CONSUMER_FIELD: Final = (
    "QoSConsumerValues(default=<class 'oslo_versionedobjects.fields.UnspecifiedDefault'>,"
    "nullable=False,valid_values=('back-end', 'front-end', 'both'))"
)


class InvalidQoSSpecs(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid qos specs: {reason}")


class QoSSpecsNotFound(NotFound):
    def __init__(self, specs_id: str) -> None:
        super().__init__(f"No such QoS spec {specs_id}.")


class QoSSpecsKeyNotFound(NotFound):
    def __init__(self, specs_id: str, key: str) -> None:
        super().__init__(f"QoS spec {specs_id} has no spec with key {key}.")


class QoSSpecsExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"QoS Specs {name} already exists.")


class QoSSpecsInUse(Invalid):
    """Deleting specs still associated with a type, without ``force``."""

    def __init__(self) -> None:
        super().__init__("Qos specs still in use.")


@dataclass
class QosSpecs:
    id: str
    name: str
    consumer: str
    created_at: datetime
    specs: dict[str, str | None] = field(default_factory=dict)
    updated_at: datetime | None = None


def check_consumer(value: object) -> str:
    """``value`` if it is one of Cinder's consumers, else InvalidQoSSpecs (400)."""
    if isinstance(value, str) and value in CONSUMERS:
        return value
    raise InvalidQoSSpecs(f"Valid consumer of QoS specs are: {_CONSUMER_FIELD}")


def check_spec_strings(specs: Mapping[str, object]) -> dict[str, str | None]:
    """Cinder's ``validate_dictionary_string_length``: string keys of 1-255 characters,
    string values of at most 255 (null allowed), else InvalidInput (400)."""
    checked: dict[str, str | None] = {}
    for key, value in specs.items():
        _check_length(key, f'Key "{key}"', 1)
        if value is not None:
            _check_length(value, f'Value for key "{key}"', 0)
            assert isinstance(value, str)
        checked[key] = value
    return checked


def _check_length(value: object, name: str, minimum: int) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} is not a string or unicode")
    if len(value) < minimum:
        raise InvalidInput(f"{name} has {len(value)} characters, less than {minimum}.")
    if len(value) > MAX_STRING:
        raise InvalidInput(f"{name} has {len(value)} characters, more than {MAX_STRING}.")


def split_consumer(specs: Mapping[str, str | None]) -> tuple[str | None, dict[str, str | None]]:
    """(the ``consumer`` key if given, checked; the other keys)."""
    rest = dict(specs)
    if "consumer" not in rest:
        return None, rest
    return check_consumer(rest.pop("consumer")), rest


def for_volume(specs: Mapping[str, str | None], size_gb: int) -> dict[str, str | int | None]:
    """The specs a volume of ``size_gb`` gets: every ``<rate>_per_gb`` becomes ``<rate>``.

    Cinder's arithmetic: ``<rate> = min(max(<rate>_per_gb_min, <rate>_per_gb * size),
    <rate>_max)``, the three helper keys removed; the other keys pass unchanged. A per-GB
    key that is not an integer is left as it is (Cinder would fail the attachment).
    """
    result: dict[str, str | int | None] = dict(specs)
    for option in TUNE_OPTIONS:
        per_gb, per_gb_min, maximum = f"{option}_per_gb", f"{option}_per_gb_min", f"{option}_max"
        if per_gb not in result:
            continue
        try:
            floor = _integer(result.get(per_gb_min, 0))
            value = max(floor, _integer(result[per_gb]) * size_gb)
            ceiling = _integer(result.get(maximum, value))
        except ValueError:
            continue
        result[option] = min(value, ceiling)
        for helper in (per_gb, per_gb_min, maximum):
            result.pop(helper, None)
    return result


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(value)
    return int(value)


def front_end(qos: QosSpecs | None, size_gb: int) -> dict[str, str | int | None] | None:
    """What connection_info ``data.qos_specs`` carries: the specs of a front-end or both
    consumer, per-GB resolved; None otherwise (Cinder's ``_parse_connection_options``)."""
    if qos is None or qos.consumer not in (FRONT_END, BOTH):
        return None
    return for_volume(qos.specs, size_gb)


def back_end(qos: QosSpecs | None, size_gb: int) -> dict[str, str | int | None]:
    """The specs the storage side enforces: a back-end or both consumer's, per-GB resolved."""
    if qos is None or qos.consumer not in (BACK_END, BOTH):
        return {}
    return for_volume(qos.specs, size_gb)


def retype_keeps_front_end(status: str, current: QosSpecs | None, new: QosSpecs | None) -> bool:
    """Whether a retype may change the volume's QoS specs (Cinder's
    ``volume_qos_allows_retype``): an attached volume's hypervisor holds the front-end
    specs, so an in-use volume keeps them unless neither type has front-end specs."""
    if status == "available":
        return True
    if (current.id if current else None) == (new.id if new else None):
        return True
    return all(q is None or q.consumer == BACK_END for q in (current, new))
