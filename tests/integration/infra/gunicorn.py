"""An OpenStack WSGI service (Keystone, Glance) under gunicorn: started, awaited, stopped.

The service parses ``sys.argv`` with oslo.config in every worker, so gunicorn gets no
arguments: its settings go into ``gunicorn.conf.py`` in the working directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

STOP_TIMEOUT = 15.0


def spawn(
    gunicorn: str,
    base_dir: Path,
    *,
    port: int,
    threads: int,
    wsgi_app: str,
    env: Mapping[str, str],
    log_file: Path,
    timeout: int = 120,
) -> subprocess.Popen[bytes]:
    (base_dir / "gunicorn.conf.py").write_text(
        f"bind = {f'127.0.0.1:{port}'!r}\n"
        "workers = 1\n"
        "worker_class = 'gthread'\n"
        f"threads = {threads}\n"
        f"timeout = {timeout}\n"
        "graceful_timeout = 5\n"
        "control_socket_disable = True\n"
        f"wsgi_app = {wsgi_app!r}\n"
    )
    with log_file.open("ab") as out:
        return subprocess.Popen(
            [gunicorn], env=dict(env), cwd=base_dir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    """Whether ``GET url`` answered 200 before ``timeout`` seconds (False if it exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
