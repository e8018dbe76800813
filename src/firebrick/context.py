"""Who is asking: the request context every layer receives as a parameter."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from firebrick.policy import Policy


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


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
