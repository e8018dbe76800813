"""What a volume service removes at start: storage it made for volumes that now live
elsewhere.

A create that was rescheduled away (or moved by a cleanup) can leave a volume's storage
behind; at start nothing is in flight on this backend, so storage of a volume whose row
names another backend, or none, is garbage. Storage no row claims at all is *kept*: it
may be an unmanaged volume or an operator's file waiting to be managed, and deleting it
would destroy data nobody asked to delete.
"""

from __future__ import annotations

import logging

from firebrick.db import manageable, volumes
from firebrick.db.engine import Database
from firebrick.domain.model import Volume
from firebrick.volume.drivers.base import VolumeDriver

LOG = logging.getLogger("firebrick.volume")


def remove(db: Database, driver: VolumeDriver, backend: str) -> None:
    found = driver.volume_ids()
    with db.read() as conn:
        hosts = manageable.hosts_of(conn, found)
    ours = f"{backend}#"
    unclaimed = sorted(found - set(hosts))
    if unclaimed:
        LOG.info("Backend %s: keeping storage no volume claims (unmanaged, or not managed "
                 "yet): %s", backend, ", ".join(unclaimed))  # fmt: skip
    for volume_id, host in sorted(hosts.items()):
        if host is not None and (host.startswith(ours) or host == backend):
            continue
        LOG.warning("Backend %s: removing orphaned storage of volume %s", backend, volume_id)
        orphan = Volume(id=volume_id, project_id="", user_id="", size=0, status="deleting",
                        created_at=volumes.now())  # fmt: skip
        try:
            driver.delete_volume(orphan)
        except Exception:
            LOG.exception("Backend %s: could not remove orphan %s", backend, volume_id)
