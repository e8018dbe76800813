"""The ``rbd`` "target": hypervisors with librbd (QEMU/libvirt) reach the image directly.

Nothing is exported and no daemon runs: connection_info carries what Cinder's RBD driver
hands to os-brick and Nova (``driver_volume_type: rbd``):

* ``name``: ``<pool>/volume-<id>``; ``hosts`` and ``ports``: the monitors (from the
  cluster's monitor map); ``cluster_name``; ``auth_enabled`` (whether ``rbd_user`` is
  set), ``auth_username``, ``secret_type`` (``ceph``) and ``secret_uuid`` (the libvirt
  secret holding the user's key; default the cluster's FSID); ``volume_id``;
  ``discard`` (true: RBD images are thin and release discarded blocks);
  ``keyring`` only when ``rbd_keyring_conf`` names a keyring file (as Cinder does for
  clients without a local keyring).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from firebrick.config import BackendConfig
from firebrick.targets.base import RBD_FORMAT, Export, TargetError, check_id
from firebrick.volume.drivers.rbd_client import RadosClient, RbdOptions


class RbdTarget:
    protocol = "rbd"

    def __init__(self, options: Mapping[str, str]) -> None:
        backend = BackendConfig("rbd", "rbd", "rbd", "nova", 0, "1.0", dict(options))
        self.options = RbdOptions.from_backend(backend)
        self.client = RadosClient(self.options)
        self._secret_uuid: str | None = self.options.secret_uuid

    def start(self) -> None:
        """Nothing to start: the cluster is the target."""

    def stop(self) -> None:
        self.client.reset()

    def export(
        self,
        volume_id: str,
        path: Path,
        fmt: str,
        attachment_id: str,
        connector: Mapping[str, Any],
        credentials: Any = None,
        readonly: bool = False,
        qos: Mapping[str, object] | None = None,
    ) -> Export:
        check_id("volume id", volume_id)
        check_id("attachment id", attachment_id)
        if fmt != RBD_FORMAT:
            raise TargetError(f"Volume {volume_id} is not an RBD image.")
        image = str(path).removeprefix("rbd:").split(":", 1)[0].split("/", 1)[-1]
        try:
            hosts, ports = self.client.mon_addresses()
            if self._secret_uuid is None:
                self._secret_uuid = self.client.fsid()
        except Exception as exc:
            self.client.reset()
            raise TargetError(f"Could not read the Ceph monitor map: {exc}") from None
        opts = self.options
        data: dict[str, Any] = {
            "name": f"{opts.pool}/{image}",
            "hosts": hosts,
            "ports": ports,
            "cluster_name": opts.cluster_name,
            "auth_enabled": opts.user is not None,
            "auth_username": opts.user,
            "secret_type": "ceph",
            "secret_uuid": self._secret_uuid,
            "volume_id": volume_id,
            "discard": True,
        }
        if opts.keyring_conf:
            data["keyring"] = _keyring(opts.keyring_conf)
        return Export(data, None)

    def unexport(self, volume_id: str, attachment_id: str) -> None:
        """Nothing to remove: access is the client's cephx key, not an export."""

    def exported(self) -> dict[str, set[str]]:
        return {}


def _keyring(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None
