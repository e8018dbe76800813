from __future__ import annotations

import pytest

from firebrick.api.faults import GENERIC_MESSAGE, fault_body, fault_for
from firebrick.domain import errors


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (400, "badRequest"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "itemNotFound"),
        (405, "badMethod"),
        (409, "conflictingRequest"),
        (415, "badMediaType"),
        (501, "notImplemented"),
        (503, "serviceUnavailable"),
        (500, "computeFault"),
        (406, "computeFault"),
        (412, "computeFault"),
        (502, "computeFault"),
    ],
)
def test_fault_names(code: int, name: str) -> None:
    assert fault_body(code, "boom") == {name: {"code": code, "message": "boom"}}


def test_over_limit_carries_retry_after() -> None:
    assert fault_body(413, "over") == {
        "overLimit": {"code": 413, "message": "over", "retryAfter": "0"}
    }


@pytest.mark.parametrize(
    ("exc", "status", "name", "message"),
    [
        (errors.InvalidInput("bad size"), 400, "badRequest", "Invalid input received: bad size"),
        (errors.InvalidVolume("busy"), 400, "badRequest", "Invalid volume: busy"),
        (errors.VolumeNotFound("v1"), 404, "itemNotFound", "Volume v1 could not be found."),
        (errors.Conflict("in use"), 409, "conflictingRequest", "in use"),
        (errors.DriverError("backend down"), 500, "computeFault", "backend down"),
    ],
)
def test_domain_errors(exc: errors.FirebrickError, status: int, name: str, message: str) -> None:
    assert fault_for(exc) == (status, {name: {"code": status, "message": message}}, {})


def test_quota_error_is_413_with_retry_after() -> None:
    status, body, headers = fault_for(errors.VolumeLimitExceeded(10))
    assert status == 413
    assert body == {
        "overLimit": {
            "code": 413,
            "message": "VolumeLimitExceeded: Maximum number of volumes allowed (10) "
            "exceeded for quota 'volumes'.",
            "retryAfter": "0",
        }
    }
    assert headers == {"Retry-After": "0"}


def test_unexpected_exception_leaks_nothing() -> None:
    status, body, headers = fault_for(RuntimeError("password=hunter2 at /etc/secret"))
    assert status == 500
    assert body == {"computeFault": {"code": 500, "message": GENERIC_MESSAGE}}
    assert "hunter2" not in str(body)
    assert headers == {}
    assert GENERIC_MESSAGE == (
        "The server has either erred or is incapable of performing the requested operation."
    )


def test_base_exception_is_500() -> None:
    status, _, _ = fault_for(KeyboardInterrupt())
    assert status == 500
