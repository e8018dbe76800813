from __future__ import annotations

import pytest

from firebrick.api import microversion
from firebrick.api.faults import fault_for
from firebrick.api.microversion import MAX, MIN, APIVersion, VersionError, negotiate


def test_bounds() -> None:
    assert APIVersion(3, 0) == MIN
    assert APIVersion(3, 71) == MAX
    assert str(MAX) == "3.71"
    assert microversion.HEADER == "OpenStack-API-Version"


def test_ordering_is_numeric_not_lexical() -> None:
    assert APIVersion(3, 9) < APIVersion(3, 10) < APIVersion(3, 71)
    assert APIVersion(3, 71) > APIVersion(3, 7)
    assert sorted([APIVersion(3, 10), APIVersion(3, 2)]) == [APIVersion(3, 2), APIVersion(3, 10)]
    assert APIVersion(3, 45).matches(APIVersion(3, 45))
    assert not APIVersion(3, 44).matches(APIVersion(3, 45))
    assert not APIVersion(3, 50).matches(APIVersion(3, 0), APIVersion(3, 49))


def test_hashable_and_frozen() -> None:
    assert {APIVersion(3, 1), APIVersion(3, 1)} == {APIVersion(3, 1)}
    with pytest.raises(AttributeError):
        APIVersion(3, 1).minor = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, APIVersion(3, 0)),
        ("volume 3.0", APIVersion(3, 0)),
        ("volume 3.27", APIVersion(3, 27)),
        ("volume 3.71", APIVersion(3, 71)),
        ("volume latest", MAX),
        ("volume   3.5  ", APIVersion(3, 5)),
        ("compute 2.1, volume 3.44", APIVersion(3, 44)),
        ("volume 3.44, volume 3.1", APIVersion(3, 44)),
    ],
)
def test_negotiate_accepts(header: str | None, expected: APIVersion) -> None:
    assert negotiate(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "compute 2.1",
        "identity 3.0, compute 2.1",
        "Volume 3.5",  # Cinder's match on the service name is case-sensitive
    ],
)
def test_header_without_volume_entry_is_400(header: str) -> None:
    with pytest.raises(VersionError) as err:
        negotiate(header)
    assert err.value.code == 400


@pytest.mark.parametrize(
    "header",
    [
        "volume",
        "volume 3.5 extra",
        "volume 3",
        "volume 3.",
        "volume .5",
        "volume 3.05",
        "volume 03.5",
        "volume 3.x",
        "volume v3.5",
        "volume Latest",
        "volume -3.5",
        "volume 3.5.1",
    ],
)
def test_malformed_version_is_400(header: str) -> None:
    with pytest.raises(VersionError) as err:
        negotiate(header)
    assert err.value.code == 400


def test_malformed_version_message() -> None:
    with pytest.raises(VersionError) as err:
        negotiate("volume 3.x")
    assert err.value.message == (
        "API Version String 3.x is of invalid format. Must be of format MajorNum.MinorNum."
    )


@pytest.mark.parametrize(
    ("header", "shown"),
    [("volume 3.99", "3.99"), ("volume 3.72", "3.72"), ("volume 2.0", "2.0"),
     ("volume 4.0", "4.0"), ("volume 1.0", "1.0")],
)  # fmt: skip
def test_out_of_range_is_406(header: str, shown: str) -> None:
    with pytest.raises(VersionError) as err:
        negotiate(header)
    assert err.value.code == 406
    assert err.value.message == (
        f"Version {shown} is not supported by the API. Minimum is 3.0 and maximum is 3.71."
    )


def test_version_errors_become_faults() -> None:
    with pytest.raises(VersionError) as err:
        negotiate("volume 3.99")
    status, body, headers = fault_for(err.value)
    assert status == 406
    assert body == {
        "computeFault": {
            "code": 406,
            "message": "Version 3.99 is not supported by the API. "
            "Minimum is 3.0 and maximum is 3.71.",
        }
    }
    assert headers == {}
    with pytest.raises(VersionError) as err:
        negotiate("compute 2.1")
    status, body, _ = fault_for(err.value)
    assert status == 400
    assert set(body) == {"badRequest"}


def test_response_header_value() -> None:
    assert microversion.response_header_value(APIVersion(3, 71)) == "volume 3.71"
