"""Who is asking: the request context every layer receives as a parameter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firebrick.policy import Policy


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


# The id of the API request whose work is being done: set per request by the API's
# middleware, carried with every cast, set again around the handler that receives it. The
# user messages a failure writes name it, as Cinder's do.
_REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


@contextmanager
def working_for(request_id: str | None) -> Iterator[None]:
    """Work done inside is done for the request ``request_id`` (None: none known)."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    project_id: str
    is_admin: bool = False
    roles: tuple[str, ...] = ()
    request_id: str = field(default_factory=new_request_id)
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    # The enforcer that answers ``policy.authorize`` for this request (None: defaults).
    policy: Policy | None = field(default=None, repr=False, compare=False)
