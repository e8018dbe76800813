"""The api role's side of volume type encryption (Cinder's ``volume_type_encryption``
extension) and of a volume's encryption metadata (``volume_encryption_metadata``).

Firebrick encrypts nothing itself. As in Cinder, a type's encryption spec tells the
consumer of a volume (the hypervisor for ``front-end``, the storage for ``back-end``) how
to encrypt it, and each volume of the type gets a key id of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from firebrick.context import RequestContext
from firebrick.db import encryption, volumes
from firebrick.db.engine import Database
from firebrick.domain.encryption import (
    EncryptedTypeInUse,
    Encryption,
    VolumeTypeEncryptionExists,
    VolumeTypeEncryptionNotFound,
)
from firebrick.notifier import Notifier

PUBLISHER = "volumeTypeEncryption"


@dataclass
class EncryptionAPI:
    db: Database
    notifier: Notifier
    host: str

    def _notify(self, event: str, payload: dict[str, Any]) -> None:
        self.notifier.emit(f"{PUBLISHER}.{self.host}", event, payload)

    def show(self, type_id: str) -> Encryption | None:
        """The type's spec, or None; VolumeTypeNotFound for an unknown type."""
        with self.db.read() as conn:
            encryption.check_type(conn, type_id)
            return encryption.get(conn, type_id)

    def create(self, type_id: str, spec: dict[str, Any]) -> Encryption:
        """Give a type without volumes its (first and only) encryption spec."""
        try:
            with self.db.write() as conn:
                if volumes.uses_type(conn, type_id):
                    raise EncryptedTypeInUse("create")
                encryption.check_type(conn, type_id)
                if encryption.get(conn, type_id) is not None:
                    raise VolumeTypeEncryptionExists(type_id)
                created = encryption.create(conn, type_id, spec)
        except IntegrityError:  # a concurrent create won
            raise VolumeTypeEncryptionExists(type_id) from None
        self._notify("volume_type_encryption.create", {"type_id": type_id, "specs": spec})
        return created

    def update(self, type_id: str, encryption_id: str, spec: dict[str, Any]) -> None:
        """Change the spec of a type without volumes. ``encryption_id`` (the path's) is not
        checked, as in Cinder: cinderclient sends ``provider`` there."""
        with self.db.write() as conn:
            encryption.check_type(conn, type_id)
            if volumes.uses_type(conn, type_id):
                raise EncryptedTypeInUse("update")
            if not encryption.update_spec(conn, type_id, spec):
                raise VolumeTypeEncryptionNotFound(type_id)
        self._notify("volume_type_encryption.update", {"type_id": type_id, "id": encryption_id})

    def delete(self, type_id: str) -> None:
        with self.db.write() as conn:
            if volumes.uses_type(conn, type_id):
                raise EncryptedTypeInUse("delete")
            if not encryption.remove(conn, type_id):
                raise VolumeTypeEncryptionNotFound(type_id)

    def volume_metadata(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        """Cinder's ``volume_encryption_metadata_get``: the volume's key id and its type's
        spec (what a hypervisor needs to open a front-end encrypted volume)."""
        with self.db.read() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            spec = encryption.get(conn, volume.volume_type_id)
        values: dict[str, Any] = {"encryption_key_id": volume.encryption_key_id}
        if spec is not None:
            values |= {
                "control_location": spec.control_location,
                "cipher": spec.cipher,
                "key_size": spec.key_size,
                "provider": spec.provider,
            }
        return values
