#!/usr/bin/env python3
"""The create path's speed on the embedded default, and against an older commit.

Measures one or more *targets* (a source tree plus options), each an embedded
``firebrick serve`` started from that tree with this venv, side by side in one run, in
alternating rounds (these machines are shared and noisy: only figures from one run
compare). Per target:

* creates/s at concurrency 8 (N per round; polls every 20 ms), with p50/p95/p99;
* server CPU per create: the utime + stime of every process of the service (the
  supervisor and all its descendants, from /proc) over the creates of a batch polled
  every 200 ms (so that polls do not dominate), at concurrency 8;
* latency at concurrency 1 (polls from 1 ms backing off to 20 ms) and at concurrency 32
  (N >= 300), p95 and p99 as multiples of p50;
* ``GET /volumes/detail?limit=1000`` with 1,000 volumes present (median of 10);
* memory per process (RSS and PSS, from /proc/<pid>/smaps_rollup) at idle and at the end
  of the concurrency-32 batch.

With ``--scaled`` each tree also runs scaled out (``bench.start_scaled``: a private
RabbitMQ and PostgreSQL, the api, scheduler and volume roles as processes of their own),
and its CPU per create includes RabbitMQ's and PostgreSQL's processes; the CPU is printed
by process kind as well.

    python bench/speed.py                           # this tree
    python bench/speed.py --against 5af07c5         # this tree and that commit, ratio
    python bench/speed.py --option osapi_volume_workers=1 --option osapi_volume_workers=2
    python bench/speed.py --scaled --against 5af07c5  # and scaled out, both trees

``--against`` checks the commit out into a temporary directory (``git worktree``) and
runs it with ``PYTHONPATH`` pointing at its ``src`` (same dependencies).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import (
    REPO,
    Bench,
    Deployment,
    Run,
    bench_client,
    free_port,
    start_scaled,
    stop_process,
    write_config,
)

TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------
# /proc


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime (and of reaped children) of ``pids``, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / TICKS


ROLES = (b"serve", b"worker-api", b"worker-roles", b"api", b"scheduler", b"volume", b"backup")


def role_of(pid: int) -> str:
    """What a process is: its Firebrick role, else its program (postgres, beam.smp, …)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    role = next((c for c in cmd[1:] if c in ROLES), None)
    if role is not None:
        return role.decode()
    words = cmd[0].decode(errors="replace").split()
    return Path(words[0]).name.rstrip(":") if words else "?"


def cpu_by_role(pids: list[int]) -> dict[str, float]:
    """utime + stime of each of ``pids``, in seconds, summed by role."""
    found: dict[str, float] = {}
    for pid in pids:
        role = role_of(pid)
        found[role] = found.get(role, 0.0) + cpu_seconds([pid])
    return found


def memory(pids: list[int]) -> list[dict[str, Any]]:
    rows = []
    for pid in pids:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        values = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:]}
        rows.append({"pid": pid, "role": role_of(pid),
                     "rss_mb": round(values.get("Rss", 0) / 1024, 1),
                     "pss_mb": round(values.get("Pss", 0) / 1024, 1)})  # fmt: skip
    return rows


# ---------------------------------------------------------------------------------------
# targets


@dataclass
class Target:
    name: str
    tree: Path
    options: dict[str, str]
    state: Path
    mode: str = "embedded"  # or "scaled": RabbitMQ, PostgreSQL, a process per role
    against: bool = False  # the older commit the others are compared with
    process: subprocess.Popen[bytes] | None = None
    deployment: Deployment | None = None
    base: str = ""
    results: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        if self.mode == "scaled":
            env = {**os.environ, "PYTHONPATH": str(self.tree / "src")}
            self.deployment = start_scaled(self.state, env)
            self.base = self.deployment.base
            return
        port = free_port()
        config = write_config(self.state, port, extra_defaults=self.options)
        env = {**os.environ, "PYTHONPATH": str(self.tree / "src")}
        with (self.state / "serve.out").open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "firebrick", "serve", "--config", str(config)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=self.state,
            )  # fmt: skip
        self.base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{(self.state / 'serve.out').read_text()}")
            try:
                import httpx

                if httpx.get(f"{self.base}/v3/admin/scheduler-stats/get_pools",
                             headers={"X-Auth-Token": "bench:admin"},
                             timeout=2).json().get("pools"):  # fmt: skip
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name}: the API did not come up")

    def pids(self) -> list[int]:
        """Every process of the service; scaled out, RabbitMQ's and PostgreSQL's too."""
        if self.deployment is not None:
            return [pid for root in self.deployment.roots() for pid in descendants(root)]
        assert self.process is not None
        return descendants(self.process.pid)

    def stop(self) -> None:
        if self.deployment is not None:
            self.deployment.stop()
        if self.process is not None:
            stop_process(self.process)


@contextmanager
def checkout(commit: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="firebrick-old-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(path),
                        commit], check=True)  # fmt: skip
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
                           check=False)  # fmt: skip


# ---------------------------------------------------------------------------------------
# measuring


def merged(runs: list[Run]) -> Run:
    total = Run(n=sum(r.n for r in runs), concurrency=runs[0].concurrency,
                wall_s=sum(r.wall_s for r in runs))  # fmt: skip
    for r in runs:
        total.latencies_ms += r.latencies_ms
        total.failures += r.failures
    return total


async def batch(target: Target, n: int, concurrency: int, poll: float, poll_max: float
                ) -> tuple[Run, float]:  # fmt: skip
    """``n`` creates; (the run, server CPU ms per create)."""
    run, split = await split_batch(target, n, concurrency, poll, poll_max)
    return run, sum(split.values())


async def split_batch(target: Target, n: int, concurrency: int, poll: float, poll_max: float
                      ) -> tuple[Run, dict[str, float]]:  # fmt: skip
    """``n`` creates; (the run, server CPU ms per create by role)."""
    project = uuid.uuid4().hex
    async with bench_client(target.base, project, f"bench:{project}") as client:
        bench = Bench(client, poll_s=poll, timeout_s=120, poll_max_s=poll_max)
        pids = target.pids()
        cpu0 = cpu_by_role(pids)
        run, _ = await bench.creates(n, concurrency)
        cpu1 = cpu_by_role(target.pids())  # a process started meanwhile counts in full
    done = max(1, n - run.failures)
    return run, {role: (cpu1[role] - cpu0.get(role, 0.0)) * 1000 / done for role in cpu1}


async def detail_list(target: Target) -> dict[str, Any]:
    project = uuid.uuid4().hex
    async with bench_client(target.base, project, f"bench:{project}") as client:
        bench = Bench(client, poll_s=0.02, timeout_s=120, poll_max_s=0.02)
        await bench.fill_to(1000)
        return await bench.list_detail()


def summary(run: Run) -> dict[str, Any]:
    d = run.as_dict()
    p50 = run.pct(50)
    d["p95_x_p50"] = round(run.pct(95) / p50, 2) if p50 else None
    d["p99_x_p50"] = round(run.pct(99) / p50, 2) if p50 else None
    return d


async def measure(targets: list[Target], args: argparse.Namespace) -> None:
    for t in targets:
        t.results = {"memory_idle": memory(t.pids()), "c8": [], "cpu": [], "cpu_split": []}
        await batch(t, 10, 2, 0.005, 0.02)  # warm up: imports, first flows, connections
    for rnd in range(args.rounds):
        order = targets if rnd % 2 == 0 else list(reversed(targets))
        for t in order:
            run, _ = await batch(t, args.n, 8, 0.02, 0.02)
            t.results["c8"].append(run)
            _, split = await split_batch(t, args.n_cpu, 8, 0.2, 0.2)
            cpu = sum(split.values())
            t.results["cpu"].append(cpu)
            t.results["cpu_split"].append(split)
            print(f"  round {rnd + 1} {t.name:<28} c=8 {run.per_s:7.1f}/s  "
                  f"cpu {cpu:6.2f} ms/create", flush=True)  # fmt: skip
    for t in targets:
        run, _ = await batch(t, args.n_c1, 1, 0.001, 0.02)
        t.results["c1"] = summary(run)
        run, _ = await batch(t, args.n_c32, 32, 0.02, 0.02)
        t.results["memory_load"] = memory(t.pids())
        t.results["c32"] = summary(run)
        t.results["list_1000"] = await detail_list(t)
        t.results["memory_idle_after"] = memory(t.pids())
        rounds = t.results["c8"]
        t.results["c8_per_s_rounds"] = [round(r.per_s, 1) for r in rounds]
        t.results["c8"] = summary(merged(rounds))
        t.results["c8"]["per_s_median_round"] = statistics.median(r.per_s for r in rounds)
        t.results["cpu_ms_per_create"] = round(statistics.median(t.results["cpu"]), 2)
        splits = t.results.pop("cpu_split")
        t.results["cpu_ms_by_role"] = {
            role: round(statistics.median(s.get(role, 0.0) for s in splits), 2)
            for role in sorted({r for s in splits for r in s})
        }


def report(targets: list[Target]) -> None:
    print()
    head = f"{'':34}" + "".join(f"{t.name[:26]:>28}" for t in targets)
    print(head)

    def row(label: str, get: Any) -> None:
        print(f"{label:34}" + "".join(f"{get(t):>28}" for t in targets))

    row("creates/s c=8 (median round)", lambda t: f"{t.results['c8']['per_s_median_round']:.1f}")
    row("  rounds", lambda t: " ".join(f"{v:.0f}" for v in t.results["c8_per_s_rounds"]))
    row("CPU ms/create (c=8, 200ms poll)", lambda t: f"{t.results['cpu_ms_per_create']:.2f}")
    roles = sorted({r for t in targets for r in t.results["cpu_ms_by_role"]})
    for role in roles:
        if not any(t.results["cpu_ms_by_role"].get(role, 0.0) >= 0.05 for t in targets):
            continue
        row(f"  {role}", lambda t, r=role: f"{t.results['cpu_ms_by_role'].get(r, 0.0):.2f}")
    for c in ("c1", "c8", "c32"):
        row(f"p50/p95/p99 ms {c}", lambda t, c=c: "{p50_ms:.1f}/{p95_ms:.1f}/{p99_ms:.1f}".format(
            **t.results[c]))  # fmt: skip
    row(
        "c32 p95/p50, p99/p50",
        lambda t: f"{t.results['c32']['p95_x_p50']}x {t.results['c32']['p99_x_p50']}x",
    )
    row("detail list 1000 (median)", lambda t: f"{t.results['list_1000']['median_ms']:.1f} ms")
    for key, label in (("memory_idle", "memory idle"), ("memory_load", "memory under load (c=32)")):
        row(
            f"{label}: PSS sum", lambda t, k=key: f"{sum(p['pss_mb'] for p in t.results[k]):.0f} MB"
        )
        row("  RSS sum", lambda t, k=key: f"{sum(p['rss_mb'] for p in t.results[k]):.0f} MB")
        row("  processes", lambda t, k=key: str(len(t.results[k])))
    for t in targets:
        base = next((b for b in targets if b.against and b.mode == t.mode), None)
        if base is None or base is t:
            continue
        ratio = t.results["c8"]["per_s_median_round"] / base.results["c8"]["per_s_median_round"]
        cpu = t.results["cpu_ms_per_create"] / base.results["cpu_ms_per_create"]
        print(f"\n{t.name} vs {base.name}: creates/s x{ratio:.2f}, CPU/create x{cpu:.2f}")


def parse_targets(args: argparse.Namespace, stack: ExitStack, root: Path) -> list[Target]:
    options: list[dict[str, str]] = []
    for spec in args.option or [""]:
        found = dict(item.split("=", 1) for item in spec.split(",") if item)
        options.append(found)
    modes = ["embedded", "scaled"] if args.scaled else ["embedded"]
    targets = []
    for mode in modes:
        for n, opts in enumerate(options if mode == "embedded" else [{}]):
            label = ",".join(f"{k}={v}" for k, v in opts.items()) or "defaults"
            name = f"this tree {label}" if mode == "embedded" else "this tree scaled"
            targets.append(Target(name, REPO, opts, root / f"new-{mode}-{n}", mode))
    if args.against:
        tree = stack.enter_context(checkout(args.against))
        for mode in modes:
            suffix = "" if mode == "embedded" else " scaled"
            targets.append(Target(f"{args.against[:10]}{suffix}", tree, {}, root / f"old-{mode}",
                                  mode, against=True))  # fmt: skip
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", help="also run this older commit; ratios against it")
    parser.add_argument(
        "--option", action="append", help="a target of this tree with these options (k=v,k=v)"
    )
    parser.add_argument(
        "--scaled", action="store_true",
        help="also scaled out (RabbitMQ, PostgreSQL, a process per role; their CPU counted)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=200, help="creates per c=8 round")
    parser.add_argument("--n-cpu", type=int, default=100, help="creates per CPU batch")
    parser.add_argument("--n-c1", type=int, default=100)
    parser.add_argument("--n-c32", type=int, default=300)
    parser.add_argument("--output", default="bench-speed.json")
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="firebrick-speed-") as tmp:
        targets = parse_targets(args, stack, Path(tmp))
        try:
            for t in targets:
                t.start()
            asyncio.run(measure(targets, args))
        finally:
            for t in targets:
                t.stop()
        report(targets)
        Path(args.output).write_text(json.dumps(
            {"when": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
             "targets": {t.name: t.results for t in targets}}, indent=1, default=str))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
