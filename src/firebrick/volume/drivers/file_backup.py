"""The file driver's part in backups of qcow2 volumes: points in the backing chain.

A backup of a qcow2 volume freezes it (the file driver's external-snapshot move): the
volume's file becomes ``clone-base-<point>`` and the volume continues as an empty overlay
on it. What is written after that lands in the overlay, so the next backup finds what
changed in the allocation of the layers above the point, reading nothing else.

Points do not pile up: once a newer backup has its own point, the older point is merged
away when the chain allows it (the newer layer, small, is committed into the older one
with ``qemu-img commit``, and the overlay above is pointed at the result), so the chain
keeps one point per volume. Where it does not (a user snapshot sits between them) the
older point stays as an ordinary layer, which the driver removes once nothing sits on it.
"""

from __future__ import annotations

from pathlib import Path

from firebrick.domain.model import Volume
from firebrick.volume.drivers import qemu_img
from firebrick.volume.drivers.file import FileDriver
from firebrick.volume.drivers.file_store import CLONE_BASE


def point_path(driver: FileDriver, point_id: str) -> Path:
    return driver.store.file(CLONE_BASE, point_id)


def freeze(driver: FileDriver, volume: Volume, point_id: str) -> Path:
    """Freeze the volume's data as the point; the volume continues as an overlay on it."""
    frozen = point_path(driver, point_id)
    with driver.store.chain_lock():
        driver.store.freeze(driver.path(volume.storage_id), frozen)
    return frozen


def merge(driver: FileDriver, volume: Volume, older: str, newer: str) -> bool:
    """Commit the newer point into the older one when the newer sits directly on the older
    and nothing else does; then the older file holds the newer point's data. Whether it
    merged (the caller then records the older file as the newer backup's point)."""
    store = driver.store
    old, new = point_path(driver, older), point_path(driver, newer)
    top = driver.path(volume.storage_id)
    with store.chain_lock():
        if not (old.exists() and new.exists() and top.exists()):
            return False
        if store.backing(new) != old.name or store.backing(top) != new.name:
            return False
        if [p.name for p in store.dependents(old.name)] != [new.name]:
            return False
        if [p.name for p in store.dependents(new.name)] != [top.name]:
            return False
        qemu_img.run("commit", "-q", "-f", "qcow2", "-d", new.name, cwd=new.parent)
        qemu_img.rebase_unsafe(top, old.name)
        new.unlink()
    return True


def forget(driver: FileDriver, point_id: str) -> None:
    """A point no backup needs: removed if nothing sits on it, else left as a layer."""
    with driver.store.chain_lock():
        driver.store.collect(point_path(driver, point_id).name)
