#!/usr/bin/env python3
"""Clone and snapshot timings of the file driver, per clone method.

For each method, a 10 GiB volume holding 256 MiB of random data (spread in 64 chunks over
the whole volume) is cloned a few times; the median and worst clone times are reported.
Snapshot create and delete throughput is measured on reflink (and qcow2).

* reflink: on an XFS with reflink that the bench loop-mounts and removes (needs root);
* copy: on the temporary directory's filesystem (ext4 here, no reflink);
* qcow2: qcow2 volumes on the temporary directory, clones as overlays via qemu-img.

    python bench/clone_bench.py            # a table
    python bench/clone_bench.py --json     # the figures as JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firebrick.config import BackendConfig
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers.file import FileDriver, GiB

MiB = 1 << 20
CHUNK = 4 * MiB
TARGET_REFLINK_CLONE_MS = 50.0


@contextmanager
def loop_xfs(parent: Path, size_gib: int) -> Iterator[Path]:
    image, mountpoint = parent / "xfs.img", parent / "xfs"
    mountpoint.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(size_gib * GiB)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def make_driver(directory: Path, method: str, volume_format: str) -> FileDriver:
    options = {
        "file_volume_dir": str(directory),
        "file_volume_format": volume_format,
        "file_clone_method": method,
    }
    driver = FileDriver(
        BackendConfig("bench", "file", "bench", "nova", 0, "20.0", options), directory
    )
    driver.do_setup()
    return driver


def new_volume(size: int) -> Volume:
    return Volume(str(uuid.uuid4()), "bench", "bench", size, "creating", datetime.now(UTC))


def fill(driver: FileDriver, volume: Volume, data_mib: int, scratch: Path) -> None:
    """Write ``data_mib`` MiB of random data in 4 MiB chunks spread across the volume."""
    size = volume.size * GiB
    chunks = max(1, data_mib * MiB // CHUNK)
    stride = size // chunks
    target = driver.path(volume.id)
    raw = target if driver.volume_format == "raw" else scratch / "fill.raw"
    if raw != target:
        with open(raw, "wb") as handle:
            handle.truncate(size)
    fd = os.open(raw, os.O_WRONLY)
    try:
        for i in range(chunks):
            os.pwrite(fd, os.urandom(CHUNK), i * stride)
    finally:
        os.close(fd)
    if raw != target:
        subprocess.run(
            ["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", str(raw), str(target)],
            check=True,
        )
        raw.unlink()
    os.sync()


def time_ms(action: Any, *args: Any) -> float:
    start = time.perf_counter()
    action(*args)
    return (time.perf_counter() - start) * 1000


def bench_method(
    directory: Path, method: str, volume_format: str, args: argparse.Namespace
) -> dict[str, Any]:
    driver = make_driver(directory / "volumes", method, volume_format)
    source = new_volume(args.size_gib)
    driver.create_volume(source)
    fill(driver, source, args.data_mib, directory)
    clones = []
    for _ in range(args.clones):
        clone = new_volume(args.size_gib)
        clones.append(time_ms(driver.create_cloned_volume, clone, source))
        os.sync()
    result: dict[str, Any] = {
        "method": driver.clone_method,
        "format": volume_format,
        "clone_ms_median": round(statistics.median(clones), 2),
        "clone_ms_max": round(max(clones), 2),
    }
    if method in {"reflink", "qcow2"}:
        snapshots = [
            Snapshot(
                str(uuid.uuid4()),
                source.id,
                "bench",
                "bench",
                source.size,
                "creating",
                datetime.now(UTC),
            )
            for _ in range(args.snapshots)
        ]
        start = time.perf_counter()
        for snap in snapshots:
            driver.create_snapshot(snap, source)
        created = time.perf_counter() - start
        start = time.perf_counter()
        for snap in reversed(snapshots):
            driver.delete_snapshot(snap)
        deleted = time.perf_counter() - start
        result["snapshot_create_per_s"] = round(len(snapshots) / created, 1)
        result["snapshot_delete_per_s"] = round(len(snapshots) / deleted, 1)
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "volume_gib": args.size_gib,
        "data_mib": args.data_mib,
        "clones_per_method": args.clones,
        "snapshots": args.snapshots,
        "target_reflink_clone_ms": TARGET_REFLINK_CLONE_MS,
        "methods": {},
        "skipped": {},
    }
    with tempfile.TemporaryDirectory(prefix="clone-bench-") as tmp:
        base = Path(tmp)
        if os.geteuid() == 0 and shutil.which("mkfs.xfs"):
            xfs_gib = max(4, 2 * (args.data_mib * (args.clones + 2)) // 1024 + 2)
            with loop_xfs(base, xfs_gib) as xfs:
                results["methods"]["reflink"] = bench_method(xfs, "reflink", "raw", args)
        else:
            results["skipped"]["reflink"] = "needs root and mkfs.xfs (xfsprogs) for a loop XFS"
        copy_dir = base / "copy"
        copy_dir.mkdir()
        results["methods"]["copy"] = bench_method(copy_dir, "copy", "raw", args)
        if shutil.which("qemu-img"):
            qcow2_dir = base / "qcow2"
            qcow2_dir.mkdir()
            results["methods"]["qcow2"] = bench_method(qcow2_dir, "qcow2", "qcow2", args)
        else:
            results["skipped"]["qcow2"] = "qemu-img missing (qemu-utils)"
    reflink = results["methods"].get("reflink")
    if reflink:
        results["reflink_clone_meets_target"] = reflink["clone_ms_max"] <= TARGET_REFLINK_CLONE_MS
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"Clone of a {results['volume_gib']} GiB volume holding {results['data_mib']} MiB "
        f"(target with reflink <= {results['target_reflink_clone_ms']:.0f} ms)",
        f"{'method':<8} {'format':<6} {'clone median ms':>16} {'clone max ms':>13} "
        f"{'snap create/s':>14} {'snap delete/s':>14}",
    ]
    for name, r in results["methods"].items():
        lines.append(
            f"{name:<8} {r['format']:<6} {r['clone_ms_median']:>16} {r['clone_ms_max']:>13} "
            f"{r.get('snapshot_create_per_s', '-'):>14} {r.get('snapshot_delete_per_s', '-'):>14}"
        )
    for name, reason in results["skipped"].items():
        lines.append(f"{name:<8} skipped: {reason}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--size-gib", type=int, default=10)
    parser.add_argument("--data-mib", type=int, default=256)
    parser.add_argument("--clones", type=int, default=3)
    parser.add_argument("--snapshots", type=int, default=50)
    args = parser.parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
