"""File driver data checks on real files, for each clone method.

* reflink: on an XFS (``mkfs.xfs -m reflink=1``) loop-mounted in the test's tmp dir;
  needs root and a loop device (skipped otherwise, but failed when ``CI`` is set);
* qcow2: external snapshots and clone bases through qemu-img (qemu-utils);
* copy: on the tmp filesystem (ext4 here: no reflink).

Patterns go in with qemu-io for qcow2 and pwrite for raw, and are read back through
``qemu-img convert -O raw``, so every check sees what a guest would see.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firebrick.config import BackendConfig
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import file_store, filecopy
from firebrick.volume.drivers.file import FileDriver, GiB

pytestmark = pytest.mark.integration

MiB = 1 << 20
FAR = 700 * MiB  # a second pattern far into the volume, past a hole
METHODS = [("reflink", "raw"), ("reflink", "qcow2"), ("qcow2", "qcow2"), ("copy", "raw")]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def xfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A 2 GiB XFS with reflink, loop-mounted for this test and removed after it."""
    if os.geteuid() != 0:
        _unavailable("the reflink tests mount a loop XFS, which needs root")
    if not Path("/dev/loop-control").exists():
        _unavailable("no loop device (/dev/loop-control is missing)")
    if shutil.which("mkfs.xfs") is None:
        _unavailable("mkfs.xfs is missing (apt-get install xfsprogs)")
    image, mountpoint = tmp_path / "xfs.img", tmp_path / "xfs"
    mountpoint.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(2 * GiB)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    mounted = subprocess.run(
        ["mount", "-o", "loop", str(image), str(mountpoint)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        _unavailable(f"cannot loop-mount the XFS image: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def need_qemu() -> None:
    if shutil.which("qemu-img") is None or shutil.which("qemu-io") is None:
        _unavailable("qemu-img/qemu-io are missing (apt-get install qemu-utils)")


@pytest.fixture
def make_driver(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., FileDriver]:
    def build(method: str, volume_format: str) -> FileDriver:
        if volume_format == "qcow2" or method == "qcow2":
            need_qemu()
        directory = request.getfixturevalue("xfs_dir") if method == "reflink" else tmp_path
        options = {
            "file_volume_dir": str(directory / "volumes"),
            "file_volume_format": volume_format,
            "file_clone_method": "auto",
        }
        config = BackendConfig("b1", "file", "b1", "nova", 0, "20.0", options)
        driver = FileDriver(config, tmp_path)
        driver.do_setup()
        assert driver.clone_method == method  # auto picks it from the filesystem
        return driver

    return build


def new_volume(size: int = 1) -> Volume:
    return Volume(str(uuid.uuid4()), "p", "u", size, "creating", datetime.now(UTC))


def new_snapshot(source: Volume) -> Snapshot:
    return Snapshot(
        str(uuid.uuid4()), source.id, "p", "u", source.size, "creating", datetime.now(UTC)
    )


def write(driver: FileDriver, path: Path, byte: int, offset: int = 0) -> None:
    if driver.volume_format == "qcow2":
        command = f"write -q -P {byte:#x} {offset} 1M"
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, str(path)], check=True)
    else:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, bytes([byte]) * MiB, offset)
        finally:
            os.close(fd)


def flat(driver: FileDriver, path: Path, scratch: Path) -> Path:
    """The guest-visible data of ``path`` as a raw file."""
    if driver.volume_format == "raw":
        return path
    out = scratch / f"flat-{uuid.uuid4()}.raw"
    subprocess.run(
        ["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(out)], check=True
    )
    return out


def holds(driver: FileDriver, path: Path, scratch: Path, byte: int, offset: int = 0) -> bool:
    raw = flat(driver, path, scratch)
    try:
        with open(raw, "rb") as handle:
            handle.seek(offset)
            return handle.read(MiB) == bytes([byte]) * MiB
    finally:
        if raw != path:
            raw.unlink()


def virtual_size(driver: FileDriver, path: Path) -> int:
    return driver.store.virtual_size(path)


@pytest.mark.parametrize(("method", "volume_format"), METHODS)
def test_snapshot_keeps_old_data_and_restores_it(
    make_driver: Callable[..., FileDriver], tmp_path: Path, method: str, volume_format: str
) -> None:
    d = make_driver(method, volume_format)
    src = new_volume()
    d.create_volume(src)
    write(d, d.path(src.id), 0xAB)
    write(d, d.path(src.id), 0xAC, FAR)
    snap = new_snapshot(src)
    d.create_snapshot(snap, src)
    d.create_snapshot(snap, src)  # repeated: no second freeze
    write(d, d.path(src.id), 0xCD)

    restored = new_volume(size=2)
    d.create_volume_from_snapshot(restored, snap)
    assert holds(d, d.path(restored.id), tmp_path, 0xAB)
    assert holds(d, d.path(restored.id), tmp_path, 0xAC, FAR)
    assert virtual_size(d, d.path(restored.id)) == 2 * GiB
    write(d, d.path(restored.id), 0xEF)
    assert holds(d, d.path(src.id), tmp_path, 0xCD)
    assert holds(d, d.snapshot_path(snap.id), tmp_path, 0xAB)
    assert d.snapshot_ids() == {snap.id}
    assert d.volume_ids() == {src.id, restored.id}


@pytest.mark.parametrize(("method", "volume_format"), METHODS)
def test_clone_is_independent_of_its_source(
    make_driver: Callable[..., FileDriver], tmp_path: Path, method: str, volume_format: str
) -> None:
    d = make_driver(method, volume_format)
    src = new_volume()
    d.create_volume(src)
    write(d, d.path(src.id), 0x11)
    clone = new_volume(size=2)
    d.create_cloned_volume(clone, src)
    d.create_cloned_volume(clone, src)
    assert virtual_size(d, d.path(clone.id)) == 2 * GiB
    assert virtual_size(d, d.path(src.id)) == GiB
    write(d, d.path(src.id), 0x22)
    write(d, d.path(clone.id), 0x33, FAR)
    assert holds(d, d.path(clone.id), tmp_path, 0x11)
    assert holds(d, d.path(src.id), tmp_path, 0x22)
    assert holds(d, d.path(src.id), tmp_path, 0x00, FAR)
    assert holds(d, d.path(clone.id), tmp_path, 0x33, FAR)


@pytest.mark.parametrize(("method", "volume_format"), METHODS)
def test_extend_keeps_data_and_grows(
    make_driver: Callable[..., FileDriver], tmp_path: Path, method: str, volume_format: str
) -> None:
    d = make_driver(method, volume_format)
    v = new_volume()
    d.create_volume(v)
    write(d, d.path(v.id), 0x5A, FAR)
    d.create_snapshot(new_snapshot(v), v)  # in qcow2, the volume is now an overlay
    d.extend_volume(v, 3)
    d.extend_volume(v, 3)
    assert virtual_size(d, d.path(v.id)) == 3 * GiB
    assert holds(d, d.path(v.id), tmp_path, 0x5A, FAR)
    write(d, d.path(v.id), 0x5B, 2 * GiB + MiB)
    assert holds(d, d.path(v.id), tmp_path, 0x5B, 2 * GiB + MiB)


DELETE_ORDERS = [
    ["s1", "v", "s2", "clone", "restored"],
    ["v", "s2", "s1", "restored", "clone"],
    ["s2", "s1", "clone", "v", "restored"],
    ["restored", "clone", "v", "s1", "s2"],
]


@pytest.mark.parametrize("order", DELETE_ORDERS, ids="-".join)
@pytest.mark.parametrize(("method", "volume_format"), METHODS)
def test_deleting_in_any_order_keeps_the_others_data(
    make_driver: Callable[..., FileDriver],
    tmp_path: Path,
    method: str,
    volume_format: str,
    order: list[str],
) -> None:
    d = make_driver(method, volume_format)
    v = new_volume()
    d.create_volume(v)
    write(d, d.path(v.id), 0xA1)
    s1 = new_snapshot(v)
    d.create_snapshot(s1, v)
    write(d, d.path(v.id), 0xB2, FAR)
    s2 = new_snapshot(v)
    d.create_snapshot(s2, v)
    write(d, d.path(v.id), 0xC3)
    restored = new_volume(size=2)
    d.create_volume_from_snapshot(restored, s1)
    clone = new_volume()
    d.create_cloned_volume(clone, v)
    write(d, d.path(restored.id), 0xD4, FAR)

    # name: (path, {offset: byte}) of what each must still hold
    expected = {
        "v": (d.path(v.id), {0: 0xC3, FAR: 0xB2}),
        "s1": (d.snapshot_path(s1.id), {0: 0xA1, FAR: 0x00}),
        "s2": (d.snapshot_path(s2.id), {0: 0xA1, FAR: 0xB2}),
        "restored": (d.path(restored.id), {0: 0xA1, FAR: 0xD4}),
        "clone": (d.path(clone.id), {0: 0xC3, FAR: 0xB2}),
    }
    objects: dict[str, Volume | Snapshot] = {
        "v": v,
        "s1": s1,
        "s2": s2,
        "restored": restored,
        "clone": clone,
    }
    for name in order:
        target = objects.pop(name)
        if isinstance(target, Snapshot):
            d.delete_snapshot(target)
            d.delete_snapshot(target)
        else:
            d.delete_volume(target)
            d.delete_volume(target)
        del expected[name]
        for other, (path, pattern) in expected.items():
            for offset, byte in pattern.items():
                assert holds(d, path, tmp_path, byte, offset), f"{other} after deleting {name}"
    left = [p.name for p in d.directory.iterdir() if p.name.startswith(file_store.MANAGED)]
    assert left == []


def test_qcow2_snapshot_resumes_after_a_crash_between_rename_and_overlay(
    make_driver: Callable[..., FileDriver], tmp_path: Path
) -> None:
    d = make_driver("qcow2", "qcow2")
    v = new_volume()
    d.create_volume(v)
    write(d, d.path(v.id), 0x77)
    snap = new_snapshot(v)
    os.rename(d.path(v.id), d.snapshot_path(snap.id))  # the crash: the overlay never made
    d.create_snapshot(snap, v)
    assert holds(d, d.path(v.id), tmp_path, 0x77)
    write(d, d.path(v.id), 0x78)
    assert holds(d, d.snapshot_path(snap.id), tmp_path, 0x77)


def test_qcow2_clone_base_left_by_a_crash_is_collected_at_setup(
    make_driver: Callable[..., FileDriver], tmp_path: Path
) -> None:
    d = make_driver("qcow2", "qcow2")
    v = new_volume()
    d.create_volume(v)
    clone = new_volume()
    d.create_cloned_volume(clone, v)
    bases = [p for p in d.directory.iterdir() if p.name.startswith("clone-base-")]
    assert len(bases) == 1
    # A crash after unlinking both volumes but before collecting the base they sat on.
    d.path(v.id).unlink()
    d.path(clone.id).unlink()
    d.do_setup()
    assert not bases[0].exists()


def test_reflink_shares_extents(make_driver: Callable[..., FileDriver]) -> None:
    d = make_driver("reflink", "raw")
    v = new_volume()
    d.create_volume(v)
    with open(d.path(v.id), "r+b") as handle:
        handle.write(os.urandom(64 * MiB))
    before = shutil.disk_usage(d.directory).used
    d.create_cloned_volume(new_volume(), v)
    d.create_snapshot(new_snapshot(v), v)
    assert shutil.disk_usage(d.directory).used - before < 8 * MiB


def test_copy_method_runs_where_reflink_is_missing(tmp_path: Path) -> None:
    assert not filecopy.supports_reflink(tmp_path), "tmp is expected to lack reflink"
