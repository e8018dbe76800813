#!/usr/bin/env python3
"""What sending notifications to the bus costs the scaled-out create path.

One private RabbitMQ node and one PostgreSQL server; two scaled-out deployments on them
(api, scheduler and volume processes each, a vhost and a database each), identical but
for ``[oslo_messaging_notifications] driver``: ``messagingv2`` (every event to the broker,
``notifications.info``) and ``noop``. The create benchmark of ``bench.py`` (POST, then poll
until ``available``) at concurrency 8 runs on each in alternating rounds, in the same run,
and the ratio messagingv2/noop of the median throughputs is checked against the issue's
bound: within 5 % (the median of each round's ratio to its neighbour is printed too). The
notifications queue has no consumer during the run (they wait in the broker, as they would
for a slow Ceilometer); at the end the queue's depth is checked against the events the
creates sent.

    python bench/notify_bench.py            # 5 rounds of 100 creates each
    python bench/notify_bench.py -n 40 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import REPO, Bench, Deployment, Run, bench_client, free_port, write_config

MIN_RATIO = 0.95
DRIVERS = ("messagingv2", "noop")


def start(state: Path, driver: str, broker: Any, database_url: str, transport_url: str
          ) -> Deployment:  # fmt: skip
    deployment = Deployment(f"scaled-{driver}", state)
    port = free_port()
    for name, args in (
        ("volume", ["volume", "--backend", "file-1"]),
        ("scheduler", ["scheduler"]),
        ("api", ["api"]),
    ):
        config = write_config(state, port, transport_url=transport_url,
                              database_url=database_url, log_dir=state / "log" / name,
                              name=f"firebrick-{name}.conf")  # fmt: skip
        with config.open("a") as handle:
            handle.write(f"[oslo_messaging_notifications]\ndriver = {driver}\n")
        deployment.spawn(name, args, config)
    deployment.wait_for_api(port)
    deployment.wait_for_pool()
    return deployment


def new_vhost(broker: Any, name: str) -> str:
    from infra import rabbitmq

    for args in (("add_vhost", name), ("set_permissions", "-p", name, rabbitmq.USER,
                                       ".*", ".*", ".*")):  # fmt: skip
        result = broker._ctl(*args, timeout=60)
        if result.returncode != 0:
            raise SystemExit(f"rabbitmqctl {' '.join(args)}: {result.stderr}")
    return str(broker.url).rstrip("/") + f"/{name}"


def cpu_seconds(deployment: Deployment) -> dict[str, float]:
    """CPU time (user + system) each role process has used so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, proc in deployment.processes.items():
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / tick
    return used


def queue_depth(broker: Any, vhost: str, queue: str) -> int:
    result = broker._ctl("list_queues", "-p", vhost, "name", "messages", timeout=60)
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    return 0


async def compare(bases: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    project = uuid.uuid4().hex
    clients = {name: bench_client(base, project, f"bench:{project}")
               for name, base in bases.items()}  # fmt: skip
    rounds: dict[str, list[Run]] = {name: [] for name in bases}
    try:
        benches = {name: Bench(c, args.poll, args.timeout, args.poll_max)
                   for name, c in clients.items()}  # fmt: skip
        for bench in benches.values():
            await bench.creates(10, 2)  # warm-up: connections, first flows
        for i in range(args.rounds):
            for name in DRIVERS if i % 2 == 0 else tuple(reversed(DRIVERS)):
                run, _ = await benches[name].creates(args.n, 8)
                rounds[name].append(run)
                print(f"  round {i + 1} {name:<12} create c=8 {run.per_s:8.1f}/s"
                      f"  p50 {run.pct(50):7.1f} ms", flush=True)  # fmt: skip
    finally:
        for client in clients.values():
            await client.aclose()
    return {
        name: {
            "create_per_s_c8_median": round(statistics.median(r.per_s for r in runs), 2),
            "create_per_s_c8_rounds": [round(r.per_s, 2) for r in runs],
            "create_p50_ms_c8_median": round(statistics.median(r.pct(50) for r in runs), 3),
            "failures": sum(r.failures for r in runs),
        }
        for name, runs in rounds.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100, help="creates per round (default 100)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.002)
    parser.add_argument("--poll-max", type=float, default=0.05)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--output", default="bench-notify-results.json")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from infra import postgres, rabbitmq

    if not rabbitmq.available() or not postgres.available():
        raise SystemExit("needs rabbitmq-server and postgresql (make apt, as root)")
    state = Path(tempfile.mkdtemp(prefix="firebrick-bench-notify-"))
    print(f"notifications messagingv2 vs noop (scaled out): starting in {state}", flush=True)
    broker = rabbitmq.RabbitMQServer(state / "rabbitmq", port=0)
    database = postgres.PostgresServer(postgres.make_base_dir("fb-bench-pg-"), postgres.free_port())
    deployments: dict[str, Deployment] = {}
    try:
        broker.start()
        database.start()
        for driver in DRIVERS:
            (state / driver).mkdir()
            deployments[driver] = start(
                state / driver, driver, broker, database.create_database(f"bench_{driver}"),
                new_vhost(broker, f"bench-{driver}"),
            )  # fmt: skip
        before = {d: cpu_seconds(deployments[d]) for d in DRIVERS}
        results = asyncio.run(compare({d: deployments[d].base for d in DRIVERS}, args))
        for driver in DRIVERS:
            after = cpu_seconds(deployments[driver])
            # Warm-up and every round: CPU milliseconds a create cost each role.
            done = args.rounds * args.n + 10
            results[driver]["cpu_ms_per_create"] = {
                name: round((after[name] - before[driver][name]) * 1000 / done, 2) for name in after
            }
        time.sleep(1.0)  # the last events leave the sender
        queued = queue_depth(broker, "bench-messagingv2", "notifications.info")
    finally:
        for deployment in deployments.values():
            deployment.stop()
        broker.stop()
        database.remove()
    creates = args.rounds * args.n + 10
    ratio = (results["messagingv2"]["create_per_s_c8_median"]
             / results["noop"]["create_per_s_c8_median"])  # fmt: skip
    # Each round of one beside the same round of the other (they ran back to back): the
    # median of these ratios is less moved by a machine whose load drifts.
    paired = [
        a / b
        for a, b in zip(
            results["messagingv2"]["create_per_s_c8_rounds"],
            results["noop"]["create_per_s_c8_rounds"],
            strict=True,
        )
        if b
    ]
    results["paired_ratio_median"] = round(statistics.median(paired), 3)
    results.update(
        ratio_c8=round(ratio, 3), target=f"messagingv2 create/s c=8 >= {MIN_RATIO:g} x noop",
        target_met=ratio >= MIN_RATIO, rounds=args.rounds, n_per_round=args.n,
        notifications_queued=queued, notifications_expected=2 * creates,
        started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )  # fmt: skip
    print()
    for driver in DRIVERS:
        found = results[driver]
        cpu = ", ".join(f"{k} {v:.2f}" for k, v in found["cpu_ms_per_create"].items())
        print(
            f"  {driver:<12} median {found['create_per_s_c8_median']:8.1f} creates/s  "
            f"p50 {found['create_p50_ms_c8_median']:7.1f} ms; CPU ms a create: {cpu}"
        )
    print(f"  ratio messagingv2/noop {ratio:.3f} (target >= {MIN_RATIO}): "
          f"{'met' if results['target_met'] else 'NOT met'}; median of the paired rounds' "
          f"ratios {results['paired_ratio_median']:.3f}")  # fmt: skip
    print(f"  notifications.info holds {queued} events for {2 * creates} expected")
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
