"""What is checked of downloaded image data, and its conversion, with ``qemu-img``.

As in Cinder's ``image_utils``: the data's format is probed with ``qemu-img info`` and must
be the format the image declares (a "raw" image that probes as qcow2 is refused: it could
name another file as its backing file); an image with a backing file or an external data
file is refused; its virtual size must fit the volume. Conversions always name the
source format (``-f``), never letting qemu-img guess.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from firebrick.image.errors import ImageTooBig, ImageUnacceptable

GiB = 1 << 30
TIMEOUT = 3600.0
INFO_TIMEOUT = 60.0
# Glance disk_format -> qemu-img format name.
QEMU_FORMATS = {"raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc",
                "vhdx": "vhdx", "iso": "raw", "ploop": "parallels"}  # fmt: skip
CONTAINER_FORMATS = frozenset({"bare", "ovf"})
UPLOAD_DISK_FORMATS = ("raw", "vmdk", "vdi", "qcow2", "vhd", "vhdx", "ploop")


@dataclass(frozen=True)
class ImageInfo:
    format: str
    virtual_size: int
    backing_file: str | None
    data_file: str | None


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


def info(path: Path, image_id: str) -> ImageInfo:
    """Probe ``path`` (untrusted data: limited in time and memory, as Cinder does)."""
    try:
        result = subprocess.run(
            ["prlimit", "--as=1073741824", "--cpu=30", "--", "qemu-img", "info",
             "--output=json", str(path)],
            env=_env(), capture_output=True, text=True, timeout=INFO_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ImageUnacceptable(image_id, "qemu-img info timed out.") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1].split(": ", 1)[-1] if lines else "qemu-img info failed"
        raise ImageUnacceptable(image_id, f"the data is not a valid image ({reason[:200]}).")
    data = json.loads(result.stdout)
    fmt_specific = data.get("format-specific", {}).get("data", {})
    return ImageInfo(
        format=str(data.get("format")),
        virtual_size=int(data.get("virtual-size", 0)),
        backing_file=data.get("backing-filename") or data.get("full-backing-filename"),
        data_file=fmt_specific.get("data-file") if isinstance(fmt_specific, dict) else None,
    )


def declared_format(image_id: str, disk_format: str | None) -> str:
    """The qemu-img name of the image's ``disk_format``, or ImageUnacceptable."""
    fmt = QEMU_FORMATS.get(str(disk_format))
    if fmt is None:
        raise ImageUnacceptable(image_id, f"disk format {disk_format} is not supported.")
    return fmt


def check_container(image_id: str, container_format: str | None) -> None:
    if container_format not in CONTAINER_FORMATS:
        raise ImageUnacceptable(image_id, f"container format {container_format} is not supported.")


def check_fits(image_id: str, virtual_size: int, volume_size_gb: int) -> None:
    """Cinder's check_virtual_size: the image's disk must fit the volume."""
    size_gb = (virtual_size + GiB - 1) // GiB
    if size_gb > volume_size_gb:
        raise ImageTooBig(
            image_id,
            f"Image virtual size is {size_gb}GB and doesn't fit in a volume of size "
            f"{volume_size_gb}GB.",
        )


def verify(path: Path, image_id: str, disk_format: str | None, volume_size_gb: int) -> ImageInfo:
    """Probe the downloaded data and refuse what Cinder refuses."""
    expected = declared_format(image_id, disk_format)
    found = info(path, image_id)
    if found.format != expected:
        raise ImageUnacceptable(
            image_id, f"format mismatch: the image says {disk_format}, the data is "
            f"{found.format}.",
        )  # fmt: skip
    if found.backing_file:
        raise ImageUnacceptable(image_id, "it has a backing file.")
    if found.data_file:
        raise ImageUnacceptable(image_id, "it has an external data file.")
    check_fits(image_id, found.virtual_size, volume_size_gb)
    return found


def convert(source: Path, source_format: str, dest: Path, dest_format: str) -> None:
    """``qemu-img convert`` (sparse, into a new file); a failure names qemu-img's reason."""
    args = ["qemu-img", "convert", "-q", "-f", source_format, "-O", dest_format]
    if dest_format == "vpc":
        args += ["-o", "subformat=dynamic"]
    try:
        result = subprocess.run([*args, str(source), str(dest)], env=_env(),
                                capture_output=True, text=True, timeout=TIMEOUT,
                                check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ImageUnacceptable(source.name, "the conversion timed out.") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise ImageConversionFailed(reason[:300])


class ImageConversionFailed(Exception):
    """qemu-img could not convert the data (a corrupt image, no space …)."""
