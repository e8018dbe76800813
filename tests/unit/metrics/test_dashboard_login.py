"""The dashboard's Keystone login: where it asks, what it refuses, what it never says."""

from __future__ import annotations

import logging
from unittest import mock

import httpx
import pytest

from firebrick.api.dashboard import login
from firebrick.domain.errors import Invalid

PASSWORD = "s3cret-Pa55"
TOKEN = "gAAAA-the-token"


def test_tokens_url_from_the_authtoken_options() -> None:
    assert login.tokens_url({"www_authenticate_uri": "http://ks:5000/v3/"}) == (
        "http://ks:5000/v3/auth/tokens")  # fmt: skip
    assert login.tokens_url({"auth_url": "http://ks:5000"}) == "http://ks:5000/v3/auth/tokens"
    assert login.tokens_url({}) is None


BAD_FORMS = [
    None, [], {"username": "u", "password": "p"},
    {"username": " ", "password": "p", "project": "x"},
    {"username": "u", "password": 3, "project": "x"},
    {"username": "u" * 256, "password": "p", "project": "x"},
]  # fmt: skip


@pytest.mark.parametrize("body", BAD_FORMS)
def test_a_bad_form_is_a_400(body: object) -> None:
    with pytest.raises(Invalid):
        login.LoginForm.parse(body)


def form() -> login.LoginForm:
    return login.LoginForm.parse({"username": "alice", "password": PASSWORD, "project": "alpha"})


def test_a_token_comes_back_with_the_project_and_roles() -> None:
    answer = httpx.Response(
        201, headers={"X-Subject-Token": TOKEN},
        json={"token": {"project": {"id": "p-1", "name": "alpha"}, "user": {"name": "alice"},
                        "roles": [{"name": "member"}, {"name": "reader"}],
                        "expires_at": "2026-12-07T07:00:00Z"}},
    )  # fmt: skip
    with mock.patch.object(login.httpx, "post", return_value=answer) as post:
        session = login.login("http://ks/v3/auth/tokens", form())
    sent = post.call_args.kwargs["json"]["auth"]
    assert sent["identity"]["password"]["user"]["password"] == PASSWORD
    assert sent["scope"]["project"] == {"name": "alpha", "domain": {"name": "Default"}}
    assert session.as_dict() == {
        "token": TOKEN, "project_id": "p-1", "project_name": "alpha", "user_name": "alice",
        "roles": ["member", "reader"], "expires_at": "2026-12-07T07:00:00Z",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(401, json={"error": {"message": "x"}}), login.LoginRefused),
        (httpx.Response(500, text="oops"), login.KeystoneUnavailable),
        (httpx.ConnectError("refused"), login.KeystoneUnavailable),
    ],
)
def test_failures_never_echo_the_password(answer, error, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    kwargs = {"side_effect": answer} if isinstance(answer, Exception) else {"return_value": answer}
    with mock.patch.object(login.httpx, "post", **kwargs), pytest.raises(error) as raised:
        login.login("http://ks/v3/auth/tokens", form())
    assert PASSWORD not in str(raised.value) and PASSWORD not in caplog.text
    assert raised.value.code in (401, 503)
