"""RBD backend options read as Cinder names and defaults them; names of images and
snapshots; QEMU and tgt spellings of an image. No cluster needed."""

from __future__ import annotations

import pytest

from firebrick.config import BackendConfig
from firebrick.targets.tgt import backing_store
from firebrick.volume.drivers import rbd_images as names
from firebrick.volume.drivers.rbd_client import RbdOptions


def backend(**options: str) -> BackendConfig:
    return BackendConfig("rbd-1", "rbd", "rbd-1", "nova", 0, "20.0", dict(options))


def test_defaults_are_cinders() -> None:
    opts = RbdOptions.from_backend(backend())
    assert opts.pool == "rbd" and opts.user is None and opts.ceph_conf is None
    assert opts.cluster_name == "ceph" and opts.secret_uuid is None
    assert opts.max_clone_depth == 5 and opts.flatten_volume_from_snapshot is False
    assert opts.chunk_size_mb == 4 and opts.order == 22
    assert opts.exclusive_pool is True and opts.dynamic_total_capacity is True
    assert opts.deferred_deletion is False and opts.deferred_deletion_delay == 0
    assert opts.deferred_deletion_purge_interval == 60


def test_options_are_read_under_cinders_names() -> None:
    opts = RbdOptions.from_backend(backend(
        rbd_pool="volumes", rbd_user="cinder", rbd_ceph_conf="/etc/ceph/ceph.conf",
        rbd_cluster_name="east", rbd_secret_uuid="5f7c", rbd_keyring_conf="/k",
        rbd_max_clone_depth="0", rbd_flatten_volume_from_snapshot="true",
        rbd_store_chunk_size="8", rbd_exclusive_cinder_pool="false",
        enable_deferred_deletion="yes", deferred_deletion_delay="3600",
        report_dynamic_total_capacity="false",
    ))  # fmt: skip
    assert (opts.pool, opts.user, opts.cluster_name) == ("volumes", "cinder", "east")
    assert opts.max_clone_depth == 0 and opts.flatten_volume_from_snapshot
    assert opts.order == 23 and not opts.exclusive_pool and not opts.dynamic_total_capacity
    assert opts.deferred_deletion and opts.deferred_deletion_delay == 3600
    assert opts.qemu_spec("volume-x") == (
        "rbd:volumes/volume-x:id=cinder:conf=/etc/ceph/ceph.conf:keyring=/k"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("rbd_store_chunk_size", "3"), ("rbd_store_chunk_size", "0"),
     ("rbd_max_clone_depth", "-1"), ("deferred_deletion_delay", "soon")],
)  # fmt: skip
def test_bad_values_are_refused_at_start(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        RbdOptions.from_backend(backend(**{key: value}))


def test_names_follow_cinders_templates() -> None:
    vid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert names.volume_name(vid) == f"volume-{vid}"
    assert names.snapshot_name(vid) == f"snapshot-{vid}"
    assert names.clone_snap_name(f"volume-{vid}") == f"volume-{vid}.clone_snap"
    assert names.volume_id_of(f"volume-{vid}") == vid
    # Hidden parents, cache entries, imports and others' images are no volume's.
    for other in (f"volume-{vid}.deleted", f"volume-{vid}.importing", f"image-cache-{vid}",
                  "volume-legacy", "backup.1"):  # fmt: skip
        assert names.volume_id_of(other) is None


def test_tgt_backing_store_of_a_file_and_of_an_rbd_image() -> None:
    assert backing_store("/srv/volume-1") == ("/srv/volume-1", "rdwr", [])
    store, bstype, args = backing_store("rbd:volumes/volume-1:id=cinder:conf=/c.conf:keyring=/k")
    assert (store, bstype) == ("volumes/volume-1", "rbd")
    assert args == ["--bsopts", "id=cinder;conf=/c.conf"]
