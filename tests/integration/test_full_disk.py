"""A full backend disk ends in a clean state (issue 20): a thick extend that does not fit
leaves the volume as it was, with its file at its old size and the space given back, so
the next create still fits; a create or a copy that does not fit leaves no file."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from harness import VolumeApi, launch
from lifecycle_helpers import loop_fs

pytestmark = [pytest.mark.integration, pytest.mark.faults]

GiB = 1 << 30
MV = VolumeApi.mv


def free_bytes(path: Path) -> int:
    fs = os.statvfs(path)
    return fs.f_bavail * fs.f_frsize


def volume_file(directory: Path, volume_id: str) -> Path:
    return directory / f"volume-{volume_id}"


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_a_thick_extend_that_does_not_fit_gives_the_space_back(
    start_service, tmp_path: Path, fstype: str
) -> None:
    with loop_fs(tmp_path, fstype, 4 * GiB) as mountpoint:
        directory = mountpoint / "volumes"
        backend = {
            "file_volume_dir": str(directory),
            "file_thin_provisioning": "false",
            "max_over_subscription_ratio": "1",
        }
        # The pool's free space is the one reported at start: something else then fills
        # the disk, as other users of a shared filesystem do, and the extend reaches the
        # driver with less room than the report said.
        svc = start_service(backends={"file-1": backend}, defaults={"report_interval": "600"})
        with svc.client("full") as api:
            volume = api.create_volume(size=1)
            path = volume_file(directory, volume["id"])
            assert path.stat().st_size == GiB
            filler = os.open(mountpoint / "filler", os.O_CREAT | os.O_WRONLY, 0o600)
            os.posix_fallocate(filler, 0, free_bytes(directory) - (400 << 20))
            os.close(filler)
            free_before = free_bytes(directory)
            assert free_before < GiB  # a second GiB does not fit

            resp = api.post(f"/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 2}})
            assert resp.status_code == 202, resp.text
            failed = api.wait_for_volume(volume["id"], "error_extending")
            assert failed["size"] == 1
            assert path.stat().st_size == GiB, "the file kept what the failed fallocate got"
            assert free_bytes(directory) >= free_before - (1 << 20)
            messages = api.get("/messages", headers=MV("3.3")).json()["messages"]
            assert any(m["resource_uuid"] == volume["id"] for m in messages)

            # The disk is not left full: what fits still fits once the filler goes.
            (mountpoint / "filler").unlink()
            api.post(f"/volumes/{volume['id']}/action",
                     json={"os-reset_status": {"status": "available"}})  # fmt: skip
            other = api.create_volume(size=1)
            api.delete_volume(other["id"])
            api.delete_volume(volume["id"])
            assert not path.exists()
            leftovers = [p.name for p in directory.iterdir() if p.name.startswith(".tmp-")]
            assert leftovers == []


def test_a_full_log_disk_costs_one_line_per_outage(start_service, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(logs)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        svc = start_service(defaults={"log_dir": str(logs)})
        filler = logs / "filler"
        fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)  # the rest of the log disk
        try:
            while os.write(fd, b"x" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        with svc.client("logs") as api:
            for _ in range(5):
                api.delete_volume(api.create_volume()["id"])
            output = svc.output()
            assert "--- Logging error ---" not in output
            assert output.count("cannot write") <= len(list(logs.glob("*.log")))
            assert "cannot write" in output
            filler.unlink()
            api.delete_volume(api.create_volume()["id"])
            assert "log records were lost" in svc.output()
    finally:
        subprocess.run(["umount", "-l", str(logs)], check=False)


def pool_of(api: VolumeApi) -> dict:
    pools = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"]
    return pools[0]["capabilities"]


def backend_state(api: VolumeApi) -> str:
    services = api.get("/os-services", params={"binary": "cinder-volume"},
                       headers=MV("3.49")).json()["services"]  # fmt: skip
    return services[0]["backend_state"]


def test_a_read_only_or_unmounted_backend_is_reported_down_and_comes_back(
    start_service, tmp_path: Path
) -> None:
    with loop_fs(tmp_path, "ext4", 2 * GiB) as mountpoint:
        directory = mountpoint / "volumes"
        svc = start_service(backends={"file-1": {"file_volume_dir": str(directory)}})
        with svc.client("gone") as api:
            kept = api.create_volume()

            subprocess.run(["mount", "-o", "remount,ro", str(mountpoint)], check=True)
            api.wait_for(lambda: pool_of(api).get("backend_state") == "down", "down")
            caps = pool_of(api)
            assert caps["free_capacity_gb"] == 0 and caps["total_capacity_gb"] == 0
            assert "read-only" in caps["backend_state_reason"]
            assert backend_state(api) == "down"
            refused = api.create_volume(wait="error")
            detail = [m["user_message"] for m in api.get(
                "/messages", headers=MV("3.3")).json()["messages"]
                if m["resource_uuid"] == refused["id"]]  # fmt: skip
            assert detail and "read-only" in detail[0], detail

            subprocess.run(["mount", "-o", "remount,rw", str(mountpoint)], check=True)
            api.wait_for(lambda: pool_of(api).get("backend_state") == "up", "up again")
            assert backend_state(api) == "up"
            api.delete_volume(api.create_volume()["id"])

            # Unmounted from under the service: an empty directory is not the backend.
            subprocess.run(["umount", str(mountpoint)], check=True)
            api.wait_for(lambda: pool_of(api).get("backend_state") == "down", "down")
            assert "unmounted" in pool_of(api)["backend_state_reason"]
            # A restart meanwhile does not take the empty mount point for a new backend.
            svc.restart()
            api.wait_for(lambda: pool_of(api).get("backend_state") == "down", "still down")
            assert not (mountpoint / "volumes").exists()
            subprocess.run(["mount", "-o", "loop", str(tmp_path / "ext4.img"),
                            str(mountpoint)], check=True)  # fmt: skip
            api.wait_for(lambda: pool_of(api).get("backend_state") == "up", "back")
            assert (directory / f"volume-{kept['id']}").exists()
            api.delete_volume(kept["id"])


def test_a_full_database_disk_answers_503_and_work_in_flight_finishes_when_it_frees(
    tmp_path: Path,
) -> None:
    (tmp_path / "svc").mkdir()
    with loop_fs(tmp_path, "ext4", 64 << 20) as mountpoint:
        # The service's SQLite database on the small disk; its volumes and logs elsewhere.
        database = mountpoint / "firebrick.sqlite"
        svc = launch(
            tmp_path / "svc",
            backends={"file-1": {"file_create_delay": "3"}},
            defaults={"transitional_status_timeout": "600"},
            database=f"sqlite:///{database}",
        )  # fmt: skip
        try:
            with svc.client("dbfull") as api:
                resp = api.post("/volumes", json={"volume": {"size": 1}})
                assert resp.status_code == 202, resp.text
                in_flight = resp.json()["volume"]["id"]
                filler = mountpoint / "filler"
                fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
                try:
                    while os.write(fd, b"\0" * 65536):
                        pass
                except OSError:
                    pass
                finally:
                    os.close(fd)

                # The database's files may still have room for a few pages.
                accepted = [in_flight]
                for _ in range(200):
                    refused = api.post("/volumes", json={"volume": {"size": 1}})
                    if refused.status_code != 202:
                        break
                    accepted.append(refused.json()["volume"]["id"])
                message = api.assert_fault(refused, 503)
                assert "storage is full" in message
                assert refused.headers["Retry-After"] == "5"
                assert api.get(f"/volumes/{in_flight}").status_code == 200  # reads work
                time.sleep(4)  # the create's final write meets the full disk
                shown = api.get(f"/volumes/{in_flight}").json()["volume"]
                assert shown["status"] == "creating"

                filler.unlink()
                freed = time.monotonic()
                for volume_id in accepted:
                    api.wait_for_volume(volume_id, "available", timeout=30)
                assert time.monotonic() - freed < 25  # not the reconciler's 600 s
                assert api.volume_count() == len(accepted)
        finally:
            svc.stop()
        check = subprocess.run(["sqlite3", str(database), "PRAGMA integrity_check"],
                               capture_output=True, text=True)  # fmt: skip
        assert check.returncode != 0 or check.stdout.strip() == "ok", check.stdout
