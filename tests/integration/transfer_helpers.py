"""Shared helpers of the transfer tests: requests, Tempest's schema per microversion,
quota usage and the state a refused request must leave alone."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness import Service, VolumeApi
from lifecycle_helpers import volume
from tempest_schemas import TempestSchemas

LEGACY = "/os-volume-transfer"
CURRENT = "/volume-transfers"

# Cinder's 3.57 transfer keys (detail and create; create adds auth_key).
BASE_KEYS = {"id", "created_at", "name", "volume_id", "links"}
SUMMARY_KEYS = {"id", "volume_id", "name", "links"}
HISTORY_KEYS = {"destination_project_id", "source_project_id", "accepted"}


def minor(version: str) -> int:
    return int(version.split(".")[1])


def schema_module(version: str) -> str:
    """Tempest's transfer schemas module for a microversion (its client's own choice)."""
    if minor(version) >= 57:
        return "v3_57.transfers"
    if minor(version) >= 55:
        return "v3_55.transfers"
    return "transfers"


def detail_keys(version: str) -> set[str]:
    keys = set(BASE_KEYS)
    if minor(version) >= 55:
        keys.add("no_snapshots")
    if minor(version) >= 57:
        keys |= HISTORY_KEYS
    return keys


def create(
    api: VolumeApi,
    volume_id: str,
    *,
    version: str = "3.0",
    collection: str = LEGACY,
    schemas: TempestSchemas | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """POST a transfer (asserting 202 and, given ``schemas``, Tempest's schema)."""
    resp = api.post(
        collection, json={"transfer": {"volume_id": volume_id, **fields}}, headers=api.mv(version)
    )
    assert resp.status_code == 202, f"transfer create: {resp.status_code} {resp.text}"
    if schemas is not None:
        schemas.check(f"{schema_module(version)}.create_volume_transfer", resp)
    made: dict[str, Any] = resp.json()["transfer"]
    assert set(made) == detail_keys(version) | {"auth_key"}, made
    return made


def accept(
    api: VolumeApi,
    transfer_id: str,
    auth_key: object,
    *,
    version: str = "3.0",
    collection: str = LEGACY,
) -> Any:
    return api.post(
        f"{collection}/{transfer_id}/accept",
        json={"accept": {"auth_key": auth_key}},
        headers=api.mv(version),
    )


def transfer_ids(api: VolumeApi, collection: str = LEGACY, **params: Any) -> list[str]:
    resp = api.get(f"{collection}/detail", params=params)
    assert resp.status_code == 200, resp.text
    return [t["id"] for t in resp.json()["transfers"]]


def usage_of(api: VolumeApi, project: str) -> dict[str, int]:
    """``in_use`` of every resource of ``project`` (the caller is an admin)."""
    resp = api.get(f"/os-quota-sets/{project}", params={"usage": "true"})
    assert resp.status_code == 200, resp.text
    return {k: v["in_use"] for k, v in resp.json()["quota_set"].items() if isinstance(v, dict)}


def set_limits(api: VolumeApi, project: str, **limits: int) -> None:
    resp = api.put(f"/os-quota-sets/{project}", json={"quota_set": limits})
    assert resp.status_code == 200, resp.text


def file_digest(service: Service, volume_id: str) -> str:
    path = service.find_volume_file(volume_id)
    assert path is not None, f"no file for {volume_id}"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ownership(api: VolumeApi, volume_id: str, snapshot_ids: list[str]) -> dict[str, Any]:
    """What a transfer changes: the volume's status and owners, its snapshots' owners."""
    vol = volume(api, volume_id)
    found: dict[str, Any] = {
        "volume": (vol["status"], vol["os-vol-tenant-attr:tenant_id"], vol["user_id"]),
    }
    for snapshot_id in snapshot_ids:
        resp = api.get(f"/snapshots/{snapshot_id}", headers=api.mv("3.71"))
        assert resp.status_code == 200, resp.text
        snap = resp.json()["snapshot"]
        found[snapshot_id] = (
            snap["status"],
            snap["os-extended-snapshot-attributes:project_id"],
            snap["user_id"],
        )
    return found


def service_texts(service: Service) -> str:
    """Everything the service wrote: its output, its logs, its notifications."""
    parts = [service.output()]
    if service.log_dir.is_dir():
        parts += [p.read_text(errors="replace") for p in service.log_dir.rglob("*") if p.is_file()]
    notes = service.state_path / "notifications.jsonl"
    if notes.exists():
        parts.append(notes.read_text(errors="replace"))
    return "\n".join(parts)
