"""Notifications on a real RabbitMQ, read by an oslo.messaging listener set up as
Ceilometer's notification agent sets it up (``notification_listener.py``).

Each test gets a fresh vhost on the worker's broker (or a broker of its own when it stops
it), so listeners never see another test's events.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import kombu
import pytest
from attach_helpers import attach, connector, detach, require_tools, stop_targets, target_backend
from backup_helpers import create_backup, wait_backup_gone
from harness import Service, VolumeApi
from notification_listener import NotificationListener, Received

pytest.register_assert_rewrite("distributed")

from distributed import new_vhost  # noqa: E402
from infra.rabbitmq import RabbitMQServer  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration

HOST = "itest"
BACKEND = f"{HOST}@file-1"
POOL = f"{BACKEND}#file-1"

# Cinder's _usage_from_volume and _usage_from_snapshot keys.
VOLUME_KEYS = {
    "tenant_id", "user_id", "host", "availability_zone", "volume_id", "volume_type",
    "display_name", "launched_at", "created_at", "status", "snapshot_id", "size",
    "replication_status", "replication_extended_status", "replication_driver_data",
    "metadata", "volume_attachment",
}  # fmt: skip
SNAPSHOT_KEYS = {
    "tenant_id", "user_id", "availability_zone", "volume_id", "volume_size", "snapshot_id",
    "display_name", "created_at", "status", "deleted", "metadata",
}  # fmt: skip
SCHEDULER_KEYS = {"request_spec", "volume_properties", "volume_id", "state", "method", "reason"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


@pytest.fixture
def vhost_url(rabbit_server: RabbitMQServer) -> str:
    return new_vhost(rabbit_server)


@pytest.fixture
def listeners() -> Iterator[list[NotificationListener]]:
    started: list[NotificationListener] = []
    yield started
    for listener in started:
        listener.stop()


def listen(started: list[NotificationListener], url: str, **kwargs: Any) -> NotificationListener:
    listener = NotificationListener(url, **kwargs).start()
    started.append(listener)
    return listener


def bus_sections(url: str, **extra: str) -> dict[str, dict[str, str]]:
    return {"oslo_messaging_notifications": {"driver": "messagingv2", "transport_url": url,
                                             **extra}}  # fmt: skip


def about(volume_id: str) -> Any:
    return lambda r: r.payload.get("volume_id") == volume_id


def one(listener: NotificationListener, event_type: str, volume_id: str) -> Received:
    [found] = listener.wait_for(lambda r: r.event_type == event_type and about(volume_id)(r))
    return found


def create(api: VolumeApi, size: int = 1, **fields: Any) -> tuple[str, str]:
    """POST /volumes; (the volume's id, the request id)."""
    resp = api.post("/volumes", json={"volume": {"size": size, **fields}})
    assert resp.status_code == 202, resp.text
    return resp.json()["volume"]["id"], resp.headers["x-openstack-request-id"]


def wait_status(api: VolumeApi, path: str, key: str, status: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        found: dict[str, Any] = api.get(path).json()[key]
        return found if found["status"] == status else None

    found: dict[str, Any] = api.wait_for(reached, f"{path} {status}")
    return found


# ---------------------------------------------------------------------------------------
# the events of a volume's life, as Cinder sends them


def test_a_volume_life_reaches_a_ceilometer_listener(
    start_service: Any, vhost_url: str, listeners: list[NotificationListener]
) -> None:
    require_tools()
    ceilometer = listen(listeners, vhost_url)
    backend = {"file_capacity_gb": "100", **target_backend("nbd")}
    svc: Service = start_service(backends={"file-1": backend}, sections=bus_sections(vhost_url))
    try:
        with svc.client(microversion="3.44") as api:
            _volume_life(svc, api, ceilometer)
    finally:
        stop_targets(svc)
    # Nothing goes to the file when the bus is the driver.
    assert svc.notifications() == []


def _volume_life(svc: Service, api: VolumeApi, ceilometer: NotificationListener) -> None:
    volume_id, request_id = create(api, name="billed", metadata={"team": "db"})
    wait_status(api, f"/volumes/{volume_id}", "volume", "available")
    start, end = (one(ceilometer, f"volume.create.{s}", volume_id) for s in ("start", "end"))
    for event in (start, end):
        assert event.priority == "INFO"
        assert event.publisher_id == f"volume.{POOL}"
        assert set(event.payload) == VOLUME_KEYS
        assert event.payload["tenant_id"] == api.project
        assert event.payload["metadata"] == [{"key": "team", "value": "db"}]
        assert TIMESTAMP.match(event.metadata["timestamp"]), event.metadata
        assert uuid.UUID(event.metadata["message_id"])
        # The request context travels as Cinder's does (never a token).
        assert event.context["request_id"] == request_id
        assert event.context["project_id"] == api.project
        assert not event.context.get("auth_token")
    assert end.payload["status"] == "available" and end.payload["host"] == POOL

    resp = api.post(f"/volumes/{volume_id}/action", json={"os-extend": {"new_size": 2}})
    assert resp.status_code == 202, resp.text
    resized = one(ceilometer, "volume.resize.end", volume_id)
    assert one(ceilometer, "volume.resize.start", volume_id).publisher_id == f"volume.{BACKEND}"
    assert resized.publisher_id == f"volume.{BACKEND}" and resized.payload["size"] == 2
    wait_status(api, f"/volumes/{volume_id}", "volume", "available")

    resp = api.put(f"/volumes/{volume_id}", json={"volume": {"name": "renamed"}})
    assert resp.status_code == 200, resp.text
    updated = one(ceilometer, "volume.update.end", volume_id)
    assert one(ceilometer, "volume.update.start", volume_id).payload["display_name"] == "billed"
    assert updated.publisher_id == f"volume.{HOST}" and updated.payload["display_name"] == "renamed"

    resp = api.post("/snapshots", json={"snapshot": {"volume_id": volume_id, "name": "s1"}})
    assert resp.status_code == 202, resp.text
    snapshot_id = resp.json()["snapshot"]["id"]
    wait_status(api, f"/snapshots/{snapshot_id}", "snapshot", "available")
    for suffix in ("start", "end"):
        event = one(ceilometer, f"snapshot.create.{suffix}", volume_id)
        assert event.publisher_id == f"snapshot.{BACKEND}"
        assert set(event.payload) == SNAPSHOT_KEYS
        assert event.payload["snapshot_id"] == snapshot_id

    attachment = attach(api, volume_id, connector(host="compute-notify"))
    attach_start = one(ceilometer, "volume.attach.start", volume_id)
    attach_end = one(ceilometer, "volume.attach.end", volume_id)
    assert attach_start.publisher_id == f"volume.{BACKEND}"  # the volume service exports
    assert attach_end.publisher_id == f"volume.{HOST}"  # the API completes (os-complete)
    assert attach_end.payload["status"] == "in-use"
    detach(api, attachment["id"])
    assert one(ceilometer, "volume.detach.start", volume_id).publisher_id == f"volume.{BACKEND}"
    assert one(ceilometer, "volume.detach.end", volume_id).publisher_id == f"volume.{HOST}"

    assert api.delete(f"/snapshots/{snapshot_id}").status_code == 202
    deleted = one(ceilometer, "snapshot.delete.end", volume_id)
    assert deleted.publisher_id == f"snapshot.{BACKEND}" and deleted.payload["deleted"] == "True"
    assert api.delete(f"/volumes/{volume_id}").status_code == 202
    gone = one(ceilometer, "volume.delete.end", volume_id)
    assert one(ceilometer, "volume.delete.start", volume_id).publisher_id == f"volume.{BACKEND}"
    assert gone.publisher_id == f"volume.{BACKEND}" and set(gone.payload) == VOLUME_KEYS

    # What Cinder sends, in its order, and nothing else for this volume.
    seen = [r.event_type for r in ceilometer.events(about(volume_id))]
    assert seen == [
        "volume.create.start", "volume.create.end", "volume.resize.start", "volume.resize.end",
        "volume.update.start", "volume.update.end", "snapshot.create.start",
        "snapshot.create.end", "volume.attach.start", "volume.attach.end",
        "volume.detach.start", "volume.detach.end", "snapshot.delete.start",
        "snapshot.delete.end", "volume.delete.start", "volume.delete.end",
    ], seen  # fmt: skip
    assert "volume.create.end" in svc.log("api")  # each event is logged too


def test_a_create_no_backend_fits_goes_as_error_and_types_as_info(
    start_service: Any, vhost_url: str, listeners: list[NotificationListener]
) -> None:
    ceilometer = listen(listeners, vhost_url)
    svc: Service = start_service(
        backends={"file-1": {"file_capacity_gb": "10"}}, sections=bus_sections(vhost_url)
    )
    with svc.client() as api:
        volume_id, _ = create(api, size=500)
        wait_status(api, f"/volumes/{volume_id}", "volume", "error")
        [failed] = ceilometer.wait_for(about(volume_id))
        assert failed.priority == "ERROR"  # routed to notifications.error
        assert failed.event_type == "scheduler.create_volume"
        assert failed.publisher_id == f"scheduler.{HOST}"
        assert set(failed.payload) == SCHEDULER_KEYS and failed.payload["state"] == "error"
        # A failed scheduling sends no volume.* event (Cinder's order).
        assert [r.event_type for r in ceilometer.events(about(volume_id))] == [
            "scheduler.create_volume"
        ]

        resp = api.post("/types", json={"volume_type": {"name": "gold"}})
        assert resp.status_code == 200, resp.text
        type_id = resp.json()["volume_type"]["id"]
        refused = api.post("/types", json={"volume_type": {"name": "gold"}})
        assert refused.status_code == 409
        assert api.delete(f"/types/{type_id}").status_code == 202

    def of_type(r: Received) -> bool:
        return r.event_type.startswith("volume_type.")

    # INFO and ERROR come through two queues: their relative order is not kept.
    events = {(r.event_type, r.priority): r for r in ceilometer.wait_for(of_type, count=3)}
    created = events[("volume_type.create", "INFO")]
    conflict = events[("volume_type.create", "ERROR")]
    deleted = events[("volume_type.delete", "INFO")]
    assert created.publisher_id == conflict.publisher_id == f"volumeType.{HOST}"
    assert created.payload["volume_types"]["id"] == type_id
    assert "already exists" in conflict.payload["error_message"]
    assert deleted.payload["volume_types"]["name"] == "gold"


def test_messagingv2_wire_format_and_control_exchange(
    start_service: Any, vhost_url: str, listeners: list[NotificationListener]
) -> None:
    """With ``control_exchange = cinder`` every event is published there, in oslo.messaging's
    v2 envelope; a pool listener bound to that exchange (a billing tool) gets its own copy."""
    billing = listen(listeners, vhost_url, exchanges=("cinder",), pool="billing")
    url = kombu.Connection(vhost_url.replace("rabbit://", "amqp://", 1))
    with url as conn:
        exchange = kombu.Exchange("cinder", type="topic", durable=False)
        raw = kombu.Queue("raw-copy", exchange, routing_key="notifications.info",
                          durable=False, auto_delete=False)(conn.channel())  # fmt: skip
        raw.declare()
        svc: Service = start_service(
            backends={"file-1": {"file_capacity_gb": "100"}},
            defaults={"control_exchange": "cinder"},
            sections=bus_sections(vhost_url),
        )
        with svc.client() as api:
            volume_id, _ = create(api)
            wait_status(api, f"/volumes/{volume_id}", "volume", "available")
        assert one(billing, "volume.create.end", volume_id).publisher_id == f"volume.{POOL}"
        envelopes = []
        while (message := raw.get(no_ack=True)) is not None:
            envelopes.append(json.loads(message.body))
    assert envelopes, "nothing was published to the cinder exchange"
    for envelope in envelopes:
        assert set(envelope) == {"oslo.version", "oslo.message"}
        assert envelope["oslo.version"] == "2.0"
        inner = json.loads(envelope["oslo.message"])
        assert {"message_id", "publisher_id", "event_type", "priority", "payload",
                "timestamp", "_unique_id", "_context_request_id"} <= set(inner)  # fmt: skip
        assert inner["priority"] == "INFO"


# ---------------------------------------------------------------------------------------
# the usage audit


def run_audit(svc: Service, *args: str) -> subprocess.CompletedProcess[str]:
    firebrick = Path(__import__("sys").executable).parent / "firebrick"
    return subprocess.run(
        [str(firebrick), "volume-usage-audit", "--config", str(svc.config_path),
         *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_usage_audit_sends_exists_for_live_and_deleted_resources(
    start_service: Any, vhost_url: str, listeners: list[NotificationListener]
) -> None:
    ceilometer = listen(listeners, vhost_url)
    svc: Service = start_service(
        backends={"file-1": {"file_capacity_gb": "100"}}, sections=bus_sections(vhost_url)
    )
    with svc.client() as api:
        kept, _ = create(api, name="kept")
        dropped, _ = create(api, name="dropped")
        for volume_id in (kept, dropped):
            wait_status(api, f"/volumes/{volume_id}", "volume", "available")
        resp = api.post("/snapshots", json={"snapshot": {"volume_id": kept}})
        snapshot_id = resp.json()["snapshot"]["id"]
        wait_status(api, f"/snapshots/{snapshot_id}", "snapshot", "available")
        kept_backup = create_backup(api, kept)["id"]
        gone_backup = create_backup(api, dropped)["id"]
        assert api.delete(f"/backups/{gone_backup}").status_code == 202
        wait_backup_gone(api, gone_backup)
        assert api.delete(f"/volumes/{dropped}").status_code == 202
        api.wait_for(lambda: api.get(f"/volumes/{dropped}").status_code == 404, "deleted")

    done = run_audit(svc, "--start_time", "2000-01-01 00:00:00",
                     "--end_time", "2100-01-01 00:00:00", "--send_actions")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Volume usage audit completed" in done.stderr
    period = {"audit_period_beginning": "2000-01-01 00:00:00+00:00",
              "audit_period_ending": "2100-01-01 00:00:00+00:00"}  # fmt: skip

    exists = {r.payload["volume_id"]: r for r in ceilometer.wait_for(
        lambda r: r.event_type == "volume.exists" and r.payload["tenant_id"] == api.project,
        count=2)}  # fmt: skip
    assert set(exists) == {kept, dropped}
    for event in exists.values():
        assert event.publisher_id == f"volume.{HOST}" and event.priority == "INFO"
        assert set(event.payload) == VOLUME_KEYS | set(period)
        assert {k: event.payload[k] for k in period} == period
    assert exists[kept].payload["status"] == "available"
    assert exists[dropped].payload["status"] == "deleted"  # deleted ones count, as in Cinder

    [snapshot] = ceilometer.wait_for(lambda r: r.event_type == "snapshot.exists"
                                     and r.payload["snapshot_id"] == snapshot_id)  # fmt: skip
    assert snapshot.publisher_id == f"snapshot.{HOST}"
    assert set(snapshot.payload) == SNAPSHOT_KEYS | set(period)

    backups = {r.payload["backup_id"]: r for r in ceilometer.wait_for(
        lambda r: r.event_type == "backup.exists" and r.payload["tenant_id"] == api.project,
        count=2)}  # fmt: skip
    assert set(backups) == {kept_backup, gone_backup}  # a deleted backup counts too
    for event in backups.values():
        assert event.publisher_id == f"backup.{HOST}" and event.priority == "INFO"
        assert {k: event.payload[k] for k in period} == period
        assert {"backup_id", "volume_id", "size", "status", "created_at"} <= set(event.payload)
    assert backups[kept_backup].payload["status"] == "available"
    assert backups[gone_backup].payload["status"] == "deleted"

    # --send_actions: the creates and deletes of the period again, each at its moment.
    replayed = ceilometer.wait_for(
        lambda r: r.publisher_id == f"volume.{HOST}" and r.event_type != "volume.exists"
        and about(dropped)(r), count=4)  # fmt: skip
    assert [r.event_type for r in replayed] == [
        "volume.create.start",
        "volume.create.end",
        "volume.delete.start",
        "volume.delete.end",
    ]
    moment = replayed[-1].payload
    assert moment["audit_period_beginning"] == moment["audit_period_ending"]

    # A period before anything existed: nothing about these resources.
    count = len(ceilometer.events())
    done = run_audit(svc, "--start_time", "2001-01-01 00:00:00",
                     "--end_time", "2001-02-01 00:00:00")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Found" not in done.stderr or "Found 0" in done.stderr
    refused = run_audit(svc, "--start_time", "2001-02-01 00:00:00",
                        "--end_time", "2001-01-01 00:00:00")  # fmt: skip
    assert refused.returncode == 255 and "must be after the start time" in refused.stderr
    assert len(ceilometer.events()) == count


# ---------------------------------------------------------------------------------------
# a broker outage


def test_broker_outage_delays_no_create_and_events_follow_or_are_counted(
    start_service: Any, tmp_path: Path, listeners: list[NotificationListener]
) -> None:
    """The notifications' broker stops while creates run: every create answers at once and
    ends available; the events wait (at most ``notification_buffer_size``) and are sent
    when the broker is back, the others are dropped, and the count is in the log."""
    broker = RabbitMQServer(tmp_path / "broker", port=0)
    broker.start()
    try:
        _outage(start_service, broker, listeners)
    finally:
        broker.stop()


def _outage(start_service: Any, broker: RabbitMQServer, listeners: list[NotificationListener]
            ) -> None:  # fmt: skip
    buffer_size = 6
    ceilometer = listen(listeners, broker.url)
    svc: Service = start_service(
        backends={"file-1": {"file_capacity_gb": "100"}},
        defaults={"notification_buffer_size": str(buffer_size),
                  "notification_send_timeout": "1", "quota_volumes": "-1"},
        sections={**bus_sections(broker.url),
                  "oslo_messaging_rabbit": {"rabbit_interval_max": "1",
                                            "rabbit_retry_backoff": "1"}},
    )  # fmt: skip
    with svc.client() as api:
        before, _ = create(api)
        wait_status(api, f"/volumes/{before}", "volume", "available")
        one(ceilometer, "volume.create.end", before)

        broker.stop_node()
        timings: list[float] = []

        def timed_create(_: int) -> str:
            resp = api.post("/volumes", json={"volume": {"size": 1}})
            timings.append(resp.elapsed.total_seconds())
            assert resp.status_code == 202, resp.text
            return str(resp.json()["volume"]["id"])

        with ThreadPoolExecutor(4) as pool:
            during = list(pool.map(timed_create, range(10)))
        for volume_id in during:
            wait_status(api, f"/volumes/{volume_id}", "volume", "available")
        assert max(timings) < 1.0, timings  # never held by the broker
        api.wait_for(lambda: "has taken no event" in svc.log("api"), "the outage logged")

        broker.start()
        emitted = 2 * len(during)  # create.start and create.end each
        api.wait_for(lambda: "were dropped while the broker was unreachable" in svc.log("api"),
                     "the drop count logged", timeout=90)  # fmt: skip
    dropped = int(re.findall(r"(\d+) events were dropped while the broker", svc.log("api"))[-1])
    assert 0 < dropped <= emitted - buffer_size
    delivered = ceilometer.wait_for(
        lambda r: r.payload.get("volume_id") in during, count=emitted - dropped, timeout=60
    )
    # Every event is delivered or counted, never both, never neither.
    assert len(delivered) + dropped == emitted, (len(delivered), dropped)
    assert "takes events again" in svc.log("api")
