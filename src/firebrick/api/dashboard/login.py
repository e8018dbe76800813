"""The dashboard's Keystone login: a username and password exchanged for a token.

The browser sends the form to the api, which asks the Keystone of ``[keystone_authtoken]``
(``www_authenticate_uri``, else ``auth_url``) for a project-scoped token and hands it back;
every later call of the page carries that token as any client's would. Neither the
password nor the token is ever logged or put in an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from firebrick.domain.errors import FirebrickError, Invalid

LOG = logging.getLogger("firebrick.api.dashboard")

TIMEOUT = 10.0
DEFAULT_DOMAIN = "Default"


class LoginRefused(FirebrickError):
    code = 401

    def __init__(self) -> None:
        super().__init__("The user name, password or project is not valid.")


class KeystoneUnavailable(FirebrickError):
    code = 503

    def __init__(self) -> None:
        super().__init__("Keystone could not be reached; try again later.")


@dataclass(frozen=True)
class Session:
    token: str
    project_id: str
    project_name: str
    user_name: str
    roles: tuple[str, ...]
    expires_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "token": self.token, "project_id": self.project_id,
            "project_name": self.project_name, "user_name": self.user_name,
            "roles": list(self.roles), "expires_at": self.expires_at,
        }  # fmt: skip


def tokens_url(authtoken: Mapping[str, str]) -> str | None:
    """Keystone's ``/v3/auth/tokens``, from the options keystonemiddleware reads."""
    base = authtoken.get("www_authenticate_uri") or authtoken.get("auth_uri")
    base = (base or authtoken.get("auth_url") or "").rstrip("/")
    if not base:
        return None
    return f"{base}/auth/tokens" if base.endswith("/v3") else f"{base}/v3/auth/tokens"


@dataclass(frozen=True)
class LoginForm:
    username: str
    password: str
    project: str
    user_domain: str = DEFAULT_DOMAIN
    project_domain: str = DEFAULT_DOMAIN

    @classmethod
    def parse(cls, body: object) -> LoginForm:
        fields = body if isinstance(body, dict) else {}
        values = {}
        for name in ("username", "password", "project", "user_domain", "project_domain"):
            value = fields.get(name)
            if value is None and name.endswith("domain"):
                continue
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise Invalid(f"Invalid input received: {name} must be a non-empty string.")
            values[name] = value if name == "password" else value.strip()
        return cls(**values)


def login(url: str, form: LoginForm) -> Session:
    """Ask Keystone at ``url`` for a token of ``form``'s user scoped to its project."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": form.username,
                        "domain": {"name": form.user_domain},
                        "password": form.password,
                    }
                },
            },
            "scope": {"project": {"name": form.project, "domain": {"name": form.project_domain}}},
        }
    }
    try:
        resp = httpx.post(url, json=body, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        LOG.warning("Dashboard login: Keystone unreachable (%s)", type(exc).__name__)
        raise KeystoneUnavailable() from None
    if resp.status_code in (400, 401, 403, 404):
        LOG.info("Dashboard login refused by Keystone (%d)", resp.status_code)
        raise LoginRefused()
    if resp.status_code != 201 or not resp.headers.get("x-subject-token"):
        LOG.warning("Dashboard login: Keystone answered %d", resp.status_code)
        raise KeystoneUnavailable()
    token = resp.json().get("token", {})
    project = token.get("project") or {}
    return Session(
        token=resp.headers["x-subject-token"],
        project_id=str(project.get("id", "")),
        project_name=str(project.get("name", form.project)),
        user_name=str((token.get("user") or {}).get("name", form.username)),
        roles=tuple(str(r.get("name")) for r in token.get("roles") or () if r.get("name")),
        expires_at=token.get("expires_at"),
    )
