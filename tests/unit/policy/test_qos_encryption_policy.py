"""Cinder's defaults for QoS specs and encryption: admin-only, except a volume's
encryption metadata, which its project's readers see."""

from __future__ import annotations

import pytest

from firebrick.context import RequestContext
from firebrick.policy import RULES, Policy

PROJECT = "a" * 32
FAMILIES = ("volume_extension:qos_specs_manage:", "volume_extension:volume_type_encryption:")
ADMIN_ONLY = [rule for rule in RULES if rule.startswith(FAMILIES)]


def ctx(*roles: str, project: str = PROJECT) -> RequestContext:
    return RequestContext(user_id="u", project_id=project, roles=roles)


def test_the_rules_are_cinders() -> None:
    assert sorted(ADMIN_ONLY) == sorted(
        [f"volume_extension:qos_specs_manage:{op}"
         for op in ("get_all", "get", "create", "update", "delete")]
        + [f"volume_extension:volume_type_encryption:{op}"
           for op in ("create", "get", "update", "delete")]
    )  # fmt: skip


@pytest.mark.parametrize("rule", ADMIN_ONLY)
def test_admin_only(rule: str) -> None:
    policy = Policy()
    assert policy.allows(ctx("admin", "member", "reader"), rule)
    assert not policy.allows(ctx("member", "reader"), rule)
    assert not policy.allows(ctx("reader"), rule)


def test_encryption_metadata_is_for_the_projects_readers() -> None:
    policy = Policy()
    rule = "volume_extension:volume_encryption_metadata"
    assert policy.allows(ctx("reader"), rule)
    assert not policy.allows(ctx("reader"), rule, target_project="b" * 32)
    assert not policy.allows(ctx(), rule)
