"""Deleting RBD images and snapshots that others may stand on, as Cinder's RBD driver does.

* A volume whose image still has clones standing on its ``.clone_snap`` snapshots is
  renamed ``volume-<id>.deleted`` and removed with its last clone; when a clone goes,
  its parent's ``.clone_snap`` goes with it, and a ``.deleted`` parent left with no
  snapshot is removed in turn (up the chain).
* A volume that cannot be removed otherwise (a snapshot of it sits in the trash because
  a clone still needs it) goes to the trash.
* ``enable_deferred_deletion``: deleted volumes go to the trash for
  ``deferred_deletion_delay`` seconds; a purge every
  ``deferred_deletion_purge_interval`` seconds removes what has expired (and cleans up
  the parents of what it removed).
* A snapshot whose clones still need it gets its clones flattened first.

So a delete never leaves a volume ``deleting`` because of an image dependency.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from firebrick.volume.drivers import rbd_images as names
from firebrick.volume.drivers.rbd_client import RadosClient, RbdOptions, bindings
from firebrick.volume.drivers.rbd_images import opened

LOG = logging.getLogger("firebrick.volume")


class Deleter:
    def __init__(self, client: RadosClient, options: RbdOptions, backend: str) -> None:
        self.client = client
        self.options = options
        self.backend = backend
        self._stop = threading.Event()
        self._purger: threading.Thread | None = None

    # Volumes --------------------------------------------------------------------------

    def delete_volume(self, rbd: Any, ioctx: Any, name: str) -> None:
        try:
            with opened(rbd, ioctx, name) as image:
                snaps = names.snap_names(image)
                clone_snaps = [s for s in snaps if s.endswith(names.CLONE_SNAP_SUFFIX)]
                parent = names.parent_of(rbd, image)
        except rbd.ImageNotFound:
            LOG.info("RBD image %s no longer exists", name)
            return
        if clone_snaps:
            # Clones stand on it: keep it hidden until the last of them is gone.
            hidden = name + names.DELETED_SUFFIX
            LOG.info("RBD image %s has clones; kept as %s until they are gone", name, hidden)
            rbd.RBD().rename(ioctx, name, hidden)
            # The last clone may have gone between the look and the rename (another
            # worker, or another volume service on the same pool): look again.
            self.collect_hidden(rbd, ioctx, hidden)
            return
        if self.options.deferred_deletion:
            self._trash(rbd, ioctx, name, self.options.deferred_deletion_delay)
        elif not self._remove(rbd, ioctx, name, snaps):
            self._trash(rbd, ioctx, name, 0)
        if parent is not None:
            self.release_parent(rbd, ioctx, *parent)

    def _remove(self, rbd: Any, ioctx: Any, name: str, snaps: list[str]) -> bool:
        """Remove the image (and snapshots nobody stands on); False when only the trash can
        take it."""
        try:
            rbd.RBD().remove(ioctx, name)
            return True
        except rbd.ImageNotFound:
            return True
        except rbd.ImageHasSnapshots:
            pass
        with opened(rbd, ioctx, name) as image:
            for snap in snaps:
                names.flatten_children(rbd, ioctx, name, snap)
                self._drop_snapshot(rbd, image, snap)
        try:
            rbd.RBD().remove(ioctx, name)
            return True
        except rbd.ImageHasSnapshots:
            return False  # a snapshot waits in the trash for a clone

    def _trash(self, rbd: Any, ioctx: Any, name: str, delay: int) -> None:
        LOG.info("Moving RBD image %s to the trash (eligible for removal in %d s)", name, delay)
        rbd.RBD().trash_move(ioctx, name, delay)

    def release_parent(self, rbd: Any, ioctx: Any, parent: str, snap: str) -> None:
        """A clone of ``parent@snap`` is gone: remove the temporary ``.clone_snap`` it stood
        on, then the parent itself if it is a ``.deleted`` image left without snapshots."""
        if not snap.endswith(names.CLONE_SNAP_SUFFIX) and not parent.endswith(names.DELETED_SUFFIX):
            return  # a user's snapshot, or a live image cache entry's: it stays
        # The parent may have been renamed .deleted since its name was read.
        for candidate in (parent, parent + names.DELETED_SUFFIX):
            try:
                with opened(rbd, ioctx, candidate) as image:
                    if not self._drop_snapshot(rbd, image, snap):
                        return
            except rbd.ImageNotFound:
                continue
            self.collect_hidden(rbd, ioctx, candidate)
            return

    def collect_hidden(self, rbd: Any, ioctx: Any, name: str) -> None:
        """Remove a ``.deleted`` image that no clone needs any more, and so on up its chain
        (the recursion is as deep as the chain, at most rbd_max_clone_depth)."""
        if not name.endswith(names.DELETED_SUFFIX):
            return
        try:
            with opened(rbd, ioctx, name) as image:
                if names.snap_names(image):
                    return
                grandparent = names.parent_of(rbd, image)
        except rbd.ImageNotFound:
            return
        LOG.info("Removing RBD image %s: its last clone is gone", name)
        if self.options.deferred_deletion:
            self._trash(rbd, ioctx, name, self.options.deferred_deletion_delay)
        else:
            with contextlib.suppress(rbd.ImageNotFound):
                rbd.RBD().remove(ioctx, name)
        if grandparent is not None:
            self.release_parent(rbd, ioctx, *grandparent)

    @staticmethod
    def _drop_snapshot(rbd: Any, image: Any, snap: str) -> bool:
        """Unprotect and remove; False when a clone (maybe in the trash) still needs it."""
        try:
            if image.is_protected_snap(snap):
                image.unprotect_snap(snap)
            image.remove_snap(snap)
        except rbd.ImageNotFound:
            return True
        except (rbd.ImageBusy, rbd.InvalidArgument):
            return False
        return True

    # Snapshots ------------------------------------------------------------------------

    def remove_snapshot(self, rbd: Any, ioctx: Any, image_name: str, snap: str) -> None:
        """Remove ``image@snap``, flattening the clones that still stand on it."""
        try:
            with opened(rbd, ioctx, image_name) as image:
                if snap not in names.snap_names(image):
                    return
                # Clone v2 would let the snapshot go to the trash namespace while clones
                # need it, leaving its image undeletable: the clones get their own data
                # first, as Cinder does when a snapshot is busy.
                names.flatten_children(rbd, ioctx, image_name, snap)
                if not self._drop_snapshot(rbd, image, snap):
                    # Clones in the image trash: the snapshot waits in the trash
                    # namespace until they are purged.
                    image.remove_snap2(snap, rbd.RBD_SNAP_REMOVE_UNPROTECT)
        except rbd.ImageNotFound:
            return
        self.collect_hidden(rbd, ioctx, image_name)

    # Deferred deletion ----------------------------------------------------------------

    def start(self) -> None:
        if self.options.deferred_deletion and self._purger is None:
            self._purger = threading.Thread(
                target=self._purge_loop, name=f"rbd-trash-{self.backend}", daemon=True
            )
            self._purger.start()

    def stop(self) -> None:
        self._stop.set()

    def _purge_loop(self) -> None:
        while not self._stop.wait(self.options.deferred_deletion_purge_interval):
            try:
                self.purge()
            except Exception:
                LOG.exception("Backend %s: purging the RBD trash failed", self.backend)

    def purge(self) -> int:
        """Remove the expired trash entries of this backend's images; how many went."""
        _rados, rbd = bindings()
        removed = 0
        with self.client.ioctx() as ioctx:
            for entry in list(rbd.RBD().trash_list(ioctx)):
                name, image_id = str(entry["name"]), str(entry["id"])
                if not name.startswith(names.VOLUME_PREFIX):
                    continue
                try:
                    with opened(rbd, ioctx, image_id=image_id, read_only=True) as image:
                        parent = names.parent_of(rbd, image)
                    rbd.RBD().trash_remove(ioctx, image_id)
                except (rbd.PermissionError, rbd.ImageBusy, rbd.ImageHasSnapshots):
                    continue  # not expired yet, or clones still need it: next round
                except rbd.ImageNotFound:
                    continue
                removed += 1
                LOG.info("Backend %s: removed %s from the RBD trash", self.backend, name)
                if parent is not None:
                    self.release_parent(rbd, ioctx, *parent)
        return removed
