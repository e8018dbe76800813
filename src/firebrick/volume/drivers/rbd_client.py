"""The RBD driver's connection to Ceph: options, the librados/librbd bindings, one cluster
handle per driver.

The bindings are Debian's ``python3-rados``/``python3-rbd`` and are imported only when an
RBD backend is set up, so installs without Ceph still work. Cinder opens a cluster
connection per operation (tens of milliseconds each); here one connection is opened at
setup and kept (librados is thread-safe), and an I/O context is opened per operation,
which is cheap. A connection that fails is dropped and opened again on the next call.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError

LOG = logging.getLogger("firebrick.volume")

MiB = 1 << 20
GiB = 1 << 30
# layering, exclusive-lock, object-map, fast-diff, deep-flatten: Ceph's default set and
# what Cinder's images get from ``rbd_default_features``.
DEFAULT_FEATURES = 1 | 4 | 8 | 16 | 32


def bindings() -> tuple[Any, Any]:
    """The ``rados`` and ``rbd`` modules, or a DriverError saying how to get them."""
    try:
        import rados
        import rbd
    except ImportError as exc:
        raise DriverError(
            "The RBD driver needs Ceph's Python bindings (Debian packages python3-rados and "
            "python3-rbd, linked into the venv by `make venv`)."
        ) from exc
    return rados, rbd


def _int(backend: BackendConfig, key: str, default: int, low: int = 0) -> int:
    raw = backend.get(key)
    try:
        value = default if raw is None or not raw.strip() else int(raw)
    except ValueError:
        raise ValueError(f"Backend {backend.name}: {key} must be an integer, not {raw!r}") from None
    if value < low:
        raise ValueError(f"Backend {backend.name}: {key} must be at least {low}, not {value}")
    return value


@dataclass(frozen=True)
class RbdOptions:
    """Cinder's RBD options (``cinder/volume/drivers/rbd.py``), same names and defaults."""

    pool: str
    user: str | None
    ceph_conf: str | None
    cluster_name: str
    secret_uuid: str | None
    keyring_conf: str | None
    max_clone_depth: int
    flatten_volume_from_snapshot: bool
    chunk_size_mb: int
    exclusive_pool: bool
    deferred_deletion: bool
    deferred_deletion_delay: int
    deferred_deletion_purge_interval: int
    dynamic_total_capacity: bool
    connect_timeout: int

    @classmethod
    def from_backend(cls, backend: BackendConfig) -> RbdOptions:
        chunk = _int(backend, "rbd_store_chunk_size", 4, low=1)
        if chunk & (chunk - 1):
            raise ValueError(f"Backend {backend.name}: rbd_store_chunk_size must be a power of 2")
        return cls(
            pool=backend.get("rbd_pool") or "rbd",
            user=backend.get("rbd_user") or None,
            ceph_conf=backend.get("rbd_ceph_conf") or None,
            cluster_name=backend.get("rbd_cluster_name") or "ceph",
            secret_uuid=backend.get("rbd_secret_uuid") or None,
            keyring_conf=backend.get("rbd_keyring_conf") or None,
            max_clone_depth=_int(backend, "rbd_max_clone_depth", 5),
            flatten_volume_from_snapshot=backend.get_bool(
                "rbd_flatten_volume_from_snapshot", False
            ),
            chunk_size_mb=chunk,
            exclusive_pool=backend.get_bool("rbd_exclusive_cinder_pool", True),
            deferred_deletion=backend.get_bool("enable_deferred_deletion", False),
            deferred_deletion_delay=_int(backend, "deferred_deletion_delay", 0),
            deferred_deletion_purge_interval=_int(
                backend, "deferred_deletion_purge_interval", 60, low=1
            ),
            dynamic_total_capacity=backend.get_bool("report_dynamic_total_capacity", True),
            connect_timeout=_int(backend, "rados_connect_timeout", -1, low=-1),
        )

    @property
    def order(self) -> int:
        """log2 of the object size: images are chunked into rbd_store_chunk_size MiB."""
        return int(math.log2(self.chunk_size_mb * MiB))

    def qemu_spec(self, image: str, snapshot: str | None = None) -> str:
        """QEMU's ``rbd:`` filename for an image of the pool (qemu-img, qemu-nbd, targets)."""
        spec = f"rbd:{self.pool}/{image}" + (f"@{snapshot}" if snapshot else "")
        if self.user:
            spec += f":id={self.user}"
        if self.ceph_conf:
            spec += f":conf={self.ceph_conf}"
        if self.keyring_conf:
            spec += f":keyring={self.keyring_conf}"
        return spec


class RadosClient:
    """One librados cluster handle for a backend; ``ioctx()`` opens the pool per call."""

    def __init__(self, options: RbdOptions) -> None:
        self.options = options
        self._cluster: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        rados, _rbd = bindings()
        opts = self.options
        conf: dict[str, str] = {}
        if opts.keyring_conf:
            conf["keyring"] = opts.keyring_conf
        cluster = rados.Rados(
            rados_id=opts.user, clustername=opts.cluster_name, conffile=opts.ceph_conf or "",
            conf=conf,
        )  # fmt: skip
        if opts.connect_timeout >= 0:
            for key in ("rados_osd_op_timeout", "rados_mon_op_timeout", "client_mount_timeout"):
                cluster.conf_set(key, str(opts.connect_timeout))
        try:
            cluster.connect()
        except rados.Error as exc:
            cluster.shutdown()
            reason = type(exc).__name__
            raise DriverError(f"Could not connect to the Ceph cluster: {reason}") from None
        return cluster

    def cluster(self) -> Any:
        with self._lock:
            if self._cluster is None:
                self._cluster = self._connect()
            return self._cluster

    def reset(self) -> None:
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            try:
                cluster.shutdown()
            except Exception:  # a broken handle: nothing more to release
                LOG.debug("shutdown of a broken rados handle failed", exc_info=True)

    @contextmanager
    def ioctx(self) -> Iterator[Any]:
        rados, _rbd = bindings()
        try:
            ioctx = self.cluster().open_ioctx(self.options.pool)
        except rados.ObjectNotFound:
            raise DriverError(f"The Ceph pool {self.options.pool!r} does not exist.") from None
        except rados.Error:
            self.reset()
            raise
        try:
            yield ioctx
        finally:
            ioctx.close()

    def mon_command(self, command: dict[str, Any]) -> Any:
        """A monitor command's JSON answer (``ceph df``, ``mon dump``, …)."""
        ret, out, err = self.cluster().mon_command(json.dumps({**command, "format": "json"}), b"")
        if ret != 0:
            raise DriverError(f"Ceph monitor command {command['prefix']!r} failed: {err}")
        return json.loads(out)

    def fsid(self) -> str:
        return str(self.cluster().get_fsid())

    def features(self) -> int:
        """The image features new images get: the cluster's ``rbd_default_features``."""
        try:
            value = self.cluster().conf_get("rbd_default_features")
        except Exception:
            value = None
        if value is None or not str(value).strip():
            return DEFAULT_FEATURES
        if str(value).isdigit():
            return int(value) or DEFAULT_FEATURES
        _rados, rbd = bindings()
        return int(rbd.RBD().features_from_string(str(value)))

    def mon_addresses(self) -> tuple[list[str], list[str]]:
        """The monitors' v1 (msgr1) hosts and ports, as Cinder hands them to hypervisors."""
        monmap = self.mon_command({"prefix": "mon dump"})
        hosts: list[str] = []
        ports: list[str] = []
        for mon in monmap.get("mons", []):
            addr = mon.get("addr", "")
            for entry in (mon.get("public_addrs") or {}).get("addrvec", []):
                if entry.get("type") == "v1":
                    addr = entry["addr"]
            host_port = addr.split("/", 1)[0]
            host, _, port = host_port.rpartition(":")
            hosts.append(host.strip("[]"))
            ports.append(port)
        return hosts, ports
