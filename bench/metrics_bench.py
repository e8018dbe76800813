#!/usr/bin/env python3
"""What metrics and the flow timelines cost: the create path with them on and off, and
the time of one ``/metrics`` scrape with 10,000 volumes present (issue 15).

Two embedded services side by side, one with the defaults (metrics and timelines on) and
one with ``metrics_enabled = false`` and ``record_flow_timelines = false``. Rounds of N
creates at concurrency 8 alternate between them (the order flips every round, so neither
always runs on a warmer machine); the medians are compared against the bound: on within
3 % of off. Then the "on" service is filled to 10,000 volumes through the API and
``GET /metrics`` is timed, as Prometheus would scrape it.

    python bench/metrics_bench.py            # N=100 a round, 5 rounds, 10,000 volumes
    python bench/metrics_bench.py --quick    # N=30, 3 rounds, 2,000 volumes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import MICROVERSION, Bench, Deployment, Run, bench_client, start_embedded

MAX_COST = 0.03  # "on" may be at most 3 % slower than "off"
MAX_SCRAPE_MS = 20.0
OFF = {"metrics_enabled": "false", "record_flow_timelines": "false"}
SCRAPES = 30


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``firebrick serve`` has used: the process and every process
    under it (its API workers and roles' process), from /proc."""
    from speed import cpu_seconds as tree_cpu
    from speed import descendants

    return tree_cpu(descendants(pid))


async def compare(
    targets: dict[str, tuple[str, str, str]], pids: dict[str, int], args: argparse.Namespace
) -> Any:
    clients = {name: bench_client(*target) for name, target in targets.items()}
    rounds: dict[str, list[Run]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    try:
        benches = {
            name: Bench(client, args.poll, args.timeout, args.poll_max)
            for name, client in clients.items()
        }
        for bench in benches.values():
            await bench.creates(10, 2)  # warm-up: imports, connections, first flow compile
        order = list(benches)
        for i in range(args.rounds):
            for name in order if i % 2 == 0 else list(reversed(order)):
                before = cpu_seconds(pids[name])
                run, _ = await benches[name].creates(args.n, 8)
                used_ms = (cpu_seconds(pids[name]) - before) * 1000 / args.n
                rounds[name].append(run)
                cpu[name].append(used_ms)
                print(f"  round {i + 1} metrics {name:<3} create c=8 {run.per_s:8.1f}/s"
                      f"  p50 {run.pct(50):6.1f} ms  cpu {used_ms:5.2f} ms/create",
                      flush=True)  # fmt: skip
    finally:
        for client in clients.values():
            await client.aclose()
    summary: dict[str, Any] = {
        name: {
            "create_per_s_c8_median": round(statistics.median(r.per_s for r in runs), 2),
            "create_per_s_c8_rounds": [round(r.per_s, 2) for r in runs],
            "create_p50_ms_c8_median": round(statistics.median(r.pct(50) for r in runs), 3),
            # The service's own CPU time per create (polls included): steadier than
            # throughput on a machine others are using too.
            "cpu_ms_per_create_median": round(statistics.median(cpu[name]), 3),
            "failures": sum(r.failures for r in runs),
        }
        for name, runs in rounds.items()
    }
    # Each round's on and off runs are neighbours in time: the ratio of the two sees the
    # same load, where the medians of each side may come from different rounds.
    summary["paired"] = {
        "throughput_cost_rounds": [
            round(1 - on.per_s / off.per_s, 4)
            for on, off in zip(rounds["on"], rounds["off"], strict=True)
        ],
        "cpu_cost_rounds": [
            round(on / off - 1, 4) for on, off in zip(cpu["on"], cpu["off"], strict=True)
        ],
    }
    for key in ("throughput_cost", "cpu_cost"):
        summary["paired"][f"{key}_median"] = statistics.median(summary["paired"][f"{key}_rounds"])
    return summary


async def fill(client: httpx.AsyncClient, total: int, concurrency: int = 32) -> int:
    """Create volumes until the project has ``total``, then wait until none is creating.

    Creates are not polled one by one (the scrape needs them present, not timed); a
    request that meets a connection the server closed is sent again.
    """

    async def count(**filters: str) -> int:
        for _ in range(10):
            try:
                resp = await client.get(
                    "/volumes",
                    params={"with_count": "true", "limit": 1, **filters},
                    headers=MICROVERSION,
                )
                return int(resp.json()["count"])
            except httpx.TransportError:
                await asyncio.sleep(0.2)
        raise SystemExit("the service stopped answering while filling")

    remaining = iter(range(max(0, total - await count())))

    async def worker() -> None:
        for _ in remaining:
            for _attempt in range(10):
                try:
                    resp = await client.post("/volumes", json={"volume": {"size": 1}})
                    if resp.status_code == 202:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    deadline = time.monotonic() + 600
    while await count(status="creating") and time.monotonic() < deadline:
        await asyncio.sleep(1)
    return await count()


async def scrape(base: str, project: str, volumes: int) -> dict[str, Any]:
    async with bench_client(base, project, f"bench:{project}") as client:
        fill_start = time.perf_counter()
        present = await fill(client, volumes)
        fill_s = time.perf_counter() - fill_start
    timings, sizes, collect = [], [], []
    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
        await client.get("/metrics")  # warm-up
        for _ in range(SCRAPES):
            start = time.perf_counter()
            resp = await client.get("/metrics")
            timings.append((time.perf_counter() - start) * 1000)
            resp.raise_for_status()
            sizes.append(len(resp.content))
            for line in resp.text.splitlines():
                if line.startswith("firebrick_metrics_collect_duration_seconds "):
                    collect.append(float(line.split()[1]) * 1000)
            await asyncio.sleep(0.05)
    ordered = sorted(timings)
    return {
        "volumes_present": present,
        "fill_s": round(fill_s, 1),
        "scrapes": SCRAPES,
        "median_ms": round(statistics.median(timings), 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "min_ms": round(ordered[0], 3),
        "database_part_median_ms": round(statistics.median(collect), 3) if collect else None,
        "bytes": sizes[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N=30, 3 rounds, 2,000 volumes")
    parser.add_argument("-n", type=int, default=None, help="creates a round (default 100)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds a side (default 5)")
    parser.add_argument("--volumes", type=int, default=None, help="for the scrape (10,000)")
    parser.add_argument("--poll", type=float, default=0.002)
    parser.add_argument("--poll-max", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--output", default="bench-results-metrics.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state dirs")
    args = parser.parse_args()
    args.n = args.n or (30 if args.quick else 100)
    args.rounds = args.rounds or (3 if args.quick else 5)
    args.volumes = args.volumes or (2000 if args.quick else 10000)

    state = Path(tempfile.mkdtemp(prefix="firebrick-bench-metrics-"))
    print(f"metrics on vs off: starting in {state}", flush=True)
    deployments: dict[str, Deployment] = {}
    try:
        (state / "on").mkdir()
        (state / "off").mkdir()
        deployments["on"] = start_embedded(state / "on")
        deployments["off"] = start_embedded(state / "off", extra_defaults=OFF)
        projects = {name: uuid.uuid4().hex for name in deployments}
        targets = {
            name: (d.base, projects[name], f"bench:{projects[name]}")
            for name, d in deployments.items()
        }
        pids = {name: d.processes["serve"].pid for name, d in deployments.items()}
        results = asyncio.run(compare(targets, pids, args))
        deployments["off"].stop()
        print(f"  filling to {args.volumes} volumes for the scrape ...", flush=True)
        results["scrape"] = asyncio.run(scrape(deployments["on"].base, projects["on"],
                                               args.volumes))  # fmt: skip
    finally:
        for deployment in deployments.values():
            deployment.stop()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)

    on, off = results["on"]["create_per_s_c8_median"], results["off"]["create_per_s_c8_median"]
    cost = 1 - on / off if off else 1.0
    cpu_on = results["on"]["cpu_ms_per_create_median"]
    cpu_off = results["off"]["cpu_ms_per_create_median"]
    results["cpu_cost"] = round(cpu_on / cpu_off - 1, 4) if cpu_off else None
    results["cost"] = round(cost, 4)
    results["cost_target_met"] = cost <= MAX_COST
    results["scrape_target_met"] = results["scrape"]["median_ms"] <= MAX_SCRAPE_MS
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["meta"] = {"n": args.n, "rounds": args.rounds, "quick": args.quick,
                       "started_at": started}  # fmt: skip
    print()
    print(f"metrics on vs off (embedded, median of {args.rounds} rounds of {args.n} creates "
          "at c=8)")  # fmt: skip
    for name in ("on", "off"):
        side = results[name]
        print(f"  {name:<4} {side['create_per_s_c8_median']:8.1f} creates/s"
              f"  p50 c=8 {side['create_p50_ms_c8_median']:6.1f} ms"
              f"  cpu {side['cpu_ms_per_create_median']:5.2f} ms/create")  # fmt: skip
        if side["failures"]:
            print(f"  WARNING: {side['failures']} creates failed or timed out ({name})")
    verdict = "met" if results["cost_target_met"] else "MISSED"
    print(
        f"  cost {cost * 100:+.1f} % throughput, {results['cpu_cost'] * 100:+.1f} % CPU "
        f"per create  (target <= {MAX_COST * 100:g} %: {verdict})"
    )
    paired = results["paired"]
    print(
        f"  round by round: cost {paired['throughput_cost_median'] * 100:+.1f} % throughput, "
        f"{paired['cpu_cost_median'] * 100:+.1f} % CPU per create (medians of the "
        f"{args.rounds} on/off pairs)"
    )
    s = results["scrape"]
    verdict = "met" if results["scrape_target_met"] else "MISSED"
    print(
        f"/metrics with {s['volumes_present']} volumes: median {s['median_ms']:.1f} ms, "
        f"p95 {s['p95_ms']:.1f} ms, database part {s['database_part_median_ms']} ms, "
        f"{s['bytes']} bytes  (target <= {MAX_SCRAPE_MS:g} ms: {verdict})"
    )
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
