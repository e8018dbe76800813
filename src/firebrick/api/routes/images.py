"""The image parts of ``/volumes``: create from an image, ``os-volume_upload_image``, the
image metadata actions and the ``volume_image_metadata`` of the volume view.

Glance is called in a worker thread: its answers must not hold up the event loop.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from firebrick.api.deps import Call
from firebrick.api.image_api import ImageAPI
from firebrick.api.validation import VolumeCreateRequest
from firebrick.db import images as images_db
from firebrick.policy import Policy

SHOW_RULE = "volume_extension:volume_image_metadata:show"
IMAGE_ACTIONS = frozenset({
    "os-volume_upload_image", "os-set_image_metadata", "os-unset_image_metadata",
    "os-show_image_metadata",
})  # fmt: skip


async def image_for_create(
    request: Request, c: Call, req: VolumeCreateRequest
) -> tuple[dict[str, str] | None, dict[str, Any] | None]:
    """A create from ``imageRef``/``image_id``: the checked image's metadata for the volume
    and its facts for the volume service; (None, None) for other creates."""
    if not req.image_ref:
        return None, None
    images = ImageAPI.of(request)
    found: tuple[dict[str, str], dict[str, Any]] = await anyio.to_thread.run_sync(
        images.for_create, c.ctx, req.image_ref, req.size
    )
    return found


def image_metadata_of(
    request: Request, c: Call, conn: Connection, volume_ids: list[str]
) -> dict[str, Any]:
    """The image metadata of each volume that has some, if the caller may see it (read in
    ``conn``, the transaction that read the volumes)."""
    policy: Policy = request.app.state.policy
    if not volume_ids or not policy.allows(c.ctx, SHOW_RULE, None):
        return {}
    found = images_db.of_volumes(conn, volume_ids)
    return {vid: meta for vid, meta in found.items() if meta}


async def volume_image_action(
    request: Request, c: Call, volume_id: str, name: str, body: object
) -> Response:
    images = ImageAPI.of(request)
    if name == "os-volume_upload_image":
        answer = await anyio.to_thread.run_sync(images.upload, c.ctx, volume_id, body, c.version)
        return JSONResponse(answer, status_code=202)
    if name == "os-set_image_metadata":
        return JSONResponse({"metadata": images.set_metadata(c.ctx, volume_id, body)})
    if name == "os-unset_image_metadata":
        images.unset_metadata(c.ctx, volume_id, body)
        return Response(status_code=200)
    return JSONResponse({"metadata": images.show_metadata(c.ctx, volume_id, body)})
