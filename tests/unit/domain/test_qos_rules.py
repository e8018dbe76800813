"""QoS specs' domain rules: consumers, key and value strings, per-GB arithmetic, and which
specs reach the hypervisor (front-end) or the target (back-end)."""

from __future__ import annotations

from datetime import datetime

import pytest

from firebrick.domain.errors import InvalidInput
from firebrick.domain.qos import (
    InvalidQoSSpecs,
    QosSpecs,
    back_end,
    check_consumer,
    check_spec_strings,
    for_volume,
    front_end,
    split_consumer,
)


@pytest.mark.parametrize("consumer", ["front-end", "back-end", "both"])
def test_valid_consumers(consumer: str) -> None:
    assert check_consumer(consumer) == consumer


@pytest.mark.parametrize("consumer", ["", None, "Front-End", "frontend", 1, ["both"]])
def test_invalid_consumers_are_cinders_400(consumer: object) -> None:
    with pytest.raises(InvalidQoSSpecs) as raised:
        check_consumer(consumer)
    assert raised.value.code == 400
    assert raised.value.message.startswith("Invalid qos specs: Valid consumer of QoS specs are: ")
    assert "valid_values=('back-end', 'front-end', 'both')" in raised.value.message


def test_split_consumer_takes_it_out_and_checks_it() -> None:
    assert split_consumer({"a": "1"}) == (None, {"a": "1"})
    assert split_consumer({"consumer": "both", "a": "1"}) == ("both", {"a": "1"})
    with pytest.raises(InvalidQoSSpecs):
        split_consumer({"consumer": None})


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        ({"": "v"}, 'Key "" has 0 characters, less than 1.'),
        ({"k" * 256: "v"}, f'Key "{"k" * 256}" has 256 characters, more than 255.'),
        ({"k": 5}, 'Value for key "k" is not a string or unicode'),
        ({"k": "v" * 256}, 'Value for key "k" has 256 characters, more than 255.'),
    ],
)
def test_spec_strings(specs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_spec_strings(specs)
    assert raised.value.message == f"Invalid input received: {message}"


def test_spec_strings_allow_empty_and_null_values() -> None:
    assert check_spec_strings({"a": "", "b": None, "c": "v" * 255}) == {
        "a": "", "b": None, "c": "v" * 255,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("specs", "size", "expected"),
    [
        # plain keys pass unchanged, values stay strings
        ({"read_iops_sec": "100", "x": "y"}, 5, {"read_iops_sec": "100", "x": "y"}),
        # per GB: rate x size
        ({"total_iops_sec_per_gb": "20"}, 10, {"total_iops_sec": 200}),
        # the floor wins on small volumes
        ({"read_bytes_sec_per_gb": "1000", "read_bytes_sec_per_gb_min": "5000"}, 2,
         {"read_bytes_sec": 5000}),
        # the ceiling wins on big ones, and is consumed
        ({"write_iops_sec_per_gb": "10", "write_iops_sec_max": "300"}, 100,
         {"write_iops_sec": 300}),
        # between floor and ceiling
        ({"total_bytes_sec_per_gb": "1", "total_bytes_sec_per_gb_min": "2",
          "total_bytes_sec_max": "100"}, 50, {"total_bytes_sec": 50}),
        # a _max without a per-GB rate is a burst limit and stays
        ({"total_bytes_sec": "10", "total_bytes_sec_max": "20"}, 3,
         {"total_bytes_sec": "10", "total_bytes_sec_max": "20"}),
        # a per-GB rate replaces the plain rate
        ({"read_iops_sec": "1", "read_iops_sec_per_gb": "3"}, 4, {"read_iops_sec": 12}),
        # not an integer: left for the consumer to judge
        ({"read_iops_sec_per_gb": "fast"}, 4, {"read_iops_sec_per_gb": "fast"}),
    ],
)  # fmt: skip
def test_per_gb_arithmetic(
    specs: dict[str, str | None], size: int, expected: dict[str, object]
) -> None:
    assert for_volume(specs, size) == expected


def qos(consumer: str, **specs: str) -> QosSpecs:
    return QosSpecs(id="q", name="n", consumer=consumer, created_at=datetime(2026, 1, 1),
                    specs=dict(specs))  # fmt: skip


def test_which_consumer_gets_what() -> None:
    assert front_end(None, 1) is None and back_end(None, 1) == {}
    assert front_end(qos("back-end", a="1"), 1) is None
    assert back_end(qos("back-end", a="1"), 1) == {"a": "1"}
    assert front_end(qos("front-end", a="1"), 1) == {"a": "1"}
    assert back_end(qos("front-end", a="1"), 1) == {}
    both = qos("both", total_iops_sec_per_gb="2")
    assert front_end(both, 3) == back_end(both, 3) == {"total_iops_sec": 6}
