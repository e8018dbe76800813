"""Backend drivers, chosen by ``volume_driver`` in the backend's config section."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firebrick.config import BackendConfig
from firebrick.domain.errors import Invalid
from firebrick.volume.drivers import file, file_manage, rbd
from firebrick.volume.drivers.base import ExistingStorage, VolumeDriver
from firebrick.volume.drivers.file_images import FileImageOps
from firebrick.volume.drivers.rbd_glance import RbdImageOps

_DRIVERS: dict[str, Callable[[BackendConfig, Path], VolumeDriver]] = {
    "file": file.build,
    "firebrick.volume.drivers.file.FileDriver": file.build,
    "rbd": rbd.build,
    # Cinder's own name for it, so that a cinder.conf backend section carries over.
    "cinder.volume.drivers.rbd.RBDDriver": rbd.build,
}

RBD_DRIVERS = frozenset({"rbd", "cinder.volume.drivers.rbd.RBDDriver"})


def load(backend: BackendConfig, state_path: Path) -> VolumeDriver:
    try:
        factory = _DRIVERS[backend.volume_driver]
    except KeyError:
        raise ValueError(
            f"Backend {backend.name}: unknown volume_driver {backend.volume_driver!r}"
        ) from None
    return factory(backend, state_path)


def existing_storage(driver: VolumeDriver) -> ExistingStorage:
    """The driver's manage/unmanage support; a 400 for a driver that has none."""
    if isinstance(driver, file.FileDriver):
        return file_manage.FileManage(driver)
    if isinstance(driver, rbd.RbdDriver):
        from firebrick.volume.drivers.rbd_manage import RbdManage

        return RbdManage(driver)
    raise Invalid("The backend's driver cannot manage existing storage.")


def image_ops(driver: object) -> FileImageOps | RbdImageOps | None:
    """The driver's part in images (Glance imports, the image-volume cache, uploads)."""
    if isinstance(driver, file.FileDriver):
        return FileImageOps(driver)
    if isinstance(driver, rbd.RbdDriver):
        return RbdImageOps(driver)
    return None
