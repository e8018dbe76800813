"""Data into and out of RBD images through ``qemu-img`` on QEMU's ``rbd:pool/image`` names
(QEMU's rbd block driver, Debian package qemu-block-extra): migration copies, image
imports and exports. Zero blocks are not written (``qemu-img convert`` skips them), so a
copy stays as thin as its source.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firebrick.volume.drivers import qemu_img
from firebrick.volume.drivers.sources import DataSource, qemu_img_input

TIMEOUT = 6 * 3600.0


def run_convert(args: list[str], cancelled: Callable[[], bool] | None = None) -> None:
    """``qemu-img convert ARGS`` (an RBD copy may take hours: a longer bound)."""
    qemu_img.run_convert(args, cancelled=cancelled, timeout=TIMEOUT)


def convert_into(source: DataSource, spec: str, cancelled: Callable[[], bool]) -> None:
    """Write ``source``'s data over the existing image ``spec`` (``-n``: not re-created)."""
    with qemu_img_input(source) as args:
        run_convert(["-n", *args, "-O", "raw", spec], cancelled)


def import_file(path: Path, fmt: str, spec: str) -> None:
    """A local image file (any qemu format) over the existing image ``spec``."""
    run_convert(["-n", "-f", fmt, str(path), "-O", "raw", spec])


def export_file(spec: str, path: Path, fmt: str) -> None:
    """The image ``spec`` as a new local file ``path`` in ``fmt``."""
    run_convert(["-f", "raw", spec, "-O", fmt, str(path)])
