"""What a file of a file backend is, as far as managing it goes: the safety checks.

The name comes from an API caller, so it must be a plain file name (no ``/``, no ``..``,
no NUL or control character, not hidden) of a regular file that is not a symbolic link,
directly in the backend's directory. It must not be the storage of a volume or snapshot
Firebrick knows (the caller says so: it knows the records), nor a file of the driver's
qcow2 chains (``clone-base-``), nor open in any process (a target exporting it). On a
qcow2 backend it must be a qcow2 image (``qemu-img info`` agrees), unencrypted, without an
external data file, whose backing chain stays within this backend's frozen files; a file
other images use as their backing cannot become a volume (writing to it would change
them). Sizes are whole GiB, rounded up, as Cinder's ``manage_existing_get_size``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from firebrick.domain.errors import DriverError, Invalid
from firebrick.volume.drivers import qemu_img
from firebrick.volume.drivers.file import FileDriver
from firebrick.volume.drivers.file_store import CLONE_BASE, LOCK_FILE, SNAPSHOT, GiB

VOLUME_KIND = "volume"
SNAPSHOT_KIND = "snapshot"
MAX_NAME = 255
MAX_CHAIN = 256
# qcow2 header fields past the ones qemu_img.read_header reads (QEMU docs/interop/qcow2.txt).
_CRYPT = struct.Struct(">I")  # at 32
_FEATURES = struct.Struct(">Q")  # incompatible features, version 3, at 72
_CORRUPT, _DATA_FILE = 1 << 1, 1 << 2
_KNOWN_INCOMPATIBLE = (1 << 5) - 1  # dirty, corrupt, data file, compression type, ext. L2
_UUID_NAME = re.compile(r"^(volume|snapshot)-([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})$")


class ManageExistingInvalidReference(Invalid):
    """Cinder's message for a reference the backend cannot take (a 400 here: nothing
    has changed when it is raised)."""

    def __init__(self, ref: object, reason: str) -> None:
        super().__init__(
            f"Manage existing volume failed due to invalid backend reference {_shown(ref)}: "
            f"{reason}"
        )


def _shown(ref: object) -> str:
    text = json.dumps(ref, ensure_ascii=True, default=str) if ref is not None else "None"
    return text if len(text) <= 300 else text[:297] + "..."


def source_name(ref: object) -> str:
    """The file a reference names, refused unless it is a plain name of this directory."""
    if isinstance(ref, str):
        name: object = ref
    elif isinstance(ref, Mapping) and "source-name" in ref:
        name = ref["source-name"]
    else:
        raise ManageExistingInvalidReference(
            ref, 'The existing volume reference must contain "source-name".'
        )
    if not isinstance(name, str) or not name:
        raise ManageExistingInvalidReference(ref, "source-name must be a non-empty string.")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ManageExistingInvalidReference(
            ref, "source-name must be the name of a file in the backend's directory, not a path."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ManageExistingInvalidReference(ref, "source-name has control characters.")
    if name.startswith(".") or name == LOCK_FILE:
        raise ManageExistingInvalidReference(ref, "source-name names a hidden file.")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME:
        raise ManageExistingInvalidReference(ref, "source-name is longer than a file name.")
    return name


def storage_owner(name: str) -> tuple[str, str] | None:
    """(``volume`` or ``snapshot``, id) when ``name`` is Firebrick's name for that storage."""
    found = _UUID_NAME.match(name)
    return (found.group(1), found.group(2)) if found else None


def rounded_gb(size: int) -> int:
    """Whole GiB, rounded up, at least one (Cinder rounds up; a volume has a size)."""
    return max(1, -(-size // GiB))


def open_files() -> set[tuple[int, int]]:
    """(device, inode) of every file some other process of ours holds open.

    Read from ``/proc/<pid>/fd``, as ``fuser`` does: a target daemon (tgtd, qemu-nbd)
    exporting a file has it open. Processes we may not look into are skipped.
    """
    found: set[tuple[int, int]] = set()
    me = str(os.getpid())
    with suppress(OSError), os.scandir("/proc") as procs:
        for proc in procs:
            if not proc.name.isdigit() or proc.name == me:
                continue
            with suppress(OSError), os.scandir(f"/proc/{proc.name}/fd") as fds:
                for fd in fds:
                    with suppress(OSError):
                        st = os.stat(fd.path)
                        found.add((st.st_dev, st.st_ino))
    return found


@dataclass(frozen=True)
class Inspection:
    """What a file is, as far as managing it goes; ``reason`` is None when it is safe."""

    name: str
    size_gb: int | None
    reason: str | None = None
    backing: str | None = None
    inode: tuple[int, int] | None = None


class FileInspector:
    """The checks for one file backend (the driver's directory and format)."""

    def __init__(self, driver: FileDriver) -> None:
        self.driver = driver
        self.directory = driver.directory
        self.qcow2 = driver.volume_format == "qcow2"

    def entries(self) -> Iterator[os.DirEntry[str]]:
        with os.scandir(self.directory) as entries:
            for entry in entries:
                # Hidden: the driver's temporaries and chain lock, never anyone's data.
                if not entry.name.startswith("."):
                    yield entry

    def backings(self) -> dict[str, list[str]]:
        """Backing file name → the files whose qcow2 header names it (every file here)."""
        index: dict[str, list[str]] = {}
        if not self.qcow2:
            return index
        for entry in self.entries():
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                backing = qemu_img.read_header(Path(entry.path)).backing_file
            except (OSError, DriverError):
                continue
            if backing:
                index.setdefault(backing, []).append(entry.name)
        return index

    def inspect(
        self,
        name: str,
        kind: str,
        *,
        in_use: set[tuple[int, int]],
        backings: Mapping[str, list[str]],
    ) -> Inspection:
        """Whether ``name`` may become a ``kind`` (volume or snapshot), and its size."""
        path = self.directory / name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return Inspection(name, None, "does not exist.")
        except OSError as exc:
            return Inspection(name, None, f"cannot be read: {os.strerror(exc.errno or 0)}.")
        if stat.S_ISLNK(st.st_mode):
            return Inspection(name, None, "is a symbolic link.")
        if not stat.S_ISREG(st.st_mode) or path.resolve().parent != self.directory.resolve():
            return Inspection(name, None, "is not a regular file.")
        if name.startswith(CLONE_BASE):
            return Inspection(name, None, "holds data of this backend's qcow2 clones.")
        inode = (st.st_dev, st.st_ino)
        try:
            size, backing = self._size_and_backing(path, inode)
        except _Unfit as exc:
            return Inspection(name, None, str(exc), inode=inode)
        if inode in in_use:
            return Inspection(name, size, f"{kind} in use.", backing, inode)
        users = backings.get(name, [])
        if kind == VOLUME_KIND and users:
            return Inspection(
                name, size, f"is the backing file of {len(users)} other image(s).", backing, inode
            )
        return Inspection(name, size, None, backing, inode)

    def _size_and_backing(self, path: Path, inode: tuple[int, int]) -> tuple[int, str | None]:
        # O_NOFOLLOW and the inode check: what is read is the file that was inspected.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            raise _Unfit(f"cannot be opened: {os.strerror(exc.errno or 0)}.") from None
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != inode:
                raise _Unfit("changed while it was being inspected.")
            if not self.qcow2:
                return rounded_gb(st.st_size), None
            header = os.pread(fd, 104, 0)
        finally:
            os.close(fd)
        return self._qcow2_size(path, header)

    def _qcow2_size(self, path: Path, raw: bytes) -> tuple[int, str | None]:
        if raw[:4] != qemu_img.QCOW2_MAGIC:
            raise _Unfit("is not a qcow2 image, the format of this backend's volumes.")
        try:
            header = qemu_img.read_header(path)
        except (OSError, DriverError) as exc:
            raise _Unfit(f"has an unreadable qcow2 header ({exc}).") from None
        version = struct.unpack_from(">I", raw, 4)[0]
        if _CRYPT.unpack_from(raw, 32)[0] != 0:
            raise _Unfit("is an encrypted qcow2 image.")
        if version >= 3 and len(raw) >= 80:
            features = _FEATURES.unpack_from(raw, 72)[0]
            if features & _CORRUPT:
                raise _Unfit("is marked corrupt.")
            if features & _DATA_FILE:
                raise _Unfit("keeps its data in an external data file.")
            if features & ~_KNOWN_INCOMPATIBLE:
                raise _Unfit("uses qcow2 features this backend does not know.")
        self._check_chain(header.backing_file)
        return rounded_gb(header.virtual_size), header.backing_file

    def _check_chain(self, backing: str | None) -> None:
        """Every image below must be one of this backend's frozen files (a snapshot or a
        clone base): nothing outside the directory, no volume (it would change under it)."""
        seen: set[str] = set()
        while backing:
            if backing in seen or len(seen) >= MAX_CHAIN:
                raise _Unfit("has a looping or overlong backing chain.")
            seen.add(backing)
            if not backing.startswith((SNAPSHOT, CLONE_BASE)):
                raise _Unfit(f"has a backing file outside this backend's snapshots: {backing!r}.")
            try:
                self.driver.store.managed(backing)
            except DriverError:
                raise _Unfit(
                    f"has a backing file this backend did not make: {backing!r}."
                ) from None
            below = self.directory / backing
            if below.is_symlink() or not below.is_file():
                raise _Unfit(f"has a missing backing file: {backing!r}.")
            try:
                backing = qemu_img.read_header(below).backing_file
            except (OSError, DriverError):
                raise _Unfit(f"has an unreadable backing file: {backing!r}.") from None

    def _verify_with_qemu(self, name: str) -> None:
        """``qemu-img info`` must agree: qcow2, no data file, not corrupt. It also fails on
        an image another qemu process holds locked (in use)."""
        info = qemu_img.info(self.directory / name)
        specific = (info.get("format-specific") or {}).get("data") or {}
        if info.get("format") != "qcow2":
            raise _Unfit("is not a qcow2 image, the format of this backend's volumes.")
        if specific.get("data-file") or specific.get("corrupt") or info.get("encrypted"):
            raise _Unfit("uses a qcow2 feature this backend does not support.")

    def check(self, ref: object, kind: str, claimed_by: str | None) -> Inspection:
        """The inspection of the file ``ref`` names, or ManageExistingInvalidReference.

        ``claimed_by`` names the volume or snapshot that already owns the file, if any.
        """
        name = source_name(ref)
        if claimed_by is not None:
            raise ManageExistingInvalidReference(ref, f"{name} is already managed ({claimed_by}).")
        found = self.inspect(name, kind, in_use=open_files(), backings=self.backings())
        if found.reason is None and self.qcow2:
            try:
                self._verify_with_qemu(name)
            except (_Unfit, DriverError) as exc:
                found = Inspection(name, found.size_gb, str(exc))
        if found.reason is not None:
            raise ManageExistingInvalidReference(ref, f"{name} {found.reason}")
        return found


class _Unfit(Exception):
    """Why a file cannot be managed (the text completes "<name> ...")."""
