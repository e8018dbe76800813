"""``Idempotency-Key`` on POST /volumes and /snapshots (EBS ClientToken semantics).

A retry with the same key in the same project answers 202 with the resource the first
attempt made, instead of making a second; concurrent twins make exactly one; the key is
scoped per project.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

pytest.register_assert_rewrite("lifecycle_helpers")

from lifecycle_helpers import (  # noqa: E402
    create_snapshot,
    quota_usage,
    snapshot_ids,
    wait_event,
    wait_snapshot,
)


def key_header() -> dict[str, str]:
    return {"Idempotency-Key": f"retry-{uuid.uuid4()}"}


def project_files(service, volume_ids):
    return {f for f in service.volume_files() if any(v in f for v in volume_ids)}


def all_volume_ids(api):
    resp = api.get("/volumes/detail")
    assert resp.status_code == 200, resp.text
    return [v["id"] for v in resp.json()["volumes"]]


def test_same_key_twice_makes_one_volume(service, api):
    headers = key_header()
    body = {"volume": {"size": 1, "name": "once"}}
    first = api.post("/volumes", json=body, headers=headers)
    assert first.status_code == 202, first.text
    vid = first.json()["volume"]["id"]
    api.wait_for_volume(vid)
    second = api.post("/volumes", json=body, headers=headers)
    assert second.status_code == 202, second.text
    again = second.json()["volume"]
    assert again["id"] == vid
    assert again["name"] == "once"
    assert again["status"] == "available"  # the resource as it now is
    assert all_volume_ids(api) == [vid]
    assert quota_usage(api)["volumes"]["in_use"] == 1
    assert quota_usage(api)["gigabytes"]["in_use"] == 1
    assert project_files(service, [vid]) == {
        f"{name}/volume-{vid}"
        for name in service.backends
        if service.backends[name].volume_path(vid).exists()
    }
    assert len(project_files(service, [vid])) == 1
    wait_event(service, "volume.create.end", volume_id=vid)
    creates = [
        n for n in service.notifications()
        if n.get("event_type") == "volume.create.start"
        and n["payload"].get("tenant_id") == api.project
    ]  # fmt: skip
    assert len(creates) == 1, creates


def test_retry_while_creating_returns_the_same_volume(api):
    headers = key_header()
    first = api.post("/volumes", json={"volume": {"size": 1}}, headers=headers)
    second = api.post("/volumes", json={"volume": {"size": 1}}, headers=headers)
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    assert first.json()["volume"]["id"] == second.json()["volume"]["id"]
    api.wait_for_volume(first.json()["volume"]["id"])
    assert len(all_volume_ids(api)) == 1


def test_without_a_key_every_post_creates(api):
    for _ in range(2):
        api.create_volume(size=1, wait=None)
    assert len(all_volume_ids(api)) == 2


def test_different_keys_make_different_volumes(api):
    a = api.create_volume(size=1, wait=None, headers=key_header())
    b = api.create_volume(size=1, wait=None, headers=key_header())
    assert a["id"] != b["id"]
    assert sorted(all_volume_ids(api)) == sorted([a["id"], b["id"]])


def test_concurrent_twins_make_exactly_one_volume(service, api):
    headers = {**api.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    url = f"{str(api.base_url).rstrip('/')}/volumes"
    barrier = threading.Barrier(8)

    def post(_: int):
        barrier.wait(10)
        return httpx.post(url, json={"volume": {"size": 1}}, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
    ids = {r.json()["volume"]["id"] for r in responses}
    assert len(ids) == 1, ids
    (vid,) = ids
    api.wait_for_volume(vid)
    assert all_volume_ids(api) == [vid]
    assert project_files(service, [vid]) != set()
    usage = quota_usage(api)
    assert usage["volumes"]["in_use"] == 1, usage["volumes"]
    assert usage["volumes"]["reserved"] == 0, usage["volumes"]


def test_same_key_in_another_project_is_its_own(service):
    key = key_header()
    made = {}
    for _ in range(2):
        with service.client() as api:
            made[api.project] = api.create_volume(size=1, headers=key)["id"]
            assert all_volume_ids(api) == [made[api.project]]
    assert len(set(made.values())) == 2, made
    files = project_files(service, list(made.values()))
    assert len(files) == 2, files


def test_snapshot_same_key_twice_makes_one(service, api):
    vol = api.create_volume(size=1)
    headers = key_header()
    first = create_snapshot(api, vol["id"], wait=None, headers=headers, name="s")
    second = create_snapshot(api, vol["id"], wait=None, headers=headers, name="s")
    assert first["id"] == second["id"]
    wait_snapshot(api, first["id"])
    third = create_snapshot(api, vol["id"], wait=None, headers=headers, name="s")
    assert third["id"] == first["id"]
    assert third["status"] == "available"
    assert snapshot_ids(api) == [first["id"]]
    assert quota_usage(api)["snapshots"]["in_use"] == 1
    backend_dir = service.find_volume_file(vol["id"]).parent
    assert [p.name for p in backend_dir.glob("snapshot-*") if vol["id"] in p.name or
            p.name == f"snapshot-{first['id']}"] == [f"snapshot-{first['id']}"]  # fmt: skip


def test_snapshot_concurrent_twins_make_one(api):
    vol = api.create_volume(size=1)
    headers = {**api.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    url = f"{str(api.base_url).rstrip('/')}/snapshots"
    barrier = threading.Barrier(6)

    def post(_: int):
        barrier.wait(10)
        return httpx.post(
            url, json={"snapshot": {"volume_id": vol["id"]}}, headers=headers, timeout=30
        )

    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(post, range(6)))
    assert [r.status_code for r in responses] == [202] * 6, [r.text for r in responses]
    ids = {r.json()["snapshot"]["id"] for r in responses}
    assert len(ids) == 1, ids
    wait_snapshot(api, ids.pop())
    assert len(snapshot_ids(api)) == 1
    assert quota_usage(api)["snapshots"]["in_use"] == 1


def test_snapshot_key_in_another_project_is_its_own(service):
    key = key_header()
    made = []
    for _ in range(2):
        with service.client() as api:
            vol = api.create_volume(size=1)
            made.append(create_snapshot(api, vol["id"], headers=key)["id"])
            assert snapshot_ids(api) == [made[-1]]
    assert made[0] != made[1]


def test_volume_and_snapshot_keys_do_not_collide(api):
    key = key_header()
    vol = api.create_volume(size=1, headers=key)
    snap = create_snapshot(api, vol["id"], headers=key)
    assert snap["volume_id"] == vol["id"]
    assert snapshot_ids(api) == [snap["id"]]
    assert all_volume_ids(api) == [vol["id"]]
