"""Where the backup service reads a volume's data from and writes a restore to.

The volume service answers a ``backup_device`` request with a device record (kept in the
backup's row, never in a message, since an export carries its secret):

* ``path`` and ``format``: the file on this host (the volume, a temporary snapshot or a
  backup point); read and written directly.
* ``export``: connection info of a read-only (backup) or read-write (restore) export of
  that file by the volume's own target, when the backup service runs on another host.
  A backup then stages the data with ``qemu-img convert`` into ``backup_work_dir`` and
  reads that; a restore is written to a staging file and converted onto the export.

A restore onto a qcow2 file is staged the same way and converted in place
(``qemu-img convert -n``): the volume's backing chain stays as it is.

* ``rbd`` (format ``rbd``): an RBD image (or its snapshot) and how to reach its cluster;
  read and written through librbd wherever the backup service runs (``rbd_device.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firebrick.backup import rbd_device
from firebrick.backup.rbd_device import RbdSource, RbdTarget
from firebrick.backup.sources import FileSource, Qcow2Source
from firebrick.volume.drivers import qemu_img
from firebrick.volume.drivers.sources import LocalFile, RemoteExport, qemu_img_input

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_ZEROS = bytes(1 << 20)


def _remote(device: dict[str, Any]) -> RemoteExport:
    export = device["export"]
    return RemoteExport(protocol=str(export["driver_volume_type"]),
                        data=dict(export["data"]), initiator=str(export["initiator"]))  # fmt: skip


def is_local(device: dict[str, Any]) -> bool:
    return not device.get("export")


@contextmanager
def open_source(
    device: dict[str, Any], work_dir: Path
) -> Iterator[FileSource | Qcow2Source | RbdSource]:
    """The device's data, read in place, or staged from its export first."""
    size = int(device["size"])
    if device.get("rbd"):
        with rbd_device.open_source(device, work_dir) as rsource:
            yield rsource
        return
    if is_local(device):
        path = Path(device["path"])
        if device.get("format") == "qcow2":
            qsource = Qcow2Source(path, lambda p: qemu_img.read_header(p).backing_file)
            try:
                yield qsource
            finally:
                qsource.close()
            return
        # A backup point is a new reflink of the volume: none of it is cached.
        fsource = FileSource(path, size, direct=bool(device.get("point")))
        try:
            yield fsource
        finally:
            fsource.close()
        return
    work_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="stage-", dir=work_dir))
    try:
        with qemu_img_input(_remote(device)) as args:
            qemu_img.convert(args, staging / "data", "raw", thin=True)
        staged = FileSource(staging / "data", size)
        try:
            yield staged
        finally:
            staged.close()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class FileTarget:
    """A raw file restored in place."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY)

    def write(self, offset: int, data: bytes) -> None:
        view = memoryview(data)
        while len(view):
            done = os.pwrite(self.fd, view, offset)
            view, offset = view[done:], offset + done

    def zero(self, offset: int, length: int) -> None:
        mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
        if _LIBC.fallocate(self.fd, mode, ctypes.c_long(offset), ctypes.c_long(length)) == 0:
            return
        end = offset + length
        while offset < end:
            count = min(len(_ZEROS), end - offset)
            self.write(offset, _ZEROS[:count])
            offset += count

    def finish(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


@contextmanager
def open_target(device: dict[str, Any], work_dir: Path) -> Iterator[FileTarget | RbdTarget]:
    """Where restored data goes; staged data is converted onto the device at the end of a
    block that ended without an error."""
    if device.get("rbd"):
        with rbd_device.open_target(device, work_dir) as rtarget:
            yield rtarget
        return
    if is_local(device) and device.get("format", "raw") == "raw":
        target = FileTarget(Path(device["path"]))
        try:
            yield target
            target.finish()
        finally:
            target.close()
        return
    work_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="restore-", dir=work_dir))
    data = staging / "data"
    try:
        with open(data, "wb") as handle:
            handle.truncate(int(device["size"]))
        staged = FileTarget(data)
        try:
            yield staged
            staged.finish()
        finally:
            staged.close()
        if is_local(device):
            path = Path(device["path"])
            qemu_img.run("convert", "-n", "-f", "raw", str(data), "-O", "qcow2", path.name,
                         cwd=path.parent)  # fmt: skip
        else:
            with qemu_img_input(LocalFile(data, "raw")) as args:
                _convert_onto_export(args, _remote(device))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _convert_onto_export(source_args: list[str], export: RemoteExport) -> None:
    """``qemu-img convert -n`` from a local file onto a read-write export."""
    workdir = tempfile.mkdtemp(prefix="firebrick-restore-")
    try:
        from firebrick.volume.drivers.sources import _remote_args

        target_args = _remote_args(export, workdir)
        objects = [a for i, a in enumerate(target_args) if target_args[i - 1] == "--object"]
        image = target_args[-1]
        args = ["convert", "-n", *source_args]
        for obj in objects:
            args += ["--object", obj]
        args += ["--target-image-opts", image]
        qemu_img.run(*args, cwd=Path(workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
