"""Volume type views."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from firebrick.domain.model import VolumeType

# The only extra specs a non-admin may see (Cinder's USER_VISIBLE_EXTRA_SPECS).
USER_VISIBLE_EXTRA_SPECS: Final = frozenset(
    {"RESKEY:availability_zones", "multiattach", "replication_enabled"}
)


def visible_extra_specs(extra_specs: Mapping[str, str], *, is_admin: bool) -> dict[str, str]:
    """All extra specs for an admin, only the user-visible ones for anyone else."""
    if is_admin:
        return dict(extra_specs)
    return {k: v for k, v in extra_specs.items() if k in USER_VISIBLE_EXTRA_SPECS}


def volume_type(t: VolumeType, *, is_admin: bool, access: bool = True) -> dict[str, Any]:
    """The type object of show and list (without the ``{"volume_type": ...}`` wrapper).

    ``qos_specs_id`` is shown to admins only (Cinder's
    ``volume_extension:access_types_qos_specs_id``); the access attribute to whom
    ``volume_extension:volume_type_access`` allows it (``access``).
    """
    body = _brief(t, is_admin=is_admin)
    if access:
        body["os-volume-type-access:is_public"] = t.is_public
    if is_admin:
        body["qos_specs_id"] = t.qos_specs_id
    return body


def created_type(t: VolumeType) -> dict[str, Any]:
    """What ``POST /types`` answers: Cinder's older view, without ``qos_specs_id``."""
    return {**_brief(t, is_admin=True), "os-volume-type-access:is_public": t.is_public}


def updated_type(t: VolumeType) -> dict[str, Any]:
    """What ``PUT /types/{id}`` answers: the older view, without the access attribute."""
    return _brief(t, is_admin=True)


def _brief(t: VolumeType, *, is_admin: bool) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "is_public": t.is_public,
        "extra_specs": visible_extra_specs(t.extra_specs, is_admin=is_admin),
    }
