"""``auth_strategy = keystone``: tokens validated by keystonemiddleware, for an ASGI app.

keystonemiddleware's ``AuthProtocol`` is WSGI. ``KeystoneAuth`` builds a WSGI environ from
the request's headers and runs the protocol in a worker thread; when the token is valid
the protocol calls through to a tiny inner app that records the identity it put in the
environ (``X-User-Id``, ``X-Project-Id``, ``X-Roles`` …). Otherwise the protocol's own
answer (401 with ``WWW-Authenticate``, 503 when Keystone is unreachable) goes back to the
client as it is — what Cinder's clients get from Cinder.

Valid tokens are remembered for ``token_cache_time`` seconds (keystonemiddleware's option,
default 300), never past the token's expiry, keyed by the token's SHA-256: a cached token
costs a dict lookup instead of a thread hop and the protocol's work, so the create path
asks Keystone once per token. Tokens and passwords are never logged or echoed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from firebrick.image.access import image_endpoint

LOG = logging.getLogger("firebrick.api.auth")

Scope = dict[str, Any]
StartResponse = Callable[..., Any]

# Answered without a token, as Cinder's pipeline does for its version document; and
# Prometheus' scrape (counts, no project ids unless asked) and the dashboard's page, files
# and login form (the page then calls the API with the token it got).
UNAUTHENTICATED_PATHS = frozenset({"/", "/healthcheck", "/metrics", "/dashboard"})
UNAUTHENTICATED_PREFIX = "/dashboard/"
DEFAULT_CACHE_TIME = 300.0
CACHE_ENTRIES = 10_000
_PASSED = "firebrick.auth.passed"


@dataclass(frozen=True)
class Identity:
    """Who a validated token speaks for."""

    user_id: str
    project_id: str | None
    roles: tuple[str, ...]
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    # The token's catalog's image (Glance) endpoint, for the image calls.
    image_endpoint: str | None = None


@dataclass(frozen=True)
class Rejection:
    """The protocol's own answer to a request it did not let through."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def identity_from_environ(environ: Mapping[str, Any]) -> Identity:
    roles = environ.get("HTTP_X_ROLES", "")
    return Identity(
        user_id=environ.get("HTTP_X_USER_ID", ""),
        project_id=environ.get("HTTP_X_PROJECT_ID") or None,
        roles=tuple(r.strip() for r in roles.split(",") if r.strip()),
        user_domain_id=environ.get("HTTP_X_USER_DOMAIN_ID") or None,
        project_domain_id=environ.get("HTTP_X_PROJECT_DOMAIN_ID") or None,
        image_endpoint=image_endpoint(environ.get("HTTP_X_SERVICE_CATALOG")),
    )


def token_expiry(environ: Mapping[str, Any]) -> float | None:
    """Seconds since the epoch at which the validated token expires, if the protocol said."""
    info = environ.get("keystone.token_info")
    if not isinstance(info, Mapping):
        return None
    token = info.get("token", info.get("access", {}).get("token", {}))
    raw = token.get("expires_at") or token.get("expires") if isinstance(token, Mapping) else None
    if not isinstance(raw, str):
        return None
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


class TokenCache:
    """Validated tokens by SHA-256, each until min(token expiry, now + ttl)."""

    def __init__(self, ttl: float, entries: int = CACHE_ENTRIES) -> None:
        self.ttl = ttl
        self.entries = entries
        self._items: OrderedDict[str, tuple[float, Identity]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()

    def get(self, key: str, now: float | None = None) -> Identity | None:
        now = time.time() if now is None else now
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            until, identity = found
            if until <= now:
                del self._items[key]
                return None
            return identity

    def put(
        self, key: str, identity: Identity, expires: float | None, now: float | None = None
    ) -> None:
        now = time.time() if now is None else now
        until = now + self.ttl
        if expires is not None:
            until = min(until, expires)
        if until <= now or self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (until, identity)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)


class TokenValidator:
    """keystonemiddleware's AuthProtocol, called once per request it has not seen."""

    def __init__(self, options: Mapping[str, str]) -> None:
        from keystonemiddleware import auth_token

        conf = {k: v for k, v in options.items() if v is not None}
        # The protocol answers unauthenticated requests itself (Cinder's pipeline).
        conf["delay_auth_decision"] = "false"
        self.cache_time = float(conf.get("token_cache_time", DEFAULT_CACHE_TIME))
        # The auth plugin's options (auth_url, username, password …) are read after the
        # protocol warns that it does not know them: silence that false alarm.
        config_log = logging.getLogger("keystonemiddleware._common.config")
        level = config_log.level
        config_log.setLevel(logging.ERROR)
        try:
            self._protocol = auth_token.AuthProtocol(_passed, conf)
        finally:
            config_log.setLevel(level)

    def validate(self, environ: dict[str, Any]) -> Identity | Rejection:
        """Run the protocol on ``environ``; blocking (it may ask Keystone)."""
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], _exc: Any = None) -> None:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers

        chunks = self._protocol(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if environ.get(_PASSED):
            return identity_from_environ(environ)
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in captured.get("headers", [])
            if k.lower() != "content-length"
        ]
        headers.append((b"content-length", str(len(body)).encode()))
        return Rejection(captured.get("status", 401), headers, body)


def _passed(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    environ[_PASSED] = True
    start_response("204 No Content", [])
    return [b""]


def wsgi_environ(scope: Scope) -> dict[str, Any]:
    """What the protocol reads of a request: method, path, headers (never the body)."""
    server = scope.get("server") or ("127.0.0.1", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": _EmptyInput(),
        "wsgi.errors": _NullErrors(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_key, raw_value in scope["headers"]:
        key = raw_key.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key == "CONTENT_LENGTH":
            environ["CONTENT_LENGTH"] = value
        else:
            name = f"HTTP_{key}"
            environ[name] = f"{environ[name]},{value}" if name in environ else value
    return environ


class _EmptyInput:
    def read(self, *_args: Any) -> bytes:
        return b""

    def readline(self, *_args: Any) -> bytes:
        return b""


class _NullErrors:
    def write(self, _text: str) -> None:
        return None

    def flush(self) -> None:
        return None


def _token_of(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == b"x-auth-token":
            return str(value.decode("latin-1"))
    return None


def _has_service_token(scope: Scope) -> bool:
    return any(key.lower() == b"x-service-token" for key, _ in scope["headers"])


class KeystoneAuth:
    """ASGI middleware: a validated Identity in ``scope["state"]["identity"]``, or the
    protocol's rejection."""

    def __init__(self, app: Any, validator: TokenValidator) -> None:
        self.app = app
        self.validator = validator
        self.cache = TokenCache(validator.cache_time)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in UNAUTHENTICATED_PATHS
            or path.startswith(UNAUTHENTICATED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        token = _token_of(scope)
        cacheable = token is not None and not _has_service_token(scope)
        key = TokenCache.key(token) if cacheable and token is not None else None
        identity = self.cache.get(key) if key is not None else None
        if identity is None:
            environ = wsgi_environ(scope)
            outcome = await anyio.to_thread.run_sync(self.validator.validate, environ)
            if isinstance(outcome, Rejection):
                await _reject(send, outcome)
                return
            identity = outcome
            if key is not None:
                self.cache.put(key, identity, token_expiry(environ))
        scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, receive, send)


async def _reject(send: Any, rejection: Rejection) -> None:
    await send(
        {"type": "http.response.start", "status": rejection.status, "headers": rejection.headers}
    )
    await send({"type": "http.response.body", "body": rejection.body})
