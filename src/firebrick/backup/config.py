"""The backup service's options, with Cinder's names (``[DEFAULT] backup_*``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from firebrick.backup.drivers.ceph import CephSettings
from firebrick.domain.backups import SERVICES

COMPRESSION = {
    "none": "none", "off": "none", "no": "none", "zlib": "zlib", "gzip": "zlib",
    "bz2": "bz2", "bzip2": "bz2", "zstd": "zstd",
}  # fmt: skip
# Cinder's defaults: a posix object of at most 61035 * 32 KiB, 32 KiB hash blocks.
SHA_BLOCK_SIZE = 32768
BACKUP_FILE_SIZE = 61035 * SHA_BLOCK_SIZE
S3_OBJECT_SIZE = 52428800


@dataclass(frozen=True)
class S3Settings:
    endpoint_url: str | None
    access_key: str | None = field(repr=False)
    secret_key: str | None = field(repr=False)
    bucket: str = "volumebackups"
    verify_ssl: bool = True
    ca_cert_file: str | None = None
    timeout: float = 60.0
    max_pool_connections: int = 10
    retry_max_attempts: int = 4
    retry_mode: str = "legacy"
    md5_validation: bool = True


@dataclass(frozen=True)
class BackupSettings:
    driver: str  # posix, s3 or ceph
    posix_path: Path
    object_size: int  # bytes of volume data in one stored object
    sha_block_size: int
    compression: str  # none, zlib, bz2 or zstd
    max_operations: int  # 0: unlimited
    container: str | None = None
    s3: S3Settings | None = None
    ceph: CephSettings | None = None
    # Firebrick's: where data read from afar is staged, and the progress period.
    work_dir: Path | None = None
    progress_interval: float = 5.0
    # Fault injection for tests: every 4 MiB read or restored holds this many seconds.
    test_delay: float = 0.0

    @property
    def service(self) -> str:
        """The driver's name as Cinder records it in ``backup.service``."""
        return SERVICES[self.driver]


def _bool(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "y", "t"}


def driver_name(value: str) -> str:
    """``posix``/``s3``/``ceph``, from either that or Cinder's class path."""
    value = value.strip()
    for name, path in SERVICES.items():
        if value in (name, path, path.rsplit(".", 1)[0]):
            return name
    raise ValueError(
        f"backup_driver must be posix, s3 or ceph (or Cinder's class path), not {value!r}"
    )


def load(options: Mapping[str, str], state_path: Path) -> BackupSettings:
    opt = options.get
    name = driver_name(opt("backup_driver", "posix") or "posix")
    compression = (opt("backup_compression_algorithm", "zlib") or "zlib").strip().lower()
    if compression not in COMPRESSION:
        raise ValueError(
            f"backup_compression_algorithm must be one of {', '.join(COMPRESSION)}, "
            f"not {compression!r}"
        )
    if name == "s3":
        sha = int(opt("backup_s3_block_size", str(SHA_BLOCK_SIZE)) or SHA_BLOCK_SIZE)
        size = int(opt("backup_s3_object_size", str(S3_OBJECT_SIZE)) or S3_OBJECT_SIZE)
    else:
        sha = int(opt("backup_sha_block_size_bytes", str(SHA_BLOCK_SIZE)) or SHA_BLOCK_SIZE)
        size = int(opt("backup_file_size", str(BACKUP_FILE_SIZE)) or BACKUP_FILE_SIZE)
    if sha <= 0 or size <= 0 or size % sha:
        raise ValueError(
            "The backup object size must be a positive multiple of the hash block size "
            f"(backup_file_size / backup_s3_object_size {size}, block {sha})."
        )
    s3 = None
    if name == "s3":
        s3 = S3Settings(
            endpoint_url=opt("backup_s3_endpoint_url") or None,
            access_key=opt("backup_s3_store_access_key") or None,
            secret_key=opt("backup_s3_store_secret_key") or None,
            bucket=opt("backup_s3_store_bucket", "volumebackups") or "volumebackups",
            verify_ssl=_bool(opt("backup_s3_verify_ssl"), True),
            ca_cert_file=opt("backup_s3_ca_cert_file") or None,
            timeout=float(opt("backup_s3_timeout", "60") or 60),
            max_pool_connections=int(opt("backup_s3_max_pool_connections", "10") or 10),
            retry_max_attempts=int(opt("backup_s3_retry_max_attempts", "4") or 4),
            retry_mode=opt("backup_s3_retry_mode", "legacy") or "legacy",
            md5_validation=_bool(opt("backup_s3_md5_validation"), True),
        )
    ceph = _ceph(options) if name == "ceph" else None
    posix_path = Path(opt("backup_posix_path") or state_path / "backup").expanduser()
    return BackupSettings(
        driver=name,
        posix_path=posix_path.absolute(),
        object_size=size,
        sha_block_size=sha,
        compression=COMPRESSION[compression],
        max_operations=max(0, int(opt("backup_max_operations", "15") or 15)),
        container=opt("backup_container") or None,
        s3=s3,
        ceph=ceph,
        work_dir=Path(opt("backup_work_dir") or state_path / "backup-work").absolute(),
        progress_interval=float(opt("backup_timer_interval", "5") or 5),
        test_delay=float(opt("backup_test_delay", "0") or 0),
    )


def _ceph(options: Mapping[str, str]) -> CephSettings:
    """Cinder's ``backup_ceph_*`` options."""
    opt = options.get
    chunk = int(opt("backup_ceph_chunk_size", str(128 << 20)) or 128 << 20)
    if chunk < 4096 or chunk & (chunk - 1):
        raise ValueError(
            f"backup_ceph_chunk_size must be a power of 2 of at least 4096, not {chunk}"
        )
    return CephSettings(
        conf=opt("backup_ceph_conf", "/etc/ceph/ceph.conf") or "/etc/ceph/ceph.conf",
        user=opt("backup_ceph_user", "cinder") or "cinder",
        pool=opt("backup_ceph_pool", "backups") or "backups",
        chunk_size=chunk,
        stripe_unit=max(0, int(opt("backup_ceph_stripe_unit", "0") or 0)),
        stripe_count=max(0, int(opt("backup_ceph_stripe_count", "0") or 0)),
    )
