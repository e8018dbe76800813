"""Faults around an RBD backend: the OSD restarted under a stream of creates, a volume
service SIGKILLed in the middle of creates and deletes, and two volume services serving
one RBD backend (active-active, one queue) with one of them killed mid-create.

The invariant each time: every accepted volume ends ``available`` (or gone, when it was
deleted), and the pool holds exactly the images of the volumes that exist — no stuck
volume, no orphan image.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.register_assert_rewrite("distributed")

from ceph_helpers import rbd_backend  # noqa: E402
from distributed import StartCluster, wait_for  # noqa: E402
from harness import Service, launch  # noqa: E402
from infra.ceph import CephCluster  # noqa: E402

pytest_plugins = ["distributed"]

ADMIN = "3.71"
GiB = 1024**3


def volume_images(ceph: CephCluster, pool: str) -> set[str]:
    """Volume ids with an image in ``pool`` (hidden parents and others left out)."""
    return {i.removeprefix("volume-") for i in ceph.images(pool)
            if i.startswith("volume-") and "." not in i}  # fmt: skip


@pytest.fixture
def fault_pool(ceph: CephCluster) -> Iterator[str]:
    """A pool of the test's own, so that the image census sees only its volumes."""
    name = f"faults{int(time.monotonic() * 1000) % 100000}"
    ceph.create_pool(name)
    yield name


@pytest.fixture
def rbd_svc(ceph: CephCluster, fault_pool: str, tmp_path: Any) -> Iterator[Any]:
    started: list[Service] = []

    def start(**options: str) -> Service:
        svc = launch(tmp_path / f"svc{len(started)}",
                     backends={"rbd-1": rbd_backend(ceph, fault_pool, **options)},
                     defaults={"quota_volumes": "-1", "quota_gigabytes": "-1"})  # fmt: skip
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


def test_osd_restarted_under_a_stream_of_creates_every_accepted_volume_ends_available(
    ceph: CephCluster, fault_pool: str, rbd_svc: Any
) -> None:
    svc = rbd_svc()
    accepted: list[str] = []
    errors: list[str] = []

    def stream() -> None:
        with svc.client(microversion=ADMIN) as api:
            for _ in range(16):
                resp = api.post("/volumes", json={"volume": {"size": 1}})
                if resp.status_code == 202:
                    accepted.append(resp.json()["volume"]["id"])
                else:
                    errors.append(f"{resp.status_code} {resp.text}")
                time.sleep(0.25)

    creator = threading.Thread(target=stream)
    creator.start()
    wait_for(lambda: len(accepted) >= 3, "the first creates", 30)
    ceph.kill_osd()  # a crash: I/O to it blocks until it is back
    time.sleep(3)
    ceph.start_osd()
    creator.join(120)
    assert not errors, errors
    assert len(accepted) == 16
    with svc.client(microversion=ADMIN) as api:
        finals = [api.wait_for_volume(v, timeout=180) for v in accepted]
    assert {v["status"] for v in finals} == {"available"}
    assert volume_images(ceph, fault_pool) == set(accepted)


def test_volume_service_killed_mid_create_and_mid_delete_leaves_nothing_stuck_or_orphaned(
    ceph: CephCluster, fault_pool: str, rbd_svc: Any
) -> None:
    svc = rbd_svc(rbd_create_delay="3")
    with svc.client(microversion=ADMIN) as api:
        keep = api.create_volume(1)  # made before the crash; deleted in the middle of it
        ids = [api.post("/volumes", json={"volume": {"size": 1}}).json()["volume"]["id"]
               for _ in range(3)]  # fmt: skip
        wait_for(lambda: volume_images(ceph, fault_pool) - {keep["id"]}, "an image made", 30)
        assert api.delete(f"/volumes/{keep['id']}").status_code == 202
        svc.stop(9)  # SIGKILL: mid-create (held after the image exists) and mid-delete
        svc.restart()
        finals = [api.wait_for_volume(v, timeout=120) for v in ids]
        api.wait_for_gone(keep["id"], timeout=60)
    assert {v["status"] for v in finals} == {"available"}
    assert volume_images(ceph, fault_pool) == set(ids)


def test_two_volume_services_on_one_rbd_backend_one_killed_mid_create(
    ceph: CephCluster, fault_pool: str, cluster_factory: StartCluster
) -> None:
    backend = rbd_backend(ceph, fault_pool, rbd_create_delay="2")
    cluster = cluster_factory(
        backends={"rbd-1": backend},
        defaults={"transitional_status_timeout": "8", "reconcile_interval": "2"},
        roles=("api", "scheduler", "volume-rbd-1", "volume-rbd-1#2"),
    )
    cluster.wait_for_pools("rbd-1")
    with cluster.client() as api:
        ids = [api.create() for _ in range(6)]
        # Both processes take requests from the one queue of host@rbd-1.
        wait_for(lambda: volume_images(ceph, fault_pool), "an image made", 30)
        cluster.kill("volume-rbd-1")
        finals = [api.wait_for_volume(v, timeout=120) for v in ids]
        assert {v["status"] for v in finals} == {"available"}, finals
        assert volume_images(ceph, fault_pool) == set(ids)
        # The survivor also deletes what the dead one made.
        for volume_id in ids:
            assert api.delete(f"/volumes/{volume_id}").status_code == 202
        for volume_id in ids:
            api.wait_for_gone(volume_id)
    assert volume_images(ceph, fault_pool) == set()
    worked = [cluster.role(n).log() for n in ("volume-rbd-1", "volume-rbd-1#2")]
    assert all("volume_create_manager" in log for log in worked), "one process did nothing"


def test_an_image_left_half_made_by_a_killed_create_is_made_again(
    ceph: CephCluster, fault_pool: str, rbd_svc: Any
) -> None:
    """A volume service killed inside ``rbd create`` leaves the image's name without its
    header; the create it resumes at its start makes the image again."""
    svc = rbd_svc(rbd_create_delay="30")
    with svc.client() as api:
        volume_id = api.create_volume(1, wait=None)["id"]
        wait_for(lambda: volume_images(ceph, fault_pool) == {volume_id}, "the image made", 30)
    svc.stop(signal.SIGKILL)
    spec = f"{fault_pool}/volume-{volume_id}"
    image_id = str(ceph.image_info(spec)["id"])
    ceph.run("rados", "-p", fault_pool, "rm", f"rbd_header.{image_id}")  # as a kill mid-create
    svc.restart()
    with svc.client() as api:
        assert api.wait_for_volume(volume_id, timeout=120)["status"] == "available"
    assert int(ceph.image_info(spec)["size"]) == GiB
