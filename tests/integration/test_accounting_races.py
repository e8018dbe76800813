"""Two accounting races of the scaled-out roles, each window widened with a test hook.

1. A volume service's first report counts the allocations of its pools from the volume
   rows and writes them: a placement the scheduler commits between the count and the
   write was overwritten (the pool's ``allocated_capacity_gb`` short by it until the next
   restart). The count is now taken under the pools' lock, after the driver's figures.
2. Two processes serving one backend that both handle the same delete (the reconciler
   sends it again while the first is still deleting) gave the quota and the allocation
   back twice. Only the one whose delete removed the row gives them back.

Both on PostgreSQL, where transactions really run side by side.
"""

from __future__ import annotations

import time

import pytest

pytest.register_assert_rewrite("distributed")

from distributed import Client, Cluster, StartCluster, wait_for  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration


def allocated_gb(api: Client) -> float:
    pools = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()["pools"]
    return float(sum(p["capabilities"]["allocated_capacity_gb"] for p in pools))


def in_use(api: Client) -> dict[str, int]:
    found = api.get(f"/os-quota-sets/{api.project}", params={"usage": "true"}).json()
    return {k: v["in_use"] for k, v in found["quota_set"].items() if isinstance(v, dict)}


def wait_available(api: Client, ids: list[str]) -> None:
    for volume_id in ids:
        assert api.wait_for_final(volume_id, timeout=60)["status"] == "available"


def test_placements_during_a_starting_services_count_are_kept(
    cluster_factory: StartCluster,
) -> None:
    cluster: Cluster = cluster_factory(
        backends={"file-1": {}}, defaults={"service_down_time": "60"}
    )
    cluster.wait_for_pools("file-1")
    with cluster.client() as api:
        before = [api.create() for _ in range(2)]
        wait_available(api, before)
        cluster.stop("volume-file-1")
        # Its first report now holds 4 s in the driver: placements land meanwhile (the
        # service still counts as up: its last heartbeat is recent).
        cluster.overrides["volume-file-1"] = {"file-1": {"file_stats_delay": "4"}}
        role = cluster.spawn("volume-file-1")
        wait_for(lambda: "holding the capacity report" in role.log(), "the report held", 30)
        during = [api.create(size=2) for _ in range(3)]
        cluster.wait_ready("volume-file-1")
        wait_available(api, during)
        # Every volume counted once: 2 x 1 GiB before, 3 x 2 GiB during the count.
        wait_for(lambda: allocated_gb(api) == 8, f"allocations exact ({allocated_gb(api)})", 10)
        time.sleep(2)  # and still exact after more reports
        assert allocated_gb(api) == 8


def test_a_delete_handled_by_two_processes_gives_back_once(
    cluster_factory: StartCluster,
) -> None:
    cluster: Cluster = cluster_factory(
        backends={"file-1": {"file_delete_delay": "4"}},
        defaults={"transitional_status_timeout": "1", "reconcile_interval": "1"},
        roles=("api", "scheduler", "volume-file-1", "volume-file-1#2"),
    )
    cluster.wait_for_pools("file-1")
    with cluster.client() as api:
        ids = [api.create() for _ in range(4)]
        wait_available(api, ids)
        assert in_use(api)["volumes"] == 4 and allocated_gb(api) == 4
        for volume_id in ids[:2]:
            assert api.delete(f"/volumes/{volume_id}").status_code == 202
        for volume_id in ids[:2]:
            api.wait_for_gone(volume_id, timeout=60)

        def second_delete_ended() -> bool:
            logs = cluster.role("volume-file-1").log() + cluster.role("volume-file-1#2").log()
            return any(
                logs.count(f"Volume {v}: deleted from") + logs.count(f"Volume {v}: already") >= 2
                for v in ids[:2]
            )

        # The reconciler sent each delete again while the first was in the driver, and
        # the other process took it: both processes deleted, one gave back.
        wait_for(second_delete_ended, "a second process ending the same delete", 20)
        time.sleep(1)
        usage = in_use(api)
        assert (usage["volumes"], usage["gigabytes"]) == (2, 2), usage
        assert allocated_gb(api) == 2
