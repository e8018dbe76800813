"""``firebrick serve`` on every core: a supervisor, the roles' process and API workers.

One Python process runs on one core at a time (the GIL). Unless ``osapi_volume_workers``
is 0, the process ``firebrick serve`` starts stays small and only supervises: it
binds the API's listening socket (so a port in use fails at once), then starts one
process for the scheduler, the volume services and the backup service, and that many API
worker processes, all accepting on the one socket. The workers send their casts to the
roles' process over a Unix socket (:mod:`firebrick.rpc.local`), or over RabbitMQ when
``transport_url`` is set.

Any child that dies is started again (after 0.2 s, longer if it keeps dying at once):
the roles' process resumes its work from the database as after any restart, and the
workers keep answering meanwhile, holding their casts until it listens again. Every
child dies with the supervisor (``PR_SET_PDEATHSIG``), so a SIGKILL of the supervisor
never leaves a child holding the port: starting ``firebrick serve`` again is the
recovery, as with one process.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger("firebrick.api")

PR_SET_PDEATHSIG = 1
RESTART_PAUSE_MIN = 0.2  # seconds before a dead worker is started again
RESTART_PAUSE_MAX = 5.0
STOP_GRACE = 10.0  # seconds a worker has to finish its requests on SIGTERM


def listen_socket(host: str, port: int) -> socket.socket:
    """The API's listening socket, to be shared by the workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def say_ready(ready_file: Path) -> None:
    """In the roles' process, once started: the supervisor may start the API workers."""
    partial = ready_file.with_suffix(".tmp")
    partial.write_text(str(os.getpid()))
    partial.replace(ready_file)


def wait_until_ready(ready_file: Path) -> None:
    """In an API worker: until the roles' process says it has started (the supervisor
    removes the file before it starts one)."""
    while not ready_file.exists():
        time.sleep(0.02)


def die_with_parent(parent_pid: int) -> None:
    """In a worker: be killed when the process that started us dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before prctl took effect
        os._exit(1)


@dataclass
class _Child:
    kind: str  # "roles" or "api"
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause: float = RESTART_PAUSE_MIN


class Supervisor:
    """Starts the roles' process and ``count`` API workers on ``listener``; keeps them up."""

    def __init__(
        self,
        config_path: str | None,
        listener: socket.socket,
        count: int,
        ready_file: Path,
        extra_args: list[str] | None = None,
    ) -> None:
        self.config_path = config_path
        self.ready_file = ready_file
        self.listener = listener
        self.extra_args = extra_args or []
        self.workers = [_Child("roles", 0)] + [_Child("api", n) for n in range(count)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def _command(self, worker: _Child) -> list[str]:
        command = [
            sys.executable, "-m", "firebrick", f"worker-{worker.kind}",
            "--parent-pid", str(os.getpid()), "--index", str(worker.index),
        ]  # fmt: skip
        if worker.kind == "api":
            command += ["--fd", str(self.listener.fileno())]
        if self.config_path:
            command += ["--config", self.config_path]
        return command + self.extra_args

    def _spawn(self, worker: _Child) -> None:
        fds = (self.listener.fileno(),) if worker.kind == "api" else ()
        worker.process = subprocess.Popen(self._command(worker), pass_fds=fds)
        worker.started = time.monotonic()
        LOG.info("%s process %d started (pid %d)", worker.kind, worker.index,
                 worker.process.pid)  # fmt: skip

    def start(self) -> None:
        """Every child at once; the API workers import and build their app while the
        roles' process starts, and take requests once it is ready (its pools reported, its
        bus listening), as one process starts its roles before its API. A roles' process
        that dies while starting (a bad backend section) ends the service."""
        roles = self.workers[0]
        self.ready_file.unlink(missing_ok=True)
        with self._lock:
            for worker in self.workers:
                self._spawn(worker)
        assert roles.process is not None
        while not self._is_ready(roles.process.pid):
            if roles.process.poll() is not None:
                self.stop()
                raise SystemExit(roles.process.returncode or 1)
            time.sleep(0.05)
        threading.Thread(target=self._watch, name="supervisor", daemon=True).start()

    def _is_ready(self, pid: int) -> bool:
        try:
            return self.ready_file.read_text().strip() == str(pid)
        except FileNotFoundError:
            return False

    def _watch(self) -> None:
        while not self._stopping.wait(0.1):
            for worker in self.workers:
                process = worker.process
                if process is None or process.poll() is None:
                    continue
                if self._stopping.is_set():
                    return
                # One that keeps dying at once waits longer each time (a bad config).
                lived = time.monotonic() - worker.started
                if lived > 30:
                    worker.pause = RESTART_PAUSE_MIN
                pause, worker.pause = worker.pause, min(worker.pause * 2, RESTART_PAUSE_MAX)
                LOG.warning(
                    "%s process %d (pid %d) exited with %s; starting it again in %.1f s",
                    worker.kind, worker.index, process.pid, process.returncode, pause,
                )  # fmt: skip
                if self._stopping.wait(pause):
                    return
                with self._lock:
                    if not self._stopping.is_set():
                        if worker.kind == "roles":
                            self.ready_file.unlink(missing_ok=True)
                        self._spawn(worker)

    def stop(self) -> None:
        """SIGTERM to every child (API workers first: they finish what they are answering
        and send their last casts), then SIGKILL after the grace period."""
        self._stopping.set()
        with self._lock:
            running = [w.process for w in reversed(self.workers) if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.listener.close()
