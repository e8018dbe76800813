"""The integration harness: real ``firebrick serve`` processes and the client tests use.

Kept out of ``conftest.py`` so that helper modules can import it by a name of its own
(``conftest`` is ambiguous: several test folders have one).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 30.0
STATUS_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MAX_MICROVERSION = "3.71"


@dataclass
class Backend:
    """One ``[section]`` of the config: a file backend and the directory of its volumes."""

    name: str
    volume_dir: Path
    options: dict[str, str] = field(default_factory=dict)

    def volume_path(self, volume_id: str) -> Path:
        return self.volume_dir / f"volume-{volume_id}"

    def volume_files(self) -> set[str]:
        if not self.volume_dir.is_dir():
            return set()
        return {p.name for p in self.volume_dir.iterdir() if p.name.startswith("volume-")}


@dataclass
class Service:
    """A running ``firebrick serve`` and everything a test needs to look at it."""

    host: str
    base_url: str
    state_path: Path
    config_path: Path
    backends: dict[str, Backend]
    process: subprocess.Popen[bytes]
    output_path: Path

    def client(
        self,
        project: str | None = None,
        user: str = "tester",
        microversion: str | None = None,
        with_project_in_url: bool = True,
    ) -> VolumeApi:
        """A client for ``/v3[/{project}]`` authenticated (noauth) as ``user:project``."""
        project = project or new_project()
        headers = {"X-Auth-Token": f"{user}:{project}", "Accept": "application/json"}
        if microversion is not None:
            headers["OpenStack-API-Version"] = f"volume {microversion}"
        base = f"{self.base_url}/v3/{project}" if with_project_in_url else f"{self.base_url}/v3"
        client = VolumeApi(base_url=base, headers=headers, timeout=30.0)
        client.project = project
        return client

    def endpoint(self, project: str) -> str:
        return f"{self.base_url}/v3/{project}"

    @property
    def log_dir(self) -> Path:
        return self.state_path / "log"

    def log(self, name: str = "volume") -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_lines_for(self, volume_id: str, name: str = "volume") -> list[str]:
        return [line for line in self.log(name).splitlines() if volume_id in line]

    def notifications(self) -> list[dict[str, Any]]:
        path = self.state_path / "notifications.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def notifications_for(self, volume_id: str) -> list[dict[str, Any]]:
        return [
            n
            for n in self.notifications()
            if isinstance(n.get("payload"), dict) and n["payload"].get("volume_id") == volume_id
        ]

    def volume_files(self) -> set[str]:
        """Every volume file of every backend, as ``backend/volume-<id>``."""
        return {f"{b.name}/{f}" for b in self.backends.values() for f in b.volume_files()}

    def find_volume_file(self, volume_id: str) -> Path | None:
        for backend in self.backends.values():
            if backend.volume_path(volume_id).exists():
                return backend.volume_path(volume_id)
        return None

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the process (``sig``, then SIGKILL after a while); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        return self.process.returncode

    def restart(self) -> None:
        """Stop and start again on the same config and state (same port)."""
        self.stop()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            self.process = spawn(self.config_path, self.state_path, self.output_path)
            if _wait_until_up(self):
                return
            self.stop()
            # The old socket may linger for a moment; anything else is a real failure.
            if "address already in use" not in self.output().lower() or (
                time.monotonic() > deadline
            ):
                raise RuntimeError(f"restart failed:\n{self.output()[-4000:]}")
            time.sleep(0.2)


def new_project() -> str:
    """A project id that matches Cinder's ``project_id_regex`` ([0-9a-f-]+)."""
    return uuid.uuid4().hex


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def firebrick_command() -> list[str]:
    script = Path(sys.executable).parent / "firebrick"
    if script.exists():
        return [str(script)]
    found = shutil.which("firebrick")
    if found:
        return [found]
    return [sys.executable, "-m", "firebrick"]


def render_config(
    state_path: Path,
    port: int,
    host: str,
    backends: Mapping[str, Mapping[str, str]],
    defaults: Mapping[str, str],
    sections: Mapping[str, Mapping[str, str]] | None = None,
    database: str | None = None,
) -> tuple[str, dict[str, Backend]]:
    """The config file's text; ``sections`` are extra ``[section]``s written as given
    (e.g. ``keystone_authtoken``, ``oslo_policy``); ``database`` replaces the SQLite
    database under the state path."""
    lines = [
        "[DEFAULT]",
        f"host = {host}",
        f"state_path = {state_path}",
        "osapi_volume_listen = 127.0.0.1",
        f"osapi_volume_listen_port = {port}",
        f"enabled_backends = {', '.join(backends)}",
    ]
    base_defaults = {
        "default_volume_type": "__DEFAULT__",
        "storage_availability_zone": "nova",
        "scheduler_max_attempts": "3",
        "auth_strategy": "noauth",
        "report_interval": "1",
    }
    base_defaults.update(defaults)
    lines += [f"{k} = {v}" for k, v in base_defaults.items()]
    database = database or f"sqlite:///{state_path}/firebrick.sqlite"
    lines += ["", "[database]", f"connection = {database}"]
    rendered: dict[str, Backend] = {}
    for name, options in backends.items():
        opts = {
            "volume_driver": "file",
            "volume_backend_name": name,
            "file_volume_dir": str(state_path / "volumes" / name),
            "reserved_percentage": "0",
        }
        opts.update(options)
        lines += ["", f"[{name}]"] + [f"{k} = {v}" for k, v in opts.items()]
        rendered[name] = Backend(name, Path(opts["file_volume_dir"]), dict(opts))
    for section, options in (sections or {}).items():
        lines += ["", f"[{section}]"] + [f"{k} = {v}" for k, v in options.items()]
    return "\n".join(lines) + "\n", rendered


def spawn(config_path: Path, state_path: Path, output_path: Path) -> subprocess.Popen[bytes]:
    """Start ``firebrick serve``; stdout and stderr are appended to ``output_path``."""
    with output_path.open("ab") as out:
        return subprocess.Popen(
            [*firebrick_command(), "serve", "--config", str(config_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def launch(
    workdir: Path,
    backends: Mapping[str, Mapping[str, str]] | None = None,
    defaults: Mapping[str, str] | None = None,
    host: str = "itest",
    *,
    port: int | None = None,
    sections: Mapping[str, Mapping[str, str]] | None = None,
    database: str | None = None,
) -> Service:
    """Write a config under ``workdir``, start ``firebrick serve`` and wait until it answers.

    ``port``: listen there (e.g. one already written into a Keystone catalog) instead of a
    free port picked here. ``sections``: extra config sections (see ``render_config``).
    """
    backends = backends if backends is not None else {"file-1": {}}
    last_error = ""
    for attempt in range(3):  # a free port may be taken by someone else before we bind it
        if port is None:
            listen = free_port()
        else:
            listen = port
            if attempt:
                time.sleep(0.5)
        state_path = workdir / f"state-{listen}-{attempt}" if port else workdir / f"state-{listen}"
        state_path.mkdir(parents=True)
        text, rendered = render_config(
            state_path, listen, host, backends, defaults or {}, sections, database
        )
        config_path = state_path / "firebrick.conf"
        config_path.write_text(text)
        output_path = state_path / "serve.out"
        process = spawn(config_path, state_path, output_path)
        service = Service(
            host=host,
            base_url=f"http://127.0.0.1:{listen}",
            state_path=state_path,
            config_path=config_path,
            backends=rendered,
            process=process,
            output_path=output_path,
        )
        if _wait_until_up(service):
            return service
        service.stop()
        last_error = service.output()
        if "address already in use" not in last_error.lower():
            break
    raise RuntimeError(f"firebrick serve did not come up; its output:\n{last_error[-4000:]}")


def _wait_until_up(service: Service) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            return False
        try:
            httpx.get(service.base_url + "/", timeout=1.0)
            return True
        except httpx.HTTPError:
            time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------
# fixtures

# ---------------------------------------------------------------------------------------
# the client tests use: httpx plus the waiting and asserting they all need


FAULT_NAMES = {
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


class VolumeApi(httpx.Client):
    """An httpx client bound to one project, with the helpers the tests share."""

    project: str

    @staticmethod
    def mv(version: str) -> dict[str, str]:
        """Headers selecting a microversion."""
        return {"OpenStack-API-Version": f"volume {version}"}

    @staticmethod
    def assert_fault(resp: httpx.Response, status: int) -> str:
        """Assert a Cinder fault ``{"<name>": {"code": status, "message": ...}}``; the message."""
        assert resp.status_code == status, (
            f"expected {status}, got {resp.status_code}: {resp.request.method} "
            f"{resp.request.url} -> {resp.text}"
        )
        try:
            body = resp.json()
        except ValueError as exc:
            raise AssertionError(f"fault body is not JSON: {resp.text!r}") from exc
        name = FAULT_NAMES.get(status, "computeFault")
        assert isinstance(body, dict) and list(body) == [name], f"expected {name!r}: {body}"
        assert body[name].get("code") == status, body
        message = body[name].get("message")
        assert isinstance(message, str) and message, body
        return message

    @staticmethod
    def wait_for(predicate: Callable[[], Any], what: str, timeout: float = STATUS_TIMEOUT) -> Any:
        """Poll ``predicate`` until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_for_volume(
        self,
        volume_id: str,
        statuses: str | tuple[str, ...] = "available",
        timeout: float = STATUS_TIMEOUT,
    ) -> dict[str, Any]:
        """Poll ``GET /volumes/{id}`` until its status is one of ``statuses``.

        Fails at once when the volume settles in another final status; the volume is
        returned as an admin sees it at the newest microversion.
        """
        wanted = (statuses,) if isinstance(statuses, str) else statuses
        final = {"available", "error", "in-use", "error_deleting"}
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            resp = self.get(f"/volumes/{volume_id}", headers=self.mv(MAX_MICROVERSION))
            last = f"{resp.status_code} {resp.text}"
            if resp.status_code == 200:
                volume: dict[str, Any] = resp.json()["volume"]
                if volume["status"] in wanted:
                    return volume
                if volume["status"] in final:
                    break
            time.sleep(0.02)
        raise AssertionError(f"volume {volume_id} did not reach {wanted}; last: {last}")

    def wait_for_gone(self, volume_id: str, timeout: float = STATUS_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            resp = self.get(f"/volumes/{volume_id}")
            if resp.status_code == 404:
                return
            last = f"{resp.status_code} {resp.text}"
            time.sleep(0.02)
        raise AssertionError(f"volume {volume_id} is still there; last: {last}")

    def create_volume(
        self,
        size: Any = 1,
        wait: str | None = "available",
        headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """POST /volumes (asserting 202); unless ``wait`` is None wait for that status."""
        resp = self.post("/volumes", json={"volume": {"size": size, **fields}}, headers=headers)
        assert resp.status_code == 202, f"create failed: {resp.status_code} {resp.text}"
        volume: dict[str, Any] = resp.json()["volume"]
        if wait is None:
            return volume
        return self.wait_for_volume(volume["id"], wait)

    def delete_volume(self, volume_id: str) -> None:
        resp = self.delete(f"/volumes/{volume_id}")
        assert resp.status_code == 202, f"delete failed: {resp.status_code} {resp.text}"
        self.wait_for_gone(volume_id)

    def volume_count(self) -> int:
        resp = self.get("/volumes/detail")
        assert resp.status_code == 200, resp.text
        return len(resp.json()["volumes"])
