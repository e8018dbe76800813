"""The file driver's part in images: volumes and cache entries filled from downloaded
image data, clones of cache entries, and a volume's data in an image format for upload.

Every file is written under a temporary name in the backend's directory and renamed when
complete (the driver's rule), so an interrupted download or conversion leaves only a
temporary file, which the driver removes at its next start. A raw image for a raw backend
is downloaded into that temporary file and renamed: no second copy.
"""

from __future__ import annotations

import os
from pathlib import Path

from firebrick.domain.errors import DriverError
from firebrick.domain.model import Volume
from firebrick.image import image_utils
from firebrick.volume.drivers.base import ModelUpdate
from firebrick.volume.drivers.file import FileDriver
from firebrick.volume.drivers.file_store import IMAGE_CACHE, GiB


class FileImageOps:
    def __init__(self, driver: FileDriver) -> None:
        self.driver = driver

    @property
    def clone_method(self) -> str:
        return self.driver.clone_method

    def staging(self) -> Path:
        """A new temporary file name on the backend's filesystem, for downloaded data."""
        return self.driver.store.temporary()

    def cache_path(self, entry_id: str) -> Path:
        return self.driver.store.file(IMAGE_CACHE, entry_id)

    def _import(self, target: Path, staging: Path, image_format: str, size: int) -> None:
        """Turn the downloaded ``staging`` file into ``target`` in the backend's format."""
        driver = self.driver
        if target.exists():
            staging.unlink(missing_ok=True)
            driver.store.grow(target, size)
            return
        if image_format == driver.volume_format == "raw":
            try:
                driver.store.grow(staging, size)
                driver.store.publish(staging, target)
            except BaseException:
                staging.unlink(missing_ok=True)
                raise
            return
        tmp = driver.store.temporary()
        try:
            image_utils.convert(staging, image_format, tmp, driver.volume_format)
            driver.store.grow(tmp, size)
            driver.store.publish(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            staging.unlink(missing_ok=True)

    def create_volume_from_image(
        self, volume: Volume, staging: Path, image_format: str
    ) -> ModelUpdate:
        self.driver.check_ready()
        final = self.driver.path(volume.id)
        self._import(final, staging, image_format, volume.size * GiB)
        return {"provider_location": final.name}

    def has_volume(self, volume: Volume) -> bool:
        return self.driver.path(volume.id).exists()

    def create_cache_entry(
        self, entry_id: str, staging: Path, image_format: str, virtual_size: int
    ) -> None:
        self.driver.check_ready()
        self._import(self.cache_path(entry_id), staging, image_format, virtual_size)

    def has_cache_entry(self, entry_id: str) -> bool:
        return self.cache_path(entry_id).exists()

    def clone_cache_entry(self, volume: Volume, entry_id: str) -> ModelUpdate:
        """The volume as a fast clone of the entry: reflink, qcow2 overlay, or a copy."""
        driver = self.driver
        driver.check_ready()
        final = driver.path(volume.id)
        entry = self.cache_path(entry_id)
        try:
            if final.exists():
                driver.store.grow(final, volume.size * GiB)
                return {"provider_location": final.name}
            if not entry.exists():
                raise DriverError(f"Image cache entry {entry.name} does not exist.")
            size = driver.target_size(volume, entry)
            if driver.clone_method == "qcow2":
                with driver.store.chain_lock():
                    driver.store.overlay(final, entry, size)
            else:
                driver.store.new_file(final, size, lambda tmp: driver.store.copy(entry, tmp))
        except OSError as exc:
            reason = os.strerror(exc.errno or 0)
            raise DriverError(f"Could not clone image cache entry: {reason}") from None
        return {"provider_location": final.name}

    def delete_cache_entry(self, entry_id: str) -> None:
        """Remove an entry; qcow2 volumes still sitting on it get its data first."""
        self.driver.check_ready()
        self.driver.store.remove(self.cache_path(entry_id))

    def cache_entry_ids(self) -> set[str]:
        return self.driver.store.ids(IMAGE_CACHE)

    def export(self, volume: Volume, disk_format: str) -> tuple[Path, bool]:
        """The volume's data in ``disk_format``: (file, whether it is a temporary copy)."""
        driver = self.driver
        driver.check_ready()
        source = driver.path(volume.id)
        if not source.exists():
            raise DriverError(f"Volume file {source.name} does not exist.")
        target_format = image_utils.QEMU_FORMATS[disk_format]
        if driver.volume_format == "raw" and target_format == "raw":
            return source, False
        tmp = driver.store.temporary()
        try:
            image_utils.convert(source, driver.volume_format, tmp, target_format)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, True
