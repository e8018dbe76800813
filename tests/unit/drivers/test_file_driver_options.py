"""File driver: options, clone method choice, path safety and idempotence (copy method on
the local filesystem; no qemu-img, loop devices or root needed)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firebrick.config import BackendConfig
from firebrick.domain.errors import DriverError, DriverNotInitialized
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import file_store, filecopy, qemu_img
from firebrick.volume.drivers.file import FileDriver, GiB

MiB = 1 << 20


def backend(directory: Path, **options: str) -> BackendConfig:
    return BackendConfig(
        name="b1",
        volume_driver="file",
        volume_backend_name="b1",
        availability_zone="nova",
        reserved_percentage=0,
        max_over_subscription_ratio="20.0",
        options={"file_volume_dir": str(directory), **options},
    )


def driver(directory: Path, *, setup: bool = True, **options: str) -> FileDriver:
    d = FileDriver(backend(directory, **options), directory)
    if setup:
        d.do_setup()
    return d


def volume(size: int = 1, volume_id: str | None = None) -> Volume:
    return Volume(
        id=str(uuid.uuid4()) if volume_id is None else volume_id,
        project_id="p",
        user_id="u",
        size=size,
        status="creating",
        created_at=datetime.now(UTC),
    )


def snapshot(source: Volume, snapshot_id: str | None = None) -> Snapshot:
    return Snapshot(
        id=str(uuid.uuid4()) if snapshot_id is None else snapshot_id,
        volume_id=source.id,
        project_id="p",
        user_id="u",
        volume_size=source.size,
        status="creating",
        created_at=datetime.now(UTC),
    )


def write(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def read(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def managed(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir() if p.name.startswith(file_store.MANAGED)}


@pytest.fixture
def no_reflink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filecopy, "supports_reflink", lambda directory: False)


@pytest.fixture
def with_reflink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filecopy, "supports_reflink", lambda directory: True)


# Options ---------------------------------------------------------------------------------


def test_defaults_are_raw_and_auto(tmp_path: Path) -> None:
    d = driver(tmp_path, setup=False)
    assert d.volume_format == "raw"
    assert d.configured_method == "auto"


def test_options_are_case_insensitive(tmp_path: Path) -> None:
    d = driver(tmp_path, setup=False, file_volume_format=" QCOW2 ", file_clone_method="Copy")
    assert (d.volume_format, d.configured_method) == ("qcow2", "copy")


@pytest.mark.parametrize(
    ("key", "value"), [("file_volume_format", "vmdk"), ("file_clone_method", "dedup")]
)
def test_unknown_option_values_are_refused(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        driver(tmp_path, setup=False, **{key: value})


def test_qcow2_clones_need_qcow2_volumes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_volume_format=qcow2"):
        driver(tmp_path, setup=False, file_clone_method="qcow2")


# Method choice -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume_format", "configured", "reflink", "expected"),
    [
        ("raw", "auto", True, "reflink"),
        ("qcow2", "auto", True, "reflink"),
        ("raw", "auto", False, "copy"),
        ("qcow2", "auto", False, "qcow2"),
        ("raw", "copy", True, "copy"),
        ("qcow2", "qcow2", True, "qcow2"),
        ("raw", "reflink", True, "reflink"),
    ],
)
def test_method_choice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    volume_format: str,
    configured: str,
    reflink: bool,
    expected: str,
) -> None:
    monkeypatch.setattr(filecopy, "supports_reflink", lambda directory: reflink)
    monkeypatch.setattr(qemu_img, "available", lambda: True)
    d = driver(tmp_path, file_volume_format=volume_format, file_clone_method=configured)
    assert d.clone_method == expected
    stats = d.get_volume_stats({})
    assert stats["clone_method"] == expected
    assert stats["pools"][0]["clone_method"] == expected


def test_reflink_required_but_unsupported_fails_setup(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path, setup=False, file_clone_method="reflink")
    with pytest.raises(DriverError, match="cannot share extents"):
        d.do_setup()
    assert not d.initialized


def test_qcow2_without_qemu_img_fails_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_reflink: None
) -> None:
    monkeypatch.setattr(qemu_img, "available", lambda: False)
    d = driver(tmp_path, setup=False, file_volume_format="qcow2")
    with pytest.raises(DriverError, match="qemu-utils"):
        d.do_setup()


def test_probe_on_a_filesystem_without_reflink_leaves_nothing(tmp_path: Path) -> None:
    # tmp_path is on ext4 or tmpfs here: neither shares extents.
    if filecopy.supports_reflink(tmp_path):
        pytest.skip("the temporary directory supports reflink")
    assert list(tmp_path.iterdir()) == []


def test_setup_removes_temporaries_of_a_crashed_run(tmp_path: Path, no_reflink: None) -> None:
    (tmp_path / ".tmp-leftover").write_bytes(b"x")
    (tmp_path / ".probe-leftover").write_bytes(b"x")
    driver(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".tmp-", ".probe-"))]


def test_calls_before_setup_are_refused(tmp_path: Path) -> None:
    d = driver(tmp_path, setup=False)
    with pytest.raises(DriverNotInitialized):
        d.create_snapshot(snapshot(volume()), volume())


# Path safety -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../../etc/passwd", "x", "", "volume-1/..", "a" * 36])
def test_ids_that_are_not_uuids_are_refused(tmp_path: Path, no_reflink: None, bad: str) -> None:
    d = driver(tmp_path)
    good = volume()
    d.create_volume(good)
    with pytest.raises(DriverError, match="not a UUID"):
        d.path(bad)
    with pytest.raises(DriverError, match="not a UUID"):
        d.create_volume(volume(volume_id=bad))
    with pytest.raises(DriverError, match="not a UUID"):
        d.create_snapshot(snapshot(good, snapshot_id=bad), good)
    with pytest.raises(DriverError, match="not a UUID"):
        d.delete_snapshot(snapshot(good, snapshot_id=bad))
    with pytest.raises(DriverError, match="not a UUID"):
        d.create_cloned_volume(volume(), volume(volume_id=bad))
    assert managed(tmp_path) == {f"volume-{good.id}"}


def test_backing_names_not_made_by_the_driver_are_refused(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path)
    for name in ["/etc/shadow", "../volume-x", f"volume-{uuid.uuid4()}/../x", "base.img"]:
        with pytest.raises(DriverError, match="did not create"):
            d.store.managed(name)
    name = f"snapshot-{uuid.uuid4()}"
    assert d.store.managed(name) == tmp_path / name


# Idempotence (copy method, raw) ----------------------------------------------------------


def test_every_call_can_be_repeated(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path)
    assert d.clone_method == "copy"
    src = volume()
    for _ in range(2):
        assert d.create_volume(src) == {"provider_location": f"volume-{src.id}"}
    write(d.path(src.id), 0, b"A" * MiB)

    snap = snapshot(src)
    for _ in range(2):
        assert d.create_snapshot(snap, src) == {"provider_location": f"snapshot-{snap.id}"}
    write(d.path(src.id), 0, b"B" * MiB)
    # A repeated snapshot after the source changed must not take the new data.
    d.create_snapshot(snap, src)
    assert read(d.snapshot_path(snap.id), 0, MiB) == b"A" * MiB

    restored = volume(size=2)
    for _ in range(2):
        d.create_volume_from_snapshot(restored, snap)
    assert read(d.path(restored.id), 0, MiB) == b"A" * MiB
    assert d.path(restored.id).stat().st_size == 2 * GiB

    clone = volume(size=3)
    for _ in range(2):
        d.create_cloned_volume(clone, src)
    assert read(d.path(clone.id), 0, MiB) == b"B" * MiB
    assert d.path(clone.id).stat().st_size == 3 * GiB

    for _ in range(2):
        d.extend_volume(src, 4)
    assert d.path(src.id).stat().st_size == 4 * GiB
    assert read(d.path(src.id), 0, MiB) == b"B" * MiB

    assert d.volume_ids() == {src.id, restored.id, clone.id}
    assert d.snapshot_ids() == {snap.id}
    for _ in range(2):
        d.delete_snapshot(snap)
        d.delete_volume(src)
    assert d.snapshot_ids() == set()
    assert d.volume_ids() == {restored.id, clone.id}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_half_written_copy_is_never_taken_for_a_finished_one(
    tmp_path: Path, no_reflink: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = driver(tmp_path)
    src = volume()
    d.create_volume(src)
    write(d.path(src.id), 0, b"A" * MiB)
    snap = snapshot(src)

    def crash(source: Path, target: Path) -> None:
        target.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(filecopy, "sparse_copy", crash)
    with pytest.raises(DriverError, match="No space left"):
        d.create_snapshot(snap, src)
    assert d.snapshot_ids() == set()
    monkeypatch.undo()
    d.create_snapshot(snap, src)
    assert read(d.snapshot_path(snap.id), 0, MiB) == b"A" * MiB


def test_errors_are_driver_errors(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path)
    missing = volume()
    with pytest.raises(DriverError, match="does not exist"):
        d.create_snapshot(snapshot(missing), missing)
    with pytest.raises(DriverError, match="does not exist"):
        d.create_cloned_volume(volume(), missing)
    with pytest.raises(DriverError, match="does not exist"):
        d.create_volume_from_snapshot(volume(), snapshot(missing))
    with pytest.raises(DriverError, match="does not exist"):
        d.extend_volume(missing, 2)
    big = volume(size=2)
    d.create_volume(big)
    with pytest.raises(DriverError, match="smaller than its source"):
        d.create_cloned_volume(volume(size=1), big)


def test_extend_never_shrinks(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path)
    v = volume(size=2)
    d.create_volume(v)
    d.extend_volume(v, 1)
    assert d.path(v.id).stat().st_size == 2 * GiB


# Copying, listing and capacity -----------------------------------------------------------


def test_sparse_copy_keeps_holes(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    with open(src, "wb") as handle:
        handle.truncate(GiB)
    write(src, 0, b"x" * MiB)
    write(src, 512 * MiB, b"y" * MiB)
    filecopy.sparse_copy(src, dst)
    assert dst.stat().st_size == GiB
    assert dst.stat().st_blocks * 512 < 16 * MiB
    assert read(dst, 0, MiB) == b"x" * MiB
    assert read(dst, 512 * MiB, MiB) == b"y" * MiB
    assert read(dst, 256 * MiB, 16) == b"\0" * 16


def test_used_capacity_counts_snapshots(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path, file_thin_provisioning="false")
    v = volume()
    d.create_volume(v)
    before = d.store.used_gb()
    d.create_snapshot(snapshot(v), v)
    assert d.store.used_gb() == pytest.approx(before + 1.0)


def test_ids_list_only_their_own_kind(tmp_path: Path, no_reflink: None) -> None:
    d = driver(tmp_path)
    v = volume()
    d.create_volume(v)
    s = snapshot(v)
    d.create_snapshot(s, v)
    (tmp_path / "volume-not-a-uuid").write_bytes(b"")
    (tmp_path / f"clone-base-{uuid.uuid4()}").write_bytes(b"")
    assert d.volume_ids() == {v.id}
    assert d.snapshot_ids() == {s.id}
