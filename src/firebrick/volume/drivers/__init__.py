"""Backend drivers, chosen by ``volume_driver`` in the backend's config section."""

from __future__ import annotations

from pathlib import Path

from firebrick.config import BackendConfig
from firebrick.volume.drivers import file
from firebrick.volume.drivers.base import VolumeDriver

_DRIVERS = {"file": file.build, "firebrick.volume.drivers.file.FileDriver": file.build}


def load(backend: BackendConfig, state_path: Path) -> VolumeDriver:
    try:
        factory = _DRIVERS[backend.volume_driver]
    except KeyError:
        raise ValueError(
            f"Backend {backend.name}: unknown volume_driver {backend.volume_driver!r}"
        ) from None
    return factory(backend, state_path)
