"""A real Keystone in front of Firebrick: the deployment the ``keystone`` fixtures build.

One Keystone per pytest worker (session), provisioned by ``infra.keystone.provision``:
projects ``alpha`` and ``beta`` with users ``<project>-admin``, ``-member`` and
``-reader``, the ``firebrick`` service user, and catalog endpoints for a Firebrick on a
port chosen before it starts (``KeystoneEnv.firebrick_port``).

Every token and password handed out here is recorded in ``KeystoneEnv.secrets`` so a test
can check that none of them ever reaches Firebrick's logs or answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Service, VolumeApi, free_port
from infra import keystone as ks

# Volumes that fit nowhere (the file backend has 20 GiB, thin, ratio 20) but within quota.
OVERSIZED_GB = 900


def keystone_unavailable() -> None:
    """Skip, or fail when ``CI`` is set: CI must run the Keystone tests."""
    reason = ks.unavailable_reason()
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@dataclass
class KeystoneEnv:
    server: ks.KeystoneServer
    deployment: ks.Deployment
    firebrick_port: int
    workdir: Path
    secrets: set[str] = field(default_factory=set)
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)
    _expiring: ks.KeystoneServer | None = None

    def __post_init__(self) -> None:
        self.secrets.add(self.deployment.service_password)
        self.secrets.add(self.server.admin_password)
        self.secrets.update(user.password for user in self.deployment.users.values())

    @classmethod
    def create(cls, workdir: Path) -> KeystoneEnv:
        server = ks.KeystoneServer(workdir / "keystone")
        server.start()
        try:
            port = free_port()
            deployment = ks.provision(server, endpoint=f"http://127.0.0.1:{port}")
        except BaseException:
            server.stop()
            raise
        return cls(server, deployment, port, workdir)

    def stop(self) -> None:
        self.server.stop()

    @property
    def auth_url(self) -> str:
        return self.server.url

    def project_id(self, project: str) -> str:
        return self.deployment.project_ids[project]

    def user(self, project: str, role: str) -> ks.User:
        return self.deployment.user(project, role)

    def token(self, project: str, role: str) -> str:
        """A token of ``<project>-<role>`` scoped to ``project`` (one per session)."""
        if (project, role) not in self._tokens:
            self._tokens[(project, role)] = self.new_token(project, role)
        return self._tokens[(project, role)]

    def new_token(self, project: str, role: str) -> str:
        user = self.user(project, role)
        token = self.server.token(user.name, user.password, project)
        self.secrets.add(token)
        return token

    def unscoped_token(self, project: str, role: str) -> str:
        user = self.user(project, role)
        token = self.server.token(user.name, user.password, None)
        self.secrets.add(token)
        return token

    def expiring_token(self, project: str, role: str, lifetime: int = 3) -> str:
        """A genuine token of this Keystone that expires ``lifetime`` seconds after issue.

        Issued by a sibling API on the same database and keys whose tokens live
        ``lifetime`` seconds (Keystone has no per-request lifetime).
        """
        if self._expiring is None:
            self._expiring = self.server.sibling(
                self.workdir / "keystone-short", token_expiration=lifetime
            )
        user = self.user(project, role)
        token = self._expiring.token(user.name, user.password, project)
        self.secrets.add(token)
        return token

    def connect(self, project: str, role: str) -> Any:
        """openstacksdk, password auth, endpoint from the catalog (as a clouds.yaml would)."""
        user = self.user(project, role)
        return ks.connect(self.auth_url, user.name, user.password, project)

    def firebrick_sections(self, **authtoken: str) -> dict[str, dict[str, str]]:
        return {"keystone_authtoken": self.deployment.authtoken_section(**authtoken)}

    def clouds_yaml(self, path: Path) -> Path:
        """A clouds.yaml with a cloud ``<project>-<role>`` per user."""
        clouds = {}
        for (project, role), user in self.deployment.users.items():
            clouds[f"{project}-{role}"] = {
                "auth": {
                    "auth_url": self.auth_url,
                    "username": user.name,
                    "password": user.password,
                    "project_name": project,
                    "user_domain_name": ks.DOMAIN,
                    "project_domain_name": ks.DOMAIN,
                },
                "region_name": ks.REGION,
                "identity_api_version": 3,
                "interface": "public",
            }
        path.write_text(yaml.safe_dump({"clouds": clouds}))
        return path


def keystone_client(
    service: Service,
    token: str | None,
    project_id: str | None = None,
    microversion: str | None = None,
) -> VolumeApi:
    """An httpx client on ``/v3/{project_id}`` (``/v3`` without one) sending ``token``."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["X-Auth-Token"] = token
    if microversion is not None:
        headers["OpenStack-API-Version"] = f"volume {microversion}"
    base = f"{service.base_url}/v3/{project_id}" if project_id else f"{service.base_url}/v3"
    client = VolumeApi(base_url=base, headers=headers, timeout=30.0)
    client.project = project_id or ""
    return client


def firebrick_texts(service: Service) -> dict[str, str]:
    """Everything Firebrick wrote: its output and every file under its log dir."""
    texts = {str(service.output_path): service.output()}
    if service.log_dir.is_dir():
        for path in sorted(service.log_dir.rglob("*")):
            if path.is_file():
                texts[str(path)] = path.read_text(errors="replace")
    return texts


def assert_no_secrets(texts: dict[str, str], secrets: set[str]) -> None:
    leaks = [
        f"{where}: …{text[max(0, text.find(s) - 80) : text.find(s)]}<secret>"
        for where, text in texts.items()
        for s in secrets
        if s and s in text
    ]
    assert not leaks, "secrets in Firebrick's output:\n" + "\n".join(leaks[:10])


CLI_TIMEOUT = 120


def openstack(env: dict[str, str], cloud: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "openstack"
    return subprocess.run(
        [str(script), "--os-cloud", cloud, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def openstack_json(env: dict[str, str], cloud: str, *args: str) -> Any:
    result = openstack(env, cloud, *args, "-f", "json")
    assert result.returncode == 0, f"openstack {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)
