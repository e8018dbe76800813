"""A throwaway PostgreSQL server for the integration tests: own directory, port and socket.

The server runs as the ``postgres`` user when the tests run as root (``initdb`` refuses
root), listens on 127.0.0.1 only, and keeps ``fsync`` and ``synchronous_commit`` on so
that durability tests mean what they say. Several servers (one per pytest-xdist worker)
run side by side: each has its own ``base_dir`` and port.

``base_dir`` and every directory above it must be traversable by ``postgres``; pytest's
``tmp_path`` is not (``/tmp/pytest-of-root`` is mode 0700), so use :func:`make_base_dir`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "firebrick"
PASSWORD = "firebrick-test-pw"
DATABASE = "firebrick"
START_TIMEOUT = 60


def bin_dir() -> Path | None:
    """The directory of ``initdb``/``pg_ctl``: ``FIREBRICK_PG_BIN``, Debian's newest, or PATH."""
    configured = os.environ.get("FIREBRICK_PG_BIN")
    if configured:
        return Path(configured) if (Path(configured) / "pg_ctl").exists() else None
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _as_root() -> bool:
    return os.geteuid() == 0


def available() -> bool:
    """Whether a server can be started here (binaries, ``postgres`` user, psycopg)."""
    directory = bin_dir()
    if directory is None or not (directory / "initdb").exists():
        return False
    if _as_root():
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return False
        if shutil.which("runuser") is None:
            return False
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_base_dir(prefix: str = "fb-pg-") -> Path:
    """A fresh directory ``postgres`` can reach (short, so the socket path fits 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class PostgresServer:
    def __init__(self, base_dir: Path, port: int) -> None:
        self.base_dir = Path(base_dir)
        self.port = port
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "run"
        self.log_file = self.base_dir / "postgres.log"
        directory = bin_dir()
        if directory is None:
            raise RuntimeError("PostgreSQL binaries not found (set FIREBRICK_PG_BIN)")
        self.bin = directory

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """A libpq connection string for the application role (for plain psycopg)."""
        return f"host=127.0.0.1 port={self.port} user={USER} password={PASSWORD} dbname={DATABASE}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if _as_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, check=check, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _init(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if _as_root():
            entry = pwd.getpwnam("postgres")
            for path in (self.base_dir, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            os.chmod(self.base_dir, 0o700)
        result = self._run(
            str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _create_role(self) -> None:
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres",
            autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")

    def create_database(self, name: str) -> str:
        """A new empty database owned by the application role; returns its URL."""
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname="postgres",
            autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute(f'CREATE DATABASE "{name}" OWNER {USER}')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def start(self) -> None:
        """Initialise (first time only) and start; returns once the server takes connections."""
        fresh = not (self.data_dir / "PG_VERSION").exists()
        if fresh:
            self._init()
        options = " ".join([
            "-c listen_addresses=127.0.0.1", f"-p {self.port}", f"-k {self.socket_dir}",
            "-c fsync=on", "-c synchronous_commit=on", "-c full_page_writes=on",
            "-c max_connections=200", "-c shared_buffers=32MB", "-c timezone=UTC",
        ])  # fmt: skip
        result = self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", str(START_TIMEOUT), "-o", options, "start", check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"pg_ctl start failed on port {self.port}:\n{result.stdout}\n{result.stderr}\n"
                f"{self._log_tail()}"
            )
        if fresh:
            self._create_role()

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` is a crash (no checkpoint, WAL replay next)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w",
            "-t", str(START_TIMEOUT), "stop",
        )  # fmt: skip

    def pids(self) -> list[int]:
        """The postmaster (its backends are its children); for a benchmark's CPU figures."""
        try:
            return [int((self.data_dir / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend (a crash, not a shutdown), and wait
        until they are gone and the data directory can be started again."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            alive = subprocess.run(["pgrep", "-f", f"-D {self.data_dir}|{self.data_dir}"],
                                   capture_output=True).returncode == 0  # fmt: skip
            if not alive:
                return
            time.sleep(0.05)

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self._run(
                str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), check=False
            )
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on port {self.port} not ready")
            time.sleep(0.05)

    def remove(self) -> None:
        """Stop and delete everything under ``base_dir``."""
        self.stop("immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)
