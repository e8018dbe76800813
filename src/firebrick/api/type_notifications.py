"""Cinder's notifications of volume type changes, sent by the API node.

``volume_type.create``/``.update``/``.delete`` (publisher ``volumeType.<host>``, payload
``{"volume_types": <the type>}``; a refused change at ERROR with ``error_message`` and what
was asked), ``volume_type_extra_specs.create``/``.update``/``.delete``
(``volumeTypeExtraSpecs.<host>``) and ``volume_type_project.access.add``/``.remove``
(``volume_type_project.<host>``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request

from firebrick.domain.errors import FirebrickError
from firebrick.domain.model import VolumeType
from firebrick.notifier import Notifier


def type_payload(volume_type: VolumeType) -> dict[str, Any]:
    """The type as Cinder's ``volume_types.get_volume_type`` hands it to the notifier."""
    return {
        "id": volume_type.id, "name": volume_type.name,
        "description": volume_type.description, "is_public": volume_type.is_public,
        "extra_specs": dict(volume_type.extra_specs), "qos_specs_id": volume_type.qos_specs_id,
        "deleted": False, "deleted_at": None,
    }  # fmt: skip


def notify(
    request: Request, publisher: str, event: str, payload: dict[str, Any], *, error: bool = False
) -> None:
    volume_api = request.app.state.volume_api
    notifier: Notifier = volume_api.notifier
    notifier.emit(f"{publisher}.{volume_api.host}", event, payload,
                  priority="ERROR" if error else "INFO")  # fmt: skip


def notify_type(request: Request, event: str, volume_type: VolumeType) -> None:
    notify(request, "volumeType", event, {"volume_types": type_payload(volume_type)})


@contextmanager
def type_errors(request: Request, event: str, **subject: Any) -> Iterator[None]:
    """A refused change of a type: its event at ERROR, as Cinder's
    ``_notify_volume_type_error`` (``volume_types``, ``name``, ``id``, ``error_message``)."""
    try:
        yield
    except FirebrickError as exc:
        payload = {"volume_types": subject.get("volume_types"), "name": subject.get("name"),
                   "id": subject.get("id"), "error_message": str(exc)}  # fmt: skip
        notify(request, "volumeType", event, payload, error=True)
        raise
