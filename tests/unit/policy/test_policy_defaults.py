"""Cinder's defaults: readers read, members change their own project, admins the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from firebrick.context import RequestContext
from firebrick.domain.errors import Forbidden
from firebrick.policy import Policy, authorize

PROJECT = "a" * 32
OTHER = "b" * 32


def ctx(*roles: str, project: str = PROJECT, policy: Policy | None = None) -> RequestContext:
    return RequestContext(user_id="u", project_id=project, roles=roles, policy=policy)


ADMIN = ("admin", "member", "reader")  # keystone's implied roles
MEMBER = ("member", "reader")
READER = ("reader",)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy()


@pytest.mark.parametrize(
    ("roles", "rule", "allowed"),
    [
        (READER, "volume:get_all", True),
        (READER, "volume:get", True),
        (READER, "volume:create", False),
        (READER, "volume:delete", False),
        (READER, "volume:create_snapshot", False),
        (READER, "message:get_all", True),
        (READER, "message:delete", False),
        (MEMBER, "volume:create", True),
        (MEMBER, "volume:delete", True),
        (MEMBER, "volume:extend", True),
        (MEMBER, "volume:attachment_create", True),
        (MEMBER, "volume_extension:types_manage", False),
        (MEMBER, "volume_extension:quotas:update", False),
        (MEMBER, "volume_extension:volume_admin_actions:reset_status", False),
        (MEMBER, "volume_extension:services:index", False),
        (MEMBER, "scheduler_extension:scheduler_stats:get_pools", False),
        (ADMIN, "volume_extension:types_manage", True),
        (ADMIN, "volume_extension:quotas:update", True),
        (ADMIN, "volume_extension:services:index", True),
        ((), "volume:get_all", False),
        (("observer",), "volume:get", False),
    ],
)
def test_role_matrix(policy: Policy, roles: tuple[str, ...], rule: str, allowed: bool) -> None:
    assert policy.allows(ctx(*roles), rule) is allowed


def test_member_of_one_project_is_not_member_of_another(policy: Policy) -> None:
    assert policy.allows(ctx(*MEMBER), "volume_extension:quotas:show", PROJECT)
    assert not policy.allows(ctx(*MEMBER), "volume_extension:quotas:show", OTHER)
    assert policy.allows(ctx(*ADMIN), "volume_extension:quotas:show", OTHER)


def test_is_admin_follows_context_is_admin(policy: Policy) -> None:
    assert policy.is_admin(ctx(*ADMIN))
    assert not policy.is_admin(ctx(*MEMBER))


def test_authorize_raises_forbidden_with_the_rule_name(policy: Policy) -> None:
    with pytest.raises(Forbidden) as err:
        authorize(ctx(*READER, policy=policy), "volume:create")
    assert err.value.code == 403
    assert "volume:create" in err.value.message


def test_an_unknown_rule_is_refused(policy: Policy) -> None:
    assert not policy.allows(ctx(*ADMIN), "volume:no_such_rule")


def test_policy_file_overrides_one_rule_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"volume:create": "role:admin"\n"volume:get_all": "rule:project_member"\n')
    custom = Policy(path)
    assert not custom.allows(ctx(*MEMBER), "volume:create")
    assert custom.allows(ctx(*ADMIN), "volume:create")
    assert not custom.allows(ctx(*READER), "volume:get_all")
    assert custom.allows(ctx(*MEMBER), "volume:delete")


def test_policy_file_that_is_not_a_mapping_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="policy_file"):
        Policy(path)


def test_missing_policy_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="policy_file"):
        Policy(tmp_path / "absent.yaml")
