"""An isolated RabbitMQ node for tests: its own node name, ports, epmd, cookie and state.

Several of these may run at once (pytest-xdist workers, other jobs on the machine): every
port is picked free, the node name is unique, and HOME (hence the Erlang cookie), mnesia
and logs live under ``base_dir``. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
SERVER = RABBITMQ_BIN / "rabbitmq-server"
CTL = RABBITMQ_BIN / "rabbitmqctl"
EPMD = Path("/usr/bin/epmd")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0
USER = "firebrick"


def available() -> bool:
    """Whether the RabbitMQ server (Debian's ``rabbitmq-server`` package) is installed."""
    return SERVER.is_file() and CTL.is_file() and EPMD.is_file()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RabbitMQServer:
    """One RabbitMQ node under ``base_dir`` serving AMQP on ``127.0.0.1:port`` (0: pick one).

    ``restart()`` stops and starts the node on the same state, so durable queues and
    persistent messages survive it, as they would a real broker restart.
    """

    def __init__(self, base_dir: Path, port: int = 0) -> None:
        self.base_dir = base_dir
        self.port = port or free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"fbtest-{uuid.uuid4().hex[:12]}@localhost"
        self.password = secrets.token_hex(12)
        self._server: subprocess.Popen[bytes] | None = None
        self._epmd: subprocess.Popen[bytes] | None = None
        self._env = self._prepare()

    @property
    def url(self) -> str:
        return f"rabbit://{USER}:{self.password}@127.0.0.1:{self.port}/"

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "log"

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "rabbit.pid"

    def _prepare(self) -> dict[str, str]:
        home = self.base_dir / "home"
        for sub in (home, self.base_dir / "mnesia", self.log_dir):
            sub.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"default_user = {USER}\n"
            f"default_pass = {self.password}\n"
            "default_permissions.configure = .*\n"
            "default_permissions.read = .*\n"
            "default_permissions.write = .*\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        (self.base_dir / "rabbitmq-env.conf").write_text("")
        loopback_dist = "-kernel inet_dist_use_interface {127,0,0,1}"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
        }
        env.update(
            HOME=str(home),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_MNESIA_BASE=str(self.base_dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.log_dir),
            RABBITMQ_PID_FILE=str(self.pid_file),
            RABBITMQ_CONFIG_FILE=str(self.base_dir / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base_dir / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.base_dir / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base_dir / "enabled_plugins"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=loopback_dist,
            RABBITMQ_CTL_ERL_ARGS=loopback_dist,
        )
        return env

    def _ctl(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CTL), "-n", self.node, *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        """Start epmd (once) and the node, and return when the node accepts AMQP clients."""
        if self._epmd is None or self._epmd.poll() is not None:
            # Our own epmd, started in the foreground, so that stop() can kill it by pid.
            self._epmd = subprocess.Popen(
                [str(EPMD), "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.unlink(missing_ok=True)
        with (self.log_dir / "stdout.log").open("ab") as out:
            self._server = subprocess.Popen(
                [str(SERVER)],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            # `wait` needs the pid file; before the node writes it, it fails at once.
            result = self._ctl("wait", "--timeout", "60", str(self.pid_file), timeout=70)
            if result.returncode == 0 and self._accepts_connections():
                return
            if self._server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"RabbitMQ node {self.node} did not start (rc={self._server.poll()}): "
                    f"{result.stdout}{result.stderr}; see {self.log_dir}"
                )
            time.sleep(0.2)

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def pids(self) -> list[int]:
        """The processes this node was started as: its server (the Erlang VM below it) and
        its epmd; for a benchmark's CPU figures."""
        return [p.pid for p in (self._server, self._epmd) if p is not None and p.poll() is None]

    def stop_node(self) -> None:
        """Stop the node, leaving epmd running (for a restart)."""
        server, self._server = self._server, None
        if server is None or server.poll() is not None:
            return
        self._ctl("stop", str(self.pid_file), timeout=STOP_TIMEOUT)
        try:
            server.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    def stop(self) -> None:
        """Stop the node and the epmd it started."""
        self.stop_node()
        epmd, self._epmd = self._epmd, None
        if epmd is not None and epmd.poll() is None:
            epmd.kill()
            epmd.wait()

    def restart(self) -> None:
        self.stop_node()
        self.start()

    def kill(self) -> None:
        """SIGKILL the node (its Erlang VM and children): a crash, not a shutdown; epmd
        stays, for a start on the same port."""
        server, self._server = self._server, None
        if server is None or server.poll() is not None:
            return
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
