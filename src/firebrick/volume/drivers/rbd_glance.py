"""The RBD driver's part in images: volumes and image-volume cache entries filled from
downloaded Glance images, clones of cache entries, and a volume's data for an upload.

Downloads are staged in a local file (``state_path/staging/<backend>``) and written into
the pool with ``qemu-img convert`` (any image format in, raw RBD out, zero blocks not
written). An image being filled is named ``<final>.importing`` and renamed when
complete, so an interrupted import never passes for a finished one. A cache entry is the
image ``image-cache-<entry id>`` with a protected snapshot ``cache`` that volumes are
copy-on-write clones of (constant time, whatever the image's size); an entry evicted
while clones stand on it is kept hidden as ``image-cache-<id>.deleted`` until the last
of them goes.
"""

from __future__ import annotations

import re
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

from firebrick.domain.errors import DriverError
from firebrick.domain.model import Volume
from firebrick.image import image_utils
from firebrick.volume.drivers import rbd_images as names
from firebrick.volume.drivers import rbd_io
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.rbd import RbdDriver
from firebrick.volume.drivers.rbd_client import GiB
from firebrick.volume.drivers.rbd_images import opened

CACHE_PREFIX = "image-cache-"
CACHE_SNAP = "cache"
IMPORTING = ".importing"
_CACHE_NAME = re.compile(r"^image-cache-([0-9a-f-]{36})$")


def cache_name(entry_id: str) -> str:
    return f"{CACHE_PREFIX}{entry_id}"


class RbdImageOps:
    def __init__(self, driver: RbdDriver) -> None:
        self.driver = driver

    @property
    def clone_method(self) -> str:
        return "rbd-clone"

    def staging(self) -> Path:
        """A new local file name for downloaded data."""
        self.driver.staging_dir.mkdir(parents=True, exist_ok=True)
        return self.driver.staging_dir / f"download-{uuid.uuid4().hex}"

    def _import(self, final: str, staging: Path, image_format: str, size: int) -> None:
        """Fill the image ``final`` from ``staging`` (removed afterwards) at ``size`` bytes."""
        try:
            with self.driver._session("import the image") as (rbd, ioctx):
                if names.exists(rbd, ioctx, final):
                    names.ensure_size(rbd, ioctx, final, size)
                    return
                partial = final + IMPORTING
                with suppress(rbd.ImageNotFound):
                    rbd.RBD().remove(ioctx, partial)  # left by an interrupted import
                self.driver._create(rbd, ioctx, partial, size)
            rbd_io.import_file(staging, image_format, self.driver.options.qemu_spec(partial))
            with self.driver._session("publish the imported image") as (rbd, ioctx):
                rbd.RBD().rename(ioctx, partial, final)
        finally:
            staging.unlink(missing_ok=True)

    def create_volume_from_image(
        self, volume: Volume, staging: Path, image_format: str
    ) -> ModelUpdate:
        name = names.volume_name(volume.storage_id)
        self._import(name, staging, image_format, volume.size * GiB)
        return None

    def has_volume(self, volume: Volume) -> bool:
        with self.driver._session("look for the image") as (rbd, ioctx):
            return names.exists(rbd, ioctx, names.volume_name(volume.storage_id))

    def create_cache_entry(
        self, entry_id: str, staging: Path, image_format: str, virtual_size: int
    ) -> None:
        self._import(cache_name(entry_id), staging, image_format, virtual_size)

    def has_cache_entry(self, entry_id: str) -> bool:
        with self.driver._session("look for the cache entry") as (rbd, ioctx):
            return names.exists(rbd, ioctx, cache_name(entry_id))

    def clone_cache_entry(self, volume: Volume, entry_id: str) -> ModelUpdate:
        """The volume as a copy-on-write clone of the entry's snapshot."""
        final = names.volume_name(volume.storage_id)
        entry = cache_name(entry_id)
        size = volume.size * GiB
        with self.driver._session("clone the image cache entry") as (rbd, ioctx):
            if names.exists(rbd, ioctx, final):
                names.ensure_size(rbd, ioctx, final, size)
                return None
            try:
                with opened(rbd, ioctx, entry) as image:
                    if image.size() > size:
                        raise DriverError("The volume is smaller than the cached image.")
                    names.ensure_snapshot(rbd, image, CACHE_SNAP)
            except rbd.ImageNotFound:
                raise DriverError(f"Image cache entry {entry} does not exist.") from None
            opts = self.driver.options
            rbd.RBD().clone(ioctx, entry, CACHE_SNAP, ioctx, final,
                            features=self.driver.features, order=opts.order)  # fmt: skip
            names.ensure_size(rbd, ioctx, final, size)
        return None

    def delete_cache_entry(self, entry_id: str) -> None:
        entry = cache_name(entry_id)
        with self.driver._session("delete the image cache entry") as (rbd, ioctx):
            deleter = self.driver.deleter
            try:
                with opened(rbd, ioctx, entry) as image:
                    clones: list[Any] = []
                    if CACHE_SNAP in names.snap_names(image):
                        image.set_snap(CACHE_SNAP)
                        clones = list(image.list_children2())
                        image.set_snap(None)
            except rbd.ImageNotFound:
                return
            if clones:
                hidden = entry + names.DELETED_SUFFIX
                rbd.RBD().rename(ioctx, entry, hidden)
                deleter.collect_hidden(rbd, ioctx, hidden)
                return
            deleter.remove_snapshot(rbd, ioctx, entry, CACHE_SNAP)
            deleter.delete_volume(rbd, ioctx, entry)

    def cache_entry_ids(self) -> set[str]:
        with self.driver._session("list the image cache") as (rbd, ioctx):
            found = (_CACHE_NAME.match(str(n)) for n in rbd.RBD().list(ioctx))
            return {m.group(1) for m in found if m}

    def export(self, volume: Volume, disk_format: str) -> tuple[Path, bool]:
        """The volume's data in ``disk_format`` as a local temporary file."""
        name = names.volume_name(volume.storage_id)
        with self.driver._session("read the image") as (rbd, ioctx):
            if not names.exists(rbd, ioctx, name):
                raise DriverError(f"Volume image {name} does not exist.")
        target = self.staging()
        try:
            rbd_io.export_file(
                self.driver.options.qemu_spec(name), target, image_utils.QEMU_FORMATS[disk_format]
            )
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target, True
