"""Every route names a policy rule, and every rule named has a default."""

from __future__ import annotations

import pytest

from firebrick.api import rules
from firebrick.api.routes import ROUTERS
from firebrick.policy import RULES


def _routes() -> list[tuple[str, str]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            for method in getattr(route, "methods", ()):
                found.append((method, route.path))  # type: ignore[attr-defined]
    return found


def test_every_route_is_in_the_table() -> None:
    missing = [key for key in _routes() if key not in rules.ROUTE_RULES]
    assert missing == []


def test_the_table_names_no_route_that_does_not_exist() -> None:
    assert set(rules.ROUTE_RULES) - set(_routes()) == set()


@pytest.mark.parametrize(
    "rule",
    sorted({r for r in rules.ROUTE_RULES.values() if r} | set(rules.VOLUME_ACTION_RULES.values())),
)
def test_every_rule_has_a_default(rule: str) -> None:
    assert rule in RULES


def test_route_key_strips_either_prefix_and_reads_head_as_get() -> None:
    assert rules.route_key("GET", "/v3/{project_id}/volumes") == ("GET", "/volumes")
    assert rules.route_key("HEAD", "/v3/volumes/{volume_id}") == ("GET", "/volumes/{volume_id}")
