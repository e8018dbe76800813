"""Names and small librbd helpers of the RBD driver (Cinder's naming).

A volume is the image ``volume-<id>`` of the pool, a snapshot the image snapshot
``snapshot-<id>`` of its volume's image, the temporary snapshot a clone of a volume
stands on ``volume-<clone id>.clone_snap``, and a volume deleted while clones still
stand on it lives on, hidden, as ``volume-<id>.deleted`` until the last one goes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

VOLUME_PREFIX = "volume-"
SNAPSHOT_PREFIX = "snapshot-"
CLONE_SNAP_SUFFIX = ".clone_snap"
DELETED_SUFFIX = ".deleted"
_VOLUME_NAME = re.compile(
    r"^volume-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
MAX_CHAIN = 256


def volume_name(volume_id: str) -> str:
    return f"{VOLUME_PREFIX}{volume_id}"


def snapshot_name(snapshot_id: str) -> str:
    return f"{SNAPSHOT_PREFIX}{snapshot_id}"


def clone_snap_name(clone_image: str) -> str:
    return f"{clone_image}{CLONE_SNAP_SUFFIX}"


def volume_id_of(image: str) -> str | None:
    """The volume id an image name stands for (``volume-<uuid>`` exactly), else None."""
    match = _VOLUME_NAME.match(image)
    return match.group(1) if match else None


@contextmanager
def opened(
    rbd: Any, ioctx: Any, name: str | None = None, *, read_only: bool = False,
    snapshot: str | None = None, image_id: str | None = None,
) -> Iterator[Any]:  # fmt: skip
    image = rbd.Image(ioctx, name, snapshot=snapshot, read_only=read_only, image_id=image_id)
    try:
        yield image
    finally:
        image.close()


def exists(rbd: Any, ioctx: Any, name: str) -> bool:
    try:
        with opened(rbd, ioctx, name, read_only=True):
            return True
    except rbd.ImageNotFound:
        return False


def parent_of(rbd: Any, image: Any) -> tuple[str, str] | None:
    """(parent image, parent snapshot) of a clone, or None for an image that stands alone."""
    try:
        _pool, parent, snap = image.parent_info()
    except rbd.ImageNotFound:
        return None
    return str(parent), str(snap)


def clone_depth(rbd: Any, ioctx: Any, name: str) -> int:
    """How many ancestors the image has (0: it stands alone)."""
    depth = 0
    current: str | None = name
    while current is not None and depth < MAX_CHAIN:
        with opened(rbd, ioctx, current, read_only=True) as image:
            found = parent_of(rbd, image)
        if found is None:
            return depth
        depth += 1
        current = found[0]
    return depth


def snap_names(image: Any) -> list[str]:
    return [str(snap["name"]) for snap in image.list_snaps()]


def ensure_snapshot(rbd: Any, image: Any, snap: str, *, protect: bool = True) -> None:
    """Create (if missing) and protect (if unprotected) an image snapshot: repeatable."""
    if snap not in snap_names(image):
        with suppress(rbd.ImageExists):
            image.create_snap(snap)
    if protect and not image.is_protected_snap(snap):
        with suppress(rbd.ImageBusy):  # protected meanwhile by a concurrent call
            image.protect_snap(snap)


def flatten(rbd: Any, ioctx: Any, name: str | None = None, image_id: str | None = None) -> None:
    """Copy the parent's data into the image, so that it no longer needs its parent."""
    try:
        with opened(rbd, ioctx, name, image_id=image_id) as image:
            if parent_of(rbd, image) is not None:
                image.flatten()
    except rbd.ImageNotFound:
        pass


def flatten_children(rbd: Any, ioctx: Any, name: str, snap: str) -> None:
    """Flatten every clone of ``name@snap`` (also clones waiting in the trash)."""
    with opened(rbd, ioctx, name, read_only=True) as image:
        image.set_snap(snap)
        children = list(image.list_children2())
    for child in children:
        flatten(rbd, ioctx, image_id=str(child["id"]))


def ensure_size(rbd: Any, ioctx: Any, name: str, size: int) -> None:
    """Grow the image to ``size`` bytes if it is smaller (never shrink)."""
    with opened(rbd, ioctx, name) as image:
        if image.size() < size:
            image.resize(size)
