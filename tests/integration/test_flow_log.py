"""What operators and consumers see of a create: the flow log and the notifications."""

from __future__ import annotations

import re
import uuid

TASKS = [
    "ExtractVolumeRefTask",
    "OnFailureRescheduleTask",
    "ExtractVolumeSpecTask",
    "NotifyVolumeActionTask",
    "CreateVolumeFromSpecTask",
    "CreateVolumeOnFinishTask",
]

PAYLOAD_KEYS = {
    "tenant_id", "user_id", "host", "availability_zone", "volume_id", "volume_type",
    "display_name", "launched_at", "created_at", "status", "snapshot_id", "size",
    "replication_status", "replication_extended_status", "replication_driver_data",
    "metadata", "volume_attachment",
}  # fmt: skip

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def first_index(lines, needle):
    for i, line in enumerate(lines):
        if needle in line:
            return i
    raise AssertionError(f"{needle} not logged:\n" + "\n".join(lines))


def events_for(service, api, volume_id, *wanted):
    def ready():
        events = service.notifications_for(volume_id)
        types = [n["event_type"] for n in events]
        return events if all(w in types for w in wanted) else None

    return api.wait_for(ready, f"notifications {wanted} for {volume_id}")


def test_volume_log_shows_the_flow_tasks_in_order(service, api):
    volume = api.create_volume(name="logged")
    lines = api.wait_for(
        lambda: (
            [x for x in service.log_lines_for(volume["id"]) if "CreateVolumeOnFinishTask" in x]
            and service.log_lines_for(volume["id"])
        ),
        "the last task in volume.log",
    )
    indexes = [first_index(lines, task) for task in TASKS]
    assert indexes == sorted(indexes), "\n".join(lines)
    # Each task is logged with its transitions, the flow too.
    assert any("volume_create_manager" in line for line in lines), "\n".join(lines)
    for task in TASKS:
        states = " ".join(line for line in lines if task in line)
        assert "into state 'RUNNING'" in states, (task, "\n".join(lines))
        assert "into state 'SUCCESS'" in states, (task, "\n".join(lines))
    assert not [
        line for line in lines if "into state 'FAILURE'" in line or "into state 'REVERT" in line
    ]
    # No other volume's id on these lines: one line, one volume.
    other = api.create_volume()
    assert not [line for line in service.log_lines_for(other["id"]) if volume["id"] in line]
    api.delete_volume(volume["id"])
    api.delete_volume(other["id"])


def test_create_notifications_carry_cinders_payload(service, api):
    default_type = api.get("/types/default").json()["volume_type"]
    volume = api.create_volume(size=2, name="noted", metadata={"k": "v"})
    events = events_for(service, api, volume["id"], "volume.create.start", "volume.create.end")
    types = [n["event_type"] for n in events]
    assert types.index("volume.create.start") < types.index("volume.create.end")
    assert types.count("volume.create.start") == 1
    assert types.count("volume.create.end") == 1
    start = events[types.index("volume.create.start")]
    end = events[types.index("volume.create.end")]
    for event in (start, end):
        assert set(event) >= {
            "message_id",
            "publisher_id",
            "event_type",
            "priority",
            "payload",
            "timestamp",
        }
        uuid.UUID(event["message_id"])
        assert event["priority"] == "INFO"
        assert TIMESTAMP.match(event["timestamp"]), event["timestamp"]
        assert event["publisher_id"] == f"volume.{volume['os-vol-host-attr:host']}", event
        payload = event["payload"]
        missing = PAYLOAD_KEYS - set(payload)
        assert not missing, (missing, payload)
        assert payload["tenant_id"] == api.project
        assert payload["user_id"] == "tester"
        assert payload["host"] == volume["os-vol-host-attr:host"]
        assert payload["availability_zone"] == "nova"
        assert payload["volume_id"] == volume["id"]
        assert payload["volume_type"] == default_type["id"], "payload volume_type is the type id"
        assert payload["display_name"] == "noted"
        assert payload["size"] == 2
        assert payload["snapshot_id"] is None
        assert payload["metadata"] == [{"key": "k", "value": "v"}]
        assert payload["volume_attachment"] == []
        assert isinstance(payload["created_at"], str) and payload["created_at"]
        assert isinstance(payload["launched_at"], str) and payload["launched_at"]
    assert start["payload"]["status"] == "creating"
    assert end["payload"]["status"] == "available"
    assert start["message_id"] != end["message_id"]
    api.delete_volume(volume["id"])


def test_delete_notifications(service, api):
    volume = api.create_volume(name="doomed")
    events_for(service, api, volume["id"], "volume.create.end")
    api.delete_volume(volume["id"])
    events = events_for(service, api, volume["id"], "volume.delete.start", "volume.delete.end")
    types = [n["event_type"] for n in events]
    assert types.index("volume.delete.start") < types.index("volume.delete.end")
    assert types.index("volume.create.end") < types.index("volume.delete.start")
    for event in events:
        if event["event_type"].startswith("volume.delete."):
            assert event["priority"] == "INFO"
            assert event["publisher_id"].startswith(f"volume.{service.host}"), event
            assert event["payload"]["volume_id"] == volume["id"]
            assert event["payload"]["tenant_id"] == api.project
            assert not PAYLOAD_KEYS - set(event["payload"]), event["payload"]


def test_scheduling_failure_emits_no_volume_events(service, api):
    created = api.post(
        "/types",
        json={
            "volume_type": {
                "name": f"nowhere-{uuid.uuid4().hex[:8]}",
                "extra_specs": {"volume_backend_name": "nowhere"},
            }
        },
    )
    assert created.status_code == 200, created.text
    volume = api.create_volume(volume_type=created.json()["volume_type"]["id"], wait="error")
    # Give any stray event the time a successful create takes to write it.
    other = api.create_volume()
    events_for(service, api, other["id"], "volume.create.end")
    assert not [
        n
        for n in service.notifications_for(volume["id"])
        if n["event_type"].startswith("volume.create")
    ]
    api.delete_volume(volume["id"])
    api.delete_volume(other["id"])
    api.delete(f"/types/{created.json()['volume_type']['id']}")
