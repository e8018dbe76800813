"""Who may do what: the one seam every route asks, with Cinder's rule names.

Today's rules are Cinder's defaults reduced to "admin or not" (noauth callers are admins);
an oslo.policy enforcer with operator overrides will replace ``ADMIN_ONLY`` here.
"""

from __future__ import annotations

from firebrick.context import RequestContext
from firebrick.domain.errors import Forbidden

ADMIN_ONLY = frozenset(
    {
        "volume_extension:types_manage",
        "volume_extension:types_extra_specs:create",
        "volume_extension:types_extra_specs:update",
        "volume_extension:types_extra_specs:delete",
        "volume_extension:services:index",
        "volume_extension:services:update",
        "scheduler_extension:scheduler_stats:get_pools",
        "volume_extension:quotas:update",
        "volume_extension:quotas:delete",
        "volume_extension:quota_classes",
        "volume_extension:workers:cleanup",
        "volume_extension:snapshot_admin_actions:reset_status",
        "volume_extension:snapshot_admin_actions:force_delete",
        "volume_extension:volume_admin_actions:reset_status",
        "volume_extension:volume_admin_actions:force_delete",
    }
)


def authorize(ctx: RequestContext, rule: str) -> None:
    """Raise Forbidden (403) unless ``ctx`` may perform ``rule``."""
    if rule in ADMIN_ONLY and not ctx.is_admin:
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")
