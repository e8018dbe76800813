"""Cinder's fault bodies: ``{"<faultName>": {"code": N, "message": "..."}}``."""

from __future__ import annotations

from typing import Any, Final

from firebrick.db.outage import classify
from firebrick.domain.errors import FirebrickError

FAULT_NAMES: Final = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}
DEFAULT_FAULT_NAME: Final = "computeFault"

GENERIC_MESSAGE: Final = (
    "The server has either erred or is incapable of performing the requested operation."
)

# Quota faults tell the client it may retry at once (Cinder sends 0).
RETRY_AFTER: Final = "0"
# An outage of the service's database: what is wrong, in words an operator can act on.
OUTAGE_MESSAGES: Final = {
    "full": "The service's storage is full: nothing was changed. Try again later.",
    "unreachable": "The service's database is unavailable: nothing was changed. Try again later.",
}
OUTAGE_RETRY_AFTER: Final = "5"


def fault_name(code: int) -> str:
    return FAULT_NAMES.get(code, DEFAULT_FAULT_NAME)


def fault_body(code: int, message: str) -> dict[str, Any]:
    """The JSON body of a fault response with HTTP status ``code``."""
    inner: dict[str, Any] = {"code": code, "message": message}
    if code == 413:
        inner["retryAfter"] = RETRY_AFTER
    return {fault_name(code): inner}


def fault_headers(code: int) -> dict[str, str]:
    """Headers a fault with status ``code`` carries besides the usual ones."""
    return {"Retry-After": RETRY_AFTER} if code == 413 else {}


def fault_for(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, extra headers) for an exception that reached the API boundary.

    A ``FirebrickError``'s message is safe to show; anything else becomes a 500 whose
    message says nothing about what went wrong.
    """
    if isinstance(exc, FirebrickError):
        code, message = exc.code, exc.message
    else:
        outage = classify(exc)
        if outage is not None:
            # Temporary, and nothing was changed: the client may try again shortly.
            message = OUTAGE_MESSAGES[outage]
            return 503, fault_body(503, message), {"Retry-After": OUTAGE_RETRY_AFTER}
        code, message = 500, GENERIC_MESSAGE
    return code, fault_body(code, message), fault_headers(code)
