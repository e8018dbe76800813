"""Quota sets, quota class sets and limits: over HTTP, through cinderclient and openstacksdk,
and the limits tables themselves on SQLite and PostgreSQL.

Every test works in a project of its own; tests that change the ``default`` quota class
start a private service, since that class applies to every project.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import openstack
import pytest
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exceptions
from infra.postgres import PostgresServer, available, free_port, make_base_dir
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from firebrick.db import quotas
from firebrick.db.engine import Database
from firebrick.domain.errors import InvalidInput

pytestmark = pytest.mark.integration

BASE_KEYS = {"volumes", "snapshots", "gigabytes", "per_volume_gigabytes", "backups",
             "backup_gigabytes", "groups"}  # fmt: skip
# The shared service's configuration (conftest: quota_volumes = 50, the rest default).
SERVICE_DEFAULTS = {"volumes": 50, "snapshots": 10, "gigabytes": 1000,
                    "per_volume_gigabytes": -1, "backups": 10, "backup_gigabytes": 1000,
                    "groups": 10}  # fmt: skip
ABSOLUTE_KEYS = {"maxTotalVolumes", "maxTotalSnapshots", "maxTotalVolumeGigabytes",
                 "maxTotalBackups", "maxTotalBackupGigabytes", "totalVolumesUsed",
                 "totalGigabytesUsed", "totalSnapshotsUsed", "totalBackupsUsed",
                 "totalBackupGigabytesUsed"}  # fmt: skip


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def type_names(api):
    resp = api.get("/types", params={"is_public": "None"})
    assert resp.status_code == 200, resp.text
    return [t["name"] for t in resp.json()["volume_types"]]


def expected_keys(api):
    keys = set(BASE_KEYS)
    for name in type_names(api):
        keys |= {f"volumes_{name}", f"snapshots_{name}", f"gigabytes_{name}"}
    return keys


def quota_set(api, project, **params):
    resp = api.get(f"/os-quota-sets/{project}", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["quota_set"]


def put_quota_set(api, project, body):
    return api.put(f"/os-quota-sets/{project}", json={"quota_set": body})


def post_volume(api, volume):
    return api.post("/volumes", json={"volume": volume})


@pytest.fixture
def make_type(api):
    created = []

    def make(name=None):
        resp = api.post("/types", json={"volume_type": {"name": name or unique("qtype")}})
        assert resp.status_code == 200, resp.text
        created.append(resp.json()["volume_type"]["id"])
        return resp.json()["volume_type"]

    yield make
    for type_id in created:
        api.delete(f"/types/{type_id}")


# -- HTTP: shapes ---------------------------------------------------------------------


def test_show_has_cinders_keys_with_every_type_and_the_defaults(api, project, make_type):
    gold = make_type()
    shown = quota_set(api, project)
    assert set(shown) == expected_keys(api) | {"id"}
    assert shown["id"] == project
    assert {k: shown[k] for k in BASE_KEYS} == SERVICE_DEFAULTS
    for key in ("volumes_", "snapshots_", "gigabytes_"):
        assert shown[key + gold["name"]] == -1
        assert shown[key + "__DEFAULT__"] == -1


def test_show_with_usage_gives_limit_in_use_and_reserved(api, project):
    api.create_volume(size=2)
    shown = quota_set(api, project, usage="true")
    assert set(shown) == expected_keys(api) | {"id"}
    assert shown["id"] == project
    for key, value in shown.items():
        if key != "id":
            assert set(value) == {"limit", "in_use", "reserved"}, (key, value)
            assert value["reserved"] == 0
    assert shown["volumes"] == {"limit": 50, "in_use": 1, "reserved": 0}
    assert shown["gigabytes"] == {"limit": 1000, "in_use": 2, "reserved": 0}
    assert shown["per_volume_gigabytes"]["in_use"] == 0


def test_usage_flag_must_be_a_boolean(api, project):
    assert "limit" not in str(quota_set(api, project, usage="false")["volumes"])
    message = api.assert_fault(api.get(f"/os-quota-sets/{project}?usage=maybe"), 400)
    assert message == "Value 'maybe' for 'usage' is not a boolean."


def test_defaults(api, project):
    resp = api.get(f"/os-quota-sets/{project}/defaults")
    assert resp.status_code == 200, resp.text
    shown = resp.json()["quota_set"]
    assert set(shown) == expected_keys(api) | {"id"}
    assert shown["id"] == project
    assert {k: shown[k] for k in BASE_KEYS} == SERVICE_DEFAULTS


def test_routes_without_project_in_url(service, project):
    with service.client(project, with_project_in_url=False) as api:
        assert quota_set(api, project)["id"] == project
        assert api.get(f"/os-quota-sets/{project}/defaults").status_code == 200


# -- HTTP: update and delete ----------------------------------------------------------


def test_update_sets_limits_and_returns_the_full_set(api, project, make_type):
    gold = make_type()
    body = {"volumes": 5, f"gigabytes_{gold['name']}": 7, "per_volume_gigabytes": "3",
            "tenant_id": project}  # fmt: skip
    resp = put_quota_set(api, project, body)
    assert resp.status_code == 200, resp.text
    updated = resp.json()["quota_set"]
    assert set(updated) == expected_keys(api)  # like Cinder, no "id" in the answer
    assert updated["volumes"] == 5
    assert updated[f"gigabytes_{gold['name']}"] == 7
    assert updated["per_volume_gigabytes"] == 3
    assert updated["snapshots"] == 10
    shown = quota_set(api, project)
    assert {k: shown[k] for k in updated} == updated
    other = quota_set(api, uuid.uuid4().hex)
    assert other["volumes"] == 50


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"volumes": 1, "bogus": 1, "volumes_no_such_type": 2},
         "Invalid input received: Bad key(s) in quota set: bogus, volumes_no_such_type"),
        ({"volumes": "ten"}, "volumes must be an integer"),
        ({"volumes": True}, "volumes must be an integer"),
        ({"volumes": 1.5}, "volumes must be an integer"),
        ({"volumes": None}, "volumes must be an integer"),
        ({"volumes": -2}, "volumes must be >= -1"),
        ({"volumes": 2**31}, "volumes must be <= 2147483647"),
        ({}, "Invalid input received: quota_set must name at least one quota."),
        ({"tenant_id": "x"}, "Invalid input received: quota_set must name at least one quota."),
    ],
)  # fmt: skip
def test_bad_updates_are_400_and_change_nothing(api, project, body, message):
    before = quota_set(api, project)
    assert api.assert_fault(put_quota_set(api, project, body), 400) == message
    assert quota_set(api, project) == before


@pytest.mark.parametrize("payload", [{}, {"quota_set": 5}, {"quota_set": [1]}, [1]])
def test_update_without_a_quota_set_object_is_400(api, project, payload):
    api.assert_fault(api.put(f"/os-quota-sets/{project}", json=payload), 400)


def test_limit_below_usage_is_400(api, project):
    api.create_volume(size=3)
    message = api.assert_fault(put_quota_set(api, project, {"gigabytes": 2}), 400)
    assert message == (
        "Quota gigabytes limit must be equal or greater than existing resources. "
        "Current usage is 3 and the requested limit is 2."
    )
    assert quota_set(api, project)["gigabytes"] == 1000
    for ok in ({"gigabytes": 3}, {"volumes": -1}, {"per_volume_gigabytes": 1}):
        assert put_quota_set(api, project, ok).status_code == 200


def test_delete_returns_to_the_defaults(api, project):
    assert put_quota_set(api, project, {"volumes": 3, "snapshots": 4}).status_code == 200
    resp = api.delete(f"/os-quota-sets/{project}")
    assert resp.status_code == 200, resp.text
    assert resp.content == b""
    shown = quota_set(api, project)
    assert (shown["volumes"], shown["snapshots"]) == (50, 10)


def test_reserved_class_prefix_is_not_a_project(api):
    api.assert_fault(put_quota_set(api, "__class__default", {"volumes": 1}), 400)


# -- HTTP: enforcement and limits ---------------------------------------------------------


def test_project_limit_is_enforced_with_413_and_nothing_created(api, project):
    assert put_quota_set(api, project, {"volumes": 1, "gigabytes": 4}).status_code == 200
    api.create_volume(size=1)
    resp = post_volume(api, {"size": 1})
    message = api.assert_fault(resp, 413)
    assert message == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes'."
    )
    assert resp.headers.get("Retry-After") == "0"
    assert put_quota_set(api, project, {"volumes": 5}).status_code == 200
    message = api.assert_fault(post_volume(api, {"size": 4}), 413)
    assert message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 4G, quota is 4G and 1G has been consumed."
    )
    assert api.volume_count() == 1


def test_per_volume_limit_is_enforced(api, project):
    assert put_quota_set(api, project, {"per_volume_gigabytes": 2}).status_code == 200
    message = api.assert_fault(post_volume(api, {"size": 3}), 413)
    assert message == (
        "VolumeSizeExceedsLimit: Requested volume size 3G is larger than maximum allowed limit 2G."
    )
    assert api.volume_count() == 0


def test_per_type_limits_are_enforced_and_reported(api, project, make_type):
    gold = make_type()["name"]
    body = {f"volumes_{gold}": 1, f"gigabytes_{gold}": 3}
    assert put_quota_set(api, project, body).status_code == 200
    first = api.create_volume(size=2, volume_type=gold)
    usage = quota_set(api, project, usage="true")
    assert usage[f"volumes_{gold}"] == {"limit": 1, "in_use": 1, "reserved": 0}
    assert usage[f"gigabytes_{gold}"] == {"limit": 3, "in_use": 2, "reserved": 0}
    message = api.assert_fault(post_volume(api, {"size": 1, "volume_type": gold}), 413)
    assert message == (
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota "
        f"'volumes_{gold}'."
    )
    assert put_quota_set(api, project, {f"volumes_{gold}": 2}).status_code == 200
    message = api.assert_fault(post_volume(api, {"size": 2, "volume_type": gold}), 413)
    assert message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        f"gigabytes_{gold} quota. Requested 2G, quota is 3G and 2G has been consumed."
    )
    api.create_volume(size=2)  # another type is not limited by gold's quota
    assert api.volume_count() == 2
    api.delete_volume(first["id"])
    assert quota_set(api, project, usage="true")[f"volumes_{gold}"]["in_use"] == 0


def test_limits_has_exactly_the_ten_absolute_keys_and_follows_the_quota_set(api, project):
    resp = api.get("/limits")
    assert resp.status_code == 200, resp.text
    limits = resp.json()["limits"]
    assert limits["rate"] == []
    assert set(limits["absolute"]) == ABSOLUTE_KEYS
    assert limits["absolute"]["maxTotalVolumes"] == 50
    assert limits["absolute"]["maxTotalBackups"] == 10
    assert limits["absolute"]["maxTotalBackupGigabytes"] == 1000
    put_quota_set(api, project, {"volumes": 7, "gigabytes": 70, "backups": 2})
    api.create_volume(size=2)
    absolute = api.get("/limits").json()["limits"]["absolute"]
    assert absolute == {
        "maxTotalVolumes": 7, "maxTotalSnapshots": 10, "maxTotalVolumeGigabytes": 70,
        "maxTotalBackups": 2, "maxTotalBackupGigabytes": 1000,
        "totalVolumesUsed": 1, "totalGigabytesUsed": 2, "totalSnapshotsUsed": 0,
        "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0,
    }  # fmt: skip


def test_admin_reads_another_projects_limits_from_3_39(service, api, project):
    other = uuid.uuid4().hex
    put_quota_set(api, other, {"volumes": 3})
    params = {"project_id": other}
    assert api.get("/limits", params=params).json()["limits"]["absolute"]["maxTotalVolumes"] == 50
    resp = api.get("/limits", params=params, headers=api.mv("3.39"))
    assert resp.json()["limits"]["absolute"]["maxTotalVolumes"] == 3


# -- HTTP: quota classes ----------------------------------------------------------------


def test_quota_class_show_and_update(api):
    name = unique("class")
    resp = api.get(f"/os-quota-class-sets/{name}")
    assert resp.status_code == 200, resp.text
    shown = resp.json()["quota_class_set"]
    assert set(shown) == expected_keys(api) | {"id"}
    assert shown["id"] == name
    assert {k: shown[k] for k in BASE_KEYS} == SERVICE_DEFAULTS
    resp = api.put(f"/os-quota-class-sets/{name}", json={"quota_class_set": {"volumes": 4}})
    assert resp.status_code == 200, resp.text
    updated = resp.json()["quota_class_set"]
    assert set(updated) == expected_keys(api)
    assert updated["volumes"] == 4
    assert api.get(f"/os-quota-class-sets/{name}").json()["quota_class_set"]["volumes"] == 4


def test_quota_class_bad_input(api):
    url = f"/os-quota-class-sets/{unique('class')}"
    message = api.assert_fault(api.put(url, json={"quota_class_set": {"nope": 1}}), 400)
    assert message == "Invalid input received: Bad key(s) in quota class set: nope"
    message = api.assert_fault(api.put(url, json={"quota_class_set": {"volumes": -5}}), 400)
    assert message == "volumes must be >= -1"
    api.assert_fault(api.put(url, json={"volumes": 1}), 400)


def test_default_class_sets_every_projects_defaults(start_service):
    svc = start_service()
    with svc.client() as api:
        project = api.project
        resp = api.put("/os-quota-class-sets/default",
                       json={"quota_class_set": {"volumes": 3, "snapshots": 2}})  # fmt: skip
        assert resp.status_code == 200, resp.text
        defaults = api.get(f"/os-quota-sets/{project}/defaults").json()["quota_set"]
        assert (defaults["volumes"], defaults["snapshots"], defaults["gigabytes"]) == (3, 2, 1000)
        assert quota_set(api, project)["volumes"] == 3
        assert api.get("/limits").json()["limits"]["absolute"]["maxTotalVolumes"] == 3
        # A project's own limit wins over the class; deleting it falls back to the class.
        put_quota_set(api, project, {"volumes": 6})
        assert quota_set(api, project)["volumes"] == 6
        api.delete(f"/os-quota-sets/{project}")
        assert quota_set(api, project)["volumes"] == 3
        # ... and volume creates honour the class limit.
        for _ in range(3):
            api.create_volume(size=1, wait=None)
        message = api.assert_fault(post_volume(api, {"size": 1}), 413)
        assert "Maximum number of volumes allowed (3)" in message


# -- the clients ------------------------------------------------------------------------


def keystone_session(service, project, user="tester"):
    return ks_session.Session(
        auth=token_endpoint.Token(service.endpoint(project), f"{user}:{project}")
    )


@pytest.fixture
def cinder(service, project):
    return cinder_client.Client("3.71", session=keystone_session(service, project))


@pytest.fixture
def sdk(service, project):
    conn = openstack.connection.Connection(
        session=keystone_session(service, project),
        block_storage_endpoint_override=service.endpoint(project),
        block_storage_api_version="3",
    )
    yield conn
    conn.close()


def test_cinderclient_quota_commands(api, project, cinder):
    shown = cinder.quotas.get(project)  # cinder quota-show
    assert shown.volumes == 50
    assert shown.gigabytes == 1000
    assert shown.per_volume_gigabytes == -1
    assert shown.volumes___DEFAULT__ == -1
    assert cinder.quotas.defaults(project).snapshots == 10  # cinder quota-defaults
    updated = cinder.quotas.update(project, volumes=7, gigabytes=77)  # cinder quota-update
    assert (updated.volumes, updated.gigabytes) == (7, 77)
    api.create_volume(size=2)
    usage = cinder.quotas.get(project, usage=True)  # cinder quota-usage
    assert usage.volumes == {"limit": 7, "in_use": 1, "reserved": 0}
    assert usage.gigabytes == {"limit": 77, "in_use": 2, "reserved": 0}
    with pytest.raises(cinder_exceptions.BadRequest) as err:
        cinder.quotas.update(project, gigabytes=1)
    assert "Current usage is 2 and the requested limit is 1" in str(err.value)
    with pytest.raises(cinder_exceptions.BadRequest, match="Bad key"):
        cinder.quotas.update(project, bogus=1)
    cinder.quotas.delete(project)  # cinder quota-delete
    assert cinder.quotas.get(project).volumes == 50


def test_cinderclient_quota_class_commands(cinder):
    name = unique("class")
    assert cinder.quota_classes.get(name).volumes == 50  # cinder quota-class-show
    updated = cinder.quota_classes.update(name, volumes=9)  # cinder quota-class-update
    assert updated.volumes == 9
    assert cinder.quota_classes.get(name).volumes == 9


def test_cinderclient_sees_413_when_over_quota(api, project, cinder):
    cinder.quotas.update(project, volumes=0)
    with pytest.raises(cinder_exceptions.OverLimit) as err:
        cinder.volumes.create(1)
    assert "Maximum number of volumes allowed (0)" in str(err.value)
    assert api.volume_count() == 0


def test_openstacksdk_quota_sets(api, project, sdk):
    shown = sdk.block_storage.get_quota_set(project)
    assert (shown.volumes, shown.snapshots, shown.groups) == (50, 10, 10)
    defaults = sdk.block_storage.get_quota_set_defaults(project)
    assert defaults.backup_gigabytes == 1000
    updated = sdk.block_storage.update_quota_set(project, volumes=4)
    assert updated.volumes == 4
    api.create_volume(size=3)
    with_usage = sdk.block_storage.get_quota_set(project, usage=True)
    assert with_usage.volumes == 4
    assert with_usage.usage["volumes"] == 1
    assert with_usage.usage["gigabytes"] == 3
    assert with_usage.reservation["volumes"] == 0
    sdk.block_storage.revert_quota_set(project)
    assert sdk.block_storage.get_quota_set(project).volumes == 50


def test_openstacksdk_quota_class_sets(sdk):
    shown = sdk.block_storage.get_quota_class_set("default")
    assert shown.volumes == 50
    name = unique("class")
    updated = sdk.block_storage.update_quota_class_set(name, volumes=6)
    assert updated.volumes == 6


# -- the limits tables, on both databases -------------------------------------------------


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    if not available():
        pytest.skip("PostgreSQL is not installed")
    server = PostgresServer(make_base_dir(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'firebrick.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.create_database(f"q_{uuid.uuid4().hex[:12]}")
    database = Database(url)
    database.create_schema()
    try:
        yield database
    finally:
        database.dispose()


DEFAULTS = {"volumes": 10, "gigabytes": 1000}


def test_limits_fall_back_from_project_to_default_class_to_config(db: Database) -> None:
    with db.write() as conn:
        assert quotas.limits(conn, "p1", DEFAULTS) == DEFAULTS
        quotas.set_class_limits(conn, "default", {"volumes": 5, "volumes_gold": 2})
        quotas.set_class_limits(conn, "other", {"volumes": 1})
        quotas.set_limits(conn, "p1", {"gigabytes": 30})
        quotas.set_limits(conn, "p1", {"gigabytes": 40, "snapshots_gold": 0})
    with db.read() as conn:
        assert quotas.limits(conn, "p1", DEFAULTS) == {
            "volumes": 5, "gigabytes": 40, "volumes_gold": 2, "snapshots_gold": 0,
        }  # fmt: skip
        assert quotas.limits(conn, "p2", DEFAULTS) == {**DEFAULTS, "volumes": 5, "volumes_gold": 2}
        assert quotas.class_limits(conn, "other", DEFAULTS)["volumes"] == 1
        assert quotas.class_limits(conn, "unknown", DEFAULTS)["volumes"] == 5
    with db.write() as conn:
        quotas.delete_limits(conn, "p1")
    with db.read() as conn:
        assert quotas.limits(conn, "p1", DEFAULTS)["gigabytes"] == 1000
        assert quotas.class_limits(conn, "default", DEFAULTS)["volumes"] == 5


def test_class_rows_cannot_be_reached_as_a_project(db: Database) -> None:
    with db.write() as conn, pytest.raises(InvalidInput):
        quotas.set_limits(conn, "__class__default", {"volumes": 1})
    with db.read() as conn, pytest.raises(InvalidInput):
        quotas.delete_limits(conn, "__class__default")


def test_delete_limits_keeps_usage(db: Database) -> None:
    with db.write() as conn:
        quotas.add_usage(conn, "p1", {"volumes": 2, "volumes_gold": 2})
        quotas.set_limits(conn, "p1", {"volumes": 3})
        quotas.delete_limits(conn, "p1")
    with db.read() as conn:
        assert quotas.usage(conn, "p1") == {"volumes": 2, "volumes_gold": 2}


def test_renaming_a_type_carries_its_limits_and_usage(db: Database) -> None:
    with db.write() as conn:
        quotas.set_limits(conn, "p1", {"volumes_gold": 3, "gigabytes_gold": 30, "volumes": 9})
        quotas.add_usage(conn, "p1", {"volumes_gold": 1, "gigabytes_gold": 5})
        # left behind by a deleted type that was called "platinum"
        quotas.set_limits(conn, "p2", {"volumes_platinum": 1})
        quotas.add_usage(conn, "p2", {"volumes_platinum": 4})
        quotas.rename_type(conn, "gold", "platinum")
    with db.read() as conn:
        assert quotas.limits(conn, "p1", {}) == {
            "volumes_platinum": 3, "gigabytes_platinum": 30, "volumes": 9,
        }  # fmt: skip
        assert quotas.usage(conn, "p1") == {"volumes_platinum": 1, "gigabytes_platinum": 5}
        assert quotas.limits(conn, "p2", {}) == {}
        assert quotas.usage(conn, "p2") == {}


def test_snapshot_limits_are_enforced(api, project, make_type):
    gold = make_type()["name"]
    volume = api.create_volume(size=2, volume_type=gold)
    body = {"snapshot": {"volume_id": volume["id"]}}
    put_quota_set(api, project, {f"snapshots_{gold}": 0})
    message = api.assert_fault(api.post("/snapshots", json=body), 413)
    assert message == "SnapshotLimitExceeded: Maximum number of snapshots allowed (0) exceeded"
    put_quota_set(api, project, {f"snapshots_{gold}": -1, "gigabytes": 3})
    message = api.assert_fault(api.post("/snapshots", json=body), 413)
    assert message == (
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota. Requested 2G, quota is 3G and 2G has been consumed."
    )
    assert api.get("/snapshots").json()["snapshots"] == []
