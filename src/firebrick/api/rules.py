"""The policy rule of every route, in one table (Cinder's names; defaults in ``policy.py``).

``deps.call`` authorizes the rule of the matched route before the route runs, with the
caller's own project as the target: a member reaching for another project's resource
passes the rule and then finds nothing (404), as in Cinder. Routes whose rule depends on
the body (``/action``) or on a project named in the path (quota sets) authorize there;
they are listed with ``IN_ROUTE``.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

IN_ROUTE: Final = ""
PREFIXES: Final = ("/v3/{project_id}", "/v3")

ROUTE_RULES: Final[dict[tuple[str, str], str]] = {
    ("GET", "/volumes"): "volume:get_all",
    ("GET", "/volumes/detail"): "volume:get_all",
    ("GET", "/volumes/summary"): "volume:get_all",
    ("POST", "/volumes"): "volume:create",
    ("GET", "/volumes/{volume_id}"): "volume:get",
    ("PUT", "/volumes/{volume_id}"): "volume:update",
    ("DELETE", "/volumes/{volume_id}"): "volume:delete",
    ("POST", "/volumes/{volume_id}/action"): IN_ROUTE,
    ("GET", "/volumes/{owner_id}/metadata"): "volume:get_volume_metadata",
    ("POST", "/volumes/{owner_id}/metadata"): "volume:create_volume_metadata",
    ("PUT", "/volumes/{owner_id}/metadata"): "volume:update_volume_metadata",
    ("GET", "/volumes/{owner_id}/metadata/{key}"): "volume:get_volume_metadata",
    ("PUT", "/volumes/{owner_id}/metadata/{key}"): "volume:update_volume_metadata",
    ("DELETE", "/volumes/{owner_id}/metadata/{key}"): "volume:delete_volume_metadata",
    ("GET", "/snapshots"): "volume:get_all_snapshots",
    ("GET", "/snapshots/detail"): "volume:get_all_snapshots",
    ("POST", "/snapshots"): "volume:create_snapshot",
    ("GET", "/snapshots/{snapshot_id}"): "volume:get_snapshot",
    ("PUT", "/snapshots/{snapshot_id}"): "volume:update_snapshot",
    ("DELETE", "/snapshots/{snapshot_id}"): "volume:delete_snapshot",
    ("POST", "/snapshots/{snapshot_id}/action"): IN_ROUTE,
    ("GET", "/snapshots/{owner_id}/metadata"): "volume:get_snapshot_metadata",
    ("POST", "/snapshots/{owner_id}/metadata"): "volume:update_snapshot_metadata",
    ("PUT", "/snapshots/{owner_id}/metadata"): "volume:update_snapshot_metadata",
    ("GET", "/snapshots/{owner_id}/metadata/{key}"): "volume:get_snapshot_metadata",
    ("PUT", "/snapshots/{owner_id}/metadata/{key}"): "volume:update_snapshot_metadata",
    ("DELETE", "/snapshots/{owner_id}/metadata/{key}"): "volume:delete_snapshot_metadata",
    ("GET", "/types"): "volume_extension:type_get_all",
    ("GET", "/types/{type_id}"): "volume_extension:type_get",
    ("POST", "/types"): "volume_extension:types_manage",
    ("PUT", "/types/{type_id}"): "volume_extension:types_manage",
    ("DELETE", "/types/{type_id}"): "volume_extension:types_manage",
    ("GET", "/types/{type_id}/extra_specs"): "volume_extension:types_extra_specs:index",
    ("POST", "/types/{type_id}/extra_specs"): "volume_extension:types_extra_specs:create",
    ("GET", "/types/{type_id}/extra_specs/{key}"): "volume_extension:types_extra_specs:show",
    ("PUT", "/types/{type_id}/extra_specs/{key}"): "volume_extension:types_extra_specs:update",
    ("DELETE", "/types/{type_id}/extra_specs/{key}"): "volume_extension:types_extra_specs:delete",
    ("GET", "/os-availability-zone"): "volume_extension:availability_zone_list",
    ("GET", "/os-services"): "volume_extension:services:index",
    ("PUT", "/os-services/{action}"): "volume_extension:services:update",
    ("GET", "/scheduler-stats/get_pools"): "scheduler_extension:scheduler_stats:get_pools",
    ("GET", "/extensions"): "volume_extension:extensions:index",
    ("GET", "/messages"): "message:get_all",
    ("GET", "/messages/{message_id}"): "message:get",
    ("DELETE", "/messages/{message_id}"): "message:delete",
    ("GET", "/limits"): "limits_extension:used_limits",
    ("GET", "/os-quota-sets/{target_project}"): IN_ROUTE,
    ("GET", "/os-quota-sets/{target_project}/defaults"): IN_ROUTE,
    ("PUT", "/os-quota-sets/{target_project}"): IN_ROUTE,
    ("DELETE", "/os-quota-sets/{target_project}"): IN_ROUTE,
    ("GET", "/os-quota-class-sets/{class_name}"): "volume_extension:quota_classes",
    ("PUT", "/os-quota-class-sets/{class_name}"): "volume_extension:quota_classes",
    ("POST", "/workers/cleanup"): "workers:cleanup",
    ("GET", "/attachments"): "volume:attachment_get",
    ("GET", "/attachments/detail"): "volume:attachment_get",
    ("GET", "/attachments/{attachment_id}"): "volume:attachment_get",
    ("POST", "/attachments"): "volume:attachment_create",
    ("PUT", "/attachments/{attachment_id}"): "volume:attachment_update",
    ("POST", "/attachments/{attachment_id}/action"): "volume:attachment_complete",
    ("DELETE", "/attachments/{attachment_id}"): "volume:attachment_delete",
    # [qos]
    ("GET", "/qos-specs"): "volume_extension:qos_specs_manage:get_all",
    ("POST", "/qos-specs"): "volume_extension:qos_specs_manage:create",
    ("GET", "/qos-specs/{qos_id}"): "volume_extension:qos_specs_manage:get",
    ("PUT", "/qos-specs/{qos_id}"): "volume_extension:qos_specs_manage:update",
    ("DELETE", "/qos-specs/{qos_id}"): "volume_extension:qos_specs_manage:delete",
    ("PUT", "/qos-specs/{qos_id}/delete_keys"): "volume_extension:qos_specs_manage:delete",
    ("GET", "/qos-specs/{qos_id}/associations"): "volume_extension:qos_specs_manage:get_all",
    ("GET", "/qos-specs/{qos_id}/associate"): "volume_extension:qos_specs_manage:update",
    ("GET", "/qos-specs/{qos_id}/disassociate"): "volume_extension:qos_specs_manage:update",
    ("GET", "/qos-specs/{qos_id}/disassociate_all"): "volume_extension:qos_specs_manage:update",
    ("GET", "/types/{type_id}/encryption"): "volume_extension:volume_type_encryption:get",
    ("POST", "/types/{type_id}/encryption"): "volume_extension:volume_type_encryption:create",
    ("GET", "/types/{type_id}/encryption/{key}"): "volume_extension:volume_type_encryption:get",
    ("PUT", "/types/{type_id}/encryption/{encryption_id}"):
        "volume_extension:volume_type_encryption:update",
    ("DELETE", "/types/{type_id}/encryption/{encryption_id}"):
        "volume_extension:volume_type_encryption:delete",
    ("GET", "/volumes/{volume_id}/encryption"): "volume_extension:volume_encryption_metadata",
    ("GET", "/volumes/{volume_id}/encryption/{key}"):
        "volume_extension:volume_encryption_metadata",

    # [transfers]
    ("GET", "/os-volume-transfer"): "volume:get_all_transfers",
    ("GET", "/os-volume-transfer/detail"): "volume:get_all_transfers",
    ("POST", "/os-volume-transfer"): "volume:create_transfer",
    ("GET", "/os-volume-transfer/{transfer_id}"): "volume:get_transfer",
    ("DELETE", "/os-volume-transfer/{transfer_id}"): "volume:delete_transfer",
    ("POST", "/os-volume-transfer/{transfer_id}/accept"): "volume:accept_transfer",
    ("GET", "/volume-transfers"): "volume:get_all_transfers",
    ("GET", "/volume-transfers/detail"): "volume:get_all_transfers",
    ("POST", "/volume-transfers"): "volume:create_transfer",
    ("GET", "/volume-transfers/{transfer_id}"): "volume:get_transfer",
    ("DELETE", "/volume-transfers/{transfer_id}"): "volume:delete_transfer",
    ("POST", "/volume-transfers/{transfer_id}/accept"): "volume:accept_transfer",

    # [groups]
    # Cinder checks no policy to read group types: IN_ROUTE, and the route checks nothing.
    ("GET", "/group_types"): IN_ROUTE,
    ("GET", "/group_types/{group_type_id}"): IN_ROUTE,
    ("POST", "/group_types"): "group:group_types:create",
    ("PUT", "/group_types/{group_type_id}"): "group:group_types:update",
    ("DELETE", "/group_types/{group_type_id}"): "group:group_types:delete",
    ("GET", "/group_types/{group_type_id}/group_specs"): "group:group_types_specs:get_all",
    ("POST", "/group_types/{group_type_id}/group_specs"): "group:group_types_specs:create",
    ("GET", "/group_types/{group_type_id}/group_specs/{spec_id}"): "group:group_types_specs:get",
    ("PUT", "/group_types/{group_type_id}/group_specs/{spec_id}"):
        "group:group_types_specs:update",
    ("DELETE", "/group_types/{group_type_id}/group_specs/{spec_id}"):
        "group:group_types_specs:delete",
    ("GET", "/groups"): "group:get_all",
    ("GET", "/groups/detail"): "group:get_all",
    ("POST", "/groups"): "group:create",
    ("POST", "/groups/action"): "group:create",
    ("GET", "/groups/{group_id}"): "group:get",
    ("PUT", "/groups/{group_id}"): "group:update",
    ("POST", "/groups/{group_id}/action"): IN_ROUTE,  # routes/groups.GROUP_ACTION_RULES
    ("GET", "/group_snapshots"): "group:get_all_group_snapshots",
    ("GET", "/group_snapshots/detail"): "group:get_all_group_snapshots",
    ("POST", "/group_snapshots"): "group:create_group_snapshot",
    ("GET", "/group_snapshots/{group_snapshot_id}"): "group:get_group_snapshot",
    ("DELETE", "/group_snapshots/{group_snapshot_id}"): "group:delete_group_snapshot",
    ("POST", "/group_snapshots/{group_snapshot_id}/action"): IN_ROUTE,

    # [manage]
    ("POST", "/os-volume-manage"): "volume_extension:volume_manage",
    ("POST", "/manageable_volumes"): "volume_extension:volume_manage",
    ("GET", "/os-volume-manage"): "volume_extension:list_manageable",
    ("GET", "/os-volume-manage/detail"): "volume_extension:list_manageable",
    ("GET", "/manageable_volumes"): "volume_extension:list_manageable",
    ("GET", "/manageable_volumes/detail"): "volume_extension:list_manageable",
    ("POST", "/os-snapshot-manage"): "snapshot_extension:snapshot_manage",
    ("POST", "/manageable_snapshots"): "snapshot_extension:snapshot_manage",
    ("GET", "/os-snapshot-manage"): "snapshot_extension:list_manageable",
    ("GET", "/os-snapshot-manage/detail"): "snapshot_extension:list_manageable",
    ("GET", "/manageable_snapshots"): "snapshot_extension:list_manageable",
    ("GET", "/manageable_snapshots/detail"): "snapshot_extension:list_manageable",

    # [migration]

    # [images]

    # [backups]
    ("GET", "/backups"): "backup:get_all",
    ("GET", "/backups/detail"): "backup:get_all",
    ("POST", "/backups"): "backup:create",
    ("POST", "/backups/import_record"): "backup:backup-import",
    ("GET", "/backups/{backup_id}"): "backup:get",
    ("PUT", "/backups/{backup_id}"): "backup:update",
    ("DELETE", "/backups/{backup_id}"): "backup:delete",
    ("POST", "/backups/{backup_id}/restore"): "backup:restore",
    ("GET", "/backups/{backup_id}/export_record"): "backup:export-import",
    ("POST", "/backups/{backup_id}/action"): IN_ROUTE,  # routes/backups.ACTION_RULES

    # [rbd]

    # [notifications]

    # [metrics]
    ("GET", "/volumes/{volume_id}/timeline"): "volume:get",

    # [core]
    ("GET", "/capabilities/{host}"): "volume_extension:capabilities",
    ("PUT", "/os-services/freeze"): "volume_extension:services:update",
    ("PUT", "/os-services/thaw"): "volume_extension:services:update",
    ("GET", "/os-hosts"): "volume_extension:hosts",
    ("GET", "/os-hosts/{host_name}"): "volume_extension:hosts",
    ("GET", "/types/{type_id}/os-volume-type-access"):
        "volume_extension:volume_type_access:get_all_for_type",
    ("POST", "/types/{type_id}/action"): IN_ROUTE,
}  # fmt: skip

# POST /volumes/{id}/action: the rule of each action, by the body's one key.
VOLUME_ACTION_RULES: Final[dict[str, str]] = {
    "os-extend": "volume:extend",
    "os-retype": "volume:retype",
    "os-set_bootable": "volume_extension:volume_actions:set_bootable",
    "os-update_readonly_flag": "volume:update_readonly_flag",
    "os-reset_status": "volume_extension:volume_admin_actions:reset_status",
    "os-force_delete": "volume_extension:volume_admin_actions:force_delete",
    "os-reserve": "volume_extension:volume_actions:reserve",
    "os-unreserve": "volume_extension:volume_actions:unreserve",
    "os-initialize_connection": "volume_extension:volume_actions:initialize_connection",
    "os-terminate_connection": "volume_extension:volume_actions:terminate_connection",
    "os-attach": "volume_extension:volume_actions:attach",
    "os-detach": "volume_extension:volume_actions:detach",
    "os-begin_detaching": "volume_extension:volume_actions:begin_detaching",
    "os-roll_detaching": "volume_extension:volume_actions:roll_detaching",
    # [qos]

    # [transfers]

    # [groups]

    # [manage]
    "os-unmanage": "volume_extension:volume_unmanage",

    # [migration]
    "os-migrate_volume": "volume_extension:volume_admin_actions:migrate_volume",
    "os-migrate_volume_completion":
        "volume_extension:volume_admin_actions:migrate_volume_completion",
    "revert": "volume:revert_to_snapshot",

    # [images]
    "os-volume_upload_image": "volume_extension:volume_actions:upload_image",
    "os-set_image_metadata": "volume_extension:volume_image_metadata:set",
    "os-unset_image_metadata": "volume_extension:volume_image_metadata:remove",
    "os-show_image_metadata": "volume:get_volume_metadata",

    # [backups]

    # [rbd]

    # [notifications]

    # [metrics]

    # [core]
}  # fmt: skip

# A route the table does not list is admin-only: never silently open.
UNLISTED: Final = "admin_api"


def route_key(method: str, path: str) -> tuple[str, str]:
    """(method, path below the ``/v3[/{project_id}]`` prefix) of a route template."""
    method = "GET" if method == "HEAD" else method
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            return method, path[len(prefix) :]
    return method, path


def rule_for(request: Request) -> str | None:
    """The rule to check before the matched route runs; None when the route checks itself.

    ``tests/unit/api/test_api_rules.py`` checks that every route is listed.
    """
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return None
    rule = ROUTE_RULES.get(route_key(request.method, path), UNLISTED)
    return rule or None
