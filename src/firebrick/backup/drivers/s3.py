"""The ``s3`` store: objects in an S3 bucket (Cinder's driver and its ``backup_s3_*``
options), through boto3.

A container is a bucket (``backup_s3_store_bucket`` unless the backup names one); it is
created when missing. An object is assembled in a spooled temporary file and sent with
one PUT (with its MD5 when ``backup_s3_md5_validation``), or a multipart upload when it
is large: S3 shows an object only once it is whole.
"""

from __future__ import annotations

import base64
import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, BinaryIO, cast

from firebrick.backup.config import S3Settings
from firebrick.backup.drivers.base import ObjectMissing

_SPOOL = 64 << 20
_SINGLE_PUT = 256 << 20
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class _Hashing:
    """A writable file that also keeps the MD5 of what went through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.length = 0

    def write(self, data: bytes | memoryview) -> int:
        self.md5.update(data)
        self.length += len(data)
        return self.handle.write(data)


class S3Store:
    def __init__(self, settings: S3Settings) -> None:
        import boto3
        from botocore.config import Config

        self.settings = settings
        verify: bool | str = settings.ca_cert_file or settings.verify_ssl
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            verify=verify,
            config=Config(
                connect_timeout=settings.timeout, read_timeout=settings.timeout,
                max_pool_connections=settings.max_pool_connections,
                retries={"max_attempts": settings.retry_max_attempts,
                         "mode": settings.retry_mode},
                s3={"addressing_style": "path"},
            ),
        )  # fmt: skip
        self._known: set[str] = set()

    def _missing(self, exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}

    def _bucket(self, name: str) -> str:
        if name in self._known:
            return name
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=name)
        except ClientError as exc:
            if not self._missing(exc):
                raise
            self.client.create_bucket(Bucket=name)
        self._known.add(name)
        return name

    def check(self) -> None:
        self._bucket(self.settings.bucket)

    def default_container(self, backup_id: str) -> str:
        return self.settings.bucket

    def check_container(self, container: str) -> None:
        if not _BUCKET.match(container):
            raise ValueError(f"Container {container!r} is not a valid bucket name.")

    @contextmanager
    def writer(self, container: str, name: str, *, durable: bool = True) -> Iterator[_Hashing]:
        bucket = self._bucket(container)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as spool:
            out = _Hashing(cast(IO[bytes], spool))
            yield out
            spool.seek(0)
            if out.length <= _SINGLE_PUT:
                extra: dict[str, Any] = {}
                if self.settings.md5_validation:
                    extra["ContentMD5"] = base64.b64encode(out.md5.digest()).decode("ascii")
                self.client.put_object(Bucket=bucket, Key=name, Body=spool,
                                       ContentLength=out.length, **extra)  # fmt: skip
            else:
                self.client.upload_fileobj(spool, bucket, name)

    def sync(self, container: str, names: list[str]) -> None:
        """Nothing to do: an object is durable once its PUT returned."""

    @contextmanager
    def reader(self, container: str, name: str) -> Iterator[BinaryIO]:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=container, Key=name)
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(f"{container}/{name}") from None
            raise
        body = answer["Body"]
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def delete(self, container: str, name: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(Bucket=container, Key=name)
        except ClientError as exc:
            if not self._missing(exc):
                raise

    def names(self, container: str, prefix: str) -> list[str]:
        from botocore.exceptions import ClientError

        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=container, Prefix=prefix
            ):
                found += [item["Key"] for item in page.get("Contents", [])]
        except ClientError as exc:
            if not self._missing(exc):
                raise
        return sorted(found)

    def discard(self, container: str, backup_id: str) -> None:
        """Abort the multipart uploads a killed backup left under its objects' names."""
        from botocore.exceptions import ClientError

        try:
            answer = self.client.list_multipart_uploads(Bucket=container)
        except ClientError:
            return
        for upload in answer.get("Uploads", []):
            if backup_id in upload["Key"]:
                self.client.abort_multipart_upload(Bucket=container, Key=upload["Key"],
                                                   UploadId=upload["UploadId"])  # fmt: skip
