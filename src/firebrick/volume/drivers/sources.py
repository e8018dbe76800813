"""Where a migration's copy reads its data from, and how it is copied from there.

A local file (the source backend is served by this process), or the source backend's
read-only export of the volume over iSCSI (tgt, CHAP) or NBD (qemu-nbd, optionally TLS-PSK)
when it is served elsewhere, or the RBD image itself (``rbd`` connection_info: librbd reads
it from the cluster). Secrets reach ``qemu-img`` through files (``--object
secret,file=`` and a PSK directory), never its argv, and are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firebrick.domain.errors import DriverError
from firebrick.volume.drivers import filecopy, qemu_img


@dataclass(frozen=True)
class LocalFile:
    path: Path
    fmt: str  # raw or qcow2, or rbd: ``path`` is QEMU's ``rbd:pool/image`` name


@dataclass(frozen=True)
class RemoteExport:
    protocol: str  # Cinder's driver_volume_type: iscsi or nbd
    data: dict[str, Any] = field(repr=False)  # connection_info data, with its secret
    initiator: str  # the iSCSI initiator name the export's ACL admits


DataSource = LocalFile | RemoteExport


def _opt(value: object) -> str:
    """A value inside ``--image-opts``/``--object``, where a comma is written twice."""
    return str(value).replace(",", ",,")


def _private_file(directory: str, name: str, text: str) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


@contextmanager
def qemu_img_input(source: DataSource) -> Iterator[list[str]]:
    """The input half of ``qemu-img convert`` reading ``source`` as raw data."""
    if isinstance(source, LocalFile):
        # An RBD image is raw data behind QEMU's rbd protocol (``rbd:pool/image``).
        yield ["-f", "raw" if source.fmt == "rbd" else source.fmt, str(source.path)]
        return
    workdir = tempfile.mkdtemp(prefix="firebrick-migration-")
    try:
        yield _remote_args(source, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _remote_args(source: RemoteExport, workdir: str) -> list[str]:
    data = source.data
    if source.protocol == "iscsi":
        secret = _private_file(workdir, "chap", str(data["auth_password"]))
        image = ",".join([
            "driver=iscsi", "transport=tcp", f"portal={_opt(data['target_portal'])}",
            f"target={_opt(data['target_iqn'])}", f"lun={_opt(data['target_lun'])}",
            f"user={_opt(data['auth_username'])}", "password-secret=chap0",
            f"initiator-name={_opt(source.initiator)}",
        ])  # fmt: skip
        return ["--object", f"secret,id=chap0,file={_opt(secret)}", "--image-opts", image]
    if source.protocol == "nbd":
        options = [
            "driver=nbd", "server.type=inet", f"server.host={_opt(data['host'])}",
            f"server.port={_opt(data['port'])}", f"export={_opt(data['export_name'])}",
        ]  # fmt: skip
        args: list[str] = []
        if data.get("tls_psk_identity"):
            identity = str(data["tls_psk_identity"])
            _private_file(workdir, "keys.psk", f"{identity}:{data['tls_psk_key']}\n")
            args += ["--object", f"tls-creds-psk,id=tls0,endpoint=client,dir={_opt(workdir)},"
                                 f"username={_opt(identity)}"]  # fmt: skip
            options.append("tls-creds=tls0")
        return [*args, "--image-opts", ",".join(options)]
    if source.protocol == "rbd" and data.get("name"):
        return ["-f", "raw", _rbd_name(data, workdir)]
    raise DriverError(f"Cannot read a volume exported over {source.protocol!r}.")


def _rbd_name(data: dict[str, Any], workdir: str) -> str:
    """QEMU's ``rbd:`` name of an RBD volume's connection_info (librbd reads the image
    directly): the monitors, the user, and its key through a file (never argv)."""
    spec = f"rbd:{data['name']}"
    if data.get("auth_username"):
        spec += f":id={data['auth_username']}"
    monitors = [f"{h}\\:{p}" for h, p in zip(data.get("hosts") or [], data.get("ports") or [],
                                             strict=False)]  # fmt: skip
    if monitors:
        spec += ":mon_host=" + ";".join(monitors)
    if data.get("keyring"):
        spec += f":keyring={_private_file(workdir, 'keyring', str(data['keyring']))}"
    return spec


def copy_into(
    tmp: Path,
    source: DataSource,
    volume_format: str,
    thin: bool,
    reflink: bool,
    cancelled: Callable[[], bool],
) -> None:
    """Write ``source``'s data to the new file ``tmp`` in ``volume_format``: a reflink or
    a hole-preserving copy between raw files, ``qemu-img convert`` otherwise."""
    if isinstance(source, LocalFile) and source.fmt == volume_format == "raw":
        if reflink:
            try:
                filecopy.reflink(source.path, tmp)
                return
            except OSError:
                tmp.unlink(missing_ok=True)  # another filesystem: copy instead
        filecopy.sparse_copy(source.path, tmp, cancelled)
        if not thin:
            fd = os.open(tmp, os.O_RDWR)
            try:
                os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
            finally:
                os.close(fd)
        return
    with qemu_img_input(source) as args:
        qemu_img.convert(args, tmp, volume_format, thin=thin, cancelled=cancelled)
