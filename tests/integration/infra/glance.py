"""A throwaway Glance (the OpenStack Image service) for tests, Tempest and the benchmark.

Glance (PyPI) lives in a venv of its own (``make glance``: ``.glance-venv`` at the
repository root, or ``GLANCE_VENV``) so that its pins never meet Firebrick's. A server is
``glance-manage db sync`` on a SQLite database under ``base_dir``, then
``gunicorn glance.wsgi.api:application`` on ``127.0.0.1:port`` (Glance's WSGI entry
point; ``glance-api`` itself is eventlet-based and deprecated), with a file store under
``base_dir``, keystonemiddleware against the test Keystone (``[paste_deploy] flavor =
keystone``) and its own service user. :meth:`GlanceServer.register` puts it into
Keystone's catalog as service type ``image``.

:func:`make_image` builds small test images with ``qemu-img`` (raw, qcow2, vmdk, vdi,
vhdx, vpc) from known bytes, so a test can compare what a volume holds with what the
image held; :func:`upload` creates and uploads one through Glance's API.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from infra import gunicorn
from infra import keystone as ks

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT = 90.0
MANAGE_TIMEOUT = 180.0
SERVICE_USER = "glance"


def venv_dir() -> Path:
    """The Glance venv: ``GLANCE_VENV`` (relative to the repository) or ``.glance-venv``."""
    configured = os.environ.get("GLANCE_VENV")
    path = Path(configured) if configured else Path(".glance-venv")
    return path if path.is_absolute() else REPO / path


def available() -> bool:
    bin_dir = venv_dir() / "bin"
    return all((bin_dir / name).is_file() for name in ("glance-manage", "gunicorn", "python"))


def unavailable_reason() -> str:
    return f"Glance is not installed in {venv_dir()} (run `make glance`)"


def _render(sections: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for section, options in sections.items():
        lines += [f"[{section}]", *(f"{k} = {v}" for k, v in options.items()), ""]
    return "\n".join(lines)


class GlanceServer:
    """One Glance API on ``http://127.0.0.1:port`` with state under ``base_dir``.

    ``keystone`` is the Keystone it validates tokens against; its service user is created
    there by :meth:`start`. ``options`` are extra ``glance-api.conf`` options by section.
    """

    def __init__(
        self,
        base_dir: Path,
        keystone: ks.KeystoneServer,
        port: int = 0,
        threads: int = 8,
        options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.keystone = keystone
        self.port = port or ks.free_port()
        self.threads = threads
        self.options = options or {}
        self.service_password = secrets.token_urlsafe(16)
        self.venv = venv_dir()
        self._process: subprocess.Popen[bytes] | None = None
        self._user_created = False

    @property
    def url(self) -> str:
        """The image endpoint as the catalog lists it (no version)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "glance.log"

    @property
    def store_dir(self) -> Path:
        return self.base_dir / "images"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def _bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def _config_text(self) -> str:
        base = self.base_dir
        sections: dict[str, dict[str, Any]] = {
            "DEFAULT": {
                "debug": "false",
                "use_stderr": "true",
                "enabled_backends": "fs:file",
                "worker_self_reference_url": self.url,
                "image_cache_dir": str(base / "image-cache"),
                "public_endpoint": self.url,
                # Cinder and Nova read direct URLs; the tests have no use for them.
                "show_image_direct_url": "false",
            },
            "database": {"connection": f"sqlite:///{base / 'glance.sqlite'}"},
            "glance_store": {"default_backend": "fs"},
            "fs": {"filesystem_store_datadir": str(self.store_dir)},
            "os_glance_staging_store": {"filesystem_store_datadir": str(base / "staging")},
            "os_glance_tasks_store": {"filesystem_store_datadir": str(base / "tasks")},
            "paste_deploy": {
                "flavor": "keystone",
                "config_file": str(self.venv / "etc" / "glance" / "glance-api-paste.ini"),
            },
            "keystone_authtoken": {
                "www_authenticate_uri": self.keystone.url,
                "auth_url": self.keystone.url,
                "auth_type": "password",
                "username": SERVICE_USER,
                "password": self.service_password,
                "project_name": ks.SERVICE_PROJECT,
                "user_domain_name": ks.DOMAIN,
                "project_domain_name": ks.DOMAIN,
            },
            "oslo_concurrency": {"lock_path": str(base / "locks")},
        }
        for section, options in self.options.items():
            sections.setdefault(section, {}).update({k: str(v) for k, v in options.items()})
        return _render(sections)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
        env["OS_GLANCE_CONFIG_DIR"] = str(self.base_dir)
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        return env

    # -- lifecycle ---------------------------------------------------------------------

    def _create_service_user(self) -> None:
        conn = self.keystone.admin_connection()
        try:
            roles = {role.name: role for role in conn.identity.roles()}
            service_role = roles.get("service") or conn.identity.create_role(name="service")
            project = conn.identity.find_project(ks.SERVICE_PROJECT, domain_id="default")
            if project is None:
                project = conn.identity.create_project(name=ks.SERVICE_PROJECT, domain_id="default")
            user = conn.identity.create_user(
                name=SERVICE_USER, password=self.service_password, domain_id="default"
            )
            conn.identity.assign_project_role_to_user(project, user, service_role)
        finally:
            conn.close()
        self._user_created = True

    def _db_sync(self) -> None:
        result = subprocess.run(
            [self._bin("glance-manage"), "--config-dir", str(self.base_dir), "db", "sync"],
            env=self._env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=MANAGE_TIMEOUT,
            check=False,
        )
        (self.base_dir / "glance-manage.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(
                f"glance-manage db sync failed (rc={result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )

    def start(self) -> None:
        """Create the service user and database (first start), start the API, wait."""
        for sub in ("images", "staging", "tasks", "image-cache", "locks"):
            (self.base_dir / sub).mkdir(parents=True, exist_ok=True)
        (self.base_dir / "glance-api.conf").write_text(self._config_text())
        if not self._user_created:
            self._create_service_user()
        if not (self.base_dir / "glance.sqlite").exists():
            self._db_sync()
        for attempt in range(3):
            logged = len(self.log())
            if self._spawn():
                return
            output = self.log()[logged:][-4000:]
            if "address already in use" not in output.lower() or attempt == 2:
                raise RuntimeError(f"glance did not start on {self.url}; its log:\n{output}")
            self.port = ks.free_port()
            (self.base_dir / "glance-api.conf").write_text(self._config_text())

    def _spawn(self) -> bool:
        self._process = gunicorn.spawn(
            self._bin("gunicorn"), self.base_dir, port=self.port, threads=self.threads,
            wsgi_app="glance.wsgi.api:application", env=self._env(), log_file=self.log_file,
            timeout=600,
        )  # fmt: skip
        if gunicorn.wait_ready(self._process, f"{self.url}/versions", START_TIMEOUT):
            return True
        self.stop()
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        gunicorn.stop(process)

    def register(self) -> None:
        """Service ``glance`` of type ``image`` with public/internal/admin endpoints."""
        conn = self.keystone.admin_connection()
        try:
            service = conn.identity.create_service(
                name="glance", type="image", description="OpenStack Image service"
            )
            for interface in ("public", "internal", "admin"):
                conn.identity.create_endpoint(
                    service_id=service.id, interface=interface, url=self.url,
                    region_id=ks.REGION,
                )  # fmt: skip
        finally:
            conn.close()


def grant_service_admin(keystone: ks.KeystoneServer, user: str = ks.SERVICE_USER) -> None:
    """Firebrick's service user gets ``admin`` in the service project, as a Cinder
    deployment gives its service user: the volume service downloads and uploads image
    data as that user (Glance's default policy lets only admins and the image's project
    do that)."""
    conn = keystone.admin_connection()
    try:
        roles = {role.name: role for role in conn.identity.roles()}
        project = conn.identity.find_project(ks.SERVICE_PROJECT, domain_id="default")
        found = conn.identity.find_user(user, domain_id="default")
        if project is None or found is None:
            raise RuntimeError(f"grant_service_admin: no user {user} in {ks.SERVICE_PROJECT}")
        conn.identity.assign_project_role_to_user(project, found, roles["admin"])
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------
# test images


def make_image(path: Path, data: bytes, disk_format: str, virtual_size: int | None = None) -> Path:
    """An image in ``disk_format`` whose disk starts with ``data`` (zero-padded to
    ``virtual_size`` bytes, default ``len(data)``), converted from raw with ``qemu-img``."""
    size = virtual_size if virtual_size is not None else len(data)
    raw = path.with_suffix(".raw-src")
    with raw.open("wb") as handle:
        handle.write(data)
        handle.truncate(size)
    if disk_format == "raw":
        raw.rename(path)
        return path
    fmt = "vpc" if disk_format == "vhd" else disk_format
    subprocess.run(
        ["qemu-img", "convert", "-q", "-f", "raw", "-O", fmt, str(raw), str(path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    raw.unlink()
    return path


def upload(
    glance_url: str,
    token: str,
    source: Path | bytes,
    *,
    name: str,
    disk_format: str = "raw",
    container_format: str = "bare",
    visibility: str = "private",
    **properties: Any,
) -> dict[str, Any]:
    """Create an image, upload ``source`` (a file or bytes) and return it once active."""
    headers = {"X-Auth-Token": token}
    with httpx.Client(base_url=glance_url, headers=headers, timeout=300.0) as client:
        resp = client.post("/v2/images", json={
            "name": name, "disk_format": disk_format, "container_format": container_format,
            "visibility": visibility, **properties,
        })  # fmt: skip
        resp.raise_for_status()
        image = resp.json()
        content: Any = source if isinstance(source, bytes) else source.open("rb")
        try:
            put = client.put(
                f"/v2/images/{image['id']}/file",
                content=content,
                headers={"Content-Type": "application/octet-stream"},
            )
        finally:
            if not isinstance(content, bytes):
                content.close()
        put.raise_for_status()
        shown: dict[str, Any] = client.get(f"/v2/images/{image['id']}").json()
        return shown
