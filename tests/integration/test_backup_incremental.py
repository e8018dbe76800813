"""Incrementals that read only what changed: raw volumes on an XFS with reflink (the
extent maps of the new point and the parent's), qcow2 volumes (the allocation of the
layers above the parent's point); without either, every data range is read and hashed.
Each point of the chain restores to exactly the data it had (SHA-256), and the bytes read
stay within twice the bytes that changed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from backup_helpers import (
    MiB,
    backup_objects,
    create_backup,
    digest,
    restore,
    volume_file,
    write_pattern,
)
from lifecycle_helpers import loop_xfs


def _stats(service, backup) -> dict:
    manifest = next(p for p in backup_objects(service, backup) if p.name.endswith("_metadata"))
    return json.loads(manifest.read_text())["manifest"]["stats"]


def _write(path: Path, fmt: str, seed: int, regions: list[tuple[int, int]]) -> None:
    if fmt == "raw":
        write_pattern(path, seed, regions)
        return
    commands = []
    for n, (offset, length) in enumerate(regions):
        commands += ["-c", f"write -P {(seed * 7 + n) % 251 + 1} {offset} {length}"]
    subprocess.run(["qemu-io", "-f", "qcow2", *commands, str(path)], check=True,
                   capture_output=True)  # fmt: skip


def _content(path: Path, fmt: str, tmp: Path) -> str:
    if fmt == "raw":
        return digest(path)
    raw = tmp / f"{path.name}.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(raw)],
                   check=True)  # fmt: skip
    try:
        return digest(raw)
    finally:
        raw.unlink()


@pytest.mark.parametrize(("fmt", "method"), [("raw", "extent-map"), ("qcow2", "allocation-map")])
def test_incrementals_read_what_changed(start_service, tmp_path, fmt, method) -> None:
    with loop_xfs(tmp_path) as xfs:
        svc = start_service(
            backends={"file-1": {"file_volume_dir": str(xfs / "volumes"),
                                 "file_volume_format": fmt}},
            defaults={"backup_compression_algorithm": "none"},
        )  # fmt: skip
        api = svc.client()
        vid = api.create_volume(1)["id"]
        path = volume_file(svc, vid)
        _write(path, fmt, 1, [(0, 32 * MiB), (512 * MiB, 32 * MiB)])
        points = [(create_backup(api, vid), _content(path, fmt, tmp_path))]
        assert _stats(svc, points[0][0])["method"] == "full"
        changes = [[(4 * MiB, MiB), (600 * MiB, MiB)], [(8 * MiB, 2 * MiB)],
                   [(0, MiB), (1000 * MiB, MiB)]]  # fmt: skip
        for n, regions in enumerate(changes):
            path = volume_file(svc, vid)
            _write(path, fmt, 10 + n, regions)
            backup = create_backup(api, vid, incremental=True)
            points.append((backup, _content(volume_file(svc, vid), fmt, tmp_path)))
            stats = _stats(svc, backup)
            changed = sum(length for _, length in regions)
            assert stats["method"] == method, stats
            assert 0 < stats["read_bytes"] <= 2 * changed, (stats, changed)
        if fmt == "qcow2":
            # The chain stays short: the newest point and the one merged under it.
            bases = [p for p in (xfs / "volumes").iterdir() if p.name.startswith("clone-base-")]
            assert len(bases) == 2, bases
        for backup, expected in points:
            made = restore(api, backup["id"])
            api.wait_for_volume(made["volume_id"], timeout=60)
            assert _content(volume_file(svc, made["volume_id"]), fmt, tmp_path) == expected
            api.delete_volume(made["volume_id"])
        # The volume itself still holds its data and can be deleted with its points.
        assert _content(volume_file(svc, vid), fmt, tmp_path) == points[-1][1]
        for backup, _ in reversed(points):
            assert api.delete(f"/backups/{backup['id']}").status_code == 202
            api.wait_for(lambda b=backup: api.get(f"/backups/{b['id']}").status_code == 404,
                         "backup deleted")  # fmt: skip
        api.delete_volume(vid)
        leftovers = [p.name for p in (xfs / "volumes").iterdir() if not p.name.startswith(".")]
        assert leftovers == [], leftovers
        svc.stop()


def test_without_reflink_every_data_range_is_hashed(start_service) -> None:
    svc = start_service(defaults={"backup_compression_algorithm": "none"})
    api = svc.client()
    vid = api.create_volume(1)["id"]
    path = volume_file(svc, vid)
    write_pattern(path, 1, [(0, 8 * MiB)])
    create_backup(api, vid)
    write_pattern(path, 2, [(MiB, MiB)])
    backup = create_backup(api, vid, incremental=True)
    stats = _stats(svc, backup)
    # Holes are skipped: the 8 MiB of data are read, not the 1 GiB volume.
    assert stats["method"] == "hash" and stats["read_bytes"] == 8 * MiB
    assert stats["changed_bytes"] == MiB
