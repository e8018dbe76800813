"""QoS specs views (Cinder's ``cinder/api/views/qos_specs.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from firebrick.api.views.volumes import links
from firebrick.domain.qos import QosSpecs

COLLECTION = "qos-specs"


def qos_specs(q: QosSpecs) -> dict[str, Any]:
    """The specs object of show, create and list."""
    return {"id": q.id, "name": q.name, "consumer": q.consumer, "specs": dict(q.specs)}


def detail(q: QosSpecs, *, base_url: str, project_id: str, project_in_url: bool) -> dict[str, Any]:
    """``{"qos_specs": ..., "links": [self, bookmark]}`` of show and create."""
    return {
        "qos_specs": qos_specs(q),
        "links": links(
            q.id, base_url=base_url, project_id=project_id, project_in_url=project_in_url,
            collection=COLLECTION,
        ),
    }  # fmt: skip


def associations(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "qos_associations": [
            {"association_type": "volume_type", "name": name, "id": type_id}
            for type_id, name in pairs
        ]
    }
