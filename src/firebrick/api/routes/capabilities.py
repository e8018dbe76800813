"""``/capabilities/{host}``: what a volume backend can do, as its last report says."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep
from firebrick.db import services
from firebrick.db.engine import Database
from firebrick.domain.errors import NotFound

router = APIRouter()

# The well-known capabilities a backend may offer (the keys volume types use), described
# for clients that build forms from them.
_PROPERTIES: Final = {
    "thin_provisioning": ("Thin Provisioning", "Volumes take space only as data is written."),
    "multiattach": ("Multi-attach", "A volume may be attached to several hosts at once."),
    "qos": ("QoS", "The backend limits the I/O of volumes whose type has QoS specs."),
}
_REPORTED_AS: Final = {
    "thin_provisioning": "thin_provisioning_support",
    "multiattach": "multiattach",
    "qos": "QoS_support",
}


@router.get("/capabilities/{host}")
async def show_capabilities(host: str, request: Request, c: CallDep) -> JSONResponse:
    """``host`` is a volume service (``host@backend``), with or without ``#pool``."""
    backend = host.split("#", 1)[0]
    db: Database = request.app.state.db
    with db.read() as conn:
        pools = [p for p in services.pool_states(conn) if p.backend == backend]
    if not pools:
        raise NotFound(f"Can't find service: {host}")
    caps: dict[str, Any] = pools[0].capabilities
    offered = {
        key: {"title": title, "description": text, "type": "boolean"}
        for key, (title, text) in _PROPERTIES.items()
        if any(p.capabilities.get(_REPORTED_AS[key]) is True for p in pools)
    }
    return JSONResponse({
        "namespace": f"OS::Storage::Capabilities::{backend}",
        "vendor_name": caps.get("vendor_name"),
        "volume_backend_name": caps.get("volume_backend_name"),
        "pool_name": None,
        "driver_version": caps.get("driver_version"),
        "storage_protocol": caps.get("storage_protocol"),
        "display_name": None,
        "description": None,
        "visibility": None,
        "replication_targets": [],
        "properties": offered,
    })  # fmt: skip
