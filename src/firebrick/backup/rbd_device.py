"""Reading and writing RBD images for backups and restores, through librbd.

The device record (``volume/drivers/rbd_backup.py``) names the image, the snapshot to
read, and the cluster. The backup service connects by itself: with the volume service's
ceph.conf when that file exists here (the same host, or one configured alike), else with
the monitors the record names; the user's key, when the record carries it, goes through
a private file removed once connected (never argv, never a log).

* ``RbdSource``: the snapshot, read in pieces. A full backup reads only the extents the
  image has (``diff_iterate`` from nothing; with fast-diff, from the object map without
  touching the data); an incremental only those that changed since the parent backup's
  snapshot (``diff_iterate`` from it).
* ``RbdTarget``: the image written in place; zero ranges through ``write_zeroes``, which
  releases the space.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from firebrick.backup.chunked import Range, merge

RBD_FEATURE_FAST_DIFF = 16


def _bindings() -> tuple[Any, Any]:
    try:
        import rados
        import rbd
    except ImportError as exc:
        raise RuntimeError(
            "Backups of RBD volumes need Ceph's Python bindings on the backup service's host "
            "(Debian packages python3-rados and python3-rbd)"
        ) from exc
    return rados, rbd


@contextmanager
def _cluster(spec: dict[str, Any], work_dir: Path) -> Iterator[Any]:
    rados, _rbd = _bindings()
    # None: no file at all (librados would otherwise look in its default places).
    conffile: str | None = spec.get("ceph_conf") or None
    if conffile and not Path(conffile).is_file():
        conffile = None
    conf: dict[str, str] = {}
    if not conffile and spec.get("mon_host"):
        conf["mon_host"] = str(spec["mon_host"])
    keyfile: str | None = None
    if spec.get("keyring"):
        work_dir.mkdir(parents=True, exist_ok=True)
        fd, keyfile = tempfile.mkstemp(prefix="keyring-", dir=work_dir)  # mode 0600
        with os.fdopen(fd, "w") as handle:
            handle.write(str(spec["keyring"]))
        conf["keyring"] = keyfile
    elif spec.get("keyring_conf") and Path(spec["keyring_conf"]).is_file():
        conf["keyring"] = str(spec["keyring_conf"])
    try:
        cluster = rados.Rados(rados_id=spec.get("user") or None,
                              clustername=spec.get("cluster_name") or "ceph",
                              conffile=conffile, conf=conf)  # fmt: skip
        try:
            cluster.connect(timeout=60)
        except rados.Error:
            cluster.shutdown()
            raise
    except rados.Error as exc:
        raise RuntimeError(f"could not connect to the Ceph cluster: {type(exc).__name__}") \
            from None  # fmt: skip
    finally:
        if keyfile is not None:
            os.unlink(keyfile)
    try:
        yield cluster
    finally:
        cluster.shutdown()


@contextmanager
def _image(spec: dict[str, Any], work_dir: Path, *, read_only: bool) -> Iterator[Any]:
    _rados, rbd = _bindings()
    with _cluster(spec, work_dir) as cluster:
        ioctx = cluster.open_ioctx(str(spec["pool"]))
        try:
            snapshot = spec.get("snapshot") if read_only else None
            image = rbd.Image(ioctx, str(spec["image"]), snapshot=snapshot, read_only=read_only)
            try:
                yield image
            finally:
                image.close()
        finally:
            ioctx.close()


class RbdSource:
    """An RBD image (at a snapshot) read as the volume's data; past its end, zeros."""

    def __init__(self, image: Any, size: int) -> None:
        self.image = image
        self.image_size = int(image.size())
        self.size = size
        self.whole_object = bool(image.features() & RBD_FEATURE_FAST_DIFF)

    def read(self, offset: int, length: int) -> bytes:
        end = min(offset + length, self.image_size)
        data = bytes(self.image.read(offset, end - offset)) if end > offset else b""
        return data + bytes(length - len(data)) if len(data) < length else data

    def _diff(self, since: str | None) -> list[Range]:
        found: list[Range] = []

        def record(offset: int, length: int, _exists: bool) -> int:
            # A range that no longer exists (discarded) changed too: it now reads as zeros.
            found.append((offset, length))
            return 0

        end = min(self.size, self.image_size)
        self.image.diff_iterate(0, end, since, record, whole_object=self.whole_object)
        return merge(found)

    def data_ranges(self) -> list[Range]:
        return self._diff(None)

    def changed_since(self, snapshot: str) -> list[Range] | None:
        """Ranges that changed since ``snapshot`` of the same image; None when it is gone."""
        _rados, rbd = _bindings()
        try:
            return self._diff(snapshot)
        except (rbd.ImageNotFound, rbd.InvalidArgument):
            return None


@contextmanager
def open_source(device: dict[str, Any], work_dir: Path) -> Iterator[RbdSource]:
    with _image(device["rbd"], work_dir, read_only=True) as image:
        yield RbdSource(image, int(device["size"]))


class RbdTarget:
    """An RBD image restored in place."""

    def __init__(self, image: Any) -> None:
        self.image = image

    def write(self, offset: int, data: bytes) -> None:
        written = self.image.write(data, offset)
        if written != len(data):
            raise OSError(f"short write at offset {offset}: {written} of {len(data)}")

    def zero(self, offset: int, length: int) -> None:
        self.image.write_zeroes(offset, length)

    def finish(self) -> None:
        self.image.flush()


@contextmanager
def open_target(device: dict[str, Any], work_dir: Path) -> Iterator[RbdTarget]:
    with _image(device["rbd"], work_dir, read_only=False) as image:
        target = RbdTarget(image)
        yield target
        target.finish()
