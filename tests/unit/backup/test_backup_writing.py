"""Writing a chunked backup: the read-ahead into reused buffers, direct reads of a file,
objects made durable together (``sync``) rather than one by one, and errors on either
side stopping every thread the writing started."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from firebrick.backup import readahead
from firebrick.backup.chunked import DIGEST, align
from firebrick.backup.drivers.posix import PosixStore
from firebrick.backup.restore import ChunkedRestore, Layer
from firebrick.backup.sources import FileSource
from firebrick.backup.writer import ChunkedWriter, Plan, Written

MiB = 1 << 20
BLOCK = 32768


def _volume(path: Path, size: int) -> bytes:
    """Data runs (one not a multiple of a read piece) between holes; the whole content."""
    rng = random.Random(5)
    content = bytearray(size)
    for offset, length in ((0, 3 * MiB), (5 * MiB + BLOCK, 6 * MiB - 3 * BLOCK), (13 * MiB, MiB)):
        content[offset : offset + length] = rng.randbytes(length)
    content[2 * MiB : 2 * MiB + BLOCK] = bytes(BLOCK)  # a zero block inside a run
    with open(path, "wb") as handle:
        handle.truncate(size)
        for offset, length in ((0, 3 * MiB), (5 * MiB + BLOCK, 6 * MiB - 3 * BLOCK),
                               (13 * MiB, MiB)):  # fmt: skip
            handle.seek(offset)
            handle.write(content[offset : offset + length])
    return bytes(content)


class _BytesSource:
    """A source that can only ``read`` (as qcow2 and RBD sources are)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


class _Target:
    def __init__(self, size: int) -> None:
        self.data = bytearray(size)

    def write(self, offset: int, data: bytes) -> None:
        self.data[offset : offset + len(data)] = data

    def zero(self, offset: int, length: int) -> None:
        self.data[offset : offset + length] = bytes(length)


def _backup(store: PosixStore, source: readahead.Source, ranges: list[tuple[int, int]]
            ) -> Written:  # fmt: skip
    writer = ChunkedWriter(store, "c", "p", block_size=BLOCK, object_size=4 * MiB,
                           compression="none")  # fmt: skip
    return writer.write(source, Plan(align(ranges, BLOCK, source.size), True, None, "full"),
                        lambda _: None)  # fmt: skip


def _restore(store: PosixStore, written: Written, size: int) -> bytes:
    from firebrick.backup.chunked import Manifest

    manifest = Manifest(backup_id="b", volume_id="v", size=size, block_size=BLOCK,
                        compression="none", objects=written.objects, zeros=written.zeros,
                        parent=None, sha256file="", created_at="")  # fmt: skip
    target = _Target(size)
    ChunkedRestore(store, [Layer("c", manifest)], written.digests).run(target, True, lambda _: None)
    return bytes(target.data)


@pytest.mark.parametrize("direct", [True, False])
def test_a_file_backed_up_through_reused_buffers_restores_identical(
    tmp_path: Path, direct: bool
) -> None:
    size = 16 * MiB
    content = _volume(tmp_path / "volume", size)
    store = PosixStore(tmp_path / "store")
    source = FileSource(tmp_path / "volume", size, direct=direct)
    try:
        written = _backup(store, source, source.data_ranges())
    finally:
        source.close()
    store.sync("c", [o.name for o in written.objects])
    assert _restore(store, written, size) == content
    # The same bytes read through ``read`` (no buffers to reuse) give the same backup.
    again = _backup(PosixStore(tmp_path / "store2"), _BytesSource(content), [(0, size)])
    assert again.digests == written.digests
    assert [(o.offset, o.length) for o in again.objects] == [
        (o.offset, o.length) for o in written.objects
    ]
    assert len(written.digests) == size // BLOCK * DIGEST
    # A full backup stores no zero block: the objects go round it.
    assert not [o for o in written.objects if o.offset <= 2 * MiB < o.offset + o.length]


def test_readinto_direct_and_buffered_agree_and_read_zeros_past_the_end(tmp_path: Path) -> None:
    path = tmp_path / "file"
    data = random.Random(1).randbytes(3 * MiB + 1000)
    path.write_bytes(data)
    source = FileSource(path, 4 * MiB, direct=True)
    try:
        buffer = memoryview(readahead.mmap.mmap(-1, 2 * MiB))
        for offset, length in ((0, MiB), (4096, 2 * MiB), (123, 5000), (2 * MiB, 2 * MiB)):
            view = buffer[:length]
            view[:] = b"\xff" * length
            source.readinto(offset, view)
            expected = (data + bytes(4 * MiB - len(data)))[offset : offset + length]
            assert bytes(view) == expected, (offset, length)
            assert source.read(offset, length) == expected
        view.release()
        buffer.release()
    finally:
        source.close()


def test_objects_written_not_durable_are_published_and_synced_by_name(tmp_path: Path) -> None:
    store = PosixStore(tmp_path)
    with store.writer("a/b", "p-00001", durable=False) as out:
        out.write(b"x" * 5000)
    with store.writer("a/b", "p_metadata") as out:
        out.write(b"{}")
    assert store.names("a/b", "p") == ["p-00001", "p_metadata"]
    assert not [n for n in os.listdir(tmp_path / "a/b") if n.startswith(".tmp-")]
    store.sync("a/b", ["p-00001"])
    with pytest.raises(FileNotFoundError):
        store.sync("a/b", ["p-00002"])  # a name that was never stored is an error


class _FailingStore(PosixStore):
    """A store whose ``fail_at``-th object cannot be written."""

    def __init__(self, root: Path, fail_at: int) -> None:
        super().__init__(root)
        self.fail_at = fail_at
        self.opened = 0

    @contextmanager
    def writer(self, container: str, name: str, *, durable: bool = True) -> Iterator[object]:  # type: ignore[override]
        self.opened += 1
        if self.opened == self.fail_at:
            raise OSError(28, "No space left on device")
        with super().writer(container, name, durable=durable) as out:
            yield out


class _FailingSource(_BytesSource):
    def read(self, offset: int, length: int) -> bytes:
        if offset >= 8 * MiB:
            raise OSError(5, "Input/output error")
        return super().read(offset, length)


def _backup_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("backup-read", "backup-objects")]


def test_an_error_storing_or_reading_stops_every_thread_and_publishes_nothing(
    tmp_path: Path,
) -> None:
    content = random.Random(2).randbytes(32 * MiB)  # more pieces than read-ahead buffers
    with pytest.raises(OSError, match="No space"):
        _backup(
            _FailingStore(tmp_path / "s1", fail_at=2), _BytesSource(content), [(0, len(content))]
        )
    with pytest.raises(OSError, match="Input/output"):
        _backup(PosixStore(tmp_path / "s2"), _FailingSource(content), [(0, len(content))])
    path = tmp_path / "volume"
    path.write_bytes(content)
    source = FileSource(path, len(content), direct=True)
    try:
        with pytest.raises(OSError, match="No space"):
            _backup(_FailingStore(tmp_path / "s3", fail_at=3), source, [(0, len(content))])
    finally:
        source.close()
    for _ in range(50):
        if not _backup_threads():
            break
        threading.Event().wait(0.1)
    assert _backup_threads() == []
    for store in ("s1", "s2", "s3"):
        leftovers = [p.name for p in (tmp_path / store).rglob("*") if p.is_file()]
        assert not [n for n in leftovers if n.startswith(".tmp-")], leftovers
