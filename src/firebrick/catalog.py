"""``firebrick catalog``: the commands that register Firebrick in Keystone's catalog.

Clients find the Block Storage API by service type: ``block-storage`` is the official
type, ``volumev3`` the one older clients (cinderclient, OpenStackClient's volume v3
commands, Terraform) still ask for. Both get the same public, internal and admin
endpoints. Endpoint URLs carry ``%(project_id)s`` unless asked not to (the API answers
both forms; clients before microversion 3.67 need the project in the URL).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

SERVICES: tuple[tuple[str, str], ...] = (
    ("block-storage", "cinder"),
    ("volumev3", "cinderv3"),
)
INTERFACES = ("public", "internal", "admin")
DESCRIPTION = "OpenStack Block Storage (Firebrick)"


@dataclass(frozen=True)
class Registration:
    public_url: str
    internal_url: str | None = None
    admin_url: str | None = None
    region: str = "RegionOne"
    with_project_id: bool = True
    service_user: str = "cinder"
    service_project: str = "service"

    def endpoint(self, interface: str) -> str:
        base = {"internal": self.internal_url, "admin": self.admin_url}.get(interface)
        root = (base or self.public_url).rstrip("/")
        if root.endswith("/v3"):
            root = root[: -len("/v3")]
        suffix = "/v3/%(project_id)s" if self.with_project_id else "/v3"
        return root + suffix


def _line(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def commands(reg: Registration) -> list[str]:
    """The ``openstack`` commands, in order, for an admin of the cloud to run."""
    lines = [
        _line("openstack", "user", "create", "--domain", "default", "--password-prompt",
              reg.service_user),
        _line("openstack", "role", "add", "--project", reg.service_project, "--user",
              reg.service_user, "service"),
    ]  # fmt: skip
    for service_type, name in SERVICES:
        lines.append(
            _line("openstack", "service", "create", "--name", name,
                  "--description", DESCRIPTION, service_type)
        )  # fmt: skip
    for service_type, _name in SERVICES:
        for interface in INTERFACES:
            lines.append(
                _line("openstack", "endpoint", "create", "--region", reg.region,
                      service_type, interface, reg.endpoint(interface))
            )  # fmt: skip
    return lines


def render(reg: Registration, argv: Sequence[str] = ()) -> str:
    header = [
        "# Register Firebrick in Keystone (run as a cloud admin, e.g. with OS_CLOUD set).",
        "# The service user validates tokens: it needs the 'service' role (or admin);",
        "# Keystone's bootstrap makes that role (older ones: openstack role create service).",
    ]
    config = [
        "",
        "# Then, in Firebrick's config:",
        "#   [DEFAULT]",
        "#   auth_strategy = keystone",
        "#   [keystone_authtoken]",
        "#   www_authenticate_uri = <Keystone public URL, e.g. http://keystone:5000/v3>",
        "#   auth_url = <Keystone URL the service reaches>",
        "#   auth_type = password",
        f"#   username = {reg.service_user}",
        "#   password = <the password given above>",
        f"#   project_name = {reg.service_project}",
        "#   user_domain_name = Default",
        "#   project_domain_name = Default",
    ]
    return "\n".join([*header, *commands(reg), *config]) + "\n"
