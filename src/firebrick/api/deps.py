"""Per-request inputs of the routes: context, microversion, body, URL facts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Request

from firebrick.api import microversion, rules
from firebrick.api.auth import Identity
from firebrick.api.validation import parse_json
from firebrick.context import RequestContext
from firebrick.domain.errors import Forbidden, Invalid
from firebrick.policy import Policy, authorize


@dataclass(frozen=True)
class Call:
    """Everything a route needs to know about the request besides its body."""

    ctx: RequestContext
    version: microversion.APIVersion
    base_url: str
    project_in_url: bool
    url_project_id: str | None


def noauth_context(request: Request, url_project_id: str | None) -> RequestContext:
    """``X-Auth-Token: user:project`` as Cinder's noauth reads it; callers are admins."""
    token = request.headers.get("x-auth-token", "")
    user, _, project = token.partition(":")
    if project and url_project_id is not None and url_project_id != project:
        raise Invalid("Malformed request url")
    if not project:
        user = user or "admin"
        project = url_project_id or user
    return RequestContext(
        user_id=user,
        project_id=project,
        is_admin=True,
        roles=("admin",),
        request_id=request.state.request_id,
        policy=request.app.state.policy,
    )


def keystone_context(request: Request, url_project_id: str | None) -> RequestContext:
    """The identity keystonemiddleware validated (``api/auth.py``), as a context."""
    identity: Identity = request.state.identity
    if identity.project_id is None:
        raise Forbidden("Firebrick needs a project-scoped token.")
    if url_project_id is not None and url_project_id != identity.project_id:
        raise Forbidden(
            "Malformed request url: the project in the URL is not the project of the token."
        )
    policy: Policy = request.app.state.policy
    ctx = RequestContext(
        user_id=identity.user_id,
        project_id=identity.project_id,
        roles=identity.roles,
        request_id=request.state.request_id,
        user_domain_id=identity.user_domain_id,
        project_domain_id=identity.project_domain_id,
        policy=policy,
    )
    return replace(ctx, is_admin=policy.is_admin(ctx))


async def call(request: Request) -> Call:
    url_project_id = request.path_params.get("project_id")
    public = request.app.state.public_endpoint
    base_url = (public or str(request.base_url)).rstrip("/")
    if request.app.state.auth_strategy == "keystone":
        ctx = keystone_context(request, url_project_id)
    else:
        ctx = noauth_context(request, url_project_id)
    rule = rules.rule_for(request)
    if rule is not None:
        authorize(ctx, rule)
    return Call(
        ctx=ctx,
        version=getattr(request.state, "api_version", microversion.MIN),
        base_url=base_url,
        project_in_url=url_project_id is not None,
        url_project_id=url_project_id,
    )


async def body(request: Request) -> object:
    # The middleware has refused a body over the limit before it was read whole.
    return parse_json(await request.body())


CallDep = Annotated[Call, Depends(call)]
JsonBody = Annotated[object, Depends(body)]
