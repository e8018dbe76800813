"""Who may do what: oslo.policy with Cinder's rule names, defaults and operator overrides.

Every route names its rule (``api/rules.py``); ``authorize`` asks the enforcer with the
caller's credentials and the target project. Defaults follow Cinder's: readers read,
members create and change their own project's resources, admins do the admin-only calls.
An operator overrides any rule in a ``policy.yaml`` (``[oslo_policy] policy_file``).
"""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path
from typing import Any

from oslo_config import cfg
from oslo_policy import _checks
from oslo_policy import policy as oslo_policy

from firebrick.context import RequestContext
from firebrick.domain.errors import Forbidden

ADMIN = "rule:admin_api"
READER = "rule:project_reader_or_admin"
MEMBER = "rule:project_member_or_admin"

BASE_RULES = (
    ("context_is_admin", "role:admin"),
    ("admin_api", "role:admin"),
    ("project_reader", "role:reader and project_id:%(project_id)s"),
    ("project_member", "role:member and project_id:%(project_id)s"),
    ("project_reader_or_admin", "rule:project_reader or rule:context_is_admin"),
    ("project_member_or_admin", "rule:project_member or rule:context_is_admin"),
)

# Cinder's rule names with the defaults of its current policies.
RULES: dict[str, str] = {
    # volumes
    "volume:create": MEMBER,
    "volume:get": READER,
    "volume:get_all": READER,
    "volume:update": MEMBER,
    "volume:delete": MEMBER,
    "volume:extend": MEMBER,
    "volume:extend_attached_volume": MEMBER,
    "volume:retype": MEMBER,
    "volume:update_readonly_flag": MEMBER,
    "volume_extension:volume_actions:set_bootable": MEMBER,
    "volume_extension:volume_actions:reserve": MEMBER,
    "volume_extension:volume_actions:unreserve": MEMBER,
    "volume_extension:volume_actions:initialize_connection": MEMBER,
    "volume_extension:volume_actions:terminate_connection": MEMBER,
    "volume_extension:volume_actions:attach": MEMBER,
    "volume_extension:volume_actions:detach": MEMBER,
    "volume_extension:volume_actions:begin_detaching": MEMBER,
    "volume_extension:volume_actions:roll_detaching": MEMBER,
    "volume_extension:volume_admin_actions:reset_status": ADMIN,
    "volume_extension:volume_admin_actions:force_delete": ADMIN,
    "volume:get_volume_metadata": READER,
    "volume:create_volume_metadata": MEMBER,
    "volume:update_volume_metadata": MEMBER,
    "volume:delete_volume_metadata": MEMBER,
    # snapshots
    "volume:create_snapshot": MEMBER,
    "volume:get_snapshot": READER,
    "volume:get_all_snapshots": READER,
    "volume:update_snapshot": MEMBER,
    "volume:delete_snapshot": MEMBER,
    "volume:get_snapshot_metadata": READER,
    "volume:update_snapshot_metadata": MEMBER,
    "volume:delete_snapshot_metadata": MEMBER,
    "volume_extension:snapshot_admin_actions:reset_status": ADMIN,
    "volume_extension:snapshot_admin_actions:force_delete": ADMIN,
    # attachments
    "volume:attachment_get": READER,
    "volume:attachment_create": MEMBER,
    "volume:attachment_update": MEMBER,
    "volume:attachment_delete": MEMBER,
    "volume:attachment_complete": MEMBER,
    # volume types and extra specs
    "volume_extension:type_get": READER,
    "volume_extension:type_get_all": READER,
    "volume_extension:types_manage": ADMIN,
    "volume_extension:types_extra_specs:index": READER,
    "volume_extension:types_extra_specs:show": READER,
    "volume_extension:types_extra_specs:create": ADMIN,
    "volume_extension:types_extra_specs:update": ADMIN,
    "volume_extension:types_extra_specs:delete": ADMIN,
    # messages, limits, quotas
    "message:get_all": READER,
    "message:get": READER,
    "message:delete": MEMBER,
    "limits_extension:used_limits": READER,
    "volume_extension:quotas:show": READER,
    "volume_extension:quotas:update": ADMIN,
    "volume_extension:quotas:delete": ADMIN,
    "volume_extension:quota_classes": ADMIN,
    # the cloud's own facts
    "volume_extension:availability_zone_list": READER,
    "volume_extension:extensions:index": READER,
    "volume_extension:services:index": ADMIN,
    "volume_extension:services:update": ADMIN,
    "scheduler_extension:scheduler_stats:get_pools": ADMIN,
    "workers:cleanup": ADMIN,
    # [qos]
    "volume_extension:qos_specs_manage:get_all": ADMIN,
    "volume_extension:qos_specs_manage:get": ADMIN,
    "volume_extension:qos_specs_manage:create": ADMIN,
    "volume_extension:qos_specs_manage:update": ADMIN,
    "volume_extension:qos_specs_manage:delete": ADMIN,
    "volume_extension:volume_type_encryption:create": ADMIN,
    "volume_extension:volume_type_encryption:get": ADMIN,
    "volume_extension:volume_type_encryption:update": ADMIN,
    "volume_extension:volume_type_encryption:delete": ADMIN,
    "volume_extension:volume_encryption_metadata": READER,

    # [transfers]
    "volume:get_all_transfers": READER,
    "volume:create_transfer": MEMBER,
    "volume:get_transfer": READER,
    "volume:accept_transfer": MEMBER,
    "volume:delete_transfer": MEMBER,

    # [groups]
    "group:group_types:create": ADMIN,
    "group:group_types:update": ADMIN,
    "group:group_types:delete": ADMIN,
    "group:access_group_types_specs": ADMIN,
    "group:group_types_specs:get": ADMIN,
    "group:group_types_specs:get_all": ADMIN,
    "group:group_types_specs:create": ADMIN,
    "group:group_types_specs:update": ADMIN,
    "group:group_types_specs:delete": ADMIN,
    "group:get_all": READER,
    "group:create": MEMBER,
    "group:get": READER,
    "group:update": MEMBER,
    "group:group_project_attribute": ADMIN,
    "group:delete": MEMBER,
    "group:reset_status": ADMIN,
    "group:enable_replication": MEMBER,
    "group:disable_replication": MEMBER,
    "group:failover_replication": MEMBER,
    "group:list_replication_targets": MEMBER,
    "group:get_all_group_snapshots": READER,
    "group:create_group_snapshot": MEMBER,
    "group:get_group_snapshot": READER,
    "group:delete_group_snapshot": MEMBER,
    "group:update_group_snapshot": MEMBER,
    "group:group_snapshot_project_attribute": ADMIN,
    "group:reset_group_snapshot_status": ADMIN,

    # [manage]
    "volume_extension:volume_manage": ADMIN,
    "volume_extension:volume_unmanage": ADMIN,
    "volume_extension:list_manageable": ADMIN,
    "snapshot_extension:snapshot_manage": ADMIN,
    "snapshot_extension:snapshot_unmanage": ADMIN,
    "snapshot_extension:list_manageable": ADMIN,
    "snapshot_extension:snapshot_actions:update_snapshot_status": MEMBER,

    # [migration]
    "volume_extension:volume_admin_actions:migrate_volume": ADMIN,
    "volume_extension:volume_admin_actions:migrate_volume_completion": ADMIN,
    "volume:revert_to_snapshot": MEMBER,

    # [images]
    "volume_extension:volume_actions:upload_image": MEMBER,
    "volume_extension:volume_actions:upload_public": ADMIN,
    "volume_extension:volume_image_metadata:show": READER,
    "volume_extension:volume_image_metadata:set": MEMBER,
    "volume_extension:volume_image_metadata:remove": MEMBER,

    # [backups]
    "backup:get_all": READER,
    "backup:get": READER,
    "backup:create": MEMBER,
    "backup:update": MEMBER,
    "backup:delete": MEMBER,
    "backup:restore": MEMBER,
    "backup:backup-import": ADMIN,
    "backup:export-import": ADMIN,
    "backup:backup_project_attribute": ADMIN,
    "volume_extension:backup_admin_actions:reset_status": ADMIN,
    "volume_extension:backup_admin_actions:force_delete": ADMIN,

    # [rbd]

    # [notifications]

    # [metrics]

    # [core]
    "volume_extension:capabilities": ADMIN,
    "volume_extension:hosts": ADMIN,
    "volume_extension:volume_type_access": MEMBER,
    "volume_extension:volume_type_access:get_all_for_type": ADMIN,
    "volume_extension:volume_type_access:addProjectAccess": ADMIN,
    "volume_extension:volume_type_access:removeProjectAccess": ADMIN,
}  # fmt: skip


class _ExtensionChecks(dict[str, Any]):
    """The checks other packages register for oslo.policy, each imported when a rule
    first names its kind.

    oslo.policy looks every rule's kind (``role``, ``rule``, ``project_id``, …) up among
    them first, importing them all through stevedore the first time: its own ``http`` and
    ``https`` checks import requests, 110 modules and 4.7 MB in each API process, for
    rules Cinder's defaults never use. Their names come from the packages' metadata.
    """

    def __init__(self) -> None:
        super().__init__()
        self._registered: dict[str, importlib.metadata.EntryPoint] | None = None

    def __contains__(self, kind: object) -> bool:
        if self._registered is None:
            found = importlib.metadata.entry_points(group="oslo.policy.rule_checks")
            self._registered = {entry.name: entry for entry in found}
        if not isinstance(kind, str) or kind not in self._registered:
            return False
        if not super().__contains__(kind):
            self[kind] = self._registered[kind].load()
        return True


class Policy:
    """The enforcer: Cinder's defaults, then the operator's ``policy_file`` on top."""

    def __init__(self, policy_file: Path | None = None) -> None:
        if _checks.extension_checks is None:
            _checks.extension_checks = _ExtensionChecks()
        conf = cfg.ConfigOpts()
        conf([], project="firebrick", default_config_files=[], default_config_dirs=[])
        self._enforcer = oslo_policy.Enforcer(conf, use_conf=False)
        checks = {**dict(BASE_RULES), **RULES}
        if policy_file is not None:
            # Read once at start: an unreadable or malformed file stops the service with
            # a clear message instead of failing requests later.
            checks.update(_read_overrides(policy_file))
        rules = oslo_policy.Rules.from_dict(checks)
        self._enforcer.set_rules(rules, overwrite=True, use_conf=False)

    def allows(self, ctx: RequestContext, rule: str, target_project: str | None = None) -> bool:
        return self._decide(rule, target_project or ctx.project_id, *_identity(ctx))

    def is_admin(self, ctx: RequestContext) -> bool:
        """Cinder's ``context_is_admin``: the roles that see and touch every project."""
        return self._decide("context_is_admin", None, *_identity(ctx))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one Policy per process, rules fixed
    def _decide(
        self,
        rule: str,
        target_project: str | None,
        user_id: str,
        project_id: str,
        roles: tuple[str, ...],
        is_admin: bool,
        user_domain_id: str | None,
        project_domain_id: str | None,
    ) -> bool:
        """One decision; the rules are fixed at start, so decisions are remembered."""
        target = {"project_id": target_project, "user_id": user_id}
        creds = {
            "user_id": user_id,
            "project_id": project_id,
            "roles": list(roles),
            "is_admin": is_admin,
            "user_domain_id": user_domain_id,
            "project_domain_id": project_domain_id,
        }
        return bool(self._enforcer.enforce(rule, target, creds, do_raise=False))


def _read_overrides(policy_file: Path) -> dict[str, str]:
    try:
        text = policy_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"policy_file {policy_file}: {exc.strerror}") from exc
    try:
        parsed = oslo_policy.parse_file_contents(text)
    except Exception as exc:  # yaml's and json's errors alike
        raise ValueError(f"policy_file {policy_file}: not YAML or JSON: {exc}") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ValueError(f"policy_file {policy_file}: expected a mapping of rule: check")
    return dict(parsed)


def _identity(
    ctx: RequestContext,
) -> tuple[str, str, tuple[str, ...], bool, str | None, str | None]:
    return (
        ctx.user_id,
        ctx.project_id,
        ctx.roles,
        ctx.is_admin,
        ctx.user_domain_id,
        ctx.project_domain_id,
    )


_DEFAULT_POLICY: Policy | None = None


def default_policy() -> Policy:
    """Cinder's defaults alone, for contexts built without an operator's policy."""
    global _DEFAULT_POLICY
    if _DEFAULT_POLICY is None:
        _DEFAULT_POLICY = Policy()
    return _DEFAULT_POLICY


def allowed(ctx: RequestContext, rule: str, target_project: str | None = None) -> bool:
    """Whether ``ctx`` may perform ``rule`` (for what a view shows, not a refusal)."""
    checker = ctx.policy if ctx.policy is not None else default_policy()
    return checker.allows(ctx, rule, target_project)


def authorize(ctx: RequestContext, rule: str, target_project: str | None = None) -> None:
    """Raise Forbidden (403) unless ``ctx`` may perform ``rule`` on ``target_project``."""
    if not allowed(ctx, rule, target_project):
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")
