"""File driver: managing existing files safely, renaming them, and letting them go.

Real directories and files, a real FileDriver (raw, and qcow2 with qemu-img), no mocks:
every refusal leaves the directory exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firebrick.config import BackendConfig
from firebrick.domain.errors import Invalid
from firebrick.domain.model import Snapshot, Volume
from firebrick.volume.drivers import existing_storage, qemu_img
from firebrick.volume.drivers.file import FileDriver, GiB
from firebrick.volume.drivers.file_inspect import (
    ManageExistingInvalidReference,
    rounded_gb,
    source_name,
    storage_owner,
)
from firebrick.volume.drivers.file_manage import FileManage

MiB = 1 << 20


def make_driver(directory: Path, **options: str) -> FileDriver:
    config = BackendConfig(
        name="b1", volume_driver="file", volume_backend_name="b1", availability_zone="nova",
        reserved_percentage=0, max_over_subscription_ratio="20.0",
        options={"file_volume_dir": str(directory), "file_clone_method": "copy", **options},
    )  # fmt: skip
    driver = FileDriver(config, directory)
    driver.do_setup()
    return driver


def a_volume(size: int) -> Volume:
    return Volume(id=str(uuid.uuid4()), project_id="p", user_id="u", size=size,
                  status="managing", created_at=datetime.now(UTC))  # fmt: skip


def a_snapshot(volume: Volume) -> Snapshot:
    return Snapshot(id=str(uuid.uuid4()), volume_id=volume.id, project_id="p", user_id="u",
                    volume_size=volume.size, status="managing",
                    created_at=datetime.now(UTC))  # fmt: skip


def listing(directory: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every name with its inode, size, mtime and a hash of its first MiB (symlinks: their
    target); the driver's own lock file aside."""
    found = {}
    for path in sorted(p for p in directory.iterdir() if p.name != ".chain.lock"):
        st = path.lstat()
        if path.is_symlink():
            what = os.readlink(path)
        elif path.is_file():
            with open(path, "rb") as handle:
                what = hashlib.sha256(handle.read(MiB)).hexdigest()
        else:
            what = "not a file"
        found[path.name] = (st.st_ino, st.st_size, st.st_mtime_ns, what)
    return found


def write_file(path: Path, size: int, pattern: bytes = b"") -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)
        if pattern:
            handle.write(pattern)


@pytest.fixture
def raw(tmp_path: Path) -> FileManage:
    return FileManage(make_driver(tmp_path / "vols"))


def need_qemu_img() -> None:
    if not qemu_img.available():
        pytest.skip("qemu-img is missing (qemu-utils)")


@pytest.fixture
def qcow2(tmp_path: Path) -> FileManage:
    need_qemu_img()
    return FileManage(make_driver(tmp_path / "q", file_volume_format="qcow2",
                                  file_clone_method="qcow2"))  # fmt: skip


# ---------------------------------------------------------------------------------------
# references


@pytest.mark.parametrize(
    "ref",
    [
        {"source-name": "../etc/passwd"}, {"source-name": "/etc/passwd"},
        {"source-name": "a/b"}, {"source-name": ".."}, {"source-name": "."},
        {"source-name": ""}, {"source-name": "x\x00y"}, {"source-name": "new\nline"},
        {"source-name": ".hidden"}, {"source-name": ".chain.lock"},
        {"source-name": "x" * 256}, {"source-name": 7}, {"source-name": None},
        {"source-id": "volume-1"}, {}, ["source-name", "x"], None, 3,
    ],
)  # fmt: skip
def test_references_that_are_not_plain_names_here_are_refused(ref: object) -> None:
    with pytest.raises(ManageExistingInvalidReference) as raised:
        source_name(ref)
    assert raised.value.code == 400
    assert raised.value.message.startswith(
        "Manage existing volume failed due to invalid backend reference"
    )


def test_a_plain_name_or_a_bare_string_is_the_file() -> None:
    assert source_name({"source-name": "disk.img", "other": 1}) == "disk.img"
    assert source_name("snapshot-x") == "snapshot-x"


def test_storage_owner_reads_firebricks_names_only() -> None:
    vid = str(uuid.uuid4())
    assert storage_owner(f"volume-{vid}") == ("volume", vid)
    assert storage_owner(f"snapshot-{vid}") == ("snapshot", vid)
    assert storage_owner(f"clone-base-{vid}") is None
    assert storage_owner(f"volume-{vid}.bak") is None
    assert storage_owner("volume-x") is None


@pytest.mark.parametrize(("size", "gb"), [(0, 1), (1, 1), (GiB, 1), (GiB + 1, 2), (5 * GiB - 1, 5)])
def test_sizes_round_up_to_whole_gib(size: int, gb: int) -> None:
    assert rounded_gb(size) == gb


# ---------------------------------------------------------------------------------------
# what is refused, and that nothing changes


def refused(
    manage: FileManage, ref: object, kind: str = "volume", claimed: str | None = None
) -> str:
    before = listing(manage.directory)
    with pytest.raises(Invalid) as raised:
        manage.get_size(ref, kind, claimed)
    target = a_volume(50)
    with pytest.raises(Invalid):
        manage.manage_existing(target, ref, claimed)
    assert listing(manage.directory) == before
    return raised.value.message


def test_a_symlink_out_of_the_directory_is_refused(raw: FileManage, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.write_bytes(b"s" * 10)
    (raw.directory / "link").symlink_to(outside)
    assert "is a symbolic link" in refused(raw, {"source-name": "link"})
    (raw.directory / "etc").symlink_to("/etc/passwd")
    assert "is a symbolic link" in refused(raw, {"source-name": "etc"})
    assert outside.read_bytes() == b"s" * 10


def test_a_symlink_within_the_directory_is_refused_too(raw: FileManage) -> None:
    write_file(raw.directory / "real", MiB)
    (raw.directory / "alias").symlink_to("real")
    assert "is a symbolic link" in refused(raw, {"source-name": "alias"})


def test_directories_fifos_and_missing_files_are_refused(raw: FileManage) -> None:
    (raw.directory / "sub").mkdir()
    os.mkfifo(raw.directory / "pipe")
    assert "is not a regular file" in refused(raw, {"source-name": "sub"})
    assert "is not a regular file" in refused(raw, {"source-name": "pipe"})
    assert "does not exist" in refused(raw, {"source-name": "nothing"})


def test_storage_someone_owns_is_refused(raw: FileManage) -> None:
    name = f"volume-{uuid.uuid4()}"
    write_file(raw.directory / name, GiB)
    message = refused(raw, {"source-name": name}, claimed="volume 42")
    assert "already managed (volume 42)" in message


def test_clone_bases_are_never_taken(raw: FileManage) -> None:
    write_file(raw.directory / f"clone-base-{uuid.uuid4()}", MiB)
    name = next(p.name for p in raw.directory.iterdir() if p.name.startswith("clone-base-"))
    assert "qcow2 clones" in refused(raw, {"source-name": name})


def test_a_file_another_process_holds_open_is_in_use(raw: FileManage) -> None:
    path = raw.directory / "exported"
    write_file(path, MiB)
    with open(path, "rb") as held:
        holder = subprocess.Popen(["sleep", "60"], stdin=held)
    try:
        assert "volume in use" in refused(raw, {"source-name": "exported"})
    finally:
        holder.kill()
        holder.wait()
    assert raw.get_size({"source-name": "exported"}, "volume", None) == 1


# ---------------------------------------------------------------------------------------
# taking a raw file


def test_manage_renames_grows_and_keeps_the_data(raw: FileManage) -> None:
    source = raw.directory / "operator-disk.img"
    write_file(source, GiB + 5, pattern=b"firebrick" * 1000)
    inode = source.stat().st_ino
    assert raw.get_size({"source-name": source.name}, "volume", None) == 2

    target = a_volume(2)
    update = raw.manage_existing(target, {"source-name": source.name}, None)
    final = raw.directory / f"volume-{target.id}"
    assert update == {"provider_location": final.name}
    assert not source.exists()
    assert final.stat().st_ino == inode
    assert final.stat().st_size == 2 * GiB
    with open(final, "rb") as handle:
        assert handle.read(9000) == b"firebrick" * 1000
    # Repeated (a redelivery, a restart): nothing more happens.
    assert raw.manage_existing(target, {"source-name": source.name}, None) == update
    assert final.stat().st_ino == inode


def test_manage_refuses_a_file_bigger_than_the_volume(raw: FileManage) -> None:
    write_file(raw.directory / "big", 3 * GiB)
    assert "grew past 2 GiB" in refused_manage(raw, "big", size=2)


def refused_manage(manage: FileManage, name: str, size: int) -> str:
    before = listing(manage.directory)
    with pytest.raises(Invalid) as raised:
        manage.manage_existing(a_volume(size), {"source-name": name}, None)
    assert listing(manage.directory) == before
    return raised.value.message


def test_an_existing_target_name_is_never_replaced(raw: FileManage) -> None:
    target = a_volume(1)
    write_file(raw.directory / f"volume-{target.id}", MiB, b"theirs")
    write_file(raw.directory / "mine", MiB, b"mine")
    assert "already exists" in refused_manage_volume(raw, target, "mine")


def refused_manage_volume(manage: FileManage, target: Volume, name: str) -> str:
    before = listing(manage.directory)
    with pytest.raises(Invalid) as raised:
        manage.manage_existing(target, {"source-name": name}, None)
    assert listing(manage.directory) == before
    return raised.value.message


def test_unmanage_leaves_the_file_as_it_is(raw: FileManage) -> None:
    volume = a_volume(1)
    raw.driver.create_volume(volume)
    before = listing(raw.directory)
    assert raw.unmanage("volume", volume.id) == f"volume-{volume.id}"
    assert listing(raw.directory) == before
    raw.driver.delete_volume(volume)
    assert raw.unmanage("volume", volume.id) is None


def test_a_snapshot_file_is_renamed_and_not_grown(raw: FileManage) -> None:
    source = raw.directory / f"snapshot-{uuid.uuid4()}"
    write_file(source, 10 * MiB, b"frozen")
    snap = a_snapshot(a_volume(1))
    assert raw.get_size({"source-name": source.name}, "snapshot", None) == 1
    update = raw.manage_existing_snapshot(snap, source.name, None)
    final = raw.directory / f"snapshot-{snap.id}"
    assert update == {"provider_location": final.name}
    assert final.stat().st_size == 10 * MiB
    assert final.read_bytes()[:6] == b"frozen"


# ---------------------------------------------------------------------------------------
# lists


def test_lists_split_volumes_from_snapshots_and_say_why_not(raw: FileManage) -> None:
    write_file(raw.directory / "plain.img", 3 * GiB // 2)
    write_file(raw.directory / f"snapshot-{uuid.uuid4()}", MiB)
    write_file(raw.directory / f"clone-base-{uuid.uuid4()}", MiB)
    (raw.directory / "link").symlink_to("/etc/passwd")
    (raw.directory / "sub").mkdir()
    volumes = {e["reference"]["source-name"]: e for e in raw.manageable("volume")}
    assert set(volumes) == {"plain.img", "link"}
    assert volumes["plain.img"] == {
        "reference": {"source-name": "plain.img"}, "size": 2, "safe_to_manage": True,
        "reason_not_safe": None, "cinder_id": None, "extra_info": None,
    }  # fmt: skip
    assert volumes["link"]["safe_to_manage"] is False
    assert volumes["link"]["reason_not_safe"] == "is a symbolic link."
    snapshots = raw.manageable("snapshot")
    assert len(snapshots) == 1
    assert snapshots[0]["safe_to_manage"] is True
    assert snapshots[0]["source_reference"] is None  # raw copies do not say their origin


def test_the_driver_answers_for_its_manage_support(raw: FileManage) -> None:
    assert isinstance(existing_storage(raw.driver), FileManage)


# ---------------------------------------------------------------------------------------
# qcow2 backends


def qcow2_file(path: Path, size: int = GiB, backing: str | None = None) -> None:
    qemu_img.create(path, size, backing=backing)


def test_a_qcow2_backend_takes_qcow2_images_only(qcow2: FileManage) -> None:
    write_file(qcow2.directory / "raw.img", MiB)
    assert "not a qcow2 image" in refused(qcow2, {"source-name": "raw.img"})
    qcow2_file(qcow2.directory / "good.qcow2", 3 * GiB + 1)
    assert qcow2.get_size({"source-name": "good.qcow2"}, "volume", None) == 4


def test_qcow2_backing_files_must_be_this_backends_snapshots(
    qcow2: FileManage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.qcow2"
    qcow2_file(outside)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(outside), "-F",
                    "qcow2", str(qcow2.directory / "escape.qcow2")], check=True)  # fmt: skip
    assert "backing file outside" in refused(qcow2, {"source-name": "escape.qcow2"})
    qcow2_file(qcow2.directory / "base.qcow2")
    qcow2_file(qcow2.directory / "over.qcow2", backing="base.qcow2")
    assert "backing file outside" in refused(qcow2, {"source-name": "over.qcow2"})
    # ... and a file other images sit on cannot become a volume (writes would leak).
    assert "backing file of 1 other" in refused(qcow2, {"source-name": "base.qcow2"})


def test_a_qcow2_with_an_external_data_file_is_refused(qcow2: FileManage, tmp_path: Path) -> None:
    data = tmp_path / "data.raw"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", f"data_file={data}",
                    str(qcow2.directory / "split.qcow2"), "1G"], check=True)  # fmt: skip
    assert "external data file" in refused(qcow2, {"source-name": "split.qcow2"})


def test_managing_a_qcow2_snapshot_moves_the_images_on_it(qcow2: FileManage) -> None:
    """An unmanaged qcow2 snapshot is the backing of its volume: managed again under a new
    id, the volume's header follows the new name and its data stays readable."""
    volume = a_volume(1)
    qcow2.driver.create_volume(volume)
    old = a_snapshot(volume)
    qcow2.driver.create_snapshot(old, volume)  # the volume now sits on snapshot-<old>
    volume_file = qcow2.driver.path(volume.id)
    assert qemu_img.read_header(volume_file).backing_file == f"snapshot-{old.id}"

    assert "backing file of 1 other" in refused(qcow2, {"source-name": f"snapshot-{old.id}"})
    new = a_snapshot(volume)
    qcow2.manage_existing_snapshot(new, {"source-name": f"snapshot-{old.id}"}, None)
    assert qemu_img.read_header(volume_file).backing_file == f"snapshot-{new.id}"
    assert not (qcow2.directory / f"snapshot-{old.id}").exists()
    subprocess.run(["qemu-img", "check", "-q", "-f", "qcow2", str(volume_file)], check=True)
    listed = {e["reference"]["source-name"]: e for e in qcow2.manageable("snapshot")}
    assert listed[f"snapshot-{new.id}"]["source_reference"] == {
        "source-name": f"volume-{volume.id}"
    }


def test_an_interrupted_rename_is_finished_and_can_be_undone(raw: FileManage) -> None:
    source = raw.directory / "disk"
    write_file(source, MiB, b"data")
    target = a_volume(1)
    final = raw.directory / f"volume-{target.id}"
    os.link(source, final)  # a service stopped between the link and the unlink
    raw.manage_existing(target, {"source-name": "disk"}, None)
    assert not source.exists()
    assert head(final) == b"data"
    # The undo a failed later step uses: the file gets its old name back.
    raw._give_back(final, "disk")
    assert head(source) == b"data"
    assert not final.exists()


def head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(4)
