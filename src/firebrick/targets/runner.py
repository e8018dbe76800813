"""Running the target tools and daemons, with secrets masked everywhere they could leak.

A secret may have to reach a tool's argv (``tgtadm --password`` has no other way in), but
it never reaches a log line or an exception: every command and every error text goes
through ``mask`` first, and exceptions from ``subprocess`` (whose text quotes the argv)
are replaced, not chained.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firebrick.targets.base import TargetError

LOG = logging.getLogger(__name__)
MASK = "***"
TIMEOUT = 30.0


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def run(
        self, argv: Sequence[str], *, secrets: Sequence[str] = (), check: bool = True
    ) -> Result:
        """Run a tool to completion; with ``check`` a non-zero exit is a TargetError."""

    def spawn(self, argv: Sequence[str], *, log_path: Path) -> int:
        """Start a daemon in its own session (it outlives us); its pid."""

    def is_running(self, pid: int, program: str, args: Sequence[str] = ()) -> bool:
        """``pid`` is alive (not a zombie), runs ``program`` and has every one of ``args``."""

    def kill(self, pid: int, sig: int) -> None: ...


def failure(argv: Sequence[str], detail: str, secrets: Sequence[str]) -> TargetError:
    command = " ".join([*argv[:1], *[a for a in argv[1:] if not a.startswith("/")][:6]])
    return TargetError(mask(f"{command} failed: {detail}", secrets))


class SystemRunner:
    """The real thing: subprocess, /proc and signals."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def run(
        self, argv: Sequence[str], *, secrets: Sequence[str] = (), check: bool = True
    ) -> Result:
        LOG.debug("run: %s", mask(" ".join(argv), secrets))
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                env=env,
                timeout=self.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise TargetError(f"{argv[0]} is not installed.") from None
        except subprocess.TimeoutExpired:
            # from None: the TimeoutExpired text quotes the whole argv, secrets included.
            raise failure(argv, f"timed out after {self.timeout:.0f} s", secrets) from None
        result = Result(done.returncode, mask(done.stdout, secrets), mask(done.stderr, secrets))
        if check and result.returncode != 0:
            lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit status {result.returncode}"
            raise failure(argv, detail, secrets)
        return result

    def spawn(self, argv: Sequence[str], *, log_path: Path) -> int:
        LOG.debug("spawn: %s", " ".join(argv))
        with open(log_path, "ab") as log:
            try:
                child = subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    close_fds=True,
                )
            except FileNotFoundError:
                raise TargetError(f"{argv[0]} is not installed.") from None
        self._children[child.pid] = child
        return child.pid

    def is_running(self, pid: int, program: str, args: Sequence[str] = ()) -> bool:
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            del self._children[pid]
            return False
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if stat.rpartition(")")[2].split()[:1] == ["Z"]:
            return False
        argv = [part.decode("utf-8", "replace") for part in cmdline if part]
        if not argv or Path(argv[0]).name != program:
            return False
        return all(arg in argv[1:] for arg in args)

    def kill(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        child = self._children.get(pid)
        if child is not None and sig == signal.SIGKILL:
            child.wait(timeout=self.timeout)


def wait_gone(runner: Runner, pid: int, program: str, args: Sequence[str], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while runner.is_running(pid, program, args):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def terminate(
    runner: Runner, pid: int, program: str, args: Sequence[str], timeout: float = 5.0
) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout``; only if it is ours."""
    if not runner.is_running(pid, program, args):
        return
    runner.kill(pid, signal.SIGTERM)
    if not wait_gone(runner, pid, program, args, timeout):
        LOG.warning("%s (pid %d) ignored SIGTERM; killing it", program, pid)
        runner.kill(pid, signal.SIGKILL)
        wait_gone(runner, pid, program, args, timeout)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
