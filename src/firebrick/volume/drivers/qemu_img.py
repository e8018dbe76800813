"""The few ``qemu-img`` calls the file driver needs, and a direct qcow2 header reader.

The header is read in Python (two small reads) rather than through ``qemu-img info``
because finding a snapshot's dependents reads the header of every file in the directory.
Formats are always passed explicitly (``-f``/``-F``): a raw volume is never probed, so a
guest cannot make its data look like a qcow2 header that points at another file.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firebrick.domain.errors import DriverError

QCOW2_MAGIC = b"QFI\xfb"
_HEADER = struct.Struct(">4sIQIIQ")  # magic, version, backing offset, backing size, bits, size
TIMEOUT = 3600.0


@dataclass(frozen=True)
class Qcow2Header:
    virtual_size: int
    backing_file: str | None


def read_header(path: Path) -> Qcow2Header:
    """The virtual size and backing file name of the qcow2 image at ``path``."""
    with open(path, "rb") as handle:
        raw = handle.read(_HEADER.size)
        if len(raw) < _HEADER.size:
            raise DriverError(f"{path.name} is not a qcow2 image (short header).")
        magic, _version, backing_offset, backing_size, _bits, size = _HEADER.unpack(raw)
        if magic != QCOW2_MAGIC:
            raise DriverError(f"{path.name} is not a qcow2 image.")
        backing = None
        if backing_offset and backing_size:
            if backing_size > 1023:
                raise DriverError(f"{path.name} has an invalid backing file name.")
            handle.seek(backing_offset)
            backing = handle.read(backing_size).decode("utf-8", "replace")
    return Qcow2Header(virtual_size=size, backing_file=backing)


def available() -> bool:
    return shutil.which("qemu-img") is not None


def run(*args: str, cwd: Path) -> str:
    """Run ``qemu-img args`` in ``cwd``; its output. A failure becomes a DriverError naming
    the step."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    try:
        result = subprocess.run(
            ["qemu-img", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError as exc:
        raise DriverError("qemu-img is not installed (Debian package qemu-utils).") from exc
    except subprocess.TimeoutExpired as exc:
        raise DriverError(f"qemu-img {args[0]} timed out after {TIMEOUT:.0f} s.") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {result.returncode}"
        raise DriverError(f"qemu-img {args[0]} failed: {detail}")
    return result.stdout


def create(path: Path, size: int, *, backing: str | None = None, thin: bool = True) -> None:
    """A qcow2 image of ``size`` bytes, optionally an overlay on ``backing`` (a qcow2 name
    in the same directory, stored relative so the directory can move)."""
    args = ["create", "-q", "-f", "qcow2"]
    if backing is not None:
        args += ["-b", backing, "-F", "qcow2"]
    elif not thin:
        args += ["-o", "preallocation=falloc"]
    run(*args, path.name, str(size), cwd=path.parent)


def resize(path: Path, size: int) -> None:
    run("resize", "-q", "-f", "qcow2", path.name, str(size), cwd=path.parent)


def rebase(path: Path, backing: str | None) -> None:
    """Safe rebase: copies into ``path`` whatever differs between its old and new backing,
    so the data it shows does not change. Interrupted, it leaves the old backing in place
    with identical data, so it can simply be run again."""
    args = ["rebase", "-q", "-f", "qcow2", "-b", backing or ""]
    if backing is not None:
        args += ["-F", "qcow2"]
    run(*args, path.name, cwd=path.parent)


def rebase_unsafe(path: Path, backing: str) -> None:
    """Point ``path`` at ``backing`` without copying: only for a backing file that is the
    same data under a new name."""
    run("rebase", "-q", "-u", "-f", "qcow2", "-b", backing, "-F", "qcow2", path.name,
        cwd=path.parent)  # fmt: skip


def info(path: Path) -> dict[str, Any]:
    """``qemu-img info`` of the qcow2 image at ``path`` (the format given, never probed;
    its backing file is not opened). Fails on an image another qemu process has locked."""
    output = run("info", "--output=json", "-f", "qcow2", path.name, cwd=path.parent)
    try:
        found = json.loads(output)
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise DriverError(f"qemu-img info gave no description of {path.name}.")
    return found


def convert(
    source_args: list[str],
    target: Path,
    fmt: str,
    *,
    thin: bool = True,
    cancelled: Callable[[], bool] | None = None,
) -> None:
    """``qemu-img convert`` into a new ``fmt`` image at ``target``; zeroes stay holes
    (thick: allocated). ``cancelled`` is asked every half second; True stops the copy."""
    args = [*source_args, "-O", fmt]
    if not thin:
        args += ["-o", "preallocation=falloc"]
    run_convert([*args, target.name], cwd=target.parent, cancelled=cancelled)


def run_convert(
    args: list[str],
    *,
    cwd: Path | None = None,
    cancelled: Callable[[], bool] | None = None,
    timeout: float = TIMEOUT,
) -> None:
    """Run ``qemu-img convert ARGS`` to its end; ``cancelled`` is asked every half second
    (True stops the copy), and a copy past ``timeout`` seconds is stopped."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    try:
        process = subprocess.Popen(
            ["qemu-img", "convert", *args], cwd=cwd, env=env, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise DriverError("qemu-img is not installed (Debian package qemu-utils).") from exc
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                _, stderr = process.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if cancelled is not None and cancelled():
                    raise DriverError("the copy was stopped: its migration was aborted") from None
                if time.monotonic() > deadline:
                    message = f"qemu-img convert timed out after {timeout:.0f} s."
                    raise DriverError(message) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        lines = [line for line in (stderr or "").strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {process.returncode}"
        raise DriverError(f"qemu-img convert failed: {detail}")
