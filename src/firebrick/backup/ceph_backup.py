"""Backups and restores with the ``ceph`` store (``drivers/ceph.py``): RBD image to RBD image,
through librbd.

| backup | what is read | what is written |
| --- | --- | --- |
| full | the volume's data ranges (an RBD volume: its allocated objects; a file: its extents) | a new image ``volume-<V>.backup.<id>``, non-zero pieces only, then its snapshot ``backup.<id>`` |
| incremental, the parent's point still on the volume | what changed since it (RBD: ``diff_iterate`` from the parent's snapshot of the volume, as ``rbd export-diff --from-snap``; raw files on reflink: extent maps; qcow2: allocation) | those ranges onto the chain's image, then its snapshot ``backup.<id>`` (``import-diff``'s effect) |
| incremental, no usable point | the volume's data ranges and the image's, compared piece by piece | the pieces that differ |

The chain's image head must hold the parent's data before an incremental writes onto it:
a failed backup may have left writes there, so the head is rolled back to the parent's
snapshot first when ``diff_iterate`` says it differs. A restore reads the backup's
snapshot (its allocated objects) and writes it onto the volume through the device layer
(librbd for an RBD volume, the file or its export otherwise), zeros elsewhere.
"""  # noqa: E501

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firebrick.backup import devices
from firebrick.backup.chunked import CorruptBackup, Range, merge
from firebrick.backup.drivers.ceph import (
    META_KEY,
    CephStore,
    image_name,
    location,
    snap_name,
)
from firebrick.backup.rbd_device import RbdSource
from firebrick.backup.sources import FileSource
from firebrick.backup.writer import Source
from firebrick.domain.backups import Backup

LOG = logging.getLogger("firebrick.backup")

PIECE = 4 << 20
_ZEROS = bytes(PIECE)


def _is_zero(data: bytes) -> bool:
    return data == _ZEROS[: len(data)]


def _diff(image: Any, since: str | None) -> list[Range]:
    """The image's extents that differ from ``since`` (None: that hold data)."""
    found: list[Range] = []

    def record(offset: int, length: int, _exists: bool) -> int:
        found.append((offset, length))
        return 0

    image.diff_iterate(0, image.size(), since, record, whole_object=True)
    return merge(found)


def _head_ranges(image: Any) -> list[Range]:
    return _diff(image, None)


def _settle(image: Any, parent_snap: str) -> None:
    """Roll the chain's head back to the parent's snapshot if a failed backup wrote on it."""
    if _diff(image, parent_snap):
        LOG.info("Backup image head differs from %s: rolling it back first", parent_snap)
        image.rollback_to_snap(parent_snap)


def _changed(source: Any, device: dict[str, Any]) -> tuple[list[Range] | None, str]:
    point = device.get("parent_point")
    if not point or not devices.is_local(device):
        return None, "compare"
    if isinstance(source, RbdSource):
        return source.changed_since(point["snapshot"]), "rbd-diff"
    if isinstance(source, FileSource):
        return source.changed_since(Path(point["path"])), "extent-map"
    return source.changed_since(point["name"]), "allocation-map"


def _copy(
    source: Source,
    image: Any,
    ranges: list[Range],
    *,
    compare: bool,
    fresh: bool,
    progress: Callable[[int], None],
) -> tuple[int, int]:
    """Copy ``ranges`` of the source onto the image; (bytes read, bytes written)."""
    read = written = 0
    for start, length in ranges:
        pos, end = start, min(start + length, source.size)
        while pos < end:
            count = min(PIECE, end - pos)
            data = source.read(pos, count)
            read += count
            if not (compare and bytes(image.read(pos, count)) == data):
                if _is_zero(data):
                    if not fresh:  # a new image reads zeros already
                        image.write_zeroes(pos, count)
                        written += count
                else:
                    image.write(data, pos)
                    written += count
            pos += count
            progress(count)
    return read, written


def write(
    store: CephStore,
    found: Backup,
    parent: Backup | None,
    device: dict[str, Any],
    meta: dict[str, Any],
    work_dir: Path,
    progress: Callable[[int], None],
) -> dict[str, Any]:
    """Write the backup; its location and what it read and wrote."""
    pool = found.container or store.settings.pool
    snapshot = snap_name(found.id)
    with devices.open_source(device, work_dir) as source:
        size = source.size
        if parent is None:
            name = image_name(found.volume_id, found.id)
            store.create_image(pool, name, size)
        else:
            name = location(parent.service_metadata)["image"]
        with store.image(pool, name) as image:
            if parent is None:
                ranges, compare, fresh, method = source.data_ranges(), False, True, "full"
            else:
                _settle(image, location(parent.service_metadata)["snapshot"])
                old_size = int(image.size())
                if old_size < size:
                    image.resize(size)
                changed, method = _changed(source, device)
                fresh = False
                compare = changed is None
                if changed is None:
                    ranges = merge([*source.data_ranges(), *_head_ranges(image)])
                else:
                    grown = [(old_size, size - old_size)] if size > old_size else []
                    ranges = merge([*changed, *grown])
            read, written = _copy(source, image, ranges, compare=compare, fresh=fresh,
                                  progress=progress)  # fmt: skip
            image.metadata_set(META_KEY + found.id, json.dumps(meta))
            if snapshot not in [str(s["name"]) for s in image.list_snaps()]:
                image.create_snap(snapshot)
    LOG.info("Backup %s: %s into %s/%s@%s, read %d bytes, wrote %d", found.id, method, pool,
             name, snapshot, read, written)  # fmt: skip
    return {"image": name, "snapshot": snapshot, "pool": pool,
            "stats": {"method": method, "read_bytes": read, "changed_bytes": written}}  # fmt: skip


def _complement(ranges: list[Range], size: int) -> list[Range]:
    out: list[Range] = []
    at = 0
    for start, length in ranges:
        if start > at:
            out.append((at, start - at))
        at = max(at, start + length)
    if at < size:
        out.append((at, size - at))
    return out


def restore(
    store: CephStore,
    found: Backup,
    device: dict[str, Any],
    volume_is_new: bool,
    work_dir: Path,
    progress: Callable[[int], None],
) -> dict[str, Any]:
    """Write the backup's snapshot onto the volume; the volume metadata it recorded."""
    where = location(found.service_metadata)
    pool = found.container or store.settings.pool
    with store.image(pool, where["image"], snapshot=where["snapshot"], read_only=True) as image:
        size = int(image.size())
        if size > int(device["size"]):
            raise CorruptBackup("the volume is smaller than the backup")
        try:
            meta: dict[str, Any] = json.loads(image.metadata_get(META_KEY + found.id))
        except (KeyError, ValueError):
            meta = {}
        source = RbdSource(image, size)
        ranges = source.data_ranges()
        with devices.open_target(device, work_dir) as target:
            for start, length in ranges:
                pos, end = start, start + length
                while pos < end:
                    count = min(PIECE, end - pos)
                    data = source.read(pos, count)
                    if not _is_zero(data):
                        target.write(pos, data)
                    elif not volume_is_new:
                        target.zero(pos, count)
                    pos += count
                    progress(count)
            if not volume_is_new:
                for start, length in _complement(ranges, size):
                    target.zero(start, length)
    LOG.info("Backup %s: restored %s/%s@%s", found.id, pool, where["image"], where["snapshot"])
    return meta
