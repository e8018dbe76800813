"""``/types/{type_id}/encryption`` (admin) and ``/volumes/{volume_id}/encryption`` (the
volume's readers): Cinder's volume type encryption and volume encryption metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from firebrick.api import spec_requests
from firebrick.api.deps import CallDep, JsonBody
from firebrick.api.encryption_api import EncryptionAPI
from firebrick.api.views.volumes import timestamp
from firebrick.domain.encryption import Encryption, VolumeTypeEncryptionNotFound
from firebrick.domain.errors import NotFound

router = APIRouter()


def _api(request: Request) -> EncryptionAPI:
    volume_api = request.app.state.volume_api
    return EncryptionAPI(request.app.state.db, volume_api.notifier, volume_api.host)


def encryption_view(spec: Encryption) -> dict[str, Any]:
    """The spec as Cinder shows its ``encryption`` row (the soft-delete columns too)."""
    return {
        "volume_type_id": spec.volume_type_id,
        "encryption_id": spec.encryption_id,
        "provider": spec.provider,
        "cipher": spec.cipher,
        "key_size": spec.key_size,
        "control_location": spec.control_location,
        "created_at": timestamp(spec.created_at),
        "updated_at": timestamp(spec.updated_at),
        "deleted": False,
        "deleted_at": None,
    }


@router.get("/types/{type_id}/encryption")
async def show_type_encryption(type_id: str, request: Request, c: CallDep) -> JSONResponse:
    spec = _api(request).show(type_id)
    return JSONResponse(encryption_view(spec) if spec is not None else {})


@router.post("/types/{type_id}/encryption")
async def create_type_encryption(
    type_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    spec = spec_requests.encryption_spec(payload, create=True)
    created = _api(request).create(type_id, spec)
    body = {**spec, "volume_type_id": created.volume_type_id,
            "encryption_id": created.encryption_id}  # fmt: skip
    return JSONResponse({"encryption": body})


@router.get("/types/{type_id}/encryption/{key}")
async def show_type_encryption_item(
    type_id: str, key: str, request: Request, c: CallDep
) -> JSONResponse:
    spec = _api(request).show(type_id)
    shown = encryption_view(spec) if spec is not None else {}
    if key not in shown:
        raise VolumeTypeEncryptionNotFound(type_id)
    return JSONResponse({key: shown[key]})


@router.put("/types/{type_id}/encryption/{encryption_id}")
async def update_type_encryption(
    type_id: str, encryption_id: str, request: Request, c: CallDep, payload: JsonBody
) -> JSONResponse:
    spec = spec_requests.encryption_spec(payload, create=False)
    _api(request).update(type_id, encryption_id, spec)
    return JSONResponse({"encryption": spec})


@router.delete("/types/{type_id}/encryption/{encryption_id}", status_code=202)
async def delete_type_encryption(
    type_id: str, encryption_id: str, request: Request, c: CallDep
) -> Response:
    _api(request).delete(type_id)
    return Response(status_code=202)


@router.get("/volumes/{volume_id}/encryption")
async def volume_encryption_metadata(volume_id: str, request: Request, c: CallDep) -> JSONResponse:
    return JSONResponse(_api(request).volume_metadata(c.ctx, volume_id))


@router.get("/volumes/{volume_id}/encryption/{key}")
async def volume_encryption_item(
    volume_id: str, key: str, request: Request, c: CallDep
) -> JSONResponse:
    """One value, bare (Cinder answers ``"aes-xts-plain64"``, not an object)."""
    values = _api(request).volume_metadata(c.ctx, volume_id)
    if key not in values:
        raise NotFound(f"Volume {volume_id} has no encryption metadata {key}.")
    return JSONResponse(values[key])
