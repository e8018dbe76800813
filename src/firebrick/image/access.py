"""Which Glance to call, and with which token.

The endpoint: Cinder's ``glance_api_servers`` when set (tried in turn), else the
``image`` service of the Keystone catalog (the caller's token's catalog in the API, the
service user's catalog in the volume service).

The token: in the API with ``auth_strategy = keystone``, the caller's own token, so that
Glance itself decides what the caller may see and the images it creates belong to the
caller's project. Elsewhere (the volume service, which downloads and uploads the data,
and the API in noauth mode) the service user's token from ``[keystone_authtoken]`` when
it has a password user, else none (a Glance without authentication). The user's token
never leaves the API process: nothing stores or forwards it, and no log line has it.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from firebrick.config import Config
from firebrick.image.errors import GlanceUnavailable
from firebrick.image.glance import GlanceClient

LOG = logging.getLogger("firebrick.image")

NO_ENDPOINT = (
    "No image service is known: set glance_api_servers, or register Glance in the Keystone "
    "catalog (service type image)."
)


def image_endpoint(catalog: Any, interface: str = "public") -> str | None:
    """The ``image`` endpoint of a v3 service catalog (a list, or its JSON text)."""
    if isinstance(catalog, str):
        try:
            catalog = json.loads(catalog)
        except ValueError:
            return None
    if not isinstance(catalog, list):
        return None
    for service in catalog:
        if not isinstance(service, Mapping) or service.get("type") != "image":
            continue
        endpoints = [e for e in service.get("endpoints", []) if isinstance(e, Mapping)]
        for endpoint in endpoints:
            if endpoint.get("interface") == interface and endpoint.get("url"):
                return str(endpoint["url"])
        for endpoint in endpoints:
            url = endpoint.get("url") or endpoint.get("publicURL")
            if url:
                return str(url)
    return None


class ServiceCredentials:
    """The service user of ``[keystone_authtoken]`` (password auth), through keystoneauth:
    its token (renewed before it expires) and its catalog."""

    def __init__(self, options: Mapping[str, str]) -> None:
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        self._auth = v3.Password(
            auth_url=options["auth_url"],
            username=options.get("username"),
            user_id=options.get("user_id"),
            password=options["password"],
            project_name=options.get("project_name"),
            project_id=options.get("project_id"),
            user_domain_name=options.get("user_domain_name"),
            user_domain_id=options.get("user_domain_id"),
            project_domain_name=options.get("project_domain_name"),
            project_domain_id=options.get("project_domain_id"),
        )
        self._session = session.Session(auth=self._auth)
        self._lock = threading.Lock()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> ServiceCredentials | None:
        usable = (
            options.get("auth_url")
            and options.get("password")
            and (options.get("username") or options.get("user_id"))
        )
        if options.get("auth_type", "password") != "password" or not usable:
            return None
        return cls(options)

    def token(self) -> str:
        try:
            with self._lock:
                return str(self._session.get_token())
        except Exception as exc:
            raise GlanceUnavailable(
                f"The service user could not get a token from Keystone ({type(exc).__name__})."
            ) from None

    def endpoint(self) -> str | None:
        try:
            with self._lock:
                found = self._session.get_endpoint(service_type="image", interface="public")
        except Exception:
            return None
        return str(found) if found else None


class GlanceAccess:
    """Builds the Glance client for a call: endpoint and token as the module says."""

    def __init__(self, api_servers: list[str], service: ServiceCredentials | None) -> None:
        self.api_servers = api_servers
        self.service = service
        self._servers = itertools.cycle(api_servers) if api_servers else None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Config) -> GlanceAccess:
        return cls(config.glance_api_servers,
                   ServiceCredentials.from_options(config.keystone_authtoken))  # fmt: skip

    def _configured(self) -> str | None:
        if self._servers is None:
            return None
        with self._lock:
            server = next(self._servers)
        return server if "://" in server else f"http://{server}"

    def for_user(self, user_token: str | None, catalog_endpoint: str | None) -> GlanceClient:
        """The API's client: the caller's token (keystone), else the service user's."""
        if user_token:
            endpoint = self._configured() or catalog_endpoint
            if endpoint is None:
                raise GlanceUnavailable(NO_ENDPOINT)
            return GlanceClient(endpoint, user_token)
        return self.for_service()

    def for_service(self) -> GlanceClient:
        """The volume service's client: the service user's token, if it has one."""
        endpoint = self._configured()
        if endpoint is None and self.service is not None:
            endpoint = self.service.endpoint()
        if endpoint is None:
            raise GlanceUnavailable(NO_ENDPOINT)
        return GlanceClient(endpoint, self.service.token() if self.service else None)

    @property
    def acts_as_service(self) -> bool:
        """Whether calls without the caller's token go as a (privileged) service user."""
        return self.service is not None
