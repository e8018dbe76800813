"""The test infrastructure itself: the one-node Ceph serves RBD, radosgw serves S3."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from email.utils import formatdate

import httpx
from infra.ceph import CephCluster, S3Server


def test_cluster_serves_rbd_images(ceph: CephCluster) -> None:
    name = f"infra-{uuid.uuid4().hex[:8]}"
    ceph.run("rbd", "create", "--size", "16M", f"{ceph.pool}/{name}")
    try:
        assert name in ceph.run("rbd", "ls", ceph.pool).split()
        info = ceph.run("rbd", "info", f"{ceph.pool}/{name}")
        assert "size 16 MiB" in info
    finally:
        ceph.run("rbd", "rm", f"{ceph.pool}/{name}")
    assert name not in ceph.run("rbd", "ls", ceph.pool).split()


def _signed(s3: S3Server, method: str, path: str) -> dict[str, str]:
    # AWS signature v2, which radosgw accepts: enough to prove the keys are the user's.
    date = formatdate(usegmt=True)
    to_sign = f"{method}\n\n\n{date}\n{path}".encode()
    digest = hmac.new(s3.secret_key.encode(), to_sign, hashlib.sha1).digest()
    return {
        "Date": date,
        "Authorization": f"AWS {s3.access_key}:{base64.b64encode(digest).decode()}",
    }


def test_s3_server_keys_work_and_wrong_keys_do_not(s3_server: S3Server) -> None:
    bucket = f"/infra-{uuid.uuid4().hex[:8]}"
    url = s3_server.endpoint_url
    assert httpx.put(url + bucket, headers=_signed(s3_server, "PUT", bucket)).status_code == 200
    key = bucket + "/object"
    put = httpx.put(url + key, content=b"hello", headers=_signed(s3_server, "PUT", key))
    assert put.status_code == 200
    got = httpx.get(url + key, headers=_signed(s3_server, "GET", key))
    assert got.status_code == 200 and got.content == b"hello"
    forged = S3Server(url, s3_server.access_key, "not-the-secret", s3_server.user)
    assert httpx.get(url + key, headers=_signed(forged, "GET", key)).status_code == 403
