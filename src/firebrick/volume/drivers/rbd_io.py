"""Data into and out of RBD images through ``qemu-img`` on QEMU's ``rbd:pool/image`` names
(QEMU's rbd block driver, Debian package qemu-block-extra): migration copies, image
imports and exports. Zero blocks are not written (``qemu-img convert`` skips them), so a
copy stays as thin as its source.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from firebrick.domain.errors import DriverError
from firebrick.volume.drivers.sources import DataSource, qemu_img_input

TIMEOUT = 6 * 3600.0


def run_convert(args: list[str], cancelled: Callable[[], bool] | None = None) -> None:
    """Run ``qemu-img convert ARGS``; ``cancelled`` is asked every half second."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    try:
        process = subprocess.Popen(
            ["qemu-img", "convert", *args], env=env, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise DriverError("qemu-img is not installed (Debian package qemu-utils).") from exc
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            try:
                _, stderr = process.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if cancelled is not None and cancelled():
                    raise DriverError("the copy was stopped: its migration was aborted") from None
                if time.monotonic() > deadline:
                    raise DriverError("qemu-img convert timed out.") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        lines = [line for line in (stderr or "").strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {process.returncode}"
        raise DriverError(f"qemu-img convert failed: {detail}")


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
