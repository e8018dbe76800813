"""A real Glance beside the test Keystone, and a Firebrick that makes volumes from images.

One Glance per pytest worker (session), registered in the worker's Keystone catalog as
service type ``image``. Firebrick's service user gets the ``admin`` role in the service
project, as a Cinder deployment gives its service user: the volume service downloads and
uploads image data as that user, after the API checked with the caller's own token that
the caller may use the image.

Fixtures (``conftest.py`` imports them, so that each is one per session): ``glance`` and
``image_service`` (a Firebrick with two image-caching backends, raw ``img-raw`` and qcow2
``img-qcow2``, and volume types of the same names).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import Service, VolumeApi, launch
from infra import glance as gl
from keystone_helpers import KeystoneEnv, keystone_client

MiB = 1 << 20

IMAGE_BACKENDS: dict[str, dict[str, str]] = {
    "img-raw": {"file_capacity_gb": "50", "image_volume_cache_enabled": "true",
                "image_volume_cache_max_count": "3"},
    "img-qcow2": {"file_capacity_gb": "50", "file_volume_format": "qcow2",
                  "image_volume_cache_enabled": "true"},
}  # fmt: skip


def glance_unavailable() -> None:
    reason = gl.unavailable_reason()
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@dataclass
class GlanceEnv:
    server: gl.GlanceServer
    keystone: KeystoneEnv
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, project: str, role: str = "member") -> httpx.Client:
        token = self.keystone.token(project, role)
        return httpx.Client(base_url=f"{self.url}/v2", headers={"X-Auth-Token": token},
                            timeout=60.0)  # fmt: skip

    def image(self, project: str, data: bytes, disk_format: str = "raw",
              virtual_size: int | None = None, role: str = "member", **props: Any
              ) -> dict[str, Any]:  # fmt: skip
        """An active image of ``project`` whose disk starts with ``data``."""
        name = f"img-{secrets.token_hex(4)}"
        path = gl.make_image(self.workdir / f"{name}.{disk_format}", data, disk_format,
                             virtual_size)  # fmt: skip
        try:
            return gl.upload(self.url, self.keystone.token(project, role), path, name=name,
                             disk_format=disk_format, **props)  # fmt: skip
        finally:
            path.unlink(missing_ok=True)

    def raw_image(self, project: str, content: bytes, disk_format: str, **props: Any
                  ) -> dict[str, Any]:  # fmt: skip
        """An image whose stored bytes are exactly ``content`` (e.g. a corrupt one)."""
        return gl.upload(self.url, self.keystone.token(project, "member"), content,
                         name=f"img-{secrets.token_hex(4)}", disk_format=disk_format,
                         **props)  # fmt: skip


@pytest.fixture(scope="session")
def glance(keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlanceEnv]:
    if not gl.available():
        glance_unavailable()
    server = gl.GlanceServer(tmp_path_factory.mktemp("glance"), keystone.server)
    server.start()
    try:
        server.register()
        gl.grant_service_admin(keystone.server)
    except BaseException:
        server.stop()
        raise
    keystone.secrets.add(server.service_password)
    yield GlanceEnv(server, keystone, tmp_path_factory.mktemp("images"))
    server.stop()


@dataclass
class ImageService:
    service: Service
    keystone: KeystoneEnv
    glance: GlanceEnv

    def client(self, project: str = "alpha", role: str = "member",
               microversion: str | None = None) -> VolumeApi:  # fmt: skip
        return keystone_client(self.service, self.keystone.token(project, role),
                               self.keystone.project_id(project), microversion)  # fmt: skip

    def volume_file(self, volume_id: str) -> Path | None:
        return self.service.find_volume_file(volume_id)

    def cache_files(self, backend: str) -> set[str]:
        folder = self.service.backends[backend].volume_dir
        return {p.name for p in folder.iterdir() if p.name.startswith("image-cache-")}

    def temporaries(self) -> list[str]:
        return [p.name for b in self.service.backends.values() if b.volume_dir.is_dir()
                for p in b.volume_dir.iterdir() if p.name.startswith(".tmp-")]  # fmt: skip


@pytest.fixture(scope="session")
def image_service(
    glance: GlanceEnv, keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ImageService]:
    """Firebrick behind Keystone, finding Glance in the catalog, with caching backends."""
    svc = launch(
        tmp_path_factory.mktemp("firebrick-images"),
        backends=IMAGE_BACKENDS,
        defaults={"auth_strategy": "keystone", "quota_volumes": "200",
                  "quota_gigabytes": "2000"},
        sections=keystone.firebrick_sections(),
    )  # fmt: skip
    env = ImageService(svc, keystone, glance)
    admin = env.client("alpha", "admin")
    for name in IMAGE_BACKENDS:
        resp = admin.post("/types", json={"volume_type": {
            "name": name, "extra_specs": {"volume_backend_name": name}}})  # fmt: skip
        assert resp.status_code == 200, resp.text
    admin.close()
    yield env
    svc.stop()


def disk_bytes(path: Path, fmt: str, length: int) -> bytes:
    """The first ``length`` bytes of the disk a volume file holds (raw or qcow2)."""
    if fmt == "raw":
        with path.open("rb") as handle:
            return handle.read(length)
    import subprocess
    import tempfile

    out = Path(tempfile.mkdtemp()) / "disk.raw"
    try:
        subprocess.run(["qemu-img", "convert", "-f", fmt, "-O", "raw", str(path), str(out)],
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        with out.open("rb") as handle:
            return handle.read(length)
    finally:
        out.unlink(missing_ok=True)


def create_from(api: VolumeApi, image: dict[str, Any], size: int = 1, wait: str | None =
                 "available", volume_type: str = "img-raw") -> dict[str, Any]:  # fmt: skip
    return api.create_volume(size=size, imageRef=image["id"], volume_type=volume_type,
                             wait=wait)  # fmt: skip


def active_image(api: VolumeApi, g: Any, image_id: str) -> dict[str, Any]:
    def active() -> dict[str, Any] | None:
        image: dict[str, Any] = g.get(f"/images/{image_id}").json()
        return image if image["status"] == "active" else None

    found: dict[str, Any] = api.wait_for(active, f"image {image_id} to be active")
    return found
