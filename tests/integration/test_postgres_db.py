"""The database layer against a real PostgreSQL server, side by side with SQLite.

Each test gets a fresh, migrated database (a new database on the module's server, or a
new SQLite file), so the same assertions hold on both backends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from infra.postgres import PostgresServer, available, free_port, make_base_dir
from sqlalchemy import Index, MetaData, create_engine, inspect, select
from sqlalchemy.pool import NullPool

from firebrick.db import attachments, messages, migrate, quotas, schema, services, types, volumes
from firebrick.db.engine import Database
from firebrick.domain.errors import MarkerNotFound, VolumeNotFound

pytestmark = pytest.mark.integration

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


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a new, empty database of the backend the test is parametrised with."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'firebrick.db'}"
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def db(empty_url: str) -> Iterator[Database]:
    migrate.upgrade(empty_url)
    database = Database(empty_url)
    try:
        yield database
    finally:
        database.dispose()


def _differences(url: str, metadata: MetaData) -> list[Any]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _run_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``count`` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# Migrations


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_migrations_build_exactly_the_schema(empty_url: str) -> None:
    assert migrate.current(empty_url) is None
    migrate.upgrade(empty_url)
    assert migrate.current(empty_url) == migrate.head()
    assert _differences(empty_url, schema.metadata) == []
    migrate.upgrade(empty_url)  # idempotent
    assert migrate.current(empty_url) == migrate.head()

    # The comparison is able to see a difference (an index the migrations lack).
    altered = MetaData()
    for table in schema.metadata.tables.values():
        table.to_metadata(altered)
    Index("ix_probe", altered.tables["volumes"].c.user_id)
    assert _differences(empty_url, altered) != []


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_concurrent_upgrades_from_four_processes(empty_url: str) -> None:
    start_at = time.time() + 3.0  # after every process has imported, so they race
    script = (
        "import sys, time\n"
        "from firebrick.db import migrate\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "migrate.upgrade(sys.argv[1])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_url, repr(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [p.communicate(timeout=120) for p in procs]
    failures = [err for p, (_out, err) in zip(procs, outcomes, strict=True) if p.returncode]
    assert failures == []
    assert migrate.current(empty_url) == migrate.head()
    assert _differences(empty_url, schema.metadata) == []


# Repositories


def _volume(project: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()), "project_id": project, "user_id": "u1", "size": 1,
        "status": "available", "attach_status": "detached", "bootable": False,
        "multiattach": False, "scheduling_attempts": 0, "created_at": volumes.now(),
    }  # fmt: skip
    row.update(values)
    return row


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_volume_round_trip(db: Database) -> None:
    project = "p-vol"
    base = volumes.now()
    with db.write() as conn:
        vtype = types.create(conn, "gold", extra_specs={"volume_backend_name": "b1"})
        rows = [
            _volume(project, display_name="alpha_1", size=3, host="h1@b_1#p1",
                    created_at=base, volume_type_id=vtype.id),
            _volume(project, display_name="alphaX1", size=1, host="h1@bx1#p1",
                    created_at=base + timedelta(seconds=1), bootable=True),
            _volume(project, display_name="100% beta", size=2, status="error",
                    created_at=base + timedelta(seconds=2)),
            _volume(project, display_name=None, size=5, host="h1@b_1#p2",
                    created_at=base + timedelta(seconds=3)),
            _volume("other", display_name="alpha_1", size=7),
        ]  # fmt: skip
        for i, row in enumerate(rows):
            volumes.insert_volume(conn, row, {"tier": "fast" if i % 2 else "slow", "n": str(i)})

    with db.read() as conn:
        got = volumes.get(conn, rows[0]["id"], project)
        assert (got.name, got.size, got.volume_type_name) == ("alpha_1", 3, "gold")
        assert got.metadata == {"tier": "slow", "n": "0"}
        assert got.created_at == base and got.created_at.tzinfo is None
        with pytest.raises(VolumeNotFound):
            volumes.get(conn, rows[4]["id"], project)

        def ids(filters: dict[str, Any], **kw: Any) -> list[str]:
            found = volumes.list_volumes(
                conn, project_id=project, filters=filters,
                sort=kw.get("sort", [("created_at", "asc")]),
                limit=kw.get("limit"), marker=kw.get("marker"),
            )  # fmt: skip
            return [v.id for v in found]

        all_ids = [r["id"] for r in rows[:4]]
        assert ids({}) == all_ids
        assert ids({"status": "error"}) == [all_ids[2]]
        assert ids({"status": ["error", "available"]}) == all_ids
        # LIKE wildcards in the value are literal characters.
        assert ids({"name~": "a_1"}) == [all_ids[0]]
        assert ids({"name~": "0%"}) == [all_ids[2]]
        assert ids({"name~": "ALPHA"}) == all_ids[:2]  # case-insensitive on both backends
        assert ids({"metadata": {"tier": "fast"}}) == [all_ids[1], all_ids[3]]
        assert ids({"bootable": True}) == [all_ids[1]]
        assert ids({"created_at": {"gt": base, "lte": base + timedelta(seconds=2)}}) == all_ids[1:3]
        # Before 3.60 the raw value is compared as it is: not a timestamp → nothing (not
        # an error: PostgreSQL refuses to compare a timestamp with such a string).
        assert ids({"created_at": "yesterday"}) == []
        assert ids({"updated_at": "0"}) == []
        assert ids({"created_at": (base + timedelta(seconds=1)).isoformat()}) == [all_ids[1]]
        # ``_`` in a host is not a wildcard: h1@bx1 is another backend than h1@b_1.
        assert ids({"host": "h1@b_1"}) == [all_ids[0], all_ids[3]]
        assert volumes.count(conn, project_id=project, filters={"host": "h1@b_1"}) == 2
        assert volumes.count(conn, project_id=None, filters={"name~": "alpha_1"}) == 2

        by_size = ids({}, sort=[("size", "desc")])
        assert by_size == [all_ids[3], all_ids[0], all_ids[2], all_ids[1]]
        page1 = ids({}, sort=[("size", "desc")], limit=2)
        page2 = ids({}, sort=[("size", "desc")], limit=2, marker=page1[-1])
        assert page1 + page2 == by_size
        by_name = ids({}, sort=[("name", "asc")])
        assert by_name[0] == all_ids[3]  # NULL first ascending
        assert ids({}, sort=[("name", "asc")], marker=by_name[0]) == by_name[1:]
        by_name_desc = ids({}, sort=[("name", "desc")])
        assert by_name_desc[-1] == all_ids[3]  # NULL last descending
        assert ids({}, sort=[("name", "desc")], marker=by_name_desc[0]) == by_name_desc[1:]
        with pytest.raises(MarkerNotFound):
            ids({}, marker=rows[4]["id"])

        assert sorted(volumes.in_status(conn, ["available"], "h1@b_1")) == sorted(
            [all_ids[0], all_ids[3]]
        )
        assert volumes.allocated_by_pool(conn, "h1@b_1") == {"h1@b_1#p1": 3, "h1@b_1#p2": 5}
        assert volumes.uses_type(conn, vtype.id)
        count, size, meta = volumes.summary(conn, project)
        assert (count, size) == (4, 11)
        assert meta == {"n": ["0", "1", "2", "3"], "tier": ["fast", "slow"]}

    vid = all_ids[0]
    with db.write() as conn:
        assert volumes.update(conn, vid, {"status": "deleting"}, expected={"status": "available"})
        assert not volumes.update(conn, vid, {"status": "x"}, expected={"status": "available"})
        either = {"status": {"deleting", "error"}, "migration_status": None}
        assert volumes.update(conn, vid, {"migration_status": "m"}, expected=either)
        assert not volumes.update(conn, vid, {"size": 9}, expected={"migration_status": None})
        volumes.set_metadata(conn, vid, {"tier": "gold"}, replace=False)
    with db.read() as conn:
        got = volumes.get(conn, vid)
        assert (got.status, got.migration_status, got.size) == ("deleting", "m", 3)
        assert got.metadata == {"tier": "gold", "n": "0"}
        assert got.updated_at is not None and got.updated_at >= base
    with db.write() as conn:
        volumes.set_metadata(conn, vid, {"only": "this"}, replace=True)
        assert volumes.get(conn, vid).metadata == {"only": "this"}
        volumes.remove(conn, vid)
        assert volumes.find(conn, vid) is None


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_a_page_of_ids_is_one_parameter(db: Database) -> None:
    # More ids than one IN list of the old code took (500), in one query on both backends.
    rows = [_volume("p-page") for _ in range(1200)]
    with db.write() as conn:
        for i, row in enumerate(rows):
            volumes.insert_volume(conn, row, {"n": str(i)} if i % 3 == 0 else {})
    with db.read() as conn:
        found = volumes.list_volumes(
            conn, project_id="p-page", filters={}, sort=[("created_at", "asc")], limit=None,
            marker=None,
        )  # fmt: skip
        ids = [v.id for v in found]
        assert len(ids) == 1200
        by_id = {v.id: v.metadata for v in found}
        assert all(by_id[r["id"]] == ({"n": str(i)} if i % 3 == 0 else {})
                   for i, r in enumerate(rows))  # fmt: skip
        assert attachments.attached_to(conn, ids) == {}
        assert attachments.attached_to(conn, []) == {}
        # One id is compared with "=": the same answer as in a page.
        assert volumes.get(conn, rows[3]["id"]).metadata == {"n": "3"}
        assert volumes.get(conn, rows[4]["id"]).metadata == {}


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_types_with_extra_specs(db: Database) -> None:
    with db.write() as conn:
        types.ensure_default(conn)
        types.ensure_default(conn)
        gold = types.create(conn, "gold", description="fast", extra_specs={"a": "1", "b": "2"})
        types.create(conn, "hidden", is_public=False)
    with db.write() as conn:
        assert types.get(conn, "gold").extra_specs == {"a": "1", "b": "2"}
        assert types.get(conn, gold.id).name == "gold"
        types.set_extra_specs(conn, gold.id, {"b": "3", "c": "4"})
        assert types.delete_extra_spec(conn, gold.id, "a")
        assert not types.delete_extra_spec(conn, gold.id, "a")
        types.update_type(conn, gold.id, {"description": "faster", "is_public": True})
    with db.read() as conn:
        gold = types.get(conn, "gold")
        assert (gold.description, gold.extra_specs) == ("faster", {"b": "3", "c": "4"})
        assert [t.name for t in types.list_types(conn)] == [types.DEFAULT_TYPE_NAME, "gold"]
        assert [t.name for t in types.list_types(conn, is_public=False)] == ["hidden"]
        assert len(types.list_types(conn, is_public=None)) == 3
        assert types.name_taken(conn, "gold")
        assert not types.name_taken(conn, "gold", other_than=gold.id)
    with db.write() as conn:
        types.remove(conn, gold.id)
        assert not types.name_taken(conn, "gold")


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_services_and_pools(db: Database) -> None:
    caps = {
        "free_capacity_gb": 100.0, "total_capacity_gb": 120, "allocated_capacity_gb": 0,
        "thin_provisioning_support": True, "nested": {"list": [1, "two", None]},
    }  # fmt: skip
    with db.write() as conn:
        services.heartbeat(conn, "h1@b1", "cinder-volume", "cinder-volume", "nova")
    with db.write() as conn:
        services.heartbeat(conn, "h1@b1", "cinder-volume", "cinder-volume", "nova")
        services.report_pools(conn, "h1@b1", "nova", {"h1@b1#p1": caps}, {"h1@b1#p1": 0})
        services.add_allocation(conn, "h1@b1#p1", 10)
    with db.read() as conn:
        (record,) = services.list_services(conn, "cinder-volume")
        assert record.host == "h1@b1" and record.is_up(60) and not record.disabled
        report_count = conn.execute(select(schema.services.c.report_count)).scalar_one()
        assert report_count == 2
        (pool,) = services.pool_states(conn, {"h1@b1"})
        assert pool.allocated_capacity_gb == 10.0
        assert pool.capabilities["free_capacity_gb"] == 90.0
        assert pool.capabilities["nested"] == {"list": [1, "two", None]}
        assert services.pool_states(conn, {"h2@b1"}) == []
        assert services.allocations(conn, "h1@b1") == {"h1@b1#p1": 10.0}


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_quotas_and_messages(db: Database) -> None:
    with db.write() as conn:
        conn.execute(schema.quotas.insert().values(project_id="p", resource="volumes",
                                                   hard_limit=3))  # fmt: skip
        assert quotas.limits(conn, "p", {"volumes": 10, "gigabytes": 100}) == {
            "volumes": 3, "gigabytes": 100,
        }  # fmt: skip
        assert quotas.usage(conn, "p", lock=True) == {}
        quotas.add_usage(conn, "p", {"volumes": 1, "gigabytes": 5})
        quotas.add_usage(conn, "p", {"volumes": 1, "gigabytes": -2})
        message_id = messages.add(conn, project_id="p", event_id="VOLUME_000001",
                                  resource_uuid="v1", detail="no room")  # fmt: skip
    with db.read() as conn:
        assert quotas.usage(conn, "p") == {"volumes": 2, "gigabytes": 3}
        found = messages.get(conn, message_id, "p")
        assert found is not None and found.detail == "no room"
        assert messages.get(conn, message_id, "q") is None
        assert [m.id for m in messages.list_messages(conn, "p", "v1")] == [message_id]


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_usage_of_several_resources_changes_in_one_statement(db: Database) -> None:
    """A create's four usage rows change in one UPDATE; rows a project never used are
    made (with the delta, never below zero), the others only get their own delta."""
    with db.write() as conn:
        quotas.add_usage(conn, "p", {"volumes": 1, "gigabytes": 5})
        quotas.add_usage(conn, "p", {"volumes": 2, "gigabytes": 10, "volumes_t": 1,
                                     "gigabytes_t": 4})  # fmt: skip
        quotas.add_usage(conn, "q", {"volumes": 7, "gigabytes": 70})  # another project
        quotas.add_usage(conn, "p", {"volumes": -1, "gigabytes": -5, "volumes_t": -1,
                                     "gigabytes_t": -4})  # fmt: skip
        quotas.add_usage(conn, "p", {"snapshots": -1, "volumes": 1, "gigabytes": 0})
    with db.read() as conn:
        assert quotas.usage(conn, "p") == {
            "volumes": 3, "gigabytes": 10, "volumes_t": 0, "gigabytes_t": 0, "snapshots": 0,
        }  # fmt: skip
        assert quotas.usage(conn, "q") == {"volumes": 7, "gigabytes": 70}


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_limits_are_the_class_then_the_project_in_one_read(db: Database) -> None:
    with db.write() as conn:
        quotas.set_class_limits(conn, "default", {"volumes": 3, "gigabytes": 9})
        quotas.set_limits(conn, "p", {"volumes": 7})
        quotas.set_limits(conn, "q", {"snapshots": 1})
    defaults = {"volumes": 10, "gigabytes": 100, "snapshots": 10}
    with db.read() as conn:
        assert quotas.limits(conn, "p", defaults) == {"volumes": 7, "gigabytes": 9,
                                                      "snapshots": 10}  # fmt: skip
        assert quotas.limits(conn, "r", defaults) == {"volumes": 3, "gigabytes": 9,
                                                      "snapshots": 10}  # fmt: skip


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_quota_rows_hold_long_type_names_and_huge_usage(db: Database) -> None:
    per_type = "snapshots_" + "t" * 255  # a volume type name may have 255 characters
    with db.write() as conn:
        conn.execute(schema.quotas.insert().values(project_id="p", resource=per_type,
                                                   hard_limit=-1))  # fmt: skip
        quotas.add_usage(conn, "p", {per_type: 1, "gigabytes": 3 * 2**31})
    with db.read() as conn:
        assert quotas.limits(conn, "p", {per_type: 10}) == {per_type: -1}
        assert quotas.usage(conn, "p") == {per_type: 1, "gigabytes": 3 * 2**31}


# Concurrency


def _create_under_quota(db: Database, project: str, limit: int, hold: float) -> bool:
    """The create path's quota step: lock usage, check, add; True if admitted."""
    with db.write() as conn:
        used = quotas.usage(conn, project, lock=True).get("volumes", 0)
        if used >= limit:
            return False
        time.sleep(hold)  # widen the window in which an unlocked reader would also pass
        quotas.add_usage(conn, project, {"volumes": 1})
        return True


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_quota_row_lock_admits_exactly_the_limit(db: Database) -> None:
    with db.write() as conn:
        quotas.add_usage(conn, "p8", {"volumes": 0})
    results = _run_threads(8, lambda _i: _create_under_quota(db, "p8", 5, 0.05))
    assert [r for r in results if not isinstance(r, bool)] == []
    assert results.count(True) == 5
    with db.read() as conn:
        assert quotas.usage(conn, "p8") == {"volumes": 5}


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_quota_lock_holds_before_the_first_usage_row_exists(db: Database) -> None:
    results = _run_threads(8, lambda _i: _create_under_quota(db, "fresh", 5, 0.05))
    assert [r for r in results if not isinstance(r, bool)] == []
    assert results.count(True) == 5
    with db.read() as conn:
        assert quotas.usage(conn, "fresh") == {"volumes": 5}


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_default_type_ensured_by_many_starting_processes(db: Database) -> None:
    def ensure(_i: int) -> None:
        with db.write() as conn:
            types.ensure_default(conn)
            time.sleep(0.05)

    assert [r for r in _run_threads(4, ensure) if r is not None] == []
    with db.read() as conn:
        assert [t.name for t in types.list_types(conn)] == [types.DEFAULT_TYPE_NAME]


@pytest.mark.parametrize("empty_url", ["postgresql"], indirect=True)
def test_committed_write_survives_a_server_crash(pg_server: PostgresServer, db: Database) -> None:
    row = _volume("durable")
    with db.write() as conn:
        volumes.insert_volume(conn, row, {"k": "v"})
    db.dispose()
    pg_server.restart(mode="immediate")  # no shutdown checkpoint: recovery replays the WAL
    with db.read() as conn:
        assert volumes.get(conn, row["id"]).metadata == {"k": "v"}
    assert set(inspect(db.engine).get_table_names()) >= set(schema.metadata.tables)
