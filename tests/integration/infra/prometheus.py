"""A real Prometheus server (Debian's ``prometheus``) for tests, on a free loopback port.

It scrapes the targets it is given every second, keeps its data under ``base_dir``, and
answers PromQL through its HTTP API (:meth:`PrometheusServer.query`). Nothing is fetched
from anywhere: the server is the package's binary.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

BINARY = Path("/usr/bin/prometheus")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SCRAPE_INTERVAL = "1s"


def available() -> bool:
    return BINARY.is_file() and os.access(BINARY, os.X_OK)


def unavailable_reason() -> str:
    return "Prometheus is not installed (as root: apt-get install prometheus)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape_config(jobs: Mapping[str, Sequence[str]]) -> str:
    """prometheus.yml scraping each job's ``host:port`` targets at /metrics every second."""
    lines = [
        "global:",
        f"  scrape_interval: {SCRAPE_INTERVAL}",
        f"  evaluation_interval: {SCRAPE_INTERVAL}",
        "scrape_configs:",
    ]
    for job, targets in jobs.items():
        lines += [
            f"  - job_name: {job}",
            f"    scrape_interval: {SCRAPE_INTERVAL}",
            f"    scrape_timeout: {SCRAPE_INTERVAL}",
            "    static_configs:",
            f"      - targets: [{', '.join(repr(t) for t in targets)}]",
        ]
    return "\n".join(lines) + "\n"


class PrometheusServer:
    def __init__(self, base_dir: Path, jobs: Mapping[str, Sequence[str]]) -> None:
        self.base_dir = base_dir
        self.port = free_port()
        self.config = base_dir / "prometheus.yml"
        self.log = base_dir / "prometheus.log"
        base_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(scrape_config(jobs))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(BINARY),
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.base_dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.base_dir,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant PromQL query's result vector (``[{"metric": {...}, "value": [t, v]}]``)."""
        resp = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10.0)
        body = resp.json()
        if resp.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"PromQL {expr!r}: {resp.status_code} {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` (None when the vector is empty)."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, f"{expr!r} gave {len(result)} series: {result}"
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, predicate: Any, timeout: float = 30.0) -> float:
        """Poll ``expr`` until ``predicate(value)`` holds; the value."""
        deadline = time.monotonic() + timeout
        last: float | None = None
        while time.monotonic() < deadline:
            last = self.value(expr)
            if last is not None and predicate(last):
                return last
            time.sleep(0.5)
        raise AssertionError(f"PromQL {expr!r} never satisfied the check; last value {last}")

    def targets(self) -> list[dict[str, Any]]:
        resp = httpx.get(f"{self.url}/api/v1/targets", timeout=10.0)
        active: list[dict[str, Any]] = resp.json()["data"]["activeTargets"]
        return active
