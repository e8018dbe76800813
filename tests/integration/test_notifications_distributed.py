"""Scaled out: each role publishes its own events to the one bus (``driver = messagingv2``
with the RPC bus's ``transport_url``), from whichever host runs it, as Cinder's services do.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

pytest.register_assert_rewrite("distributed")

from distributed import StartCluster, wait_for  # noqa: E402
from infra.rabbitmq import RabbitMQServer  # noqa: E402
from notification_listener import NotificationListener  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration


def test_two_volume_hosts_publish_to_one_listener(cluster_factory: StartCluster) -> None:
    cluster = cluster_factory(
        backends={"file-1": {"file_capacity_gb": "100"}, "file-2": {"file_capacity_gb": "100"}},
        sections={"oslo_messaging_notifications": {"driver": "messagingv2"}},
        role_hosts={"volume-file-2": "{host}-b"},
    )
    host_a, host_b = cluster.host, f"{cluster.host}-b"
    ceilometer = NotificationListener(cluster.transport_url).start()
    try:
        with cluster.client() as admin:
            wait_for(lambda: {f"{host_a}@file-1#file-1", f"{host_b}@file-2#file-2"}
                     <= set(admin.pools()), "a pool on each host")  # fmt: skip
            _on_two_hosts(cluster, admin, ceilometer, host_a, host_b)
    finally:
        ceilometer.stop()


def _on_two_hosts(cluster: Any, admin: Any, ceilometer: NotificationListener, host_a: str,
                  host_b: str) -> None:  # fmt: skip
    placed: dict[str, str] = {}
    for backend in ("file-1", "file-2"):
        resp = admin.post(
            "/types",
            json={
                "volume_type": {
                    "name": f"on-{backend}",
                    "extra_specs": {"volume_backend_name": backend},
                }
            },
        )
        assert resp.status_code == 200, resp.text
        placed[backend] = admin.create(volume_type=f"on-{backend}")
    for volume_id in placed.values():
        admin.wait_for_volume(volume_id)
    expected = {"file-1": f"volume.{host_a}@file-1#file-1",
                "file-2": f"volume.{host_b}@file-2#file-2"}  # fmt: skip
    for backend, volume_id in placed.items():
        for suffix in ("start", "end"):
            [event] = ceilometer.wait_for(
                lambda r, v=volume_id, s=suffix: (
                    r.event_type == f"volume.create.{s}" and r.payload.get("volume_id") == v
                )
            )
            assert event.publisher_id == expected[backend], event
            assert event.payload["host"] == expected[backend].removeprefix("volume.")

    # Nothing fits: the scheduler process says so, at ERROR.
    failed = admin.create(size=5000)
    admin.wait_for_volume(failed, "error")
    [error] = ceilometer.wait_for(lambda r: r.payload.get("volume_id") == failed)
    assert (error.event_type, error.priority) == ("scheduler.create_volume", "ERROR")
    assert error.publisher_id == f"scheduler.{host_a}"

    # The API process sends the update; each volume service its own deletes.
    resp = admin.put(f"/volumes/{placed['file-2']}", json={"volume": {"name": "moved"}})
    assert resp.status_code == 200, resp.text
    for volume_id in placed.values():
        assert admin.delete(f"/volumes/{volume_id}").status_code == 202
    [update] = ceilometer.wait_for(lambda r: r.event_type == "volume.update.end")
    assert update.publisher_id == f"volume.{host_a}"
    for backend, volume_id in placed.items():
        [gone] = ceilometer.wait_for(
            lambda r, v=volume_id: (
                r.event_type == "volume.delete.end" and r.payload.get("volume_id") == v
            )
        )
        host = host_a if backend == "file-1" else host_b
        assert gone.publisher_id == f"volume.{host}@{backend}"
    # Every role writes its events to the bus, not to files.
    assert not (cluster.state_path / "notifications.jsonl").exists()


def test_a_broker_restart_under_creates_loses_no_volume_and_no_event(
    cluster_factory: StartCluster, rabbit_server: RabbitMQServer
) -> None:
    """One broker for the casts and the notifications, restarted while creates stream in:
    every create ends available, and every create's events reach the listener (durable
    queues on both sides keep what waited in the broker; the senders buffered the rest)."""
    durable = {"amqp_durable_queues": "true", "rabbit_interval_max": "1"}
    cluster = cluster_factory(
        backends={"file-1": {"file_capacity_gb": "1000"}},
        defaults={"transitional_status_timeout": "5", "reconcile_interval": "1"},
        sections={"oslo_messaging_notifications": {"driver": "messagingv2"},
                  "oslo_messaging_rabbit": durable},
    )  # fmt: skip
    cluster.wait_for_pools("file-1")
    ceilometer = NotificationListener(cluster.transport_url, rabbit=durable).start()
    accepted: list[str] = []
    stop = threading.Event()
    project = cluster.client().project

    def stream() -> None:
        with cluster.client(project) as api:
            while not stop.is_set():
                try:
                    resp = api.post("/volumes", json={"volume": {"size": 1}})
                except Exception:
                    time.sleep(0.2)
                    continue
                if resp.status_code == 202:
                    accepted.append(resp.json()["volume"]["id"])
                time.sleep(0.05)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(accepted) >= 5, "creates before the restart", 30)
        rabbit_server.restart()
        after = len(accepted)
        wait_for(lambda: len(accepted) >= after + 5, "creates after the restart", 60)
    finally:
        stop.set()
        thread.join(60)
    try:
        with cluster.client(project) as api:
            for volume_id in accepted:
                assert api.wait_for_volume(volume_id, timeout=90)["status"] == "available"

        def ended() -> set[str]:
            return {r.payload["volume_id"] for r in ceilometer.events(
                lambda r: r.event_type == "volume.create.end")}  # fmt: skip

        wait_for(lambda: set(accepted) <= ended(), "every create's create.end", 90)
    finally:
        ceilometer.stop()
    logs = "".join(cluster.role(name).log() for name in cluster.roles)
    assert "events were dropped" not in logs and "were never sent" not in logs
