"""A throwaway Keystone for tests and the benchmark: own directory, port, database and keys.

Keystone (PyPI) lives in a venv of its own (``make keystone``: ``.keystone-venv`` at the
repository root, or ``KEYSTONE_VENV``) so that its pins never meet Firebrick's. A server is
``keystone-manage`` (db_sync, fernet_setup, credential_setup, bootstrap) on a SQLite
database under ``base_dir`` (or a PostgreSQL database, ``database_url``), then ``gunicorn
keystone.wsgi.api:application`` on ``127.0.0.1:port``. Several servers run side by side (one
per pytest-xdist worker): each has its own ``base_dir`` and port.

:meth:`KeystoneServer.sibling` starts a second API server on the same database and fernet
keys with other options (e.g. a token lifetime of a few seconds): tokens it issues are
ordinary tokens of the first one, so a test can get a token that really expires.

:func:`provision` creates, with openstacksdk, what a Firebrick deployment needs: the
``firebrick`` service user (role ``service`` in project ``service``), the block-storage
services and endpoints in the catalog, and projects whose users hold admin, member and
reader.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra import gunicorn

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60.0
MANAGE_TIMEOUT = 120.0
REGION = "RegionOne"
DOMAIN = "Default"
ADMIN_USER = "admin"
SERVICE_PROJECT = "service"
SERVICE_USER = "firebrick"
ROLES = ("admin", "member", "reader")


def venv_dir() -> Path:
    """The Keystone venv: ``KEYSTONE_VENV`` (relative to the repository) or ``.keystone-venv``."""
    configured = os.environ.get("KEYSTONE_VENV")
    path = Path(configured) if configured else Path(".keystone-venv")
    return path if path.is_absolute() else REPO / path


def available() -> bool:
    """Whether the Keystone venv holds keystone-manage, gunicorn and keystone itself."""
    bin_dir = venv_dir() / "bin"
    return all((bin_dir / name).is_file() for name in ("keystone-manage", "gunicorn", "python"))


def unavailable_reason() -> str:
    return f"Keystone is not installed in {venv_dir()} (run `make keystone`)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _render(sections: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for section, options in sections.items():
        lines += [f"[{section}]", *(f"{k} = {v}" for k, v in options.items()), ""]
    return "\n".join(lines)


class KeystoneServer:
    """One Keystone API on ``http://127.0.0.1:port/v3`` with state under ``base_dir``.

    ``options`` are extra ``keystone.conf`` options by section (they win over the defaults
    written here). ``token_expiration`` is the lifetime of issued tokens, in seconds.
    """

    def __init__(
        self,
        base_dir: Path,
        port: int = 0,
        threads: int = 8,
        token_expiration: int = 3600,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.database_url = database_url
        self.port = port or free_port()
        self.threads = threads
        self.token_expiration = token_expiration
        self.options = options or {}
        self.admin_password = secrets.token_urlsafe(16)
        self.venv = venv_dir()
        self._process: subprocess.Popen[bytes] | None = None
        self._parent: KeystoneServer | None = None
        self._siblings: list[KeystoneServer] = []

    # -- addresses and files -----------------------------------------------------------

    @property
    def url(self) -> str:
        """The identity endpoint (``auth_url``), ``http://127.0.0.1:PORT/v3``."""
        return f"http://127.0.0.1:{self.port}/v3"

    @property
    def state_dir(self) -> Path:
        """The shared state (database and keys): the parent's for a sibling."""
        return self._parent.state_dir if self._parent else self.base_dir

    @property
    def config_file(self) -> Path:
        return self.base_dir / "keystone.conf"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "keystone.log"

    @property
    def _sqlite_url(self) -> str:
        return f"sqlite:///{self.state_dir / 'keystone.sqlite'}?timeout=60"

    @property
    def _setup_done(self) -> Path:
        return self.state_dir / "setup-done"

    def _bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def _config_text(self) -> str:
        state = self.state_dir
        sections: dict[str, dict[str, Any]] = {
            "DEFAULT": {"debug": "false", "use_stderr": "true"},
            # A token request may write (the user's last activity): under load the default
            # 5 s lock wait of SQLite gave 500s; WAL (set at setup) lets readers go on. A
            # read that turns into a write still fails at once when another writer went
            # first, hence PostgreSQL (``database_url``) for heavy concurrent use (Tempest).
            "database": {"connection": self.database_url or self._sqlite_url},
            "token": {"provider": "fernet", "expiration": str(self.token_expiration)},
            "fernet_tokens": {"key_repository": str(state / "fernet-keys")},
            "fernet_receipts": {"key_repository": str(state / "fernet-receipts")},
            "credential": {"key_repository": str(state / "credential-keys")},
            # The fewest bcrypt rounds: password checks stay fast (tests authenticate often).
            "identity": {"password_hash_rounds": "4"},
            # Without a cache every token check costs ~200 ms of SQLite queries. The
            # in-memory cache is per process: one worker process (threads serve in
            # parallel) keeps it coherent.
            "cache": {"enabled": "true", "backend": "dogpile.cache.memory"},
        }
        for section, options in self.options.items():
            sections.setdefault(section, {}).update({k: str(v) for k, v in options.items()})
        return _render(sections)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
        env["OS_KEYSTONE_CONFIG_FILES"] = str(self.config_file)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    # -- lifecycle ---------------------------------------------------------------------

    def _setup(self, bootstrap_only: bool = False) -> None:
        """``keystone-manage`` db_sync, fernet_setup, credential_setup and bootstrap.

        All four run in one interpreter (``cli.main`` once per command, as the
        ``keystone-manage`` script calls it): each process would spend two seconds on
        imports, the commands themselves take half a second together. ``bootstrap_only``:
        just bootstrap again (it updates the identity endpoints to a new port).
        """
        owner = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
        commands = [
            ["db_sync"],
            # Also sets up the receipts' key repository ([fernet_receipts]).
            ["fernet_setup", *owner],
            ["credential_setup", *owner],
        ]
        bootstrap = [
            [
                "bootstrap",
                "--bootstrap-username", ADMIN_USER,
                "--bootstrap-project-name", "admin",
                "--bootstrap-role-name", "admin",
                "--bootstrap-service-name", "keystone",
                "--bootstrap-region-id", REGION,
                "--bootstrap-admin-url", self.url,
                "--bootstrap-public-url", self.url,
                "--bootstrap-internal-url", self.url,
            ],
        ]  # fmt: skip
        commands = bootstrap if bootstrap_only else commands + bootstrap
        script = (
            "import json, sys\n"
            "from keystone.cmd import cli\n"
            "from keystone.conf import CONF\n"
            "for args in json.loads(sys.argv[2]):\n"
            "    CONF.clear()\n"
            "    cli.main(argv=['keystone-manage', '--config-file', sys.argv[1], *args])\n"
        )
        result = subprocess.run(
            [self._bin("python"), "-c", script, str(self.config_file), json.dumps(commands)],
            # Not on the command line: a token_urlsafe password may begin with "-".
            env={**self._env(), "OS_BOOTSTRAP_PASSWORD": self.admin_password},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=MANAGE_TIMEOUT,
            check=False,
        )
        (self.base_dir / "keystone-manage.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(
                f"keystone-manage setup failed (rc={result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
            )
        if self.database_url is None:
            with sqlite3.connect(self.state_dir / "keystone.sqlite") as db:
                db.execute("PRAGMA journal_mode=WAL")  # kept by the file
        self._setup_done.touch()

    def start(self) -> None:
        """Set up (first start only) and start the API; return when ``GET /v3`` answers."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self._config_text())
        if self._parent is None and not self._setup_done.exists():
            self._setup()
        for attempt in range(3):
            logged = len(self.log())
            if self._spawn():
                return
            output = self.log()[logged:][-4000:]
            if "address already in use" not in output.lower() or attempt == 2:
                raise RuntimeError(f"keystone did not start on {self.url}; its log:\n{output}")
            self.port = free_port()  # someone took the port between free_port() and bind
            self.config_file.write_text(self._config_text())
            if self._parent is None:
                self._setup(bootstrap_only=True)  # the catalog's identity URLs have the port

    def _spawn(self) -> bool:
        self._process = gunicorn.spawn(
            self._bin("gunicorn"), self.base_dir, port=self.port, threads=self.threads,
            wsgi_app="keystone.wsgi.api:application", env=self._env(), log_file=self.log_file,
        )  # fmt: skip
        if gunicorn.wait_ready(self._process, self.url, START_TIMEOUT):
            return True
        self._kill()
        return False

    def _kill(self) -> None:
        process, self._process = self._process, None
        gunicorn.stop(process)

    def stop(self) -> None:
        """Stop this server and every sibling it started."""
        for sibling in self._siblings:
            sibling.stop()
        self._siblings.clear()
        self._kill()

    def sibling(
        self,
        base_dir: Path,
        token_expiration: int | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> KeystoneServer:
        """Start another API on this one's database and keys, with other options.

        Tokens it issues validate on this server (same fernet keys), so e.g. a sibling
        with ``token_expiration=2`` hands out genuine tokens of this Keystone that expire
        two seconds later. Stopped with this server.
        """
        merged = {section: dict(values) for section, values in self.options.items()}
        for section, values in (options or {}).items():
            merged.setdefault(section, {}).update(values)
        other = KeystoneServer(
            base_dir,
            threads=2,
            token_expiration=token_expiration or self.token_expiration,
            options=merged,
            database_url=self.database_url,
        )
        other._parent = self
        other.admin_password = self.admin_password
        other.start()
        self._siblings.append(other)
        return other

    # -- clients -----------------------------------------------------------------------

    def token(self, username: str, password: str, project: str | None = None) -> str:
        """A token for ``username`` (Default domain), scoped to ``project`` (a name)."""
        return issue_token(self.url, username, password, project)

    def admin_connection(self) -> Any:
        """An openstacksdk connection as the bootstrap admin (project ``admin``)."""
        return connect(self.url, ADMIN_USER, self.admin_password, "admin")


def issue_token(auth_url: str, username: str, password: str, project: str | None) -> str:
    """``POST /v3/auth/tokens`` with a password; the ``X-Subject-Token``."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": username, "domain": {"name": DOMAIN}, "password": password}
            },
        }
    }
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"name": DOMAIN}}}
    resp = httpx.post(f"{auth_url}/auth/tokens", json={"auth": auth}, timeout=30.0)
    if resp.status_code != 201:
        raise RuntimeError(f"token for {username} failed: {resp.status_code} {resp.text}")
    return resp.headers["X-Subject-Token"]


def connect(auth_url: str, username: str, password: str, project: str) -> Any:
    """An openstacksdk connection with password auth and catalog discovery (RegionOne)."""
    import openstack

    return openstack.connect(
        auth_url=auth_url,
        username=username,
        password=password,
        project_name=project,
        user_domain_name=DOMAIN,
        project_domain_name=DOMAIN,
        region_name=REGION,
        identity_interface="public",
    )


# ---------------------------------------------------------------------------------------
# what a Firebrick deployment needs in Keystone


@dataclass
class User:
    name: str
    password: str
    project: str
    project_id: str
    role: str
    id: str = ""


@dataclass
class Deployment:
    """What :func:`provision` created: the service user, the projects and their users."""

    auth_url: str
    service_user: str
    service_password: str
    service_project: str
    project_ids: dict[str, str] = field(default_factory=dict)
    users: dict[tuple[str, str], User] = field(default_factory=dict)

    def user(self, project: str, role: str) -> User:
        return self.users[(project, role)]

    def authtoken_section(self, **extra: str) -> dict[str, str]:
        """The ``[keystone_authtoken]`` section of Firebrick's config."""
        section = {
            "www_authenticate_uri": self.auth_url,
            "auth_url": self.auth_url,
            "auth_type": "password",
            "username": self.service_user,
            "password": self.service_password,
            "project_name": self.service_project,
            "user_domain_name": DOMAIN,
            "project_domain_name": DOMAIN,
        }
        section.update(extra)
        return section


def provision(
    keystone: KeystoneServer,
    projects: Iterable[str] = ("alpha", "beta"),
    endpoint: str | None = None,
    roles: Iterable[str] = ROLES,
) -> Deployment:
    """Create the service user, ``projects`` with a user per role, and the catalog entries.

    Users are named ``<project>-<role>``. ``endpoint`` is Firebrick's root URL
    (``http://127.0.0.1:PORT``); when given, services of type ``block-storage`` (cinder) and
    ``volumev3`` (cinderv3) get public/internal/admin endpoints ``<endpoint>/v3/%(project_id)s``
    in RegionOne.
    """
    conn = keystone.admin_connection()
    try:
        roles_by_name = {role.name: role for role in conn.identity.roles()}
        service_role = roles_by_name.get("service") or conn.identity.create_role(name="service")
        domain = conn.identity.find_domain(DOMAIN.lower()) or conn.identity.find_domain(DOMAIN)
        domain_id = domain.id if domain is not None else "default"

        deployment = Deployment(
            auth_url=keystone.url,
            service_user=SERVICE_USER,
            service_password=secrets.token_urlsafe(18),
            service_project=SERVICE_PROJECT,
        )
        service_project = conn.identity.find_project(
            SERVICE_PROJECT, domain_id=domain_id
        ) or conn.identity.create_project(name=SERVICE_PROJECT, domain_id=domain_id)
        service_user = conn.identity.create_user(
            name=SERVICE_USER,
            password=deployment.service_password,
            domain_id=domain_id,
            default_project_id=service_project.id,
        )
        conn.identity.assign_project_role_to_user(service_project, service_user, service_role)

        for project_name in projects:
            project = conn.identity.create_project(name=project_name, domain_id=domain_id)
            deployment.project_ids[project_name] = project.id
            for role_name in roles:
                password = secrets.token_urlsafe(12)
                name = f"{project_name}-{role_name}"
                # No default project: a token asked for without a scope stays unscoped.
                user = conn.identity.create_user(name=name, password=password, domain_id=domain_id)
                conn.identity.assign_project_role_to_user(project, user, roles_by_name[role_name])
                deployment.users[(project_name, role_name)] = User(
                    name, password, project_name, project.id, role_name, user.id
                )

        if endpoint is not None:
            register_endpoints(conn, endpoint)
        return deployment
    finally:
        conn.close()


def register_endpoints(conn: Any, endpoint: str) -> None:
    """Catalog entries for Firebrick at ``endpoint`` (``http://host:port``), RegionOne."""
    url = f"{endpoint.rstrip('/')}/v3/%(project_id)s"
    for name, service_type in (("cinder", "block-storage"), ("cinderv3", "volumev3")):
        service = conn.identity.create_service(
            name=name, type=service_type, description="Firebrick block storage"
        )
        for interface in ("public", "internal", "admin"):
            conn.identity.create_endpoint(
                service_id=service.id, interface=interface, url=url, region_id=REGION
            )
