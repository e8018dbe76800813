"""Groups scaled out: api, scheduler and volume roles as separate processes over a real
RabbitMQ and PostgreSQL; the volume role SIGKILLed in the middle of a group snapshot."""

from __future__ import annotations

import pytest

# The helpers are imported here before pytest_plugins loads the module as a plugin.
pytest.register_assert_rewrite("distributed")

from distributed import StartCluster, wait_for  # noqa: E402
from group_helpers import (  # noqa: E402
    create_from_src,
    create_group,
    create_group_snapshot,
    delete_group,
    group_type,
    member,
    member_snapshots,
    members_of,
    mv,
    volume_type,
    wait_group_snapshot,
    wait_group_snapshot_gone,
)
from lifecycle_helpers import pwrite_pattern, raw_holds  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration


def test_groups_across_processes_and_a_killed_volume_role(cluster_factory: StartCluster) -> None:
    cluster = cluster_factory(
        backends={"file-1": {"file_capacity_gb": "100", "file_copy_delay": "1.0"}}
    )
    cluster.wait_for_pools("file-1")
    folder = cluster.volume_dir("file-1")
    with cluster.client() as api:
        vt = volume_type(api)
        group = create_group(api, group_type(api), [vt])
        vols = [member(api, group, vt) for _ in range(3)]
        for i, vol in enumerate(vols):
            pwrite_pattern(folder / f"volume-{vol['id']}", 0x41 + i)
        gs = create_group_snapshot(api, group["id"], wait=None)

        def taken() -> int:
            return len([p for p in folder.iterdir() if p.name.startswith("snapshot-")])

        wait_for(lambda: taken() >= 1, "a first member snapshot")
        cluster.kill("volume-file-1")
        assert taken() < 3, "the kill came too late to interrupt the group snapshot"
        for i, vol in enumerate(vols):
            pwrite_pattern(folder / f"volume-{vol['id']}", 0x51 + i)
        cluster.start("volume-file-1")

        wait_group_snapshot(api, gs["id"], timeout=90)
        snaps = member_snapshots(api, gs["id"])
        assert {s["status"] for s in snaps} == {"available"} and len(snaps) == 3
        order = [v["id"] for v in vols]
        for snap in snaps:
            assert raw_holds(folder / f"snapshot-{snap['id']}",
                             0x51 + order.index(snap["volume_id"]))  # fmt: skip

        copy = create_from_src(api, group_snapshot_id=gs["id"])
        by_source = {s["id"]: s["volume_id"] for s in snaps}
        for volume in members_of(api, copy["id"]):
            index = order.index(by_source[volume["snapshot_id"]])
            assert raw_holds(folder / f"volume-{volume['id']}", 0x51 + index)

        delete_group(api, copy["id"])
        assert api.delete(f"/group_snapshots/{gs['id']}", headers=mv()).status_code == 202
        wait_group_snapshot_gone(api, gs["id"])
        delete_group(api, group["id"])
        assert cluster.volume_files("file-1") == []
        assert not [p for p in folder.iterdir() if p.name.startswith("snapshot-")]
