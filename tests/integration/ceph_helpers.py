"""Session fixtures for a real Ceph: ``ceph`` (a one-node cluster) and ``s3_server``.

One cluster per pytest session and worker (``conftest.py`` imports the fixtures); radosgw
is started on it only when a test asks for ``s3_server``. Without the Debian packages the
tests skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from infra import ceph as ceph_infra
from infra.ceph import CephCluster, S3Server


def ceph_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ceph() -> Iterator[CephCluster]:
    """A one-node Ceph (mon, mgr, one bluestore OSD) with an RBD pool ``volumes``."""
    if not ceph_infra.available():
        ceph_unavailable(ceph_infra.unavailable_reason())
    cluster = CephCluster(ceph_infra.make_base_dir())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()  # the logs stay under base_dir for a look
        raise
    yield cluster
    cluster.remove()


@pytest.fixture(scope="session")
def s3_server(ceph: CephCluster) -> Iterator[S3Server]:
    """radosgw on the session's cluster: ``endpoint_url``, ``access_key``, ``secret_key``."""
    if not ceph_infra.radosgw_available():
        ceph_unavailable("radosgw is not installed (as root: apt-get install radosgw)")
    server = ceph_infra.start_radosgw(ceph)
    yield server
    server.stop()


# ---------------------------------------------------------------------------------------
# RBD backends on the session's cluster, and data read and written through librbd

RBD_USER = "cinder"
MiB = 1 << 20


def rbd_user(ceph: CephCluster) -> Path:
    """A cephx user ``client.cinder`` with Cinder's usual caps (``profile rbd``: images of
    any pool, nothing else); its keyring."""
    return ceph.create_client(
        RBD_USER, "mon", "profile rbd", "osd", "profile rbd", "mgr", "profile rbd"
    )


def rbd_backend(ceph: CephCluster, pool: str | None = None, **options: str) -> dict[str, str]:
    """Options of an RBD backend section on ``pool``, as the restricted user ``cinder``."""
    keyring = rbd_user(ceph)
    return {
        "volume_driver": "rbd",
        "rbd_pool": pool or ceph.pool,
        "rbd_ceph_conf": str(ceph.conf),
        "rbd_user": RBD_USER,
        "rbd_keyring_conf": str(keyring),
        **options,
    }


def image_spec(ceph: CephCluster, image: str, pool: str | None = None) -> str:
    """QEMU's name of an image, as the admin (qemu-io, qemu-img)."""
    return f"rbd:{pool or ceph.pool}/{image}:conf={ceph.conf}"


def qemu_io(ceph: CephCluster, image: str, command: str, pool: str | None = None) -> str:
    done = subprocess.run(
        ["qemu-io", "-f", "raw", "-c", command, image_spec(ceph, image, pool)],
        capture_output=True, text=True, timeout=120, env=ceph.env,
    )  # fmt: skip
    assert done.returncode == 0 and "failed" not in done.stdout.lower(), (
        f"qemu-io {command!r} on {image}: {done.stdout} {done.stderr}"
    )
    return done.stdout


def write_pattern(ceph: CephCluster, image: str, byte: int, offset: int = 0,
                  length: int = 4 * MiB, pool: str | None = None) -> None:  # fmt: skip
    qemu_io(ceph, image, f"write -P {byte} {offset} {length}", pool)


def holds_pattern(ceph: CephCluster, image: str, byte: int, offset: int = 0,
                  length: int = 4 * MiB, pool: str | None = None) -> bool:  # fmt: skip
    done = subprocess.run(
        ["qemu-io", "-f", "raw", "-c", f"read -P {byte} {offset} {length}",
         image_spec(ceph, image, pool)],
        capture_output=True, text=True, timeout=120, env=ceph.env,
    )  # fmt: skip
    return done.returncode == 0 and "Pattern verification failed" not in done.stdout
