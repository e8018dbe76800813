"""Backups to a real S3 server: radosgw on a one-node Ceph (``s3_server``), Cinder's
``backup_s3_*`` options. The same round trips as on posix, objects checked in the bucket
with boto3, a corrupted object refused, and the keys never in Firebrick's output."""

from __future__ import annotations

import boto3
from backup_helpers import (
    MiB,
    create_backup,
    digest,
    restore,
    volume_file,
    wait_backup,
    wait_backup_gone,
    write_pattern,
)
from infra.ceph import S3Server
from keystone_helpers import assert_no_secrets, firebrick_texts

BUCKET = "firebrick-backups"


def _service(start_service, s3: S3Server):
    return start_service(defaults={
        "backup_driver": "cinder.backup.drivers.s3.S3BackupDriver",
        "backup_s3_endpoint_url": s3.endpoint_url,
        "backup_s3_store_access_key": s3.access_key,
        "backup_s3_store_secret_key": s3.secret_key,
        "backup_s3_store_bucket": BUCKET,
        "backup_s3_object_size": str(4 * MiB),
        "backup_compression_algorithm": "zstd",
    })  # fmt: skip


def _bucket(s3: S3Server):
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key,
        region_name="us-east-1",
    )
    return client


def _keys(client, prefix: str) -> list[str]:
    found = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in found)


def test_round_trip_on_radosgw(start_service, s3_server: S3Server) -> None:
    svc = _service(start_service, s3_server)
    api = svc.client()
    vid = api.create_volume(1)["id"]
    path = volume_file(svc, vid)
    write_pattern(path, 1, [(0, 10 * MiB), (700 * MiB, 1 * MiB)])
    full = create_backup(api, vid)
    first = digest(path)
    assert full["container"] == BUCKET
    client = _bucket(s3_server)
    prefix = f"volume_{vid}_"
    stored = _keys(client, prefix)
    # 11 MiB of data in 4 MiB objects (at least 3), the digests and the manifest.
    assert sum(k.endswith("_metadata") for k in stored) == 1
    assert len([k for k in stored if k.rsplit("-", 1)[-1].isdigit()]) >= 3

    write_pattern(path, 2, [(2 * MiB, 64 * 1024)])
    incremental = create_backup(api, vid, incremental=True)
    second = digest(path)
    for backup, expected in ((full, first), (incremental, second)):
        made = restore(api, backup["id"])
        api.wait_for_volume(made["volume_id"], timeout=60)
        assert digest(volume_file(svc, made["volume_id"])) == expected

    # A corrupted object is refused, and the target volume says so.
    key = next(k for k in _keys(client, prefix) if full["id"] in k and k.endswith("-00001"))
    body = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    target = api.create_volume(1)["id"]
    restore(api, full["id"], target)
    api.wait_for_volume(target, "error_restoring", timeout=60)
    assert wait_backup(api, full["id"])["status"] == "available"

    for backup in (incremental, full):
        assert api.delete(f"/backups/{backup['id']}").status_code == 202
        wait_backup_gone(api, backup["id"], timeout=60)
    assert _keys(client, prefix) == []
    assert_no_secrets(firebrick_texts(svc), {s3_server.secret_key})
