"""Accepts racing on a real database (SQLite and PostgreSQL): one transfer taken by
several projects at once goes to exactly one of them, and transfers crossing between two
projects at once both complete, with usage exact."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from infra.postgres import PostgresServer, available, free_port, make_base_dir

from firebrick.api.transfer_api import TransferAPI
from firebrick.api.transfer_requests import TransferCreateRequest
from firebrick.config import QuotaDefaults
from firebrick.context import RequestContext
from firebrick.db import migrate, quotas, snapshots, volumes
from firebrick.db.engine import Database
from firebrick.domain import quota
from firebrick.domain.errors import FirebrickError
from firebrick.notifier import Notifier

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    if not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(make_base_dir(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=BACKENDS)
def transfer_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TransferAPI]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'firebrick.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.create_database(f"t_{uuid.uuid4().hex[:12]}")
    migrate.upgrade(url)
    db = Database(url)
    notifier = Notifier(tmp_path / "notifications.jsonl")
    try:
        yield TransferAPI(db=db, notifier=notifier, host="dbtest", quota_defaults=QuotaDefaults())
    finally:
        notifier.close()
        db.dispose()


def member(project: str) -> RequestContext:
    return RequestContext(user_id=f"user-{project}", project_id=project, roles=("member",))


def offered(api: TransferAPI, project: str, size: int = 1, snapshot: bool = True) -> Any:
    """A volume of ``project`` (with a snapshot) and its usage, offered; the creation."""
    vid = str(uuid.uuid4())
    with api.db.write() as conn:
        volumes.insert_volume(conn, {
            "id": vid, "project_id": project, "user_id": f"user-{project}", "size": size,
            "status": "available", "attach_status": "detached", "bootable": False,
            "multiattach": False, "scheduling_attempts": 0, "created_at": volumes.now(),
            "host": "dbtest@file-1#file-1",
        }, {})  # fmt: skip
        quotas.add_usage(conn, project, quota.volume_deltas(size, None))
        if snapshot:
            snapshots.insert_snapshot(conn, {
                "id": str(uuid.uuid4()), "volume_id": vid, "project_id": project,
                "user_id": f"user-{project}", "volume_size": size, "status": "available",
                "progress": "100%", "created_at": volumes.now(),
            }, {})  # fmt: skip
            quotas.add_usage(conn, project, quota.snapshot_deltas(size, None))
    return api.create(member(project), TransferCreateRequest(volume_id=vid, name=None))


def together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` on ``count`` threads released at once: results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "an accept hung (deadlock?)"
    return results


def usage(api: TransferAPI, project: str) -> dict[str, int]:
    with api.db.read() as conn:
        return {k: v for k, v in quotas.usage(conn, project).items() if v}


def test_one_transfer_taken_by_several_at_once_goes_to_one(transfer_api: TransferAPI) -> None:
    made = offered(transfer_api, "giver", size=2)
    takers = [f"taker-{i}" for i in range(4)]
    results = together(
        4, lambda i: transfer_api.accept(member(takers[i]), made.transfer.id, made.auth_key)
    )
    winners = [takers[i] for i, r in enumerate(results) if not isinstance(r, Exception)]
    assert len(winners) == 1, results
    losers = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, FirebrickError) and e.code in (400, 404) for e in losers), losers
    assert usage(transfer_api, "giver") == {}
    assert usage(transfer_api, winners[0]) == {"volumes": 1, "gigabytes": 4, "snapshots": 1}
    assert all(usage(transfer_api, t) == {} for t in takers if t not in winners)
    with transfer_api.db.read() as conn:
        vol = volumes.get(conn, made.transfer.volume_id)
        snaps = snapshots.of_volume(conn, vol.id)
    assert (vol.status, vol.project_id, vol.user_id) == ("available", winners[0],
                                                         f"user-{winners[0]}")  # fmt: skip
    assert [s.project_id for s in snaps] == [winners[0]]


def test_crossing_transfers_both_complete(transfer_api: TransferAPI) -> None:
    pairs = [("left", "right"), ("right", "left")] * 3
    offers = [offered(transfer_api, giver, snapshot=False) for giver, _ in pairs]
    results = together(
        len(pairs),
        lambda i: transfer_api.accept(
            member(pairs[i][1]), offers[i].transfer.id, offers[i].auth_key
        ),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert usage(transfer_api, "left") == {"volumes": 3, "gigabytes": 3}
    assert usage(transfer_api, "right") == {"volumes": 3, "gigabytes": 3}
    with transfer_api.db.read() as conn:
        owners = [volumes.get(conn, o.transfer.volume_id).project_id for o in offers]
    assert owners == [taker for _, taker in pairs]
