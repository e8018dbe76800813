"""Every answer of the core routes against Tempest's published response schemas.

Tempest's schemas are what Cinder's clients validate against: no extra keys, none
missing, the right types and formats, the right status code. Each route is called at the
microversions where its schema changes (Tempest's own ``schema_versions_info``), as an
admin (every admin-only key present) and, behind Keystone, as a project member. Other
families (QoS, transfers, groups, …) check theirs in their own tests.

Some keys came with microversions Tempest has no schema for (a snapshot's
``group_snapshot_id`` at 3.14, ``user_id`` at 3.41, ``consumes_quota`` at 3.65; the
newer volume keys in the answer to an update; a list's ``count`` at 3.45): there the
answer must carry exactly Tempest's keys plus those, each present (``NEWER``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from harness import VolumeApi
from keystone_helpers import keystone_client
from tempest_schemas import TempestSchemas

MV = VolumeApi.mv

# Tempest's volumes client: the schema module for each microversion range.
VOLUME_SCHEMAS = (("3.0", "volumes"), ("3.60", "volumes"), ("3.61", "v3_61.volumes"),
                  ("3.62", "v3_61.volumes"), ("3.63", "v3_63.volumes"),
                  ("3.64", "v3_64.volumes"), ("3.65", "v3_65.volumes"),
                  ("3.68", "v3_65.volumes"), ("3.69", "v3_69.volumes"),
                  ("3.71", "v3_69.volumes"))  # fmt: skip
# Microversions where a snapshot's or another view's keys change.
VERSIONS = ("3.0", "3.3", "3.12", "3.14", "3.36", "3.41", "3.45", "3.65", "3.71")
# Keys added at microversions newer than Tempest's schema of that answer, by answer.
NEWER = {
    "snapshot": (("3.14", "group_snapshot_id"), ("3.41", "user_id"), ("3.65", "consumes_quota")),
    # Tempest's update schema stayed at the base view; admins see cluster_name from 3.61.
    "volume update": (("3.61", "cluster_name"), ("3.63", "volume_type_id"),
                      ("3.65", "consumes_quota")),
}  # fmt: skip


def newer(answer: str, version: str) -> tuple[str, ...]:
    return tuple(key for since, key in NEWER[answer] if _v(version) >= _v(since))


def _v(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


class Checked:
    """A client whose every answer is checked against the schema the caller names."""

    def __init__(self, api: VolumeApi, schemas: TempestSchemas, version: str) -> None:
        self.api, self.schemas, self.version = api, schemas, version

    def __call__(
        self, ref: str, method: str, path: str, newer: tuple[str, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        resp = self.api.request(method, path, headers=MV(self.version), **kwargs)
        self.schemas.check(ref, resp, newer)
        return resp


def exercise_volumes(call: Checked, module: str, api: VolumeApi, admin: bool = True) -> None:
    body = {"volume": {"size": 1, "name": "contract", "metadata": {"a": "b"}}}
    made = call(f"{module}.create_volume", "POST", "/volumes", json=body)
    volume_id = made.json()["volume"]["id"]
    api.wait_for_volume(volume_id)
    call(f"{module}.show_volume", "GET", f"/volumes/{volume_id}")
    call(f"{module}.list_volumes_no_detail", "GET", "/volumes")
    call(f"{module}.list_volumes_with_detail", "GET", "/volumes/detail")
    call(f"{module}.list_volumes_with_detail", "GET", "/volumes/detail",
         params={"limit": 1, "sort": "name:asc"})  # fmt: skip
    added = newer("volume update", call.version)
    if not admin:
        added = tuple(k for k in added if k != "cluster_name")
    call(f"{module}.update_volume", "PUT", f"/volumes/{volume_id}", added,
         json={"volume": {"name": "renamed", "description": "d"}})  # fmt: skip
    if _v(call.version) >= (3, 45):
        call(f"{module}.list_volumes_with_detail", "GET", "/volumes/detail", ("count",),
             params={"with_count": "true"})  # fmt: skip
    call("volumes.show_volume_metadata", "GET", f"/volumes/{volume_id}/metadata")
    call("volumes.create_volume_metadata", "POST", f"/volumes/{volume_id}/metadata",
         json={"metadata": {"c": "d"}})  # fmt: skip
    call("volumes.update_volume_metadata", "PUT", f"/volumes/{volume_id}/metadata",
         json={"metadata": {"c": "e"}})  # fmt: skip
    call("volumes.show_volume_metadata_item", "GET", f"/volumes/{volume_id}/metadata/c")
    call("volumes.update_volume_metadata_item", "PUT", f"/volumes/{volume_id}/metadata/c",
         json={"meta": {"c": "f"}})  # fmt: skip
    call("volumes.delete_volume_metadata_item", "DELETE", f"/volumes/{volume_id}/metadata/c")
    call("volumes.set_bootable_volume", "POST", f"/volumes/{volume_id}/action",
         json={"os-set_bootable": {"bootable": True}})  # fmt: skip
    call("volumes.update_volume_readonly", "POST", f"/volumes/{volume_id}/action",
         json={"os-update_readonly_flag": {"readonly": False}})  # fmt: skip
    call("volumes.reserve_volume", "POST", f"/volumes/{volume_id}/action",
         json={"os-reserve": {}})  # fmt: skip
    call("volumes.unreserve_volume", "POST", f"/volumes/{volume_id}/action",
         json={"os-unreserve": {}})  # fmt: skip
    call("volumes.extend_volume", "POST", f"/volumes/{volume_id}/action",
         json={"os-extend": {"new_size": 2}})  # fmt: skip
    api.wait_for_volume(volume_id)
    call("volumes.reset_volume_status", "POST", f"/volumes/{volume_id}/action",
         json={"os-reset_status": {"status": "available"}})  # fmt: skip
    call("volumes.delete_volume", "DELETE", f"/volumes/{volume_id}")
    api.wait_for_gone(volume_id)


def exercise_snapshots(call: Checked, api: VolumeApi) -> None:
    volume = api.create_volume()
    keys = newer("snapshot", call.version)
    made = call("snapshots.create_snapshot", "POST", "/snapshots", keys,
                json={"snapshot": {"volume_id": volume["id"], "name": "s",
                                   "metadata": {"a": "b"}}})  # fmt: skip
    snapshot_id = made.json()["snapshot"]["id"]
    api.wait_for(lambda: api.get(f"/snapshots/{snapshot_id}").json()["snapshot"]["status"]
                 == "available", "the snapshot")  # fmt: skip
    call("snapshots.show_snapshot", "GET", f"/snapshots/{snapshot_id}", keys)
    call("snapshots.list_snapshots_no_detail", "GET", "/snapshots", keys)
    call("snapshots.list_snapshots_with_detail", "GET", "/snapshots/detail", keys)
    call("snapshots.update_snapshot", "PUT", f"/snapshots/{snapshot_id}", keys,
         json={"snapshot": {"name": "t"}})  # fmt: skip
    call("snapshots.show_snapshot_metadata", "GET", f"/snapshots/{snapshot_id}/metadata")
    call("snapshots.update_snapshot_metadata", "PUT", f"/snapshots/{snapshot_id}/metadata",
         json={"metadata": {"x": "y"}})  # fmt: skip
    call("snapshots.show_snapshot_metadata_item", "GET",
         f"/snapshots/{snapshot_id}/metadata/x")  # fmt: skip
    call("snapshots.update_snapshot_metadata_item", "PUT",
         f"/snapshots/{snapshot_id}/metadata/x", json={"meta": {"x": "z"}})  # fmt: skip
    call("snapshots.delete_snapshot_metadata_item", "DELETE",
         f"/snapshots/{snapshot_id}/metadata/x")  # fmt: skip
    call("snapshots.reset_snapshot_status", "POST", f"/snapshots/{snapshot_id}/action",
         json={"os-reset_status": {"status": "available"}})  # fmt: skip
    call("snapshots.delete_snapshot", "DELETE", f"/snapshots/{snapshot_id}")
    api.wait_for(lambda: api.get(f"/snapshots/{snapshot_id}").status_code == 404, "the delete")
    api.delete_volume(volume["id"])


def exercise_types(call: Checked) -> None:
    name = f"contract-{uuid.uuid4().hex[:8]}"
    made = call("volume_types.create_volume_type", "POST", "/types",
                json={"volume_type": {"name": name, "extra_specs": {"k": "v"}}})  # fmt: skip
    type_id = made.json()["volume_type"]["id"]
    call("volume_types.show_volume_type", "GET", f"/types/{type_id}")
    call("volume_types.show_volume_type", "GET", "/types/default")
    call("volume_types.list_volume_types", "GET", "/types")
    call("volume_types.update_volume_types", "PUT", f"/types/{type_id}",
         json={"volume_type": {"description": "d"}})  # fmt: skip
    call("volume_types.list_volume_types_extra_specs", "GET", f"/types/{type_id}/extra_specs")
    call("volume_types.create_volume_types_extra_specs", "POST",
         f"/types/{type_id}/extra_specs", json={"extra_specs": {"k2": "v2"}})  # fmt: skip
    call("volume_types.show_volume_types_extra_specs", "GET",
         f"/types/{type_id}/extra_specs/k2")  # fmt: skip
    call("volume_types.update_volume_type_extra_specs", "PUT",
         f"/types/{type_id}/extra_specs/k2", json={"k2": "v3"})  # fmt: skip
    call("volume_types.delete_volume_types_extra_specs", "DELETE",
         f"/types/{type_id}/extra_specs/k2")  # fmt: skip
    call("volume_types.delete_volume_type", "DELETE", f"/types/{type_id}")


def exercise_project(call: Checked, project: str, version: str) -> None:
    call("limits.show_limits", "GET", "/limits")
    call("quotas.show_quota_set", "GET", f"/os-quota-sets/{project}")
    call("quotas.show_quota_set_usage", "GET", f"/os-quota-sets/{project}",
         params={"usage": "true"})  # fmt: skip
    call("quotas.show_quota_set", "GET", f"/os-quota-sets/{project}/defaults")
    call("quotas.update_quota_set", "PUT", f"/os-quota-sets/{project}",
         json={"quota_set": {"volumes": 20}})  # fmt: skip
    call("quotas.delete_quota_set", "DELETE", f"/os-quota-sets/{project}")
    call("quota_classes.show_quota_classes", "GET", "/os-quota-class-sets/default")
    services = "v3_7.services" if _v(version) >= (3, 7) else "services"
    call(f"{services}.list_services", "GET", "/os-services")
    call("scheduler_stats.get_pools_no_detail", "GET", "/scheduler-stats/get_pools")
    call("scheduler_stats.get_pools_with_detail", "GET", "/scheduler-stats/get_pools",
         params={"detail": "true"})  # fmt: skip
    call("extensions.list_extensions", "GET", "/extensions")
    if _v(version) >= (3, 12):
        call("volumes.show_volume_summary", "GET", "/volumes/summary")


@pytest.mark.parametrize("version,module", VOLUME_SCHEMAS)
def test_volume_answers_at_each_microversion(api, tempest_schemas, version, module):
    exercise_volumes(Checked(api, tempest_schemas, version), module, api)


@pytest.mark.parametrize("version", VERSIONS)
def test_snapshot_answers(api, tempest_schemas, version):
    exercise_snapshots(Checked(api, tempest_schemas, version), api)


@pytest.mark.parametrize("version", ("3.0", "3.52", "3.71"))
def test_type_answers(api, tempest_schemas, version):
    exercise_types(Checked(api, tempest_schemas, version))


@pytest.mark.parametrize("version", ("3.0", "3.7", "3.12", "3.36", "3.49", "3.71"))
def test_operator_and_project_answers(api, tempest_schemas, version):
    exercise_project(Checked(api, tempest_schemas, version), api.project, version)


def test_version_documents(service, tempest_schemas):
    tempest_schemas.check("versions.list_versions", httpx.get(service.base_url + "/"))


@pytest.fixture
def member(keystone, keystone_service) -> Iterator[VolumeApi]:
    token = keystone.token("alpha", "member")
    with keystone_client(keystone_service, token, keystone.project_id("alpha")) as client:
        yield client


@pytest.mark.parametrize("version,module", (VOLUME_SCHEMAS[0], VOLUME_SCHEMAS[-1]))
def test_a_members_answers(member, tempest_schemas, version, module):
    """Without the admin-only keys, the same schemas hold."""
    call = Checked(member, tempest_schemas, version)
    exercise_volumes(call, module, member, admin=False)
    exercise_snapshots(call, member)
    call("limits.show_limits", "GET", "/limits")
    call("volume_types.list_volume_types", "GET", "/types")
    call("volume_types.show_volume_type", "GET", "/types/default")
