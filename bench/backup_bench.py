#!/usr/bin/env python3
"""Backup and restore throughput, and what an incremental reads, beside a plain ``cp``.

One embedded Firebrick (posix backups) with its volumes and its backup path on an XFS with
reflink that the bench loop-mounts (needs root). A 4 GiB raw volume holds 2 GiB of data
(64 runs of 32 MiB, half random, half repetitive text, holes between). In the same run:

* the copy rate: ``cp --reflink=never`` of the volume's file on the same filesystem, then
  ``sync`` of the copy (the backup fsyncs what it writes), and the CPU time it took;
* per compression algorithm: a full backup (POST to available) and a restore onto the
  volume (POST to available), each as MB/s of the volume's data, and the CPU time the
  service (``firebrick serve`` and every process under it) took for the backup.

The page cache is dropped before each copy and each backup (when the bench may: root), so
both read the volume from the disk: a backup reads a fresh snapshot of the volume, whose
pages nothing has cached, and a copy of a file the bench has just written would otherwise
read it from memory.
* an incremental after 1 % of the volume changed (41 writes of 1 MiB): wall time, bytes
  read and how the change was found, for a raw volume on XFS (extent maps), a qcow2
  volume (allocation map of its chain) and a raw volume without reflink (holes skipped,
  every data block read and hashed, as Cinder reads the whole volume).

    python bench/backup_bench.py                 # a table
    python bench/backup_bench.py --json          # the figures as JSON
    python bench/backup_bench.py --algorithms none,zstd --data-mib 512   # a shorter run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from harness import Service, VolumeApi, launch  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
RUN = 32 * MiB
TIMEOUT = 1800.0
TARGET_COPY_RATIO = 0.80
TARGET_READ_RATIO = 2.0


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
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)


def pattern(seed: int, length: int) -> bytes:
    """Half random, half text: compressible about two to one, like real data."""
    rng = random.Random(seed)
    half = length // 2
    text = (b"the quick brown fox jumps over the lazy dog %d\n" % seed) * (half // 40 + 1)
    return rng.randbytes(half) + text[: length - half]


def fill(path: Path, data_mib: int, size: int) -> list[tuple[int, int]]:
    """``data_mib`` MiB in runs of 32 MiB spread over the volume; the runs written."""
    runs = max(1, data_mib * MiB // RUN)
    stride = size // runs
    regions = [(n * stride, RUN) for n in range(runs)]
    with open(path, "r+b") as handle:
        for n, (offset, length) in enumerate(regions):
            handle.seek(offset)
            handle.write(pattern(n, length))
    return regions


def change_one_percent(path: Path, size: int, fmt: str, seed: int) -> int:
    """Overwrite 1 % of the volume in 1 MiB writes at random aligned places; bytes."""
    rng = random.Random(seed)
    count = max(1, size // 100 // MiB)
    offsets = rng.sample(range(size // MiB), count)
    if fmt == "qcow2":
        commands = []
        for offset in offsets:
            commands += ["-c", f"write -P {rng.randrange(1, 255)} {offset * MiB} {MiB}"]
        subprocess.run(["qemu-io", "-f", "qcow2", *commands, str(path)], check=True,
                       capture_output=True)  # fmt: skip
    else:
        with open(path, "r+b") as handle:
            for offset in offsets:
                handle.seek(offset * MiB)
                handle.write(rng.randbytes(MiB))
    return count * MiB


def wait(api: VolumeApi, kind: str, item_id: str, status: str = "available") -> float:
    """Seconds until ``GET /<kind>s/{id}`` shows ``status``."""
    start = time.monotonic()
    while time.monotonic() - start < TIMEOUT:
        body = api.get(f"/{kind}s/{item_id}").json()[kind]
        if body["status"] == status:
            return time.monotonic() - start
        if body["status"].startswith("error"):
            raise RuntimeError(f"{kind} {item_id}: {body}")
        time.sleep(0.05)
    raise RuntimeError(f"{kind} {item_id} did not reach {status}")


def timed_backup(api: VolumeApi, volume_id: str, **fields: Any) -> tuple[str, float]:
    start = time.monotonic()
    resp = api.post("/backups", json={"backup": {"volume_id": volume_id, **fields}})
    resp.raise_for_status()
    backup_id = resp.json()["backup"]["id"]
    wait(api, "backup", backup_id)
    return backup_id, time.monotonic() - start


def delete_backup(api: VolumeApi, backup_id: str) -> None:
    api.delete(f"/backups/{backup_id}")
    api.wait_for(lambda: api.get(f"/backups/{backup_id}").status_code == 404, "backup deleted",
                 TIMEOUT)  # fmt: skip


def stats(backups: Path, api: VolumeApi, backup_id: str) -> dict[str, Any]:
    """The manifest's account of how the backup found and read its data."""
    container = api.get(f"/backups/{backup_id}").json()["backup"]["container"]
    directory = backups / container
    manifest = next(directory.glob("*_metadata"))
    found: dict[str, Any] = json.loads(manifest.read_text())["manifest"]["stats"]
    return found


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user and system) of a process and every process under it, or of this
    one's finished children."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    from speed import cpu_seconds as tree_cpu
    from speed import descendants

    return tree_cpu(descendants(pid))


def cold_cache() -> None:
    """Write back and drop the page cache, so that what is read next comes from the disk."""
    os.sync()
    with suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def copy_rate(path: Path, data: int, runs: int = 3, cold: bool = True) -> tuple[float, float]:
    """The best of ``runs`` copies (the disk and CPUs are shared: the first is often slow)
    in MB/s, and the CPU seconds that copy took. ``cold``: the file read from the disk;
    else from the page cache (read once before)."""
    copy = path.parent / "cp-copy"
    best, best_cpu = float("inf"), 0.0
    for _ in range(runs):
        if cold:
            cold_cache()
        else:
            subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
        cpu = cpu_seconds()
        start = time.monotonic()
        subprocess.run(["cp", "--reflink=never", "--sparse=always", str(path), str(copy)],
                       check=True)  # fmt: skip
        subprocess.run(["sync", str(copy)], check=True)
        if time.monotonic() - start < best:
            best, best_cpu = time.monotonic() - start, cpu_seconds() - cpu
        copy.unlink()
    return data / MiB / best, best_cpu


def start(workdir: Path, volumes: Path, backups: Path, fmt: str, compression: str) -> Service:
    return launch(
        workdir,
        backends={"file-1": {"file_volume_dir": str(volumes), "file_volume_format": fmt,
                             "file_capacity_gb": "100"}},
        defaults={"backup_posix_path": str(backups), "backup_compression_algorithm": compression,
                  "quota_backup_gigabytes": "-1", "quota_backups": "-1"},
    )  # fmt: skip


def throughput(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    size = args.size_gib * GiB
    results: dict[str, Any] = {"algorithms": {}}
    for n, algorithm in enumerate(args.algorithms):
        svc = start(root / f"svc-{algorithm}", root / "volumes", root / "backups", "raw",
                    algorithm)  # fmt: skip
        try:
            api = svc.client()
            volume = api.create_volume(args.size_gib)["id"]
            path = svc.backends["file-1"].volume_path(volume)
            data = sum(length for _, length in fill(path, args.data_mib, size))
            if n == 0:
                results["copy_mb_s"], results["copy_cpu_s"] = copy_rate(path, data)
                results["copy_cached_mb_s"], _ = copy_rate(path, data, runs=2, cold=False)
            cold_cache()
            cpu = cpu_seconds(svc.process.pid)
            backup, seconds = timed_backup(api, volume)
            cpu = cpu_seconds(svc.process.pid) - cpu
            if algorithm == "none":  # the same measure twice: the better one, as for cp
                delete_backup(api, backup)
                cold_cache()
                again_cpu = cpu_seconds(svc.process.pid)
                backup, again = timed_backup(api, volume)
                if again < seconds:
                    seconds, cpu = again, cpu_seconds(svc.process.pid) - again_cpu
            cold_cache()
            start_restore = time.monotonic()
            api.post(f"/backups/{backup}/restore", json={"restore": {"volume_id": volume}})
            wait(api, "volume", volume)
            restore_seconds = time.monotonic() - start_restore
            stored = sum(p.stat().st_size for p in (root / "backups").rglob("*") if p.is_file())
            results["algorithms"][algorithm] = {
                "backup_s": seconds, "backup_mb_s": data / MiB / seconds, "backup_cpu_s": cpu,
                "restore_s": restore_seconds, "restore_mb_s": data / MiB / restore_seconds,
                "stored_mib": stored / MiB,
            }  # fmt: skip
            delete_backup(api, backup)
            api.delete_volume(volume)
        finally:
            svc.stop()
    results["data_mib"] = args.data_mib
    results["size_gib"] = args.size_gib
    return results


def incremental(root: Path, name: str, volumes: Path, fmt: str, args: argparse.Namespace
                ) -> dict[str, Any]:  # fmt: skip
    size = args.size_gib * GiB
    svc = start(root / f"svc-inc-{name}", volumes, root / f"backups-{name}", fmt, "none")
    try:
        api = svc.client()
        volume = api.create_volume(args.size_gib)["id"]
        path = svc.backends["file-1"].volume_path(volume)
        if fmt == "qcow2":
            raw = root / "staging.raw"
            with open(raw, "wb") as handle:
                handle.truncate(size)
            fill(raw, args.data_mib, size)
            subprocess.run(["qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", str(raw),
                            str(path)], check=True)  # fmt: skip
            raw.unlink()
        else:
            fill(path, args.data_mib, size)
        _, full_seconds = timed_backup(api, volume)
        changed = change_one_percent(path, size, fmt, 7)
        backup, seconds = timed_backup(api, volume, incremental=True)
        found = stats(root / f"backups-{name}", api, backup)
        return {"full_s": full_seconds, "incremental_s": seconds, "changed_bytes": changed,
                "read_bytes": found["read_bytes"], "method": found["method"],
                "read_ratio": found["read_bytes"] / changed}  # fmt: skip
    finally:
        svc.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fb-backup-bench-") as tmp, \
            loop_xfs(Path(tmp), args.xfs_gib) as xfs:  # fmt: skip
        results = throughput(xfs, args)
        results["incremental"] = {} if args.no_incremental else {
            "raw on XFS (reflink)": incremental(xfs, "xfs", xfs / "vol-xfs", "raw", args),
            "qcow2": incremental(xfs, "qcow2", xfs / "vol-qcow2", "qcow2", args),
            "raw without reflink": incremental(Path(tmp), "plain", Path(tmp) / "vol-plain",
                                               "raw", args),
        }  # fmt: skip
    none = results["algorithms"].get("none")
    if none:
        results["none_vs_copy"] = none["backup_mb_s"] / results["copy_mb_s"]
    return results


def table(r: dict[str, Any]) -> str:
    lines = [
        f"Backups of a {r['size_gib']} GiB raw volume holding {r['data_mib']} MiB "
        f"(XFS loop, posix store on the same filesystem)",
        f"cp --reflink=never + sync of the same file, from the disk: {r['copy_mb_s']:.1f} MB/s "
        f"({r['copy_cpu_s']:.2f} s of CPU); from the page cache: "
        f"{r['copy_cached_mb_s']:.1f} MB/s (for reference: a backup reads a new snapshot, "
        "which nothing has cached)",
        "",
        f"{'algorithm':<10} {'backup MB/s':>12} {'CPU s':>7} {'restore MB/s':>13} "
        f"{'stored MiB':>11}",
    ]
    for name, a in r["algorithms"].items():
        lines.append(
            f"{name:<10} {a['backup_mb_s']:>12.1f} {a['backup_cpu_s']:>7.2f} "
            f"{a['restore_mb_s']:>13.1f} {a['stored_mib']:>11.0f}"
        )
    if "none_vs_copy" in r:
        mark = "ok" if r["none_vs_copy"] >= TARGET_COPY_RATIO else "BELOW TARGET"
        lines.append(
            f"full backup (none) / copy rate: {r['none_vs_copy']:.2f} "
            f"(target >= {TARGET_COPY_RATIO}) {mark}"
        )
    lines += [
        "",
        f"{'incremental after 1 %':<24} {'method':<16} {'wall s':>7} "
        f"{'read MiB':>9} {'changed MiB':>12} {'ratio':>6}",
    ]
    for name, i in r["incremental"].items():
        lines.append(
            f"{name:<24} {i['method']:<16} {i['incremental_s']:>7.2f} "
            f"{i['read_bytes'] / MiB:>9.1f} {i['changed_bytes'] / MiB:>12.1f} "
            f"{i['read_ratio']:>6.2f}"
        )
    return "\n".join(lines)  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--size-gib", type=int, default=4)
    parser.add_argument("--data-mib", type=int, default=2048)
    parser.add_argument("--xfs-gib", type=int, default=24)
    parser.add_argument("--no-incremental", action="store_true",
                        help="measure the throughput only (a quicker run)")  # fmt: skip
    parser.add_argument("--algorithms", type=lambda s: s.split(","),
                        default=["none", "zlib", "zstd", "bz2"])  # fmt: skip
    args = parser.parse_args(argv)
    results = run(args)
    print(json.dumps(results, indent=2) if args.json else table(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
