"""``GET /volumes/{id}/timeline``: each create flow run with its tasks, as it happened.

The runs are saved in the transaction that ends them, so what the timeline says must agree
with the volume's own record and with volume.log's transitions.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

import httpx
import jsonschema
import pytest
from harness import Service, VolumeApi
from keystone_helpers import KeystoneEnv, keystone_client

TASKS = [
    "ExtractVolumeRefTask", "OnFailureRescheduleTask", "ExtractVolumeSpecTask",
    "NotifyVolumeActionTask", "CreateVolumeFromSpecTask", "CreateVolumeOnFinishTask",
]  # fmt: skip
FAILING = {"file_fail_create": "true", "file_capacity_gb": "1000"}


@pytest.fixture(scope="module")
def published_schema(service: Service) -> dict[str, Any]:
    """The timeline's answer as the service's own OpenAPI document states it."""
    doc = httpx.get(f"{service.base_url}/openapi.json", timeout=30).json()
    op = doc["paths"]["/v3/{project_id}/volumes/{volume_id}/timeline"]["get"]
    schema: dict[str, Any] = op["responses"]["200"]["content"]["application/json"]["schema"]
    return schema


def timeline(api: VolumeApi, volume_id: str, schema: dict[str, Any] | None = None) -> Any:
    resp = api.get(f"/volumes/{volume_id}/timeline")
    assert resp.status_code == 200, resp.text
    if schema is not None:
        jsonschema.validate(resp.json(), schema)
    return resp.json()["timeline"]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_create_shows_the_six_tasks_in_order_with_their_times(api, published_schema):
    volume = api.create_volume(name="timed")
    found = timeline(api, volume["id"], published_schema)
    assert found["volume_id"] == volume["id"] and found["status"] == "available"
    assert found["host"] == volume["os-vol-host-attr:host"]
    assert found["scheduling_attempts"] == 1
    assert when(found["created_at"]) <= when(found["scheduled_at"]) <= when(found["launched_at"])
    [run] = found["runs"]
    assert run["flow"] == "volume_create_manager" and run["outcome"] == "success"
    assert run["attempt"] == 1 and run["host"] == volume["os-vol-host-attr:host"]
    assert run["reason"] is None and run["request_id"].startswith("req-")
    assert [t["name"] for t in run["tasks"]] == TASKS
    starts = [t["start_ms"] for t in run["tasks"]]
    assert starts == sorted(starts)
    for task in run["tasks"]:
        assert task["outcome"] == "success" and task["error"] is None, task
        assert 0 <= task["duration_ms"] <= run["duration_ms"], task
        assert when(run["started_at"]) <= when(task["started_at"]) <= when(task["finished_at"])
        assert when(task["finished_at"]) <= when(run["finished_at"])
    # The run ends with the commit that made the volume available.
    assert abs((when(run["finished_at"]) - when(found["launched_at"])).total_seconds()) < 1
    assert found["messages"] == []


def test_a_rescheduled_create_names_the_pool_that_failed_and_why(start_service):
    svc = start_service(backends={"file-bad": FAILING, "file-good": {"file_capacity_gb": "10"}})
    with svc.client() as api:
        volume = api.create_volume()
        found = timeline(api, volume["id"])
    assert found["scheduling_attempts"] == 2
    failed, done = found["runs"]
    assert (failed["attempt"], failed["outcome"]) == (1, "rescheduled")
    assert failed["host"] == "itest@file-bad#file-bad"
    assert "file-bad" in failed["reason"] and "refused" in failed["reason"]
    outcomes = {t["name"]: t["outcome"] for t in failed["tasks"]}
    assert outcomes == {
        "ExtractVolumeRefTask": "success", "OnFailureRescheduleTask": "reverted",
        "ExtractVolumeSpecTask": "reverted", "NotifyVolumeActionTask": "reverted",
        "CreateVolumeFromSpecTask": "failure",
    }  # fmt: skip
    [broken] = [t for t in failed["tasks"] if t["outcome"] == "failure"]
    assert broken["error"] == failed["reason"]
    assert (done["attempt"], done["outcome"], done["host"]) == (
        2,
        "success",
        "itest@file-good#file-good",
    )
    assert [t["name"] for t in done["tasks"]] == TASKS
    assert when(failed["finished_at"]) <= when(done["started_at"])
    # volume.log tells the same story.
    lines = svc.log_lines_for(volume["id"])
    assert any("CreateVolumeFromSpecTask" in line and "'FAILURE'" in line for line in lines)


def test_a_create_that_errors_out_has_its_run_and_message(start_service):
    svc = start_service(backends={"file-bad": FAILING}, defaults={"scheduler_max_attempts": "1"})
    with svc.client() as api:
        volume = api.create_volume(wait="error")
        found = timeline(api, volume["id"])
    [run] = found["runs"]
    assert run["outcome"] == "error" and "refused" in run["reason"]
    [message] = found["messages"]
    assert message["event_id"] == "VOLUME_VOLUME_008_012"
    assert message["verdicts"] == []


def test_no_valid_backend_shows_the_verdict_on_each_pool(start_service):
    small = {"file_capacity_gb": "2", "max_over_subscription_ratio": "1.0"}
    svc = start_service(backends={"file-1": small, "file-2": small})
    with svc.client() as api:
        volume = api.create_volume(size=5, wait="error")
        found = timeline(api, volume["id"])
    assert found["runs"] == [] and found["scheduled_at"] is None
    [message] = found["messages"]
    assert message["event_id"] == "VOLUME_VOLUME_001_003"
    pools = {v["pool"]: v["reason"] for v in message["verdicts"]}
    assert set(pools) == {"itest@file-1#file-1", "itest@file-2#file-2"}
    assert all("CapacityFilter" in why for why in pools.values()), pools


def test_an_unknown_volume_is_a_404_and_a_deleted_one_takes_its_runs_along(start_service):
    svc = start_service()
    with svc.client() as api:
        api.assert_fault(api.get("/volumes/3f2a8a52-32c9-4b3c-9bb1-2f1e2d7c7f10/timeline"), 404)
        volume = api.create_volume()
        assert len(timeline(api, volume["id"])["runs"]) == 1
        api.delete_volume(volume["id"])
        api.assert_fault(api.get(f"/volumes/{volume['id']}/timeline"), 404)
    with sqlite3.connect(svc.state_path / "firebrick.sqlite") as db:
        left = db.execute("SELECT count(*) FROM volume_flow_runs WHERE volume_id = ?",
                          (volume["id"],)).fetchone()[0]  # fmt: skip
    assert left == 0


def test_keystone_readers_see_their_timeline_without_pools_and_others_see_nothing(
    keystone: KeystoneEnv, keystone_service: Service
):
    alpha = keystone.project_id("alpha")
    with keystone_client(keystone_service, keystone.token("alpha", "member"), alpha) as member:
        volume = member.create_volume()
    with keystone_client(keystone_service, keystone.token("alpha", "reader"), alpha) as reader:
        found = timeline(reader, volume["id"])
        assert [t["name"] for t in found["runs"][0]["tasks"]] == TASKS
        assert found["host"] is None and found["runs"][0]["host"] is None
    beta = keystone.project_id("beta")
    with keystone_client(keystone_service, keystone.token("beta", "member"), beta) as other:
        other.assert_fault(other.get(f"/volumes/{volume['id']}/timeline"), 404)
    with keystone_client(keystone_service, keystone.token("beta", "admin"), beta) as admin:
        assert timeline(admin, volume["id"])["runs"][0]["host"] == "itest@file-1#file-1"
    with keystone_client(keystone_service, None, alpha) as anonymous:
        assert anonymous.get(f"/volumes/{volume['id']}/timeline").status_code == 401
