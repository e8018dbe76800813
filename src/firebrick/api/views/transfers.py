"""Transfer views: Cinder's summary, detail and create bodies, keys by microversion.

3.55 adds ``no_snapshots`` to detail and create, 3.57 ``source_project_id``,
``destination_project_id`` and ``accepted``. Links point at ``os-volume-transfer``, the
collection Cinder names in them whichever path was asked.
"""

from __future__ import annotations

from typing import Any, Final

from firebrick.api.deps import Call
from firebrick.api.transfer_requests import TRANSFER_WITH_HISTORY, TRANSFER_WITH_SNAPSHOTS
from firebrick.api.views.volumes import links, timestamp
from firebrick.domain.transfers import Transfer

COLLECTION: Final = "os-volume-transfer"


def _links(t: Transfer, c: Call) -> list[dict[str, str]]:
    return links(
        t.id,
        base_url=c.base_url,
        project_id=c.url_project_id or c.ctx.project_id,
        project_in_url=c.project_in_url,
        collection=COLLECTION,
    )


def summary(t: Transfer, c: Call) -> dict[str, Any]:
    return {"id": t.id, "volume_id": t.volume_id, "name": t.name, "links": _links(t, c)}


def detail(t: Transfer, c: Call) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": t.id,
        "created_at": timestamp(t.created_at),
        "name": t.name,
        "volume_id": t.volume_id,
        "links": _links(t, c),
    }
    if c.version >= TRANSFER_WITH_SNAPSHOTS:
        body["no_snapshots"] = t.no_snapshots
    if c.version >= TRANSFER_WITH_HISTORY:
        body["destination_project_id"] = t.destination_project_id
        body["source_project_id"] = t.source_project_id
        body["accepted"] = t.accepted
    return body


def created(t: Transfer, auth_key: str, c: Call) -> dict[str, Any]:
    """The one answer that carries the key."""
    return {**detail(t, c), "auth_key": auth_key}
