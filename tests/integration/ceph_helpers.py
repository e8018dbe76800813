"""Session fixtures for a real Ceph: ``ceph`` (a one-node cluster) and ``s3_server``.

One cluster per pytest session and worker (``conftest.py`` imports the fixtures); radosgw
is started on it only when a test asks for ``s3_server``. Without the Debian packages the
tests skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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
