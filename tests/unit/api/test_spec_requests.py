"""QoS and encryption request bodies: Cinder's JSON-schema order and messages."""

from __future__ import annotations

import pytest

from firebrick.api import spec_requests
from firebrick.domain.errors import Invalid


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"keys": "a"}, "Invalid input for field/attribute keys. Value: a. 'a' is not of type "
                        "'array'"),
        ({"keys": ["a", 1]}, "Invalid input for field/attribute 1. Value: 1. 1 is not of type "
                             "'string'"),
        ({"keys": [""]}, "Invalid input for field/attribute 0. Value: . '' is too short"),
        ({"keys": ["a", "a"]}, "Invalid input for field/attribute keys. Value: ['a', 'a']. "
                               "['a', 'a'] has non-unique elements"),
        ({"keys": 1, "x": 2}, "Invalid input for field/attribute keys. Value: 1. 1 is not of "
                              "type 'array'"),
        ({"keys": [], "x": 2}, "Additional properties are not allowed ('x' was unexpected)"),
        ({}, "'keys' is a required property"),
    ],
)  # fmt: skip
def test_unset_messages(body: object, message: str) -> None:
    with pytest.raises(Invalid) as raised:
        spec_requests.qos_unset(body)
    assert raised.value.message == message


def test_set_messages() -> None:
    with pytest.raises(Invalid) as raised:
        spec_requests.qos_set({"qos_specs": {"ok": 1, "bad key!": "x"}})
    # The values of matching keys first, then the keys that match no pattern.
    assert raised.value.message == (
        "Invalid input for field/attribute ok. Value: 1. 1 is not of type 'string', 'null'"
    )
    with pytest.raises(Invalid) as raised:
        spec_requests.qos_set({"qos_specs": {"bad key!": "x"}})
    assert raised.value.message.endswith(
        "Additional properties are not allowed ('bad key!' was unexpected)"
    )
    assert spec_requests.qos_set({"qos_specs": {"a": None, "consumer": "both"}}) == {
        "a": None, "consumer": "both",
    }  # fmt: skip


def test_create_strips_the_name_and_keeps_the_consumer_among_the_keys() -> None:
    assert spec_requests.qos_create(
        {"qos_specs": {"name": " n ", "consumer": "both", "a": "1"}}
    ) == ("n", {"consumer": "both", "a": "1"})


@pytest.mark.parametrize(
    ("key_size", "parsed"), [(None, None), (0, 0), ("256", 256), (2**31 - 1, 2**31 - 1)]
)
def test_key_size_forms(key_size: object, parsed: int | None) -> None:
    spec = {"provider": "p", "control_location": "back-end", "key_size": key_size}
    assert spec_requests.encryption_spec({"encryption": spec}, create=True)["key_size"] == parsed


@pytest.mark.parametrize("key_size", ["012", " 1", "1.0", True, [], "١٢"])
def test_key_size_refusals(key_size: object) -> None:
    spec = {"provider": "p", "control_location": "back-end", "key_size": key_size}
    with pytest.raises(Invalid):
        spec_requests.encryption_spec({"encryption": spec}, create=True)


def test_update_needs_no_field_and_drops_unknown_ones() -> None:
    assert spec_requests.encryption_spec({"encryption": {}}, create=False) == {}
    assert spec_requests.encryption_spec(
        {"encryption": {"cipher": None, "volume_type_id": "x"}}, create=False
    ) == {"cipher": None}
