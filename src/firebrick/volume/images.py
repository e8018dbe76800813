"""The volume service's side of images: volumes made from Glance images (through the
image-volume cache when the backend enables it) and volumes uploaded to Glance.

Downloads and uploads go to Glance as the service user (``firebrick.image.access``): the
API already checked, with the caller's own token, that the caller may use the image.

The cache (Cinder's options, per backend): ``image_volume_cache_enabled`` (default
false), ``image_volume_cache_max_size_gb`` and ``image_volume_cache_max_count`` (0: no
limit). The first volume made from an image on a backend fills an entry (the image
converted once into the backend's format); later ones clone it with the backend's fast
clone. An entry whose image has since changed (``updated_at`` or ``checksum``) is
dropped instead of served; the least recently used entries make room for new ones. An
entry's file is published before its row is written: a crash in between leaves a file
that no row claims, removed at the next start (as are rows whose file is gone).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from firebrick.config import BackendConfig
from firebrick.db import images as images_db
from firebrick.db import messages, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.errors import DriverError
from firebrick.domain.model import Volume
from firebrick.image import image_utils
from firebrick.image.access import GlanceAccess
from firebrick.image.errors import UPLOAD_FAILED, ImageError, ImageUnacceptable
from firebrick.image.glance import GlanceClient
from firebrick.volume.drivers import image_ops

LOG = logging.getLogger("firebrick.volume")

GiB = 1 << 30


class CacheSettings:
    def __init__(self, backend: BackendConfig) -> None:
        self.enabled = backend.get_bool("image_volume_cache_enabled", False)
        self.max_size_gb = int(backend.get("image_volume_cache_max_size_gb") or 0)
        self.max_count = int(backend.get("image_volume_cache_max_count") or 0)


class ImageWorker:
    def __init__(
        self, db: Database, driver: Any, backend: str, glance: GlanceAccess | None
    ) -> None:
        self.db = db
        self.backend = backend  # host@backend
        self.glance = glance
        self.ops = image_ops(driver)
        self.cache = CacheSettings(driver.backend) if self.ops is not None else None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # Start ----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """At start: cache files without a row and rows without a file go; volumes left
        ``uploading`` by a crash go back to what they were."""
        if self.ops is None:
            return
        with self.db.read() as conn:
            rows = {e.id: e for e in images_db.entries_of(conn, self.backend)}
        files = self.ops.cache_entry_ids()
        for entry_id in files - set(rows):
            LOG.warning("Backend %s: removing image cache file %s that no entry claims",
                        self.backend, entry_id)  # fmt: skip
            self.ops.delete_cache_entry(entry_id)
        with self.db.write() as conn:
            for entry_id in set(rows) - files:
                images_db.remove_entry(conn, entry_id)
            for volume_id in volumes.in_status(conn, ["uploading"], self.backend):
                volume = volumes.get(conn, volume_id)
                LOG.warning("Volume %s: upload to image interrupted; back to %s", volume_id,
                            volume.previous_status or statuses.AVAILABLE)  # fmt: skip
                self._end_upload(conn, volume)

    # Create from an image -------------------------------------------------------------

    def _client(self) -> GlanceClient:
        if self.glance is None:
            raise DriverError("No image service is configured for this volume service.")
        return self.glance.for_service()

    def create_volume_from_image(
        self, volume: Volume, image_id: str, known: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Fill the volume with the image's data; the model update (``bootable``).

        ``known``: the image as the API found it a moment ago (saves asking Glance again;
        a create resumed after a restart has none and asks)."""
        if self.ops is None:
            raise DriverError(f"Backend {self.backend} cannot create volumes from images.")
        if self.ops.has_volume(volume):  # a create resumed after its data was written
            return {**(self.ops.create_volume_from_image(volume, self.ops.staging(), "raw")
                       or {}), "bootable": True}  # fmt: skip
        client = self._client()
        image = known if known and known.get("id") == image_id else client.show(image_id)
        if image.get("status") != "active":
            raise ImageUnacceptable(image_id, f"it is not active (status {image.get('status')}).")
        image_utils.check_container(image_id, image.get("container_format"))
        image_utils.declared_format(image_id, image.get("disk_format"))
        try:
            if self.cache is not None and self.cache.enabled:
                with self._image_lock(image_id):
                    update = self._from_cache(volume, client, image)
            else:
                staging, fmt, _size = self._download(client, image, volume.size)
                update = self.ops.create_volume_from_image(volume, staging, fmt) or {}
        except image_utils.ImageConversionFailed as exc:
            raise ImageUnacceptable(image_id, f"qemu-img convert failed: {exc}") from None
        return {**update, "bootable": True}

    def _download(self, client: GlanceClient, image: dict[str, Any], volume_gb: int
                  ) -> tuple[Path, str, int]:  # fmt: skip
        """The image's data in a temporary file of the backend, verified:
        (file, qemu-img format, virtual size)."""
        assert self.ops is not None
        image_id = str(image["id"])
        staging = self.ops.staging()
        try:
            with staging.open("wb") as out:
                client.download(image, out)
            found = image_utils.verify(staging, image_id, image.get("disk_format"), volume_gb)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        return staging, found.format, found.virtual_size

    @contextmanager
    def _image_lock(self, image_id: str) -> Iterator[None]:
        """One cache fill per image at a time in this process; the others then hit."""
        with self._locks_guard:
            lock = self._locks.setdefault(image_id, threading.Lock())
        with lock:
            yield

    def _from_cache(self, volume: Volume, client: GlanceClient, image: dict[str, Any]
                    ) -> dict[str, Any]:  # fmt: skip
        assert self.ops is not None and self.cache is not None
        image_id = str(image["id"])
        updated, checksum = image.get("updated_at"), image.get("checksum")
        with self.db.read() as conn:
            entry = images_db.find_entry(conn, self.backend, image_id)
        if entry is not None and (entry.image_updated_at, entry.checksum) != (updated, checksum):
            LOG.info("Image %s changed since it was cached on %s; dropping the entry",
                     image_id, self.backend)  # fmt: skip
            self._evict(entry.id)
            entry = None
        if entry is not None and not self.ops.has_cache_entry(entry.id):
            self._evict(entry.id)  # its file is gone (removed by hand?): start again
            entry = None
        if entry is not None:
            image_utils.check_fits(image_id, entry.size * GiB, volume.size)
            with self.db.write() as conn:
                images_db.touch_entry(conn, entry.id, volumes.now())
            LOG.info("Volume %s: image %s served from the cache entry %s", volume.id, image_id,
                     entry.id)  # fmt: skip
            return self.ops.clone_cache_entry(volume, entry.id) or {}
        staging, fmt, virtual_size = self._download(client, image, volume.size)
        size_gb = max(1, (virtual_size + GiB - 1) // GiB)
        if self.cache.max_size_gb and size_gb > self.cache.max_size_gb:
            LOG.info("Image %s (%d GiB) is larger than the cache; not cached", image_id, size_gb)
            return self.ops.create_volume_from_image(volume, staging, fmt) or {}
        self._make_room(size_gb)
        new = images_db.CacheEntry(
            id=str(uuid.uuid4()), host=self.backend, image_id=image_id,
            image_updated_at=updated, checksum=checksum, size=size_gb, last_used=volumes.now(),
        )  # fmt: skip
        self.ops.create_cache_entry(new.id, staging, fmt, virtual_size)
        try:
            with self.db.write() as conn:
                images_db.add_entry(conn, new)
        except IntegrityError:
            # Another process cached it meanwhile: use ours once, keep theirs.
            update = self.ops.clone_cache_entry(volume, new.id) or {}
            self.ops.delete_cache_entry(new.id)
            return update
        LOG.info("Volume %s: image %s cached as entry %s on %s", volume.id, image_id, new.id,
                 self.backend)  # fmt: skip
        return self.ops.clone_cache_entry(volume, new.id) or {}

    def _make_room(self, size_gb: int) -> None:
        assert self.cache is not None
        with self.db.read() as conn:
            present = images_db.entries_of(conn, self.backend)
        total = sum(e.size for e in present)
        for oldest in present:
            too_many = self.cache.max_count and len(present) + 1 > self.cache.max_count
            too_big = self.cache.max_size_gb and total + size_gb > self.cache.max_size_gb
            if not (too_many or too_big):
                break
            LOG.info("Backend %s: evicting image %s from the cache (least recently used)",
                     self.backend, oldest.image_id)  # fmt: skip
            self._evict(oldest.id)
            present = present[1:]
            total -= oldest.size

    def _evict(self, entry_id: str) -> None:
        assert self.ops is not None
        with self.db.write() as conn:
            images_db.remove_entry(conn, entry_id)
        self.ops.delete_cache_entry(entry_id)

    # Upload to an image ---------------------------------------------------------------

    def copy_volume_to_image(self, volume_id: str, image_id: str, disk_format: str) -> None:
        with self.db.read() as conn:
            volume = volumes.find(conn, volume_id)
        if volume is None or volume.status != "uploading":
            return
        exported: tuple[Path, bool] | None = None
        try:
            if self.ops is None:
                raise DriverError(f"Backend {self.backend} cannot upload volumes to images.")
            exported = self.ops.export(volume, disk_format)
            self._client().upload(image_id, exported[0])
            LOG.info("Volume %s: uploaded to image %s as %s", volume_id, image_id, disk_format)
        except Exception as exc:
            reason = exc.message if isinstance(exc, (DriverError, ImageError)) else str(exc)
            if isinstance(exc, image_utils.ImageConversionFailed):
                reason = f"qemu-img convert failed: {exc}"
            LOG.error("Volume %s: upload to image %s failed: %s", volume_id, image_id,
                      getattr(exc, "message", exc))  # fmt: skip
            self._forget_image(image_id)
            with self.db.write() as conn:
                messages.add(conn, project_id=volume.project_id, event_id=UPLOAD_FAILED,
                             resource_uuid=volume_id, detail=str(reason)[:255])  # fmt: skip
        finally:
            if exported is not None and exported[1]:
                exported[0].unlink(missing_ok=True)
            with self.db.write() as conn:
                self._end_upload(conn, volume)

    def _forget_image(self, image_id: str) -> None:
        """A failed upload leaves no half-made image behind (Cinder deletes it too)."""
        try:
            self._client().delete(image_id)
        except Exception as exc:
            LOG.warning("Image %s: could not delete it after the failed upload: %s", image_id,
                        getattr(exc, "message", type(exc).__name__))  # fmt: skip

    @staticmethod
    def _end_upload(conn: Any, volume: Volume) -> None:
        back = volume.previous_status or statuses.AVAILABLE
        volumes.update(conn, volume.id, {"status": back, "previous_status": None},
                       expected={"status": "uploading"})  # fmt: skip
