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

    # [transfers]

    # [groups]

    # [manage]

    # [migration]

    # [images]

    # [core]
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

    # [migration]

    # [images]
    "os-volume_upload_image": "volume_extension:volume_actions:upload_image",
    "os-set_image_metadata": "volume_extension:volume_image_metadata:set",
    "os-unset_image_metadata": "volume_extension:volume_image_metadata:remove",
    "os-show_image_metadata": "volume:get_volume_metadata",

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
