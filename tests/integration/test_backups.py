"""Backups over HTTP on the shared service (posix store, zlib): the API's answers against
Tempest's schemas, statuses, quota and notifications, and the data on real files."""

from __future__ import annotations

import pytest
from backup_helpers import (
    MiB,
    backup_objects,
    create_backup,
    digest,
    restore,
    usage,
    volume_file,
    wait_backup,
    wait_backup_gone,
    write_pattern,
)
from harness import MAX_MICROVERSION

REGIONS = [(0, 3 * MiB), (100 * MiB, 2 * MiB), (1023 * MiB, 1 * MiB)]
BASE_KEYS = {
    "id", "status", "size", "object_count", "availability_zone", "container", "created_at",
    "updated_at", "name", "description", "fail_reason", "volume_id", "links",
    "is_incremental", "has_dependent_backups", "snapshot_id", "data_timestamp",
}  # fmt: skip


def test_lifecycle_answers_match_tempest(service, api, tempest_schemas):
    vid = api.create_volume(1)["id"]
    before = usage(api)
    resp = api.post("/backups", json={"backup": {"volume_id": vid, "name": "nightly",
                                                 "description": "first"}})  # fmt: skip
    tempest_schemas.check("backups.create_backup", resp)
    backup = resp.json()["backup"]
    assert set(backup) == {"id", "name", "links"} and backup["name"] == "nightly"
    assert api.get(f"/volumes/{vid}").json()["volume"]["status"] in {"backing-up", "available"}
    wait_backup(api, backup["id"])
    assert api.wait_for_volume(vid)["status"] == "available"
    assert usage(api) == {"backups": before["backups"] + 1,
                          "backup_gigabytes": before["backup_gigabytes"] + 1}  # fmt: skip

    shown = api.get(f"/backups/{backup['id']}")
    tempest_schemas.check("backups.show_backup", shown)
    body = shown.json()["backup"]
    # noauth callers are admins: they see the project attribute from 3.18, not at 3.0.
    assert set(body) == BASE_KEYS
    assert (body["status"], body["volume_id"], body["size"]) == ("available", vid, 1)
    assert body["is_incremental"] is False and body["has_dependent_backups"] is False
    for version, extra in [("3.18", {"os-backup-project-attr:project_id"}),
                           ("3.43", {"os-backup-project-attr:project_id", "metadata"}),
                           ("3.56", {"os-backup-project-attr:project_id", "metadata",
                                     "user_id"})]:  # fmt: skip
        resp = api.get(f"/backups/{backup['id']}", headers=api.mv(version))
        tempest_schemas.check("backups.show_backup", resp)
        assert set(resp.json()["backup"]) == BASE_KEYS | extra, version
    resp = api.get(f"/backups/{backup['id']}", headers=api.mv(MAX_MICROVERSION))
    tempest_schemas.check("v3_64.backups.show_backup", resp)

    listed = api.get("/backups")
    tempest_schemas.check("backups.list_backups_no_detail", listed)
    assert [b["id"] for b in listed.json()["backups"]] == [backup["id"]]
    detail = api.get("/backups/detail", params={"with_count": "true"}, headers=api.mv("3.45"))
    tempest_schemas.check("backups.list_backups_with_detail", detail, newer=("count",))
    assert detail.json()["count"] == 1

    resp = api.put(f"/backups/{backup['id']}", json={"backup": {"name": "renamed"}},
                   headers=api.mv("3.9"))  # fmt: skip
    tempest_schemas.check("backups.update_backup", resp)
    assert api.get(f"/backups/{backup['id']}").json()["backup"]["name"] == "renamed"

    resp = api.delete(f"/backups/{backup['id']}")
    tempest_schemas.check("backups.delete_backup", resp)
    wait_backup_gone(api, backup["id"])
    assert usage(api) == before
    events = [n["event_type"] for n in service.notifications()
              if n["payload"].get("backup_id") == backup["id"]]  # fmt: skip
    for event in ("backup.create.start", "backup.create.end", "backup.delete.start",
                  "backup.delete.end"):  # fmt: skip
        assert event in events, events
    assert not backup_objects(service, body), "the deleted backup's objects are gone"


def test_full_backup_restores_the_data_exactly(service, api, tempest_schemas):
    vid = api.create_volume(1)["id"]
    path = volume_file(service, vid)
    write_pattern(path, 1, REGIONS)
    original = digest(path)
    backup = create_backup(api, vid)
    assert backup["object_count"] >= 3  # data objects, the digests and the manifest
    write_pattern(path, 2, [(0, 8 * MiB), (500 * MiB, 4 * MiB)])
    assert digest(path) != original

    resp = api.post(f"/backups/{backup['id']}/restore", json={"restore": {"volume_id": vid}})
    tempest_schemas.check("backups.restore_backup", resp)
    assert resp.json()["restore"] == {"backup_id": backup["id"], "volume_id": vid,
                                      "volume_name": ""}  # fmt: skip
    assert api.get(f"/volumes/{vid}").json()["volume"]["status"] in {
        "restoring-backup",
        "available",
    }
    api.wait_for_volume(vid)
    wait_backup(api, backup["id"])
    assert digest(path) == original

    made = restore(api, backup["id"], name="copy")
    assert made["volume_name"] == "copy"
    copy = api.wait_for_volume(made["volume_id"])
    assert copy["size"] == 1
    assert copy["metadata"]["src_backup_id"] == backup["id"]
    assert digest(volume_file(service, made["volume_id"])) == original


def test_incremental_chain_restores_every_point(service, api):
    vid = api.create_volume(1)["id"]
    path = volume_file(service, vid)
    write_pattern(path, 10, REGIONS)
    points = [(create_backup(api, vid), digest(path))]
    changes = [[(1 * MiB, 64 * 1024)], [(300 * MiB, 5 * MiB), (0, 4096)],
               [(100 * MiB, 2 * MiB)]]  # fmt: skip
    for n, regions in enumerate(changes):
        write_pattern(path, 20 + n, regions)
        if n == 2:  # a range becomes zeros again: the incremental must record it
            with open(path, "r+b") as handle:
                handle.seek(1023 * MiB)
                handle.write(bytes(MiB))
        backup = create_backup(api, vid, incremental=True)
        assert backup["is_incremental"] is True
        points.append((backup, digest(path)))
    assert [wait_backup(api, b["id"])["has_dependent_backups"] for b, _ in points] == [
        True, True, True, False]  # fmt: skip

    for backup, expected in points:
        made = restore(api, backup["id"])
        api.wait_for_volume(made["volume_id"])
        assert digest(volume_file(service, made["volume_id"])) == expected, backup["id"]
        api.delete_volume(made["volume_id"])
    # The newest first: a backup with incrementals on it cannot go.
    refused = api.delete(f"/backups/{points[0][0]['id']}")
    assert "Incremental backups exist" in api.assert_fault(refused, 400)
    for backup, _ in reversed(points):
        assert api.delete(f"/backups/{backup['id']}").status_code == 202
        wait_backup_gone(api, backup["id"])


def test_a_flipped_byte_is_detected_and_the_volume_is_error_restoring(service, api):
    vid = api.create_volume(1)["id"]
    path = volume_file(service, vid)
    write_pattern(path, 3, REGIONS)
    backup = create_backup(api, vid)
    data = [p for p in backup_objects(service, backup) if p.name.endswith("-00001")]
    assert data, backup_objects(service, backup)
    with open(data[0], "r+b") as handle:
        handle.seek(data[0].stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))

    target = api.create_volume(1)["id"]
    restore(api, backup["id"], target)
    assert api.wait_for_volume(target, "error_restoring")["status"] == "error_restoring"
    assert wait_backup(api, backup["id"])["status"] == "available"
    messages = api.get("/messages", headers=api.mv("3.3")).json()["messages"]
    texts = [m["user_message"] for m in messages if m["resource_uuid"] == backup["id"]]
    assert any("restore backup:" in t and "corrupt" in t for t in texts), texts


def test_a_missing_object_makes_the_backup_incomplete(service, api):
    vid = api.create_volume(1)["id"]
    write_pattern(volume_file(service, vid), 4, REGIONS)
    backup = create_backup(api, vid)
    for path in backup_objects(service, backup):
        if path.name.endswith("-00001"):
            path.unlink()
    made = restore(api, backup["id"])
    api.wait_for_volume(made["volume_id"], "error")
    messages = api.get("/messages", headers=api.mv("3.3")).json()["messages"]
    assert any("incomplete" in m["user_message"] for m in messages), messages


def test_snapshot_backup_reads_the_snapshot(service, api):
    vid = api.create_volume(1)["id"]
    path = volume_file(service, vid)
    write_pattern(path, 5, REGIONS)
    at_snapshot = digest(path)
    resp = api.post("/snapshots", json={"snapshot": {"volume_id": vid}})
    sid = resp.json()["snapshot"]["id"]
    api.wait_for(lambda: api.get(f"/snapshots/{sid}").json()["snapshot"]["status"]
                 == "available", "snapshot available")  # fmt: skip
    write_pattern(path, 6, [(0, 4 * MiB)])
    backup = create_backup(api, vid, snapshot_id=sid)
    assert backup["snapshot_id"] == sid
    assert api.get(f"/snapshots/{sid}").json()["snapshot"]["status"] == "available"
    made = restore(api, backup["id"])
    api.wait_for_volume(made["volume_id"])
    assert digest(volume_file(service, made["volume_id"])) == at_snapshot


def test_volume_from_backup_at_3_47(service, api, tempest_schemas):
    vid = api.create_volume(1)["id"]
    write_pattern(volume_file(service, vid), 7, REGIONS)
    original = digest(volume_file(service, vid))
    backup = create_backup(api, vid)
    # Before 3.47 the key means nothing (and unknown keys are ignored until 3.53).
    old = api.post("/volumes", json={"volume": {"size": 1, "backup_id": backup["id"]}},
                   headers=api.mv("3.46"))  # fmt: skip
    assert old.status_code == 202, old.text
    plain = api.wait_for_volume(old.json()["volume"]["id"])
    assert digest(volume_file(service, plain["id"])) != original
    small = api.post("/volumes", json={"volume": {"size": 0, "backup_id": backup["id"]}},
                     headers=api.mv("3.47"))  # fmt: skip
    api.assert_fault(small, 400)
    resp = api.post("/volumes", json={"volume": {"size": 2, "backup_id": backup["id"]}},
                    headers=api.mv("3.47"))  # fmt: skip
    assert resp.status_code == 202, resp.text
    made = api.wait_for_volume(resp.json()["volume"]["id"])
    assert made["size"] == 2
    assert digest(volume_file(service, made["id"]), 1 << 30) == original
    assert wait_backup(api, backup["id"])["status"] == "available"
    events = [n["event_type"] for n in service.notifications_for(made["id"])]
    assert "volume.create.end" in events


def test_metadata_and_bootable_come_back(service, api):
    vid = api.create_volume(1, metadata={"k1": "v1", "k2": "v2"})["id"]
    api.post(f"/volumes/{vid}/action", json={"os-set_bootable": {"bootable": True}})
    backup = create_backup(api, vid)
    made = restore(api, backup["id"])
    volume = api.wait_for_volume(made["volume_id"])
    assert {"k1": "v1", "k2": "v2"}.items() <= volume["metadata"].items()
    assert volume["bootable"] == "true"


def test_backup_metadata_and_zone_by_microversion(service, api, tempest_schemas):
    vid = api.create_volume(1)["id"]
    old = api.post("/backups", json={"backup": {"volume_id": vid, "metadata": {"a": "b"}}},
                   headers=api.mv("3.42"))  # fmt: skip
    api.assert_fault(old, 400)
    resp = api.post("/backups", json={"backup": {"volume_id": vid, "metadata": {"a": "b"},
                                                 "availability_zone": "nova"}},
                    headers=api.mv("3.51"))  # fmt: skip
    assert resp.status_code == 202, resp.text
    backup = wait_backup(api, resp.json()["backup"]["id"])
    assert backup["metadata"] == {"a": "b"} and backup["availability_zone"] == "nova"
    resp = api.put(f"/backups/{backup['id']}", json={"backup": {"metadata": {"c": "d"}}},
                   headers=api.mv("3.43"))  # fmt: skip
    tempest_schemas.check("backups.update_backup", resp)
    assert wait_backup(api, backup["id"])["metadata"] == {"c": "d"}


def test_export_import_reset_and_force_delete(service, api, tempest_schemas):
    vid = api.create_volume(1)["id"]
    write_pattern(volume_file(service, vid), 8, REGIONS)
    original = digest(volume_file(service, vid))
    backup = create_backup(api, vid)
    exported = api.get(f"/backups/{backup['id']}/export_record")
    tempest_schemas.check("backups.export_backup", exported)
    record = exported.json()["backup-record"]
    assert record["backup_service"] == "cinder.backup.drivers.posix.PosixBackupDriver"
    again = api.post("/backups/import_record", json={"backup-record": record})
    assert "already exists" in api.assert_fault(again, 400)

    # Gone from the database (its data kept), then back from its record.
    api.post(f"/backups/{backup['id']}/action", json={"os-reset_status": {"status": "error"}})
    resp = api.post(f"/backups/{backup['id']}/action", json={"os-reset_status": {"status": "x"}})
    api.assert_fault(resp, 400)
    assert wait_backup(api, backup["id"], "error")["status"] == "error"
    api.post(f"/backups/{backup['id']}/action",
             json={"os-reset_status": {"status": "available"}})  # fmt: skip
    wait_backup(api, backup["id"])
    imported_id = "0" * 8 + backup["id"][8:]
    import base64
    import json

    fields = json.loads(base64.b64decode(record["backup_url"]))
    fields["id"] = imported_id
    url = base64.b64encode(json.dumps(fields).encode()).decode()
    resp = api.post("/backups/import_record",
                    json={"backup-record": {"backup_service": record["backup_service"],
                                            "backup_url": url}})  # fmt: skip
    tempest_schemas.check("backups.import_backup", resp)
    assert resp.json()["backup"]["id"] == imported_id
    wait_backup(api, imported_id)
    made = restore(api, imported_id)
    api.wait_for_volume(made["volume_id"])
    assert digest(volume_file(service, made["volume_id"])) == original

    resp = api.post(f"/backups/{imported_id}/action", json={"os-force_delete": {}})
    tempest_schemas.check("backups.reset_backup_status", resp)
    wait_backup_gone(api, imported_id)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"backup": {}}, 400),
        ({"backup": {"volume_id": "not-a-uuid"}}, 400),
        ({"backup": {"volume_id": "8e6a55c2-5a4c-4b70-a0a6-1fcb7e7e1a11"}}, 404),
        ({"backup": {"volume_id": "VID", "unknown": 1}}, 400),
        ({"backup": {"volume_id": "VID", "incremental": "maybe"}}, 400),
        ({"backup": {"volume_id": "VID", "incremental": True}}, 400),
        ({"backup": {"volume_id": "VID", "container": "../escape"}}, 400),
        ({"backup": {"volume_id": "VID", "name": "x" * 256}}, 400),
        ({"backups": {"volume_id": "VID"}}, 400),
    ],
)
def test_bad_create_requests_change_nothing(service, api, body, status):
    vid = api.create_volume(1)["id"]
    before = usage(api)
    if "backup" in body and body["backup"].get("volume_id") == "VID":
        body = {"backup": {**body["backup"], "volume_id": vid}}
    api.assert_fault(api.post("/backups", json=body), status)
    assert api.get("/backups").json()["backups"] == []
    assert usage(api) == before
    assert api.get(f"/volumes/{vid}").json()["volume"]["status"] == "available"


def test_refusals_change_nothing(service, api):
    vid = api.create_volume(1)["id"]
    backup = create_backup(api, vid)
    big = api.create_volume(2)["id"]
    small_backup = create_backup(api, big)
    # Restoring onto a volume smaller than the backup.
    refused = api.post(f"/backups/{small_backup['id']}/restore",
                       json={"restore": {"volume_id": vid}})  # fmt: skip
    assert "too small" in api.assert_fault(refused, 400)
    assert wait_backup(api, small_backup["id"])["status"] == "available"
    assert api.get(f"/volumes/{vid}").json()["volume"]["status"] == "available"
    # Unknown keys, another project's list, an unknown action.
    api.assert_fault(api.post(f"/backups/{backup['id']}/restore",
                              json={"restore": {"volume": vid}}), 400)  # fmt: skip
    with service.client() as other:  # noauth callers are admins: a list stays per project
        assert other.get("/backups").json()["backups"] == []
    api.assert_fault(api.post(f"/backups/{backup['id']}/action", json={"os-nothing": {}}), 400)
    api.assert_fault(api.put(f"/backups/{backup['id']}", json={"backup": {"name": "x"}}), 404)
    # In-use without force (the volume is attached through the legacy actions).
    api.post(f"/volumes/{vid}/action", json={"os-reserve": {}})
    attached = api.post(
        f"/volumes/{vid}/action", json={"os-attach": {"host_name": "h", "mountpoint": "/dev/vdb"}}
    )
    if attached.status_code == 202:
        message = api.assert_fault(api.post("/backups", json={"backup": {"volume_id": vid}}),
                                   400)  # fmt: skip
        assert "force" in message
        forced = create_backup(api, vid, force=True)
        assert forced["status"] == "available"
        assert api.get(f"/volumes/{vid}").json()["volume"]["status"] == "in-use"
    assert wait_backup(api, backup["id"])["status"] == "available"


@pytest.mark.parametrize("algorithm", ["none", "bz2", "zstd"])
def test_every_compression_algorithm_round_trips(start_service, algorithm):
    svc = start_service(defaults={"backup_compression_algorithm": algorithm})
    api = svc.client()
    vid = api.create_volume(1)["id"]
    path = volume_file(svc, vid)
    write_pattern(path, 9, [(0, 2 * MiB), (512 * MiB, MiB)])
    with open(path, "r+b") as handle:  # and something that compresses
        handle.seek(8 * MiB)
        handle.write(b"firebrick " * 200_000)
    expected = digest(path)
    backup = create_backup(api, vid)
    stored = sum(p.stat().st_size for p in backup_objects(svc, backup)
                 if p.name.rsplit("-", 1)[-1].isdigit())  # fmt: skip
    assert (stored < 4.5 * MiB) == (algorithm != "none"), stored
    made = restore(api, backup["id"])
    api.wait_for_volume(made["volume_id"])
    assert digest(volume_file(svc, made["volume_id"])) == expected
