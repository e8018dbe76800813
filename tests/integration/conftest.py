"""Fixtures that run real ``firebrick serve`` processes and talk to them over HTTP.

Every service gets its own state directory under pytest's tmp dir and its own free port,
so the suite is safe under pytest-xdist. The default service is session-scoped (one per
xdist worker); tests that need special backends or options start their own through
``start_service``. Tests isolate themselves from each other by using a fresh project id
(volumes, quotas and lists are per project).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from ceph_helpers import ceph, s3_server  # noqa: F401  (session fixtures)
from glance_helpers import glance, image_service  # noqa: F401  (session fixtures)
from harness import Service, VolumeApi, launch, new_project
from infra import keystone as keystone_infra
from keystone_helpers import KeystoneEnv, keystone_unavailable
from tempest_schemas import TempestSchemas


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


DEFAULT_BACKENDS: dict[str, dict[str, str]] = {
    "file-1": {"file_capacity_gb": "1000"},
    "file-2": {"file_capacity_gb": "1000"},
}


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The shared service: two thin file backends, default quotas but 50 volumes."""
    svc = launch(
        tmp_path_factory.mktemp("firebrick"),
        backends=DEFAULT_BACKENDS,
        defaults={"quota_volumes": "50"},
    )
    yield svc
    svc.stop()


StartService = Callable[..., Service]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Factory: ``start_service(backends={...}, defaults={...})`` → a fresh, private service.

    ``port`` and ``sections`` (extra config sections) are passed on to ``launch``.
    """
    started: list[Service] = []

    def start(
        backends: Mapping[str, Mapping[str, str]] | None = None,
        defaults: Mapping[str, str] | None = None,
        host: str = "itest",
        *,
        port: int | None = None,
        sections: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Service:
        svc = launch(
            tmp_path / f"svc{len(started)}", backends, defaults, host, port=port, sections=sections
        )
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


@pytest.fixture
def project() -> str:
    return new_project()


@pytest.fixture
def api(service: Service, project: str) -> Iterator[VolumeApi]:
    """httpx client on the shared service, in a project of its own, at microversion 3.0."""
    with service.client(project) as client:
        yield client


@pytest.fixture(scope="session")
def tempest_schemas() -> Iterator[TempestSchemas]:
    """Tempest's own response-schema check (``tempest_schemas.py``); fails in CI without it."""
    import tempest_schemas as ts

    if not ts.available():
        if os.environ.get("CI"):
            pytest.fail(f"{ts.unavailable_reason()} (CI is set)", pytrace=False)
        pytest.skip(ts.unavailable_reason())
    schemas = TempestSchemas.start()
    yield schemas
    schemas.stop()


# ---------------------------------------------------------------------------------------
# Keystone: one real Keystone and one Firebrick behind it per pytest worker

KEYSTONE_BACKENDS: dict[str, dict[str, str]] = {"file-1": {"file_capacity_gb": "20"}}


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneEnv]:
    """A provisioned Keystone (see ``keystone_helpers``); fails instead of skipping in CI."""
    if not keystone_infra.available():
        keystone_unavailable()
    env = KeystoneEnv.create(tmp_path_factory.mktemp("keystone"))
    yield env
    env.stop()


@pytest.fixture(scope="session")
def keystone_service(
    keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """``firebrick serve`` with ``auth_strategy = keystone`` on the catalog's port."""
    svc = launch(
        tmp_path_factory.mktemp("firebrick-keystone"),
        backends=KEYSTONE_BACKENDS,
        # debug: the no-secret-in-logs checks then cover keystonemiddleware's and
        # keystoneauth's debug output too.
        defaults={"auth_strategy": "keystone", "quota_volumes": "100", "debug": "true"},
        port=keystone.firebrick_port,
        sections=keystone.firebrick_sections(),
    )
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def cli_env(keystone: KeystoneEnv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for ``openstack --os-cloud <project>-<role>``: a clouds.yaml, no OS_*."""
    clouds = keystone.clouds_yaml(tmp_path_factory.mktemp("osc") / "clouds.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    env["HOME"] = str(clouds.parent)  # no ~/.config/openstack of the machine's
    return env
