#!/usr/bin/env python3
"""RBD beside the file backend: creates, and the clone of a large volume, on a real Ceph.

Starts a throwaway one-node Ceph (``tests/integration/infra/ceph.py``: mon, mgr, one
bluestore OSD on a sparse file) and one embedded ``firebrick serve`` with two backends,
``file-1`` (thin file) and ``rbd-1`` (RBD on the cluster), each with a volume type of
its name. Then, in the same run:

* creates: POST /volumes of 1 GiB with the backend's type, polled until ``available``:
  p50/p95 and creates/s at concurrency 1 and 8, file and RBD rounds alternating;
* clone: a 10 GiB RBD volume holding 1 GiB of random data (256 chunks of 4 MiB spread
  over the whole volume) is cloned (``source_volid``): the time until the clone is
  ``available`` through the API, and the driver's ``create_cloned_volume`` alone (the
  temporary snapshot and the copy-on-write clone); against a full copy of the same
  volume (the driver with ``rbd_max_clone_depth = 0``, Cinder's copy path). Target:
  clone <= 100 ms, independent of size.

    python bench/rbd_bench.py              # N=100 creates per concurrency and backend
    python bench/rbd_bench.py --quick      # N=20
    python bench/rbd_bench.py --json       # the figures as JSON on stdout as well
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))

from bench import Bench, Run  # noqa: E402
from ceph_helpers import rbd_backend  # noqa: E402
from harness import Service, launch  # noqa: E402
from infra import ceph as ceph_infra  # noqa: E402

from firebrick.config import BackendConfig  # noqa: E402
from firebrick.domain.model import Volume  # noqa: E402
from firebrick.volume.drivers.rbd import RbdDriver  # noqa: E402
from firebrick.volume.drivers.rbd_client import GiB, MiB, bindings  # noqa: E402

TARGET_CLONE_MS = 100.0
CLONE_SAMPLES = 5
OSD_GIB = 30
BACKENDS = ("file-1", "rbd-1")


class TypedBench(Bench):
    """The create benchmark with a volume type (to pick the backend)."""

    def __init__(self, client: httpx.AsyncClient, volume_type: str) -> None:
        super().__init__(client, poll_s=0.005, timeout_s=120.0, poll_max_s=0.005)
        self.volume_type = volume_type

    async def create_one(self, poll_s: float | None = None) -> tuple[str | None, float, bool]:
        start = time.perf_counter()
        body = {"volume": {"size": 1, "volume_type": self.volume_type}}
        resp = await self.client.post("/volumes", json=body)
        if resp.status_code != 202:
            return None, (time.perf_counter() - start) * 1000, False
        volume_id = resp.json()["volume"]["id"]
        while time.perf_counter() < start + self.timeout_s:
            got = await self.client.get(f"/volumes/{volume_id}")
            status = got.json()["volume"]["status"] if got.status_code == 200 else ""
            if status == "available":
                return volume_id, (time.perf_counter() - start) * 1000, True
            if status == "error":
                break
            await asyncio.sleep(self.poll_s)
        return volume_id, (time.perf_counter() - start) * 1000, False


def summary(run: Run) -> dict[str, Any]:
    found = run.as_dict()
    return {k: found[k] for k in ("n", "concurrency", "per_s", "p50_ms", "p95_ms", "failures")}


async def creates(svc: Service, n: int) -> dict[str, dict[str, Any]]:
    project = uuid.uuid4().hex
    results: dict[str, dict[str, Any]] = {}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    headers = {"X-Auth-Token": f"bench:{project}"}
    async with httpx.AsyncClient(
        base_url=svc.endpoint(project), limits=limits, timeout=60, headers=headers
    ) as client:
        for concurrency in (1, 8):
            for backend in BACKENDS:  # alternating: both see the same machine load
                bench = TypedBench(client, backend)
                await bench.creates(4, concurrency)  # warm up
                run, ids = await bench.creates(n, concurrency)
                results[f"{backend} c{concurrency}"] = summary(run)
                await bench.deletes(ids, 8)
    return results


def fill(ceph: ceph_infra.CephCluster, image: str, data_gib: int, size_gib: int) -> None:
    """``data_gib`` GiB of random data in 4 MiB chunks spread over the image."""
    rados, rbd = bindings()
    cluster = rados.Rados(conffile=str(ceph.conf))
    cluster.connect()
    try:
        with cluster.open_ioctx(ceph.pool) as ioctx, rbd.Image(ioctx, image) as handle:
            chunks = data_gib * GiB // (4 * MiB)
            stride = size_gib * GiB // chunks
            block = bytearray(os.urandom(4 * MiB))
            for n in range(chunks):
                block[:8] = n.to_bytes(8, "little")  # every chunk differs
                handle.write(bytes(block), n * stride)
    finally:
        cluster.shutdown()


def clone_via_api(svc: Service, source_id: str, volume_type: str) -> list[float]:
    timings = []
    with svc.client(microversion="3.71") as api:
        for _ in range(CLONE_SAMPLES):
            start = time.perf_counter()
            clone = api.create_volume(10, volume_type=volume_type, source_volid=source_id)
            timings.append((time.perf_counter() - start) * 1000)
            api.delete_volume(clone["id"])
    return timings


def clone_via_driver(ceph: ceph_infra.CephCluster, source_id: str, state: Path,
                     **options: str) -> list[float]:  # fmt: skip
    opts = rbd_backend(ceph, **options)
    opts.pop("volume_driver")
    backend = BackendConfig("rbd-bench", "rbd", "rbd-bench", "nova", 0, "20.0", opts)
    driver = RbdDriver(backend, state)
    driver.do_setup()
    source = Volume(id=source_id, project_id="", user_id="", size=10, status="available",
                    created_at=datetime.now(UTC))  # fmt: skip
    timings = []
    samples = CLONE_SAMPLES if options.get("rbd_max_clone_depth") != "0" else 2
    for _ in range(samples):
        clone = Volume(id=str(uuid.uuid4()), project_id="", user_id="", size=10,
                       status="creating", created_at=datetime.now(UTC))  # fmt: skip
        start = time.perf_counter()
        driver.create_cloned_volume(clone, source)
        timings.append((time.perf_counter() - start) * 1000)
        driver.delete_volume(clone)
    driver.deleter.stop()
    driver.client.reset()
    return timings


def stats(timings: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(timings), 1), "max_ms": round(max(timings), 1),
            "samples": len(timings)}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="firebrick-rbd-bench-"))
    ceph = ceph_infra.CephCluster(ceph_infra.make_base_dir("fb-bench-ceph-"), osd_gib=OSD_GIB)
    svc: Service | None = None
    try:
        started = time.monotonic()
        ceph.start()
        cluster_up_s = time.monotonic() - started
        svc = launch(
            workdir, host="bench",
            backends={"file-1": {"file_capacity_gb": "100000"},
                      "rbd-1": rbd_backend(ceph, max_over_subscription_ratio="1000")},
            defaults={"quota_volumes": "-1", "quota_gigabytes": "-1",
                      "quota_snapshots": "-1", "report_interval": "2"},
        )  # fmt: skip
        with svc.client(microversion="3.71") as api:
            for backend in BACKENDS:
                specs = {"volume_backend_name": backend}
                body = {"volume_type": {"name": backend, "extra_specs": specs}}
                assert api.post("/types", json=body).status_code == 200
            source = api.create_volume(10, volume_type="rbd-1")
        fill(ceph, f"volume-{source['id']}", 1, 10)
        results: dict[str, Any] = {"ceph_up_s": round(cluster_up_s, 1)}
        results["creates"] = asyncio.run(creates(svc, args.n))
        results["clone_api"] = stats(clone_via_api(svc, source["id"], "rbd-1"))
        results["clone_driver"] = stats(clone_via_driver(ceph, source["id"], workdir))
        results["full_copy_driver"] = stats(
            clone_via_driver(ceph, source["id"], workdir, rbd_max_clone_depth="0")
        )
        results["clone_target_ms"] = TARGET_CLONE_MS
        results["clone_target_met"] = results["clone_driver"]["median_ms"] <= TARGET_CLONE_MS
        return results
    finally:
        if svc is not None:
            svc.stop()
        ceph.remove()


def print_table(results: dict[str, Any]) -> None:
    print(f"RBD bench (one-node Ceph up in {results['ceph_up_s']} s)")
    print(f"{'creates (1 GiB)':<22}{'per s':>10}{'p50 ms':>10}{'p95 ms':>10}{'failed':>8}")
    for name, row in results["creates"].items():
        print(f"{name:<22}{row['per_s']:>10}{row['p50_ms']:>10}{row['p95_ms']:>10}"
              f"{row['failures']:>8}")  # fmt: skip
    print("clone of a 10 GiB volume holding 1 GiB of data (median / max ms):")
    for key, label in (("clone_driver", "driver: snapshot + COW clone"),
                       ("clone_api", "API: POST until available"),
                       ("full_copy_driver", "driver: full copy (depth 0)")):  # fmt: skip
        row = results[key]
        print(f"  {label:<34}{row['median_ms']:>10}{row['max_ms']:>10}")
    met = "met" if results["clone_target_met"] else "MISSED"
    print(f"  target <= {TARGET_CLONE_MS:.0f} ms (driver clone): {met}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="creates per concurrency and backend")
    parser.add_argument("--quick", action="store_true", help="N=20")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", type=Path, default=Path("bench-results-rbd.json"))
    args = parser.parse_args()
    if args.quick:
        args.n = 20
    if not ceph_infra.available():
        print(ceph_infra.unavailable_reason())
        return 2
    results = run(args)
    print_table(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
