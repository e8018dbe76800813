"""The ceph store's options (Cinder's names and defaults) and the small pieces of the RBD
readers that the integration tests do not reach (an image shorter than the volume)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firebrick.backup import ceph_backup
from firebrick.backup.config import load
from firebrick.backup.rbd_device import RbdSource


def test_ceph_options_have_cinders_names_and_defaults(tmp_path: Path) -> None:
    settings = load({"backup_driver": "cinder.backup.drivers.ceph.CephBackupDriver"}, tmp_path)
    assert settings.driver == "ceph"
    assert settings.service == "cinder.backup.drivers.ceph.CephBackupDriver"
    assert settings.ceph is not None
    assert (settings.ceph.conf, settings.ceph.user, settings.ceph.pool) == (
        "/etc/ceph/ceph.conf", "cinder", "backups")  # fmt: skip
    assert settings.ceph.chunk_size == 128 << 20 and settings.ceph.order == 27
    custom = load({"backup_driver": "ceph", "backup_ceph_pool": "bk", "backup_ceph_user": "b",
                   "backup_ceph_chunk_size": str(4 << 20), "backup_ceph_stripe_unit": "65536",
                   "backup_ceph_stripe_count": "4"}, tmp_path).ceph  # fmt: skip
    assert custom is not None
    assert (custom.pool, custom.user, custom.order) == ("bk", "b", 22)
    assert (custom.stripe_unit, custom.stripe_count) == (65536, 4)
    with pytest.raises(ValueError, match="power of 2"):
        load({"backup_driver": "ceph", "backup_ceph_chunk_size": "3000000"}, tmp_path)
    assert load({}, tmp_path).ceph is None


class _Image:
    """A stand-in for an rbd.Image holding ``data``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def size(self) -> int:
        return len(self.data)

    def features(self) -> int:
        return 16

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]

    def diff_iterate(self, offset: int, length: int, since: Any, cb: Any, **_: Any) -> None:
        cb(0, 2, True)
        cb(2, 2, True)
        cb(8, 4, False)


def test_an_image_shorter_than_the_volume_reads_zeros_past_its_end() -> None:
    source = RbdSource(_Image(b"abcdefgh"), 16)
    assert source.read(6, 4) == b"gh\0\0"
    assert source.read(12, 4) == bytes(4)
    assert source.data_ranges() == [(0, 4), (8, 4)]  # joined; a discarded range counts


def test_the_complement_of_ranges() -> None:
    assert ceph_backup._complement([(2, 2), (6, 1)], 10) == [(0, 2), (4, 2), (7, 3)]
    assert ceph_backup._complement([], 4) == [(0, 4)]
    assert ceph_backup._complement([(0, 4)], 4) == []
