"""The database SIGKILLed under load (issue 20): every role stays up, the API answers a
clean 503 with ``Retry-After`` while it cannot record anything, and every request it
accepted ends in a final state within the outage plus a few seconds, not after the
scheduler's reconciler (``transitional_status_timeout`` is set far beyond the test), because
a consumer whose handler met the outage leaves the message unacknowledged and takes it
again once the database is back."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

pytest.register_assert_rewrite("distributed")

from distributed import StartCluster, wait_for  # noqa: E402
from infra.postgres import PostgresServer  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = pytest.mark.integration

OUTAGE = 5.0  # seconds the database stays down
GRACE = 20.0  # what "a few seconds" after the outage may take on this machine


def test_postgresql_sigkilled_mid_creates_and_deletes_loses_and_strands_nothing(
    cluster_factory: StartCluster, pg_server: PostgresServer
) -> None:
    cluster = cluster_factory(
        backends={"file-1": {"file_create_delay": "0.5"}},
        defaults={"transitional_status_timeout": "600", "reconcile_interval": "600"},
    )
    cluster.wait_for_pools("file-1")
    project = cluster.client().project
    accepted: list[str] = []
    deleted: list[str] = []
    answers = Counter[str]()
    retry_after: set[str] = set()
    stop = threading.Event()

    def stream() -> None:
        with cluster.client(project) as api:
            while not stop.is_set():
                try:
                    resp = api.post("/volumes", json={"volume": {"size": 1}})
                except httpx.TransportError as exc:
                    answers[type(exc).__name__] += 1
                    time.sleep(0.2)
                    continue
                answers[str(resp.status_code)] += 1
                if resp.status_code == 202:
                    accepted.append(resp.json()["volume"]["id"])
                    if len(accepted) % 3 == 0:  # some deletes in flight too
                        victim = accepted[-3]
                        gone = api.delete(f"/volumes/{victim}")
                        if gone.status_code == 202:
                            deleted.append(victim)
                elif resp.status_code == 503:
                    retry_after.add(resp.headers.get("Retry-After", ""))
                    time.sleep(0.2)
                time.sleep(0.05)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(accepted) >= 6, "creates before the outage", 30)
        # A backlog on the bus when the database dies: the volume service (four workers,
        # half a second a create) takes these messages during the outage.
        with cluster.client(project) as api:
            for _ in range(16):
                burst = api.post("/volumes", json={"volume": {"size": 1}})
                assert burst.status_code == 202, burst.text
                accepted.append(burst.json()["volume"]["id"])
        pg_server.kill()
        killed_at = time.monotonic()
        time.sleep(OUTAGE)
        pg_server.start()
        back_at = time.monotonic()
        after = len(accepted)
        wait_for(lambda: len(accepted) >= after + 6, "creates after the outage", 60)
    finally:
        stop.set()
        thread.join(30)
    assert set(answers) <= {"202", "503", "ReadError", "RemoteProtocolError"}, answers
    if answers["503"]:
        assert retry_after == {"5"}
    for name in cluster.roles:
        assert cluster.role(name).alive(), f"{name} died with the database"

    with cluster.client(project) as api:
        deadline = back_at + GRACE
        for volume_id in accepted:
            if volume_id in deleted:
                api.wait_for_gone(volume_id, max(deadline - time.monotonic(), 1.0))
            else:
                final = api.wait_for_final(volume_id, max(deadline - time.monotonic(), 1.0))
                assert final["status"] == "available", final
        assert time.monotonic() - killed_at < OUTAGE + GRACE + 30
        listed = {v["id"] for v in api.volumes()}
    kept = set(accepted) - set(deleted)
    assert listed == kept
    assert sorted(cluster.volume_files("file-1")) == sorted(kept)
