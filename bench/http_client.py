"""The benchmarks' HTTP client: aiohttp behind the few httpx calls the benchmarks make.

The client runs on the same cores as the service it measures, so what it spends is taken
from the service. httpx's async client spent 1.5 to 2.2 ms of CPU a ``GET`` on these
machines, aiohttp 0.2 to 0.4 ms; the service itself spent more for each of httpx's
requests too (1.0 to 1.2 ms against 0.6 ms: they arrive one at a time, aiohttp's several
to a step of its event loop). With 3 to 4 requests a create, httpx alone took a fifth of
the two cores. ``BENCH_HTTP_CLIENT=httpx`` measures with httpx again.

A failed connection raises ``TransportError`` (aiohttp's or httpx's). Only what the
benchmarks use: ``get``/``post``/``put``/``delete`` with ``params``,
``json`` and ``headers``, paths appended to ``base_url`` (as httpx does), and replies with
``status_code``, ``headers``, ``content``, ``text``, ``json()`` and ``raise_for_status()``.
"""

from __future__ import annotations

import json as jsonlib
import os
from types import TracebackType
from typing import Any

import aiohttp
import httpx

TransportError = (aiohttp.ClientError, httpx.TransportError)


class Reply:
    def __init__(self, method: str, url: str, status: int, headers: Any, body: bytes) -> None:
        self.method = method
        self.url = url
        self.status_code = status
        self.headers = headers
        self.content = body

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(
                f"{self.method} {self.url}: {self.status_code} {self.content[:300]!r}"
            )


class LeanClient:
    """An ``httpx.AsyncClient`` look-alike over one aiohttp session (keep-alive pool)."""

    def __init__(
        self, base_url: str, headers: dict[str, str], max_connections: int, timeout: float
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = headers
        self._limit = max_connections
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        """The session, made in the event loop of the first request."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=None)
            self._session = aiohttp.ClientSession(
                headers=self._headers, connector=connector, timeout=self._timeout
            )
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        session = self._open()
        url = path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"
        if params:
            params = {k: str(v).lower() if isinstance(v, bool) else str(v)
                      for k, v in params.items()}  # fmt: skip
        async with session.request(method, url, params=params, json=json, headers=headers) as resp:
            body = await resp.read()
            return Reply(method, url, resp.status, resp.headers, body)

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("DELETE", path, **kwargs)


def client(base_url: str, headers: dict[str, str], timeout: float = 60.0) -> Any:
    """The benchmarks' client for ``base_url``: aiohttp, or httpx when
    ``BENCH_HTTP_CLIENT=httpx``."""
    if os.environ.get("BENCH_HTTP_CLIENT") == "httpx":
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        return httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=timeout)
    return LeanClient(base_url, headers, max_connections=64, timeout=timeout)
