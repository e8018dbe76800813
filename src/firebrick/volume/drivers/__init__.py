"""Backend drivers, chosen by ``volume_driver`` in the backend's config section."""

from __future__ import annotations

from pathlib import Path

from firebrick.config import BackendConfig
from firebrick.domain.errors import Invalid
from firebrick.volume.drivers import file, file_manage
from firebrick.volume.drivers.base import ExistingStorage, VolumeDriver

_DRIVERS = {"file": file.build, "firebrick.volume.drivers.file.FileDriver": file.build}


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
    raise Invalid("The backend's driver cannot manage existing storage.")
