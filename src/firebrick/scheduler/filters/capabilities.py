"""CapabilitiesFilter: does the pool report what the volume type's extra specs ask for?"""

from __future__ import annotations

from typing import Any

from firebrick.domain.extra_specs import match
from firebrick.domain.model import PoolState, RequestSpec

_MISSING = object()


class CapabilitiesFilter:
    """Checks each extra spec against the pool's reported capabilities (scheduler.md §5.4).

    Keys scoped with anything but ``capabilities:`` (``provisioning:``, ``RESKEY:``,
    ``qos:``, vendor scopes) are for drivers and are skipped; ``capabilities:`` is
    stripped and further ``:`` parts walk into nested capability dicts.
    """

    name = "CapabilitiesFilter"

    def rejects(self, pool: PoolState, spec: RequestSpec) -> str | None:
        if spec.volume_type is None:
            return None
        for key, requirement in spec.volume_type.extra_specs.items():
            path = key.split(":")
            if len(path) > 1:
                if path[0] != "capabilities":
                    continue
                path = path[1:]
            value = _lookup(pool.capabilities, path)
            name = ":".join(path)
            if value is _MISSING:
                return f"capability '{name}' not reported"
            if not match(value, requirement):
                shown = value if isinstance(value, list) else f"'{value}'"
                return f"capability '{name}' is {shown}, type wants '{requirement}'"
        return None


def _lookup(capabilities: dict[str, Any], path: list[str]) -> object:
    node: object = capabilities
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node
