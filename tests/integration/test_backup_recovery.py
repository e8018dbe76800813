"""A backup service SIGKILLed mid-backup and mid-restore, then started again: nothing
half-done is left usable, the volume is back where Cinder puts it, and a retry works.

``backup_test_delay`` (fault injection) holds every 4 MiB read or restored, so that the
kill lands in the middle of the data."""

from __future__ import annotations

import signal
import time

import pytest
from backup_helpers import (
    MiB,
    create_backup,
    digest,
    restore,
    volume_file,
    wait_backup,
    write_pattern,
)

DEFAULTS = {"backup_test_delay": "0.3", "backup_compression_algorithm": "none"}
DATA = [(0, 48 * MiB)]


def _backup_dir(svc):
    root = svc.state_path / "backup"
    return {p for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()


def test_killed_mid_backup(start_service) -> None:
    svc = start_service(defaults=DEFAULTS)
    api = svc.client()
    vid = api.create_volume(1)["id"]
    write_pattern(volume_file(svc, vid), 1, DATA)
    backup = create_backup(api, vid, wait=None)
    api.wait_for(lambda: api.get(f"/volumes/{vid}").json()["volume"]["status"] == "backing-up",
                 "backing-up")  # fmt: skip
    time.sleep(2.0)
    assert api.get(f"/backups/{backup['id']}").json()["backup"]["status"] == "creating"
    assert svc.stop(signal.SIGKILL) == -signal.SIGKILL
    svc.restart()
    failed = wait_backup(api, backup["id"], "error")
    assert "restart" in failed["fail_reason"]
    assert api.wait_for_volume(vid)["status"] == "available"
    assert not [p for p in _backup_dir(svc) if backup["id"] in str(p)], _backup_dir(svc)
    refused = api.post(f"/backups/{backup['id']}/restore", json={"restore": None})
    api.assert_fault(refused, 400)
    # A new backup works, and restores the data.
    good = create_backup(api, vid, wait=None)
    good = wait_backup(api, good["id"], timeout=60)
    made = restore(api, good["id"])
    api.wait_for_volume(made["volume_id"], timeout=60)
    assert digest(volume_file(svc, made["volume_id"])) == digest(volume_file(svc, vid))
    assert api.delete(f"/backups/{backup['id']}").status_code == 202


def test_killed_mid_restore(start_service) -> None:
    svc = start_service(defaults=DEFAULTS)
    api = svc.client()
    vid = api.create_volume(1)["id"]
    write_pattern(volume_file(svc, vid), 2, DATA)
    expected = digest(volume_file(svc, vid))
    backup = wait_backup(api, create_backup(api, vid, wait=None)["id"], timeout=60)
    target = api.create_volume(1)["id"]
    restore(api, backup["id"], target)
    time.sleep(2.0)
    assert api.get(f"/volumes/{target}").json()["volume"]["status"] == "restoring-backup"
    svc.stop(signal.SIGKILL)
    svc.restart()
    assert api.wait_for_volume(target, "error_restoring")["status"] == "error_restoring"
    assert wait_backup(api, backup["id"])["status"] == "available"
    # The retry: the admin makes the volume available again and restores once more.
    api.post(f"/volumes/{target}/action", json={"os-reset_status": {"status": "available"}})
    api.wait_for_volume(target)
    restore(api, backup["id"], target)
    api.wait_for_volume(target, timeout=60)
    assert digest(volume_file(svc, target)) == expected


def _progress_spans(svc, backup_ids) -> list[tuple[float, float]]:
    """(first, last) createprogress time of each backup, from the notifications."""
    from datetime import datetime

    spans = []
    for backup_id in backup_ids:
        stamps = [datetime.strptime(n["timestamp"], "%Y-%m-%d %H:%M:%S.%f").timestamp()
                  for n in svc.notifications()
                  if n["event_type"] == "backup.createprogress"
                  and n["payload"]["backup_id"] == backup_id]  # fmt: skip
        assert len(stamps) >= 2, (backup_id, stamps)
        spans.append((min(stamps), max(stamps)))
    return spans


@pytest.mark.parametrize("operations", [1, 2])
def test_backup_max_operations(start_service, operations) -> None:
    svc = start_service(defaults={"backup_test_delay": "0.3", "backup_timer_interval": "0.1",
                                  "backup_max_operations": str(operations),
                                  "backup_compression_algorithm": "none"})  # fmt: skip
    api = svc.client()
    volumes = [api.create_volume(1)["id"] for _ in range(2)]
    for n, vid in enumerate(volumes):
        write_pattern(volume_file(svc, vid), n, [(0, 24 * MiB)])
    made = [create_backup(api, vid, wait=None)["id"] for vid in volumes]
    for backup_id in made:
        wait_backup(api, backup_id, timeout=90)
    (a0, a1), (b0, b1) = sorted(_progress_spans(svc, made))
    overlap = min(a1, b1) - max(a0, b0)
    if operations == 1:
        assert overlap < 0, "one data transfer at a time"
    else:
        assert overlap > 0, "two at once"
