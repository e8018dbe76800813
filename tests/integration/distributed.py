"""Fixtures for the distributed tests: Firebrick's roles as separate processes.

One RabbitMQ node and one PostgreSQL server per pytest worker (session scope); each test
gets a fresh database on that server and a fresh virtual host on that broker, so tests
never see each other's rows or messages (the ``scheduler`` queue is one per vhost, so a
unique ``host`` alone would not keep two tests' scheduler requests apart).

A :class:`Cluster` writes the shared configuration into the test's tmp dir and starts,
stops, SIGKILLs and restarts named role processes::

    api          firebrick api
    scheduler    firebrick scheduler          (scheduler2, scheduler3, ...: more of them)
    volume-NAME  firebrick volume --backend NAME
    backup       firebrick backup             (backup-HOST: on a host of that name)

Each process gets a copy of the configuration that differs only in ``log_dir``, so every
process has its own ``api.log`` / ``scheduler.log`` / ``volume.log`` under
``state/log/<role>/``, and its stdout/stderr in ``state/<role>.out``. Everything the
cluster started is SIGKILLed at teardown.

Use from a test module with ``pytest_plugins = ["distributed"]``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from infra import postgres, rabbitmq
from infra.postgres import PostgresServer
from infra.rabbitmq import RabbitMQServer

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
STATUS_TIMEOUT = 60.0
MAX_MICROVERSION = "3.71"
FINAL_STATUSES = {"available", "error", "in-use", "error_deleting"}
READY_MARKERS = ("Firebrick API listening on", "running")


def _unavailable(what: str, package: str) -> None:
    message = f"{what} is not installed (as root: apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# ---------------------------------------------------------------------------------------
# per-worker servers


@pytest.fixture(scope="session")
def rabbit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    """One RabbitMQ node for this pytest worker."""
    if not rabbitmq.available():
        _unavailable("RabbitMQ", "rabbitmq-server")
    server = RabbitMQServer(tmp_path_factory.mktemp("dist-rabbitmq"), port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for this pytest worker."""
    if not postgres.available():
        _unavailable("PostgreSQL", "postgresql")
    server = PostgresServer(postgres.make_base_dir("fb-dist-pg-"), postgres.free_port())
    server.start()
    try:
        yield server
    finally:
        server.remove()


def new_vhost(server: RabbitMQServer) -> str:
    """A fresh virtual host on ``server`` the test user may use; its transport_url."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    permissions = ("set_permissions", "-p", name, rabbitmq.USER, ".*", ".*", ".*")
    for args in (("add_vhost", name), permissions):
        result = server._ctl(*args, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr}")
    return server.url.rstrip("/") + f"/{name}"


# ---------------------------------------------------------------------------------------
# the HTTP client


class Client(httpx.Client):
    """An httpx client bound to ``/v3/{project}`` (noauth token ``user:project``)."""

    project: str

    @staticmethod
    def mv(version: str) -> dict[str, str]:
        return {"OpenStack-API-Version": f"volume {version}"}

    def volume(self, volume_id: str) -> dict[str, Any] | None:
        resp = self.get(f"/volumes/{volume_id}", headers=self.mv(MAX_MICROVERSION))
        if resp.status_code == 404:
            return None
        assert resp.status_code == 200, f"GET volume {volume_id}: {resp.status_code} {resp.text}"
        found: dict[str, Any] = resp.json()["volume"]
        return found

    def create(self, size: int = 1, **fields: Any) -> str:
        """POST /volumes, asserting 202; the new volume's id."""
        resp = self.post("/volumes", json={"volume": {"size": size, **fields}})
        assert resp.status_code == 202, f"create: {resp.status_code} {resp.text}"
        volume_id: str = resp.json()["volume"]["id"]
        return volume_id

    def wait_for_volume(
        self,
        volume_id: str,
        statuses: str | tuple[str, ...] = "available",
        timeout: float = STATUS_TIMEOUT,
    ) -> dict[str, Any]:
        """Poll until the volume's status is one of ``statuses``; fail early on another
        final status. Returns the volume as an admin sees it at the newest microversion."""
        wanted = (statuses,) if isinstance(statuses, str) else statuses
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.volume(volume_id)
            if last is not None and last["status"] in wanted:
                return last
            if last is not None and last["status"] in FINAL_STATUSES:
                break
            time.sleep(0.05)
        raise AssertionError(f"volume {volume_id} did not reach {wanted}; last: {last}")

    def wait_for_final(self, volume_id: str, timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
        return self.wait_for_volume(volume_id, tuple(FINAL_STATUSES), timeout)

    def wait_for_gone(self, volume_id: str, timeout: float = STATUS_TIMEOUT) -> None:
        wait_for(lambda: self.volume(volume_id) is None, f"volume {volume_id} gone", timeout)

    def volumes(self) -> list[dict[str, Any]]:
        """Every volume of the project (detail, newest microversion, all pages)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        while True:
            resp = self.get("/volumes/detail", params=params, headers=self.mv(MAX_MICROVERSION))
            assert resp.status_code == 200, resp.text
            page = resp.json()["volumes"]
            found += page
            if len(page) < params["limit"]:
                return found
            params["marker"] = page[-1]["id"]

    def services(self, binary: str | None = None) -> list[dict[str, Any]]:
        resp = self.get("/os-services", params={"binary": binary} if binary else None)
        assert resp.status_code == 200, resp.text
        found: list[dict[str, Any]] = resp.json()["services"]
        return found

    def service_state(self, binary: str, host: str) -> str | None:
        for entry in self.services(binary):
            if entry["host"] == host:
                return str(entry["state"])
        return None

    def pools(self) -> list[str]:
        resp = self.get("/scheduler-stats/get_pools")
        assert resp.status_code == 200, resp.text
        return [p["name"] for p in resp.json()["pools"]]

    def messages_for(self, volume_id: str) -> list[dict[str, Any]]:
        resp = self.get("/messages", headers=self.mv("3.3"))
        assert resp.status_code == 200, resp.text
        return [m for m in resp.json()["messages"] if m["resource_uuid"] == volume_id]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = STATUS_TIMEOUT) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def backend_of(volume: Mapping[str, Any]) -> str:
    """``file-1`` from ``host@file-1#pool``."""
    host = volume.get("os-vol-host-attr:host") or ""
    return str(host).split("@", 1)[-1].split("#", 1)[0]


# ---------------------------------------------------------------------------------------
# the cluster


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def firebrick_command() -> list[str]:
    script = Path(sys.executable).parent / "firebrick"
    if script.exists():
        return [str(script)]
    found = shutil.which("firebrick")
    return [found] if found else [sys.executable, "-m", "firebrick"]


def role_arguments(name: str) -> list[str]:
    """The ``firebrick`` sub-command of a role name (``api``, ``scheduler2``, ``volume-b``,
    ``volume-b#2``)."""
    if name == "api":
        return ["api"]
    if re.fullmatch(r"scheduler\d*", name):
        return ["scheduler"]
    if name.startswith("volume-"):
        # volume-<backend>#<n>: one more process serving the same backend (active-active)
        return ["volume", "--backend", name.removeprefix("volume-").split("#", 1)[0]]
    if name == "backup" or name.startswith("backup-"):
        return ["backup"]
    raise ValueError(f"unknown role {name!r}: api, scheduler[N], volume-<backend> or backup")


@dataclass
class RoleProcess:
    name: str
    config_path: Path
    output_path: Path
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    output_offset: int = 0
    # Put before the command, e.g. ``ip netns exec NS`` (kept for restarts).
    prefix: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self, since_start: bool = False) -> str:
        if not self.output_path.exists():
            return ""
        with self.output_path.open("rb") as handle:
            if since_start:
                handle.seek(self.output_offset)
            return handle.read().decode(errors="replace")

    def log(self) -> str:
        """All of this process's log files (api.log, scheduler.log, volume.log)."""
        if not self.log_dir.is_dir():
            return ""
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


@dataclass
class Cluster:
    """Firebrick's roles as separate processes sharing one database and one broker."""

    workdir: Path
    transport_url: str
    database_url: str
    host: str
    backends: dict[str, dict[str, str]]
    defaults: dict[str, str] = field(default_factory=dict)
    # Extra [section]s of the configuration, and a host of its own for some roles (a
    # volume service on another "host"; "{host}" stands for the cluster's).
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    role_hosts: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    roles: dict[str, RoleProcess] = field(default_factory=dict)
    # Extra command-line arguments of a role (e.g. ``--metrics-port``), by role name.
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    # Per role, options that differ from the shared configuration: {section: {key: value}}
    # (e.g. a role in a network namespace reaching the broker and database elsewhere).
    overrides: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state_path = self.workdir / "state"
        self.state_path.mkdir(parents=True, exist_ok=True)
        self.config_text = self._render()
        self.config_path = self.state_path / "firebrick.conf"
        self.config_path.write_text(self.config_text)

    # -- configuration -------------------------------------------------------------------

    def _render(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> str:
        overrides = overrides or {}
        defaults = {
            "host": self.host,
            "state_path": str(self.state_path),
            "transport_url": self.transport_url,
            "osapi_volume_listen": "127.0.0.1",
            "osapi_volume_listen_port": str(self.port),
            "enabled_backends": ", ".join(self.backends),
            "auth_strategy": "noauth",
            "report_interval": "1",
            "service_down_time": "5",
            "quota_volumes": "-1",
            "quota_gigabytes": "-1",
        }
        defaults.update(self.defaults)
        defaults.update(overrides.get("DEFAULT", {}))
        database = {"connection": self.database_url, **overrides.get("database", {})}
        lines = ["[DEFAULT]", *(f"{k} = {v}" for k, v in defaults.items())]
        lines += ["", "[database]", *(f"{k} = {v}" for k, v in database.items())]
        for name, options in self.backends.items():
            opts = {
                "volume_driver": "file",
                "volume_backend_name": name,
                "file_volume_dir": str(self.volume_dir(name)),
                "reserved_percentage": "0",
                **options,
                **overrides.get(name, {}),
            }
            lines += ["", f"[{name}]", *(f"{k} = {v}" for k, v in opts.items())]
        for name, options in self.sections.items():
            lines += ["", f"[{name}]", *(f"{k} = {v}" for k, v in options.items())]
        return "\n".join(lines) + "\n"

    def volume_dir(self, backend: str) -> Path:
        return self.state_path / "volumes" / backend

    def volume_files(self, backend: str) -> list[str]:
        """The volume ids that have a file on ``backend``."""
        directory = self.volume_dir(backend)
        if not directory.is_dir():
            return []
        return sorted(
            p.name.removeprefix("volume-")
            for p in directory.iterdir()
            if p.name.startswith("volume-")
        )

    def all_volume_files(self) -> list[str]:
        """Volume ids with a file, over every backend (an id twice: two files)."""
        return sorted(v for backend in self.backends for v in self.volume_files(backend))

    # -- processes -----------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def role(self, name: str) -> RoleProcess:
        if name not in self.roles:
            role_arguments(name)  # refuse unknown names early
            self.roles[name] = RoleProcess(
                name=name,
                config_path=self.state_path / f"firebrick-{name}.conf",
                output_path=self.state_path / f"{name}.out",
                log_dir=self.state_path / "log" / name,
            )
        return self.roles[name]

    def _write_role_config(self, role: RoleProcess) -> None:
        overrides = self.overrides.get(role.name)
        text = self._render(overrides) if overrides else self.config_text
        text = text.replace("[DEFAULT]\n", f"[DEFAULT]\nlog_dir = {role.log_dir}\n", 1)
        name = role.name
        if name.startswith("backup-"):  # a backup service on a host of its own
            text = text.replace(f"host = {self.host}\n",
                                f"host = {name.removeprefix('backup-')}\n", 1)  # fmt: skip
        if name in self.role_hosts:
            own = self.role_hosts[name].replace("{host}", self.host)
            text = text.replace(f"host = {self.host}\n", f"host = {own}\n", 1)
        role.config_path.write_text(text)

    def spawn(self, name: str, prefix: list[str] | None = None) -> RoleProcess:
        """Start role ``name`` without waiting for it; ``prefix`` goes before its command
        (``["ip", "netns", "exec", ns]``) in this start and the later ones."""
        role = self.role(name)
        if role.alive():
            raise RuntimeError(f"{name} is already running")
        if prefix is not None:
            role.prefix = list(prefix)
        self._write_role_config(role)
        role.output_offset = role.output_path.stat().st_size if role.output_path.exists() else 0
        with role.output_path.open("ab") as out:
            role.process = subprocess.Popen(
                [
                    *role.prefix,
                    *firebrick_command(),
                    *role_arguments(name),
                    *self.extra_args.get(name, ()),
                    "--config",
                    str(role.config_path),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.state_path,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return role

    def wait_ready(self, name: str, timeout: float = STARTUP_TIMEOUT) -> None:
        role = self.role(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            output = role.output(since_start=True)
            if any(
                line.startswith("Firebrick") and any(m in line for m in READY_MARKERS)
                for line in output.splitlines()
            ):
                return
            if not role.alive():
                raise RuntimeError(
                    f"{name} exited with {role.process and role.process.returncode} before "
                    f"it was ready; its output:\n{output[-4000:]}"
                )
            time.sleep(0.05)
        raise RuntimeError(f"{name} not ready after {timeout:g} s:\n{role.output()[-4000:]}")

    def start(self, *names: str) -> None:
        """Start the roles at once and wait until each says it is ready."""
        for name in names:
            self.spawn(name)
        for name in names:
            self.wait_ready(name)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` and wait for the exit (SIGKILL after STOP_TIMEOUT); the exit code."""
        role = self.role(name)
        process = role.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        return process.returncode

    def kill(self, name: str) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        self.stop(name, signal.SIGKILL)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def close(self) -> None:
        for name in self.roles:
            self.kill(name)

    # -- clients and views ---------------------------------------------------------------

    def client(
        self, project: str | None = None, microversion: str | None = None, timeout: float = 30.0
    ) -> Client:
        project = project or uuid.uuid4().hex
        headers = {"X-Auth-Token": f"tester:{project}", "Accept": "application/json"}
        if microversion is not None:
            headers["OpenStack-API-Version"] = f"volume {microversion}"
        client = Client(
            base_url=f"{self.base_url}/v3/{project}",
            headers=headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=256),
        )
        client.project = project
        return client

    def service_host(self, backend: str) -> str:
        return f"{self.host}@{backend}"

    def wait_for_pools(self, *backends: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Until the scheduler can see a pool of each of ``backends``."""
        with self.client() as client:
            wait_for(
                lambda: all(
                    any(p.startswith(f"{self.service_host(b)}#") for p in client.pools())
                    for b in backends
                ),
                f"pools of {backends}",
                timeout,
            )

    def diagnostics(self) -> str:
        """Outputs and logs of every role, for a failure message."""
        parts = []
        for name, role in self.roles.items():
            state = "running" if role.alive() else f"exited {role.process and role.process.poll()}"
            parts.append(f"===== {name} ({state}) output\n{role.output()[-3000:]}")
            parts.append(f"===== {name} logs\n{role.log()[-3000:]}")
        return "\n".join(parts)


StartCluster = Callable[..., Cluster]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report carries the output and logs of every process it started."""
    outcome = yield
    report = outcome.get_result()
    clusters: list[Cluster] = getattr(item, "firebrick_clusters", [])
    if report.failed and call.when == "call":
        for n, cluster in enumerate(clusters):
            title = f"firebrick cluster {n} ({cluster.host})"
            report.sections.append((title, cluster.diagnostics()))


@pytest.fixture
def cluster_factory(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    rabbit_server: RabbitMQServer,
    pg_server: PostgresServer,
) -> Iterator[StartCluster]:
    """``make(backends={...}, defaults={...}, roles=(...))``: a cluster on a fresh vhost and
    database, its roles started and ready. Every process is SIGKILLed at teardown."""
    made: list[Cluster] = []
    request.node.firebrick_clusters = made

    def make(
        backends: Mapping[str, Mapping[str, str]] | None = None,
        defaults: Mapping[str, str] | None = None,
        roles: tuple[str, ...] | None = None,
        sections: Mapping[str, Mapping[str, str]] | None = None,
        role_hosts: Mapping[str, str] | None = None,
    ) -> Cluster:
        backends = backends if backends is not None else {"file-1": {}}
        tag = uuid.uuid4().hex[:10]
        cluster = Cluster(
            workdir=tmp_path / f"cluster{len(made)}",
            transport_url=new_vhost(rabbit_server),
            database_url=pg_server.create_database(f"t_{tag}"),
            host=f"dt-{tag}",
            backends={k: dict(v) for k, v in backends.items()},
            defaults=dict(defaults or {}),
            sections={k: dict(v) for k, v in (sections or {}).items()},
            role_hosts=dict(role_hosts or {}),
        )
        made.append(cluster)
        if roles is None:
            roles = ("api", "scheduler", *(f"volume-{b}" for b in backends))
        cluster.start(*roles)
        return cluster

    yield make
    for cluster in made:
        cluster.close()
