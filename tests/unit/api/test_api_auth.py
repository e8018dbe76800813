"""The keystone ASGI wrapper: token cache, WSGI environ, rejections passed through."""

from __future__ import annotations

import asyncio
from typing import Any

from firebrick.api.auth import (
    Identity,
    KeystoneAuth,
    Rejection,
    TokenCache,
    identity_from_environ,
    token_expiry,
    wsgi_environ,
)

ALICE = Identity(user_id="u1", project_id="p1", roles=("member", "reader"))


def test_cache_returns_until_ttl() -> None:
    cache = TokenCache(ttl=300)
    cache.put("k", ALICE, expires=None, now=1000.0)
    assert cache.get("k", now=1299.0) == ALICE
    assert cache.get("k", now=1300.0) is None


def test_cache_never_outlives_the_token() -> None:
    cache = TokenCache(ttl=300)
    cache.put("k", ALICE, expires=1010.0, now=1000.0)
    assert cache.get("k", now=1009.0) == ALICE
    assert cache.get("k", now=1010.0) is None


def test_cache_skips_expired_tokens_and_ttl_zero() -> None:
    cache = TokenCache(ttl=300)
    cache.put("k", ALICE, expires=999.0, now=1000.0)
    assert cache.get("k", now=1000.0) is None
    off = TokenCache(ttl=0)
    off.put("k", ALICE, expires=None, now=1000.0)
    assert off.get("k", now=1000.0) is None


def test_cache_is_bounded() -> None:
    cache = TokenCache(ttl=300, entries=2)
    for key in ("a", "b", "c"):
        cache.put(key, ALICE, expires=None, now=1000.0)
    assert cache.get("a", now=1000.0) is None
    assert cache.get("c", now=1000.0) == ALICE


def test_cache_key_is_not_the_token() -> None:
    assert "secret-token" not in TokenCache.key("secret-token")


def test_token_expiry_reads_v3_token_info() -> None:
    environ = {"keystone.token_info": {"token": {"expires_at": "2030-01-01T00:00:00.000000Z"}}}
    assert token_expiry(environ) == 1893456000.0
    assert token_expiry({}) is None
    assert token_expiry({"keystone.token_info": {"token": {"expires_at": "soon"}}}) is None


def test_identity_from_the_headers_keystonemiddleware_sets() -> None:
    environ = {
        "HTTP_X_USER_ID": "u1",
        "HTTP_X_PROJECT_ID": "p1",
        "HTTP_X_ROLES": "member, reader",
        "HTTP_X_USER_DOMAIN_ID": "default",
        "HTTP_X_PROJECT_DOMAIN_ID": "default",
    }
    found = identity_from_environ(environ)
    assert found.roles == ("member", "reader")
    assert (found.user_domain_id, found.project_domain_id) == ("default", "default")
    assert identity_from_environ({"HTTP_X_USER_ID": "u"}).project_id is None


def _scope(path: str = "/v3/p1/volumes", token: str | None = "tok") -> dict[str, Any]:
    headers = [(b"content-type", b"application/json"), (b"x-foo", b"1"), (b"x-foo", b"2")]
    if token is not None:
        headers.append((b"x-auth-token", token.encode()))
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"limit=1",
        "headers": headers,
        "server": ("127.0.0.1", 8776),
    }


def test_wsgi_environ_carries_headers_not_body() -> None:
    environ = wsgi_environ(_scope())
    assert environ["PATH_INFO"] == "/v3/p1/volumes"
    assert environ["QUERY_STRING"] == "limit=1"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["HTTP_X_AUTH_TOKEN"] == "tok"
    assert environ["HTTP_X_FOO"] == "1,2"
    assert environ["wsgi.input"].read() == b""


class FakeValidator:
    cache_time = 300.0

    def __init__(self, outcome: Identity | Rejection) -> None:
        self.outcome = outcome
        self.calls = 0

    def validate(self, environ: dict[str, Any]) -> Identity | Rejection:
        self.calls += 1
        return self.outcome


def _run(middleware: KeystoneAuth, scope: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    sent: list[dict[str, Any]] = []
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["identity"] = scope.get("state", {}).get("identity")
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    middleware.app = app
    asyncio.run(middleware(scope, receive, send))
    return sent, seen.get("identity")


def test_a_valid_token_is_validated_once_then_served_from_the_cache() -> None:
    validator = FakeValidator(ALICE)
    middleware = KeystoneAuth(None, validator)  # type: ignore[arg-type]
    for _ in range(3):
        sent, identity = _run(middleware, _scope())
        assert sent[0]["status"] == 200
        assert identity == ALICE
    assert validator.calls == 1


def test_a_rejection_goes_back_as_the_protocol_wrote_it_and_is_not_cached() -> None:
    rejection = Rejection(401, [(b"www-authenticate", b'Keystone uri="http://k/v3"')], b"{}")
    validator = FakeValidator(rejection)
    middleware = KeystoneAuth(None, validator)  # type: ignore[arg-type]
    for _ in range(2):
        sent, identity = _run(middleware, _scope(token="bad"))
        assert sent[0]["status"] == 401
        assert (b"www-authenticate", b'Keystone uri="http://k/v3"') in sent[0]["headers"]
        assert identity is None
    assert validator.calls == 2


def test_version_document_and_healthcheck_need_no_token() -> None:
    validator = FakeValidator(Rejection(401, [], b""))
    middleware = KeystoneAuth(None, validator)  # type: ignore[arg-type]
    for path in ("/", "/healthcheck"):
        sent, _ = _run(middleware, _scope(path=path, token=None))
        assert sent[0]["status"] == 200
    assert validator.calls == 0
