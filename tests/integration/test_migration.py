"""Moving volumes between backends: ``os-migrate_volume``, ``os-retype`` with
``migration_policy=on-demand`` and ``os-migrate_volume_completion``, driven by
python-cinderclient, openstacksdk, the ``openstack`` CLI and plain HTTP.

Data is checked on the real files: a random pattern written into the source's file is
read back from the destination backend's file, and the source's file is gone.
Allocations of both pools and the project's quota are checked exactly.
"""

from __future__ import annotations

import signal
import uuid

import pytest

pytest.register_assert_rewrite("lifecycle_helpers", "migration_helpers")

from lifecycle_helpers import (  # noqa: E402
    cinder_for,
    create_snapshot,
    create_type,
    events,
    messages_for,
    quota_usage,
    reset_volume,
    sdk_for,
)
from migration_helpers import (  # noqa: E402
    MV,
    GiB,
    allocations,
    copies_of,
    holds,
    migrate,
    openstack_cli,
    other_backend,
    pool_of,
    show,
    wait_migration,
    wait_no_copies,
    write_random,
)

TWO = {"file-1": {"file_capacity_gb": "100"}, "file-2": {"file_capacity_gb": "100"}}


def volume_file(service, vol):
    """The file holding ``vol``'s data, from its host and name_id."""
    backend = vol["os-vol-host-attr:host"].split("@", 1)[1].split("#", 1)[0]
    return service.backends[backend].volume_path(vol["os-vol-mig-status-attr:name_id"] or vol["id"])


def test_cinderclient_migration_moves_the_data_and_keeps_the_id(
    service, api, project, tempest_schemas
):
    vol = api.create_volume(size=1, name="to-move", metadata={"k": "v"})
    source_file = volume_file(service, vol)
    written = write_random(source_file, seed=1)
    dest_backend = other_backend(service, vol)
    dest_pool = pool_of(service, dest_backend)
    before_pools, before_quota = allocations(api), quota_usage(api)

    cinder = cinder_for(service, project)
    cinder.volumes.migrate_volume(vol["id"], dest_pool, False, False)
    moved = wait_migration(api, vol["id"])
    wait_no_copies(api, vol["id"])

    assert moved["migration_status"] == "success"
    assert moved["os-vol-mig-status-attr:migstat"] == "success"
    assert (moved["id"], moved["status"], moved["size"]) == (vol["id"], "available", 1)
    assert (moved["name"], moved["metadata"]) == ("to-move", {"k": "v"})
    assert moved["os-vol-host-attr:host"] == dest_pool
    name_id = moved["os-vol-mig-status-attr:name_id"]
    assert name_id and name_id != vol["id"]
    dest_file = service.backends[dest_backend].volume_path(name_id)
    assert holds(dest_file, written)
    assert dest_file.stat().st_blocks * 512 < 64 * (1 << 20), "the copy lost its holes"
    assert not source_file.exists()
    assert f"{dest_backend}/volume-{name_id}" in service.volume_files()

    after = allocations(api)
    assert after[vol["os-vol-host-attr:host"]] == before_pools[vol["os-vol-host-attr:host"]] - 1
    assert after[dest_pool] == before_pools[dest_pool] + 1
    assert quota_usage(api) == before_quota
    # The temporary copy is announced nowhere (Cinder's use_quota=False volumes).
    copy_events = [n for n in service.notifications()
                   if n["event_type"].startswith("volume.")
                   and n["payload"].get("volume_id") not in (None, vol["id"])
                   and n["payload"].get("display_name") == "to-move"]  # fmt: skip
    assert copy_events == []

    for version in ("3.0", "3.48", "3.61", "3.63", "3.65", "3.69"):
        resp = api.get(f"/volumes/{vol['id']}", headers=api.mv(version))
        ref = {"3.61": "v3_61", "3.63": "v3_63", "3.65": "v3_65", "3.69": "v3_69"}.get(version)
        tempest_schemas.check(f"{ref}.volumes.show_volume" if ref else "volumes.show_volume",
                              resp)  # fmt: skip

    # The volume keeps working where it is now: extend, snapshot, delete.
    cinder.volumes.extend(vol["id"], 2)
    api.wait_for(lambda: show(api, vol["id"])["size"] == 2, "extended")
    assert dest_file.stat().st_size == 2 * GiB
    snap = create_snapshot(api, vol["id"])
    assert (service.backends[dest_backend].volume_dir / f"snapshot-{snap['id']}").exists()
    assert api.delete(f"/snapshots/{snap['id']}").status_code == 202
    api.wait_for(lambda: api.get(f"/snapshots/{snap['id']}").status_code == 404, "snap gone")
    api.delete_volume(vol["id"])
    assert not dest_file.exists()
    assert allocations(api)[dest_pool] == before_pools[dest_pool]


def test_openstack_cli_and_openstacksdk_migrate_there_and_back(service, api, project):
    vol = api.create_volume(size=1, name=f"cli-{uuid.uuid4().hex[:6]}")
    home = vol["os-vol-host-attr:host"]
    written = write_random(volume_file(service, vol), seed=2)
    away = pool_of(service, other_backend(service, vol))

    done = openstack_cli(service, project, "volume", "migrate", "--host", away, vol["id"])
    assert done.returncode == 0, done.stderr
    moved = wait_migration(api, vol["id"])
    assert (moved["migration_status"], moved["os-vol-host-attr:host"]) == ("success", away)
    wait_no_copies(api, vol["id"])

    conn = sdk_for(service, project)
    try:
        conn.block_storage.migrate_volume(vol["id"], host=home, lock_volume=True)
        back = show(api, vol["id"])
        assert back["status"] in ("maintenance", "available")
        back = wait_migration(api, vol["id"], ("success", "error"))
        api.wait_for(lambda: show(api, vol["id"])["os-vol-host-attr:host"] == home, "home")
    finally:
        conn.close()
    back = show(api, vol["id"])
    assert (back["status"], back["migration_status"]) == ("available", "success")
    assert holds(volume_file(service, back), written)
    wait_no_copies(api, vol["id"])
    assert {p.name for p in service.backends[other_backend(service, back)].volume_dir.iterdir()
            if vol["id"] in p.name} == set()  # fmt: skip


def test_retype_on_demand_moves_the_volume_to_a_backend_of_the_new_type(
    service, api, project, tempest_schemas
):
    vol = api.create_volume(size=1)
    source_backend = vol["os-vol-host-attr:host"].split("@", 1)[1].split("#", 1)[0]
    old_type = create_type(api, volume_backend_name=source_backend)
    dest_backend = other_backend(service, vol)
    new_type = create_type(api, volume_backend_name=dest_backend)
    vol = api.create_volume(size=1, volume_type=old_type["name"])
    written = write_random(volume_file(service, vol), seed=3)
    before_pools = allocations(api)
    before = quota_usage(api)

    cinder = cinder_for(service, project)
    cinder.volumes.retype(vol["id"], new_type["name"], "on-demand")
    api.wait_for(lambda: show(api, vol["id"])["volume_type"] == new_type["name"], "new type")
    retyped = show(api, vol["id"])
    wait_no_copies(api, vol["id"])

    assert retyped["status"] == "available"
    assert retyped["migration_status"] == "success"
    assert retyped["os-vol-host-attr:host"] == pool_of(service, dest_backend)
    assert retyped["volume_type_id"] == new_type["id"]
    assert holds(volume_file(service, retyped), written)
    after = quota_usage(api)
    assert after[f"volumes_{new_type['name']}"]["in_use"] == 1
    assert after[f"gigabytes_{new_type['name']}"]["in_use"] == 1
    assert after[f"volumes_{old_type['name']}"]["in_use"] == 0
    assert after["volumes"] == before["volumes"] and after["gigabytes"] == before["gigabytes"]
    pools = allocations(api)
    assert pools[vol["os-vol-host-attr:host"]] == before_pools[vol["os-vol-host-attr:host"]] - 1
    assert pools[retyped["os-vol-host-attr:host"]] == (
        before_pools[retyped["os-vol-host-attr:host"]] + 1
    )
    note = events(service, "volume.retype", volume_id=vol["id"])
    assert len(note) == 1 and note[0]["payload"]["volume_type"] == new_type["id"]
    assert note[0]["publisher_id"] == f"volume.{service.host}@{dest_backend}"
    resp = api.get(f"/volumes/{vol['id']}", headers=api.mv("3.63"))
    tempest_schemas.check("v3_63.volumes.show_volume", resp)

    # `never` leaves it where it is, and says why.
    resp = api.post(f"/volumes/{vol['id']}/action",
                    json={"os-retype": {"new_type": old_type["name"]}})  # fmt: skip
    tempest_schemas.check("volumes.retype_volume", resp)
    stayed = show(api, vol["id"])
    assert (stayed["volume_type"], stayed["os-vol-host-attr:host"]) == (
        new_type["name"], retyped["os-vol-host-attr:host"],
    )  # fmt: skip
    said = messages_for(api, vol["id"])
    assert any("Retype requires migration but is not allowed" in m["user_message"] for m in said)


def test_openstack_cli_retype_policy_on_demand(service, api, project):
    vol = api.create_volume(size=1)
    dest = other_backend(service, vol)
    new_type = create_type(api, volume_backend_name=dest)
    done = openstack_cli(service, project, "volume", "set", "--type", new_type["name"],
                         "--retype-policy", "on-demand", vol["id"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    api.wait_for(lambda: show(api, vol["id"])["volume_type"] == new_type["name"], "new type")
    moved = show(api, vol["id"])
    assert moved["os-vol-host-attr:host"] == pool_of(service, dest)
    assert moved["status"] == "available"


def test_retype_that_cannot_move_the_volume_leaves_it_and_says_why(service, api):
    vol = api.create_volume(size=1)
    elsewhere = create_type(api, volume_backend_name=other_backend(service, vol))
    nowhere = create_type(api, volume_backend_name="no-such-backend")

    create_snapshot(api, vol["id"])
    resp = api.post(f"/volumes/{vol['id']}/action",
                    json={"os-retype": {"new_type": elsewhere["name"],
                                        "migration_policy": "on-demand"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    kept = show(api, vol["id"])
    assert (kept["volume_type"], kept["status"], kept["migration_status"]) == (
        vol["volume_type"], "available", None,
    )  # fmt: skip
    assert any("must not have snapshots" in m["user_message"]
               for m in messages_for(api, vol["id"]))  # fmt: skip

    other = api.create_volume(size=1)
    before = quota_usage(api)
    resp = api.post(f"/volumes/{other['id']}/action",
                    json={"os-retype": {"new_type": nowhere["name"],
                                        "migration_policy": "on-demand"}})  # fmt: skip
    assert resp.status_code == 202, resp.text
    api.wait_for(lambda: messages_for(api, other["id"]), "a user message")
    assert "No valid backend" in messages_for(api, other["id"])[0]["user_message"]
    after = show(api, other["id"])
    # Never placed: back as it was, its migration status untouched (as in Cinder).
    assert (after["status"], after["migration_status"], after["volume_type"]) == (
        "available", None, other["volume_type"],
    )  # fmt: skip
    assert after["os-vol-host-attr:host"] == other["os-vol-host-attr:host"]
    assert quota_usage(api) == before
    api.wait_for(lambda: events(service, "scheduler.retype", volume_id=other["id"]), "event")
    note = events(service, "scheduler.retype", volume_id=other["id"])[0]
    assert note["priority"] == "ERROR"
    assert note["payload"]["method"] == "retype"


def test_migration_to_a_backend_that_does_not_fit_ends_in_error(service, api):
    pinned = create_type(api, volume_backend_name="file-1")
    vol = api.create_volume(size=1, volume_type=pinned["name"])
    assert vol["os-vol-host-attr:host"] == pool_of(service, "file-1")
    before = allocations(api)
    resp = migrate(api, vol["id"], host=pool_of(service, "file-2"))
    assert resp.status_code == 202, resp.text
    failed = wait_migration(api, vol["id"], ("error",))
    assert (failed["status"], failed["os-vol-host-attr:host"]) == (
        "available", pool_of(service, "file-1"),
    )  # fmt: skip
    assert copies_of(api, vol["id"]) == []
    assert allocations(api) == before
    api.wait_for(lambda: messages_for(api, vol["id"]), "a user message")
    message = messages_for(api, vol["id"])[0]
    assert "CapabilitiesFilter" in message["user_message"]
    note = events(service, "scheduler.migrate_volume_to_host", volume_id=vol["id"])
    assert note and note[0]["priority"] == "ERROR"
    assert note[0]["payload"]["state"]["migration_status"] == "error"

    # A failed migration does not stop the next one.
    assert api.delete(f"/types/{pinned['id']}/extra_specs/volume_backend_name").status_code in (
        200, 202,
    )  # fmt: skip
    assert migrate(api, vol["id"], host=pool_of(service, "file-2")).status_code == 202
    assert wait_migration(api, vol["id"])["migration_status"] == "success"


# ---------------------------------------------------------------------------------------
# refusals: Cinder's 4xx, and nothing changes


def assert_unchanged(api, before):
    now = show(api, before["id"])
    for key in ("status", "migration_status", "os-vol-host-attr:host",
                "os-vol-mig-status-attr:name_id", "volume_type", "size"):  # fmt: skip
        assert now[key] == before[key], key
    assert copies_of(api, before["id"]) == []


@pytest.mark.parametrize(
    ("body", "version", "needle"),
    [
        ({}, MV, "One and only one of cluster and host must be set."),
        ({}, "3.15", "'host' is a required property"),
        ({"host": "x", "cluster": "y"}, MV, "One and only one of cluster and host"),
        ({"host": "x", "cluster": "y"}, "3.15", "Additional properties are not allowed"),
        ({"host": "x", "bogus": 1}, MV, "Additional properties are not allowed"),
        ({"host": 7}, MV, "host must be a string"),
        ({"host": "x" * 256}, MV, "host must be a string of at most 255"),
        ({"host": "PLACE", "force_host_copy": "maybe"}, MV, "force_host_copy must be a boolean"),
        ({"host": "PLACE", "lock_volume": [1]}, MV, "lock_volume must be a boolean"),
        ({"host": "nowhere@file-9#file-9"}, MV, "No available service named 'nowhere@file-9"),
        ({"cluster": "some-cluster"}, MV, "No available service named 'some-cluster'"),
        ({"host": "HOME"}, MV, "destination host/cluster must be different"),
        ({"host": "HOME_BACKEND"}, MV, "destination host/cluster must be different"),
    ],
)
def test_bad_migration_requests_are_refused_and_change_nothing(service, api, body, version,
                                                               needle):  # fmt: skip
    vol = api.create_volume(size=1)
    home = vol["os-vol-host-attr:host"]
    places = {"PLACE": pool_of(service, other_backend(service, vol)), "HOME": home,
              "HOME_BACKEND": home.split("#", 1)[0]}  # fmt: skip
    body = {k: places.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = show(api, vol["id"])
    message = api.assert_fault(migrate(api, vol["id"], version, **body), 400)
    assert needle in message
    assert_unchanged(api, before)


def test_busy_or_unsuitable_volumes_are_not_migrated(service, api):
    away = pool_of(service, "file-2")
    missing = api.post(f"/volumes/{uuid.uuid4()}/action",
                       json={"os-migrate_volume": {"host": away}})  # fmt: skip
    api.assert_fault(missing, 404)

    with_snapshot = api.create_volume(size=1, volume_type=create_type(
        api, volume_backend_name="file-1")["name"])  # fmt: skip
    create_snapshot(api, with_snapshot["id"])
    errored = api.create_volume(size=1)
    reset_volume(api, errored["id"], "error")
    reserved = api.create_volume(size=1)
    resp = api.post("/attachments", json={"attachment": {"volume_uuid": reserved["id"],
                    "instance_uuid": str(uuid.uuid4())}}, headers=api.mv("3.27"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    for vol in (with_snapshot, show(api, errored["id"]), show(api, reserved["id"])):
        target = pool_of(service, other_backend(service, vol))
        before = show(api, vol["id"])
        message = api.assert_fault(migrate(api, vol["id"], host=target), 400)
        assert "must not be migrating, have snapshots" in message
        assert_unchanged(api, before)


def test_completion_without_a_migration_between_the_two(service, api, project):
    one, two = api.create_volume(size=1), api.create_volume(size=1)
    cinder = cinder_for(service, project)
    # Nova's swap of two unrelated volumes: nothing to swap here, the new one lives on.
    resp = api.post(
        f"/volumes/{one['id']}/action",
        json={"os-migrate_volume_completion": {"new_volume": two["id"]}},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"save_volume_id": two["id"]}
    assert cinder.volumes.migrate_volume_completion(one["id"], two["id"], False) == {
        "save_volume_id": two["id"]
    }
    for body, code, needle in [
        ({"new_volume": str(uuid.uuid4())}, 404, "could not be found"),
        ({}, 400, "'new_volume' is a required property"),
        ({"new_volume": two["id"], "extra": 1}, 400, "Additional properties"),
        ({"new_volume": two["id"], "error": "perhaps"}, 400, "error must be a boolean"),
    ]:
        resp = api.post(f"/volumes/{one['id']}/action",
                        json={"os-migrate_volume_completion": body})  # fmt: skip
        assert needle in api.assert_fault(resp, code)

    reset = api.post(
        f"/volumes/{one['id']}/action", json={"os-reset_status": {"migration_status": "migrating"}}
    )
    assert reset.status_code == 202
    resp = api.post(
        f"/volumes/{one['id']}/action",
        json={"os-migrate_volume_completion": {"new_volume": two["id"]}},
    )
    assert "Destination volume not mid-migration." in api.assert_fault(resp, 400)
    resp = api.post(
        f"/volumes/{two['id']}/action",
        json={"os-migrate_volume_completion": {"new_volume": one["id"]}},
    )
    assert "Source volume not mid-migration." in api.assert_fault(resp, 400)
    reset = api.post(
        f"/volumes/{two['id']}/action", json={"os-reset_status": {"migration_status": "migrating"}}
    )
    resp = api.post(
        f"/volumes/{one['id']}/action",
        json={"os-migrate_volume_completion": {"new_volume": two["id"]}},
    )
    assert (f"Destination has migration_status migrating, expected target:{one['id']}."
            in api.assert_fault(resp, 400))  # fmt: skip


# ---------------------------------------------------------------------------------------
# in flight: what waits, what is refused, aborting, failing, crashing


@pytest.fixture
def slow(start_service):
    """Two backends; creating on file-2 holds 8 s (a migration's copy waits there)."""
    svc = start_service(
        backends={"file-1": {"file_capacity_gb": "100"},
                  "file-2": {"file_capacity_gb": "100", "file_create_delay": "8"}},
    )  # fmt: skip
    with svc.client(microversion=MV) as api:
        yield svc, api


def start_slow_migration(svc, api, **body):
    pinned = create_type(api, volume_backend_name="file-1")
    vol = api.create_volume(size=1, volume_type=pinned["name"])
    assert api.delete(f"/types/{pinned['id']}/extra_specs/volume_backend_name").status_code in (
        200, 202,
    )  # fmt: skip
    written = write_random(volume_file(svc, vol), seed=7)
    resp = migrate(api, vol["id"], host=pool_of(svc, "file-2"), **body)
    assert resp.status_code == 202, resp.text
    wait_migration(api, vol["id"], ("migrating",))
    api.wait_for(lambda: copies_of(api, vol["id"]), "the copy")
    return vol, written


def test_a_migrating_volume_refuses_what_would_lose_its_data_and_can_be_aborted(slow):
    svc, api = slow
    vol, written = start_slow_migration(svc, api, lock_volume=True)
    now = show(api, vol["id"])
    assert (now["status"], now["migration_status"]) == ("maintenance", "migrating")
    (copy,) = copies_of(api, vol["id"])
    assert (copy["status"], copy["migration_status"]) == ("creating", f"target:{vol['id']}")
    assert copy["os-vol-host-attr:host"] == pool_of(svc, "file-2")
    assert copy["consumes_quota"] is False
    before_quota = quota_usage(api)

    assert "must not be migrating" in api.assert_fault(api.delete(f"/volumes/{vol['id']}"), 400)
    assert api.assert_fault(api.delete(f"/volumes/{copy['id']}"), 400)
    force = api.post(f"/volumes/{copy['id']}/action", json={"os-force_delete": {}})
    assert "must not be migrating" in api.assert_fault(force, 400)
    again = migrate(api, vol["id"], host=pool_of(svc, "file-1"))
    assert "must not be migrating" in api.assert_fault(again, 400)
    retype = api.post(f"/volumes/{vol['id']}/action", json={"os-retype": {
        "new_type": "__DEFAULT__", "migration_policy": "on-demand"}})  # fmt: skip
    assert api.assert_fault(retype, 400)

    completion = {"os-migrate_volume_completion": {"new_volume": copy["id"]}}
    resp = api.post(f"/volumes/{vol['id']}/action", json=completion)
    assert "complete its migration themselves" in api.assert_fault(resp, 400)
    completion["os-migrate_volume_completion"]["error"] = True
    resp = api.post(f"/volumes/{vol['id']}/action", json=completion)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"save_volume_id": vol["id"]}

    aborted = wait_migration(api, vol["id"], ("error",), timeout=30)
    assert (aborted["status"], aborted["os-vol-host-attr:host"]) == (
        "available", pool_of(svc, "file-1"),
    )  # fmt: skip
    assert aborted["os-vol-mig-status-attr:name_id"] is None
    wait_no_copies(api, vol["id"])
    assert holds(volume_file(svc, aborted), written)
    assert svc.backends["file-2"].volume_files() == set()
    assert allocations(api) == {pool_of(svc, "file-1"): 1.0, pool_of(svc, "file-2"): 0.0}
    assert quota_usage(api) == before_quota
    assert any("aborted" in m["user_message"] for m in messages_for(api, vol["id"]))


def test_snapshot_and_attach_wait_until_the_migration_ends(slow):
    svc, api = slow
    vol, written = start_slow_migration(svc, api)
    assert show(api, vol["id"])["status"] == "available"
    snap = api.post("/snapshots", json={"snapshot": {"volume_id": vol["id"]}})
    assert "cannot be created while volume is migrating" in api.assert_fault(snap, 400)
    attach = api.post("/attachments", json={"attachment": {"volume_uuid": vol["id"],
                      "instance_uuid": str(uuid.uuid4())}}, headers=api.mv("3.27"))  # fmt: skip
    assert "is migrating" in api.assert_fault(attach, 400)
    moved = wait_migration(api, vol["id"], timeout=60)
    assert moved["migration_status"] == "success"
    assert holds(volume_file(svc, moved), written)
    assert create_snapshot(api, vol["id"])["status"] == "available"


def test_a_failed_copy_leaves_the_source_untouched(start_service):
    svc = start_service(
        backends={"file-1": {"file_capacity_gb": "100"},
                  "file-2": {"file_capacity_gb": "100", "file_fail_create": "true"}},
    )  # fmt: skip
    with svc.client(microversion=MV) as api:
        vol = api.create_volume(size=1)
        assert vol["os-vol-host-attr:host"] == pool_of(svc, "file-1")
        written = write_random(volume_file(svc, vol), seed=11)
        before_pools, before_quota = allocations(api), quota_usage(api)
        resp = migrate(api, vol["id"], host=pool_of(svc, "file-2"), lock_volume=True)
        assert resp.status_code == 202, resp.text
        failed = wait_migration(api, vol["id"], ("error",))
        wait_no_copies(api, vol["id"])
        assert (failed["status"], failed["os-vol-host-attr:host"]) == (
            "available", pool_of(svc, "file-1"),
        )  # fmt: skip
        assert failed["os-vol-mig-status-attr:name_id"] is None
        assert holds(volume_file(svc, failed), written)
        assert svc.backends["file-2"].volume_files() == set()
        assert allocations(api) == before_pools
        assert quota_usage(api) == before_quota
        message = messages_for(api, vol["id"])[0]
        assert "refused to create the volume" in message["user_message"]
        # Still usable where it is.
        assert create_snapshot(api, vol["id"])["status"] == "available"


def test_sigkill_mid_migration_leaves_nothing_stuck_and_no_orphan(start_service):
    svc = start_service(
        backends={"file-1": {"file_capacity_gb": "100"},
                  "file-2": {"file_capacity_gb": "100", "file_create_delay": "30"}},
    )  # fmt: skip
    with svc.client(microversion=MV) as api:
        vol = api.create_volume(size=1)
        written = write_random(volume_file(svc, vol), seed=13)
        before_quota = quota_usage(api)
        assert migrate(api, vol["id"], host=pool_of(svc, "file-2")).status_code == 202
        wait_migration(api, vol["id"], ("migrating",))
        (copy,) = copies_of(api, vol["id"])
        copy_file = svc.backends["file-2"].volume_path(copy["id"])
        api.wait_for(copy_file.exists, "the copy's file")
    svc.stop(signal.SIGKILL)
    svc.restart()
    with svc.client(api.project, microversion=MV) as api:
        failed = wait_migration(api, vol["id"], ("error",))
        wait_no_copies(api, vol["id"])
        assert (failed["status"], failed["os-vol-host-attr:host"]) == (
            "available", pool_of(svc, "file-1"),
        )  # fmt: skip
        assert holds(volume_file(svc, failed), written)
        api.wait_for(lambda: not copy_file.exists(), "the copy's file removed")
        assert svc.backends["file-2"].volume_files() == set()
        assert svc.backends["file-1"].volume_files() == {f"volume-{vol['id']}"}
        api.wait_for(
            lambda: allocations(api) == {pool_of(svc, "file-1"): 1.0,
                                         pool_of(svc, "file-2"): 0.0},
            "exact allocations",
        )  # fmt: skip
        assert quota_usage(api) == before_quota
        assert "restarted during the migration" in messages_for(api, vol["id"])[0]["user_message"]
        # Nothing left in a transitional state.
        listed = api.get("/volumes/detail", params={"all_tenants": "1"}).json()["volumes"]
        assert {v["status"] for v in listed} == {"available"}
        # And it migrates fine now that the service is back.
        assert migrate(api, vol["id"], host=pool_of(svc, "file-2")).status_code == 202
        assert wait_migration(api, vol["id"], timeout=90)["migration_status"] == "success"


def test_a_volume_extended_during_its_migration_stays_where_it_is(slow):
    svc, api = slow
    vol, written = start_slow_migration(svc, api)
    resp = api.post(f"/volumes/{vol['id']}/action", json={"os-extend": {"new_size": 2}})
    assert resp.status_code == 202, resp.text
    api.wait_for(lambda: show(api, vol["id"])["size"] == 2, "extended")
    failed = wait_migration(api, vol["id"], ("error", "success"), timeout=60)
    assert failed["migration_status"] == "error"
    assert (failed["status"], failed["size"]) == ("available", 2)
    assert failed["os-vol-host-attr:host"] == pool_of(svc, "file-1")
    wait_no_copies(api, vol["id"])
    assert holds(volume_file(svc, failed), written, size=2 * GiB)
    assert svc.backends["file-2"].volume_files() == set()
    assert allocations(api) == {pool_of(svc, "file-1"): 2.0, pool_of(svc, "file-2"): 0.0}
    assert "extended to 2 GiB" in messages_for(api, vol["id"])[0]["user_message"]


def test_a_retype_whose_copy_fails_keeps_the_old_type_and_quota(start_service):
    svc = start_service(
        backends={"file-1": {"file_capacity_gb": "100"},
                  "file-2": {"file_capacity_gb": "100", "file_fail_create": "true"}},
    )  # fmt: skip
    with svc.client(microversion=MV) as api:
        old = create_type(api, volume_backend_name="file-1")
        new = create_type(api, volume_backend_name="file-2")
        vol = api.create_volume(size=1, volume_type=old["name"])
        written = write_random(volume_file(svc, vol), seed=17)
        before = quota_usage(api)
        resp = api.post(f"/volumes/{vol['id']}/action", json={"os-retype": {
            "new_type": new["name"], "migration_policy": "on-demand"}})  # fmt: skip
        assert resp.status_code == 202, resp.text
        failed = wait_migration(api, vol["id"], ("error",))
        api.wait_for(lambda: show(api, vol["id"])["status"] == "available", "back")
        failed = show(api, vol["id"])
        assert (failed["volume_type"], failed["os-vol-host-attr:host"]) == (
            old["name"], pool_of(svc, "file-1"),
        )  # fmt: skip
        wait_no_copies(api, vol["id"])
        assert quota_usage(api) == before
        assert holds(volume_file(svc, failed), written)
        assert events(svc, "volume.retype", volume_id=vol["id"]) == []
        assert allocations(api) == {pool_of(svc, "file-1"): 1.0, pool_of(svc, "file-2"): 0.0}


def test_a_disabled_destination_service_is_not_available(start_service):
    svc = start_service(backends=TWO)
    with svc.client(microversion=MV) as api:
        vol = api.create_volume(size=1)
        away = pool_of(svc, other_backend(svc, vol))
        resp = api.put("/os-services/disable",
                       json={"host": away.split("#")[0], "binary": "cinder-volume"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        before = show(api, vol["id"])
        message = api.assert_fault(migrate(api, vol["id"], host=away), 400)
        assert f"No available service named '{away}'" in message
        assert_unchanged(api, before)
        resp = api.put("/os-services/enable",
                       json={"host": away.split("#")[0], "binary": "cinder-volume"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert migrate(api, vol["id"], host=away).status_code == 202
        assert wait_migration(api, vol["id"])["migration_status"] == "success"
