"""Keystone tokens, Cinder's default policy and project isolation, over plain HTTP.

Firebrick runs with ``auth_strategy = keystone`` in front of a real Keystone (one of each
per pytest worker, see ``conftest.py``). Users ``<project>-<role>`` of projects alpha and
beta hold admin, member or reader. Every answer must carry ``x-openstack-request-id`` and
no answer may echo a token or password (checked on every response by the clients built
here); the last test reads Firebrick's logs for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from harness import Service, VolumeApi, free_port
from keystone_helpers import (
    OVERSIZED_GB,
    KeystoneEnv,
    assert_no_secrets,
    firebrick_texts,
    keystone_client,
)

ATTACH_MV = "3.27"
MESSAGES_MV = "3.3"

Client = Callable[..., VolumeApi]


def check_response(secrets: set[str]) -> Callable[[httpx.Response], None]:
    def hook(resp: httpx.Response) -> None:
        resp.read()
        where = f"{resp.request.method} {resp.request.url} -> {resp.status_code}"
        assert resp.headers.get("x-openstack-request-id", "").startswith("req-"), (
            f"{where}: no x-openstack-request-id: {dict(resp.headers)}"
        )
        leaked = [s for s in secrets if s in resp.text or s in str(resp.headers)]
        assert not leaked, f"{where}: a token or password in the answer"

    return hook


@pytest.fixture(scope="module")
def client(keystone: KeystoneEnv, keystone_service: Service) -> Iterator[Client]:
    """``client(project, role, url_project=<token's>, mv=None, token=None)``: an httpx
    client sending that user's token; ``url_project=""`` for URLs without a project."""
    opened: list[VolumeApi] = []

    def make(
        project: str | None,
        role: str | None = None,
        url_project: str | None = None,
        mv: str | None = None,
        token: str | None = None,
    ) -> VolumeApi:
        if token is None and project is not None and role is not None:
            token = keystone.token(project, role)
        if url_project is None:
            url_project = keystone.project_id(project) if project else ""
        api = keystone_client(keystone_service, token, url_project or None, mv)
        api.event_hooks["response"].append(check_response(keystone.secrets))
        opened.append(api)
        return api

    yield make
    for api in opened:
        api.close()


def volume_ids(api: VolumeApi, path: str = "/volumes", **params: Any) -> set[str]:
    resp = api.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return {v["id"] for v in resp.json()["volumes"]}


# ---------------------------------------------------------------------------------------
# authentication


def test_no_token_is_401_naming_keystone(keystone: KeystoneEnv, client: Client) -> None:
    for api in (client(None, url_project=keystone.project_id("alpha")), client(None)):
        resp = api.get("/volumes")
        assert resp.status_code == 401, resp.text
        assert resp.headers["www-authenticate"] == f'Keystone uri="{keystone.auth_url}"'
    # The version document stays public, as in Cinder.
    with httpx.Client() as plain:
        root = plain.get(api.base_url.copy_with(path="/"))
        assert root.status_code in (200, 300), root.text
        assert "versions" in root.json()


def test_garbage_token_is_401(keystone: KeystoneEnv, client: Client) -> None:
    garbage = "gAAAAABnot-a-real-token-" + "x" * 40
    keystone.secrets.add(garbage)
    for token in (garbage, "admin:" + keystone.project_id("alpha")):  # noauth's form, too
        api = client("alpha", "member", token=token)
        resp = api.get("/volumes")
        assert resp.status_code == 401, resp.text
        assert "www-authenticate" in resp.headers
        assert api.post("/volumes", json={"volume": {"size": 1}}).status_code == 401


def test_expired_token_is_401_even_after_it_was_accepted(
    keystone: KeystoneEnv, client: Client
) -> None:
    lifetime = 3
    alpha = keystone.project_id("alpha")
    used = keystone.expiring_token("alpha", "member", lifetime)
    unused = keystone.expiring_token("alpha", "member", lifetime)
    issued = time.monotonic()
    # Accepted (and remembered by Firebrick's token cache) while valid …
    first = client("alpha", token=used, url_project=alpha).get("/volumes")
    assert first.status_code == 200, first.text
    time.sleep(max(0.0, issued + lifetime + 1.5 - time.monotonic()))
    # … and refused once expired, like one never seen before.
    for token in (used, unused):
        resp = client("alpha", token=token, url_project=alpha).get("/volumes")
        assert resp.status_code == 401, resp.text
        assert "www-authenticate" in resp.headers


def test_unscoped_token_is_refused(keystone: KeystoneEnv, client: Client) -> None:
    token = keystone.unscoped_token("alpha", "member")
    for url_project in (keystone.project_id("alpha"), ""):
        resp = client(None, token=token, url_project=url_project).get("/volumes")
        VolumeApi.assert_fault(resp, 403)


# ---------------------------------------------------------------------------------------
# roles: reader, member, admin


def test_member_is_refused_admin_apis(keystone: KeystoneEnv, client: Client) -> None:
    member = client("alpha", "member")
    admin = client("alpha", "admin")
    alpha = keystone.project_id("alpha")
    refused = [
        member.get("/os-services"),
        member.put("/os-services/disable", json={"host": "x", "binary": "cinder-volume"}),
        member.get("/scheduler-stats/get_pools"),
        member.post("/types", json={"volume_type": {"name": "member-made"}}),
        member.put(f"/os-quota-sets/{alpha}", json={"quota_set": {"volumes": 5}}),
        member.post("/workers/cleanup", json={}),
    ]
    for resp in refused:
        message = VolumeApi.assert_fault(resp, 403)
        assert "Policy doesn't allow" in message, message
    assert "member-made" not in {t["name"] for t in member.get("/types").json()["volume_types"]}
    # The same calls are an admin's.
    assert admin.get("/os-services").status_code == 200
    assert admin.get("/scheduler-stats/get_pools").status_code == 200
    assert admin.get(f"/os-quota-sets/{alpha}").status_code == 200


def test_member_is_refused_admin_actions(client: Client) -> None:
    member = client("alpha", "member")
    admin = client("alpha", "admin")
    volume = member.create_volume()
    try:
        for action in (
            {"os-reset_status": {"status": "error"}},
            {"os-force_delete": {}},
        ):
            resp = member.post(f"/volumes/{volume['id']}/action", json=action)
            VolumeApi.assert_fault(resp, 403)
        assert member.wait_for_volume(volume["id"])["status"] == "available"
        resp = admin.post(
            f"/volumes/{volume['id']}/action", json={"os-reset_status": {"status": "available"}}
        )
        assert resp.status_code == 202, resp.text
    finally:
        member.delete_volume(volume["id"])


def test_reader_reads_but_cannot_write(keystone: KeystoneEnv, client: Client) -> None:
    member = client("alpha", "member")
    reader = client("alpha", "reader")
    volume = member.create_volume(name="for-the-reader")
    try:
        assert volume["id"] in volume_ids(reader)
        assert volume["id"] in volume_ids(reader, "/volumes/detail")
        shown = reader.get(f"/volumes/{volume['id']}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["volume"]["name"] == "for-the-reader"

        before = volume_ids(member)
        resp = reader.post("/volumes", json={"volume": {"size": 1, "name": "by-reader"}})
        VolumeApi.assert_fault(resp, 403)
        resp = reader.put(f"/volumes/{volume['id']}", json={"volume": {"name": "renamed"}})
        VolumeApi.assert_fault(resp, 403)
        VolumeApi.assert_fault(reader.delete(f"/volumes/{volume['id']}"), 403)
        resp = reader.post(f"/volumes/{volume['id']}/action", json={"os-extend": {"new_size": 2}})
        VolumeApi.assert_fault(resp, 403)
        resp = reader.post("/snapshots", json={"snapshot": {"volume_id": volume["id"]}})
        VolumeApi.assert_fault(resp, 403)

        assert volume_ids(member) == before
        after = member.get(f"/volumes/{volume['id']}").json()["volume"]
        assert (after["name"], after["size"], after["status"]) == ("for-the-reader", 1, "available")
        names = {v["name"] for v in member.get("/volumes/detail").json()["volumes"]}
        assert "by-reader" not in names
    finally:
        member.delete_volume(volume["id"])


def test_reader_create_leaves_no_trace(keystone_service: Service, client: Client) -> None:
    reader = client("beta", "reader")
    files = keystone_service.volume_files()
    VolumeApi.assert_fault(reader.post("/volumes", json={"volume": {"size": 1}}), 403)
    time.sleep(0.3)  # a create let through would have started by now
    assert keystone_service.volume_files() == files
    admin = client("beta", "admin")
    beta_all = admin.get("/volumes/detail", params={"all_tenants": 1, "status": "creating"})
    assert beta_all.status_code == 200
    assert not [v for v in beta_all.json()["volumes"] if v.get("status") == "creating"]


# ---------------------------------------------------------------------------------------
# projects: one project never sees or touches another's resources


@pytest.fixture(scope="module")
def alpha_volume(client: Client) -> Iterator[dict[str, Any]]:
    member = client("alpha", "member")
    volume = member.create_volume(name="alpha-owned")
    yield volume
    member.delete_volume(volume["id"])


@pytest.fixture(scope="module")
def beta_volume(client: Client) -> Iterator[dict[str, Any]]:
    member = client("beta", "member")
    volume = member.create_volume(name="beta-owned")
    yield volume
    member.delete_volume(volume["id"])


def test_other_projects_volume_is_not_found(client: Client, alpha_volume: dict[str, Any]) -> None:
    vid = alpha_volume["id"]
    for role in ("member", "reader"):
        beta = client("beta", role)
        for resp in (
            beta.get(f"/volumes/{vid}"),
            beta.put(f"/volumes/{vid}", json={"volume": {"name": "stolen"}}),
            beta.delete(f"/volumes/{vid}"),
            beta.post(f"/volumes/{vid}/action", json={"os-extend": {"new_size": 3}}),
            beta.get(f"/volumes/{vid}/metadata"),
        ):
            if resp.status_code == 403 and role == "reader" and resp.request.method != "GET":
                continue  # a reader may be refused by policy before the lookup
            message = VolumeApi.assert_fault(resp, 404)
            assert vid in message or "could not be found" in message, message
        assert vid not in volume_ids(beta)
        assert vid not in volume_ids(beta, "/volumes/detail")
    owner = client("alpha", "member")
    after = owner.get(f"/volumes/{vid}").json()["volume"]
    assert (after["name"], after["size"], after["status"]) == ("alpha-owned", 1, "available")


def test_project_in_url_must_be_the_tokens(
    keystone: KeystoneEnv, client: Client, alpha_volume: dict[str, Any]
) -> None:
    beta = keystone.project_id("beta")
    for role in ("member", "admin"):
        api = client("alpha", role, url_project=beta)
        for resp in (
            api.get("/volumes"),
            api.get(f"/volumes/{alpha_volume['id']}"),
            api.post("/volumes", json={"volume": {"size": 1, "name": "wrong-url"}}),
        ):
            VolumeApi.assert_fault(resp, 403)
    names = {v["name"] for v in client("beta", "admin").get("/volumes/detail").json()["volumes"]}
    assert "wrong-url" not in names


def test_urls_without_project_use_the_tokens(
    keystone: KeystoneEnv,
    client: Client,
    alpha_volume: dict[str, Any],
    beta_volume: dict[str, Any],
) -> None:
    alpha = client("alpha", "member", url_project="")
    listed = volume_ids(alpha, "/volumes/detail")
    assert alpha_volume["id"] in listed
    assert beta_volume["id"] not in listed
    assert alpha.get(f"/volumes/{alpha_volume['id']}").status_code == 200
    VolumeApi.assert_fault(alpha.get(f"/volumes/{beta_volume['id']}"), 404)
    created = alpha.create_volume(name="no-project-url")
    try:
        with_project = client("alpha", "member")
        assert created["id"] in volume_ids(with_project)
        assert created["id"] not in volume_ids(client("beta", "member"))
    finally:
        alpha.delete_volume(created["id"])


def test_all_tenants_is_for_admins(
    keystone: KeystoneEnv,
    client: Client,
    alpha_volume: dict[str, Any],
    beta_volume: dict[str, Any],
) -> None:
    admin = client("alpha", "admin")
    both = volume_ids(admin, "/volumes/detail", all_tenants=1)
    assert {alpha_volume["id"], beta_volume["id"]} <= both
    beta_only = admin.get(
        "/volumes/detail", params={"all_tenants": 1, "project_id": keystone.project_id("beta")}
    )
    assert beta_only.status_code == 200
    rows = beta_only.json()["volumes"]
    assert beta_volume["id"] in {v["id"] for v in rows}
    assert alpha_volume["id"] not in {v["id"] for v in rows}
    assert {v["os-vol-tenant-attr:tenant_id"] for v in rows} == {keystone.project_id("beta")}
    # Without all_tenants an admin lists its own project.
    own = volume_ids(admin, "/volumes/detail")
    assert alpha_volume["id"] in own
    assert beta_volume["id"] not in own
    # A member's all_tenants is ignored, as in Cinder.
    for role in ("member", "reader"):
        api = client("beta", role)
        listed = volume_ids(api, "/volumes/detail", all_tenants=1)
        assert beta_volume["id"] in listed
        assert alpha_volume["id"] not in listed
        listed = volume_ids(
            api,
            "/volumes/detail",
            all_tenants=1,
            project_id=keystone.project_id("alpha"),
        )
        assert alpha_volume["id"] not in listed


def test_snapshots_are_isolated(client: Client, alpha_volume: dict[str, Any]) -> None:
    member = client("alpha", "member")
    resp = member.post(
        "/snapshots", json={"snapshot": {"volume_id": alpha_volume["id"], "name": "alpha-snap"}}
    )
    assert resp.status_code == 202, resp.text
    sid = resp.json()["snapshot"]["id"]
    try:
        member.wait_for(
            lambda: member.get(f"/snapshots/{sid}").json()["snapshot"]["status"] == "available",
            "the snapshot",
        )
        reader = client("alpha", "reader")
        assert reader.get(f"/snapshots/{sid}").status_code == 200
        for role in ("member", "reader"):
            beta = client("beta", role)
            VolumeApi.assert_fault(beta.get(f"/snapshots/{sid}"), 404)
            listed = beta.get("/snapshots/detail")
            assert listed.status_code == 200
            assert sid not in {s["id"] for s in listed.json()["snapshots"]}
        beta = client("beta", "member")
        VolumeApi.assert_fault(beta.put(f"/snapshots/{sid}", json={"snapshot": {"name": "x"}}), 404)
        VolumeApi.assert_fault(beta.delete(f"/snapshots/{sid}"), 404)
        # Nor can beta snapshot alpha's volume.
        resp = beta.post("/snapshots", json={"snapshot": {"volume_id": alpha_volume["id"]}})
        VolumeApi.assert_fault(resp, 404)
        assert member.get(f"/snapshots/{sid}").json()["snapshot"]["status"] == "available"
        admin = client("beta", "admin")
        everyone = admin.get("/snapshots/detail", params={"all_tenants": 1})
        assert sid in {s["id"] for s in everyone.json()["snapshots"]}
    finally:
        assert member.delete(f"/snapshots/{sid}").status_code == 202
        member.wait_for(
            lambda: member.get(f"/snapshots/{sid}").status_code == 404, "the snapshot to go"
        )


def test_attachments_are_isolated(client: Client, keystone: KeystoneEnv) -> None:
    member = client("alpha", "member", mv=ATTACH_MV)
    volume = member.create_volume()
    vid = volume["id"]
    try:
        resp = member.post("/attachments", json={"attachment": {"volume_uuid": vid}})
        assert resp.status_code == 200, resp.text
        aid = resp.json()["attachment"]["id"]
        assert client("alpha", "reader", mv=ATTACH_MV).get(f"/attachments/{aid}").status_code == 200
        for role in ("member", "reader"):
            beta = client("beta", role, mv=ATTACH_MV)
            VolumeApi.assert_fault(beta.get(f"/attachments/{aid}"), 404)
            for path in ("/attachments", "/attachments/detail"):
                listed = beta.get(path)
                assert listed.status_code == 200, listed.text
                assert aid not in {a["id"] for a in listed.json()["attachments"]}
        beta = client("beta", "member", mv=ATTACH_MV)
        VolumeApi.assert_fault(beta.delete(f"/attachments/{aid}"), 404)
        resp = beta.post("/attachments", json={"attachment": {"volume_uuid": vid}})
        VolumeApi.assert_fault(resp, 404)
        # Reader: no attachments of its own either.
        reader = client("alpha", "reader", mv=ATTACH_MV)
        resp = reader.post("/attachments", json={"attachment": {"volume_uuid": vid}})
        VolumeApi.assert_fault(resp, 403)
        still = member.get(f"/attachments/{aid}")
        assert still.status_code == 200
        assert still.json()["attachment"]["volume_id"] == vid
        assert member.delete(f"/attachments/{aid}").status_code == 200
    finally:
        member.wait_for_volume(vid)
        member.delete_volume(vid)


def test_messages_are_isolated(client: Client) -> None:
    member = client("alpha", "member", mv=MESSAGES_MV)
    volume = member.create_volume(size=OVERSIZED_GB, wait="error")
    vid = volume["id"]
    try:

        def message_ids(api: VolumeApi) -> dict[str, str]:
            resp = api.get("/messages")
            assert resp.status_code == 200, resp.text
            return {m["id"]: m["resource_uuid"] for m in resp.json()["messages"]}

        mid = member.wait_for(
            lambda: next((m for m, r in message_ids(member).items() if r == vid), None),
            "the user message of the failed create",
        )
        reader = client("alpha", "reader", mv=MESSAGES_MV)
        assert mid in message_ids(reader)
        assert reader.get(f"/messages/{mid}").status_code == 200
        for role in ("member", "reader"):
            beta = client("beta", role, mv=MESSAGES_MV)
            assert mid not in message_ids(beta)
            VolumeApi.assert_fault(beta.get(f"/messages/{mid}"), 404)
        beta = client("beta", "member", mv=MESSAGES_MV)
        resp = beta.delete(f"/messages/{mid}")
        VolumeApi.assert_fault(resp, 404)
        assert member.get(f"/messages/{mid}").status_code == 200
    finally:
        member.delete_volume(vid)


def test_quota_sets_of_another_project(keystone: KeystoneEnv, client: Client) -> None:
    alpha, beta = keystone.project_id("alpha"), keystone.project_id("beta")
    for role in ("member", "reader"):
        api = client("alpha", role)
        own = api.get(f"/os-quota-sets/{alpha}")
        assert own.status_code == 200, own.text
        assert own.json()["quota_set"]["id"] == alpha
        for resp in (
            api.get(f"/os-quota-sets/{beta}"),
            api.get(f"/os-quota-sets/{beta}", params={"usage": "True"}),
            api.put(f"/os-quota-sets/{beta}", json={"quota_set": {"volumes": 1}}),
            api.delete(f"/os-quota-sets/{beta}"),
        ):
            VolumeApi.assert_fault(resp, 403)
    admin = client("alpha", "admin")
    theirs = admin.get(f"/os-quota-sets/{beta}")
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["quota_set"]["volumes"] == 100  # untouched by the refused PUT


# ---------------------------------------------------------------------------------------
# secrets


def test_no_token_or_password_in_firebricks_logs(
    keystone: KeystoneEnv, keystone_service: Service, client: Client
) -> None:
    # A few more requests of every outcome, so the logs have something to say.
    member = client("alpha", "member")
    member.get("/volumes")
    member.get("/os-services")
    member.get("/volumes/00000000-0000-0000-0000-000000000000")
    member.post("/volumes", content=b"{not json", headers={"Content-Type": "application/json"})
    client("alpha", token="not-a-token-" + "y" * 30).get("/volumes")
    keystone.secrets.add("not-a-token-" + "y" * 30)
    texts = firebrick_texts(keystone_service)
    assert any(texts.values()), "Firebrick logged nothing at all"
    assert_no_secrets(texts, keystone.secrets)


# ---------------------------------------------------------------------------------------
# Keystone out of reach


def test_keystone_unreachable_is_503(keystone: KeystoneEnv, start_service: Any) -> None:
    """Tokens Firebrick cannot check answer 503 (keystonemiddleware's), never 2xx or 500."""
    dead = f"http://127.0.0.1:{free_port()}/v3"
    svc = start_service(
        defaults={"auth_strategy": "keystone"},
        sections=keystone.firebrick_sections(
            auth_url=dead, www_authenticate_uri=dead, http_request_max_retries="0"
        ),
    )
    token = keystone.token("alpha", "member")
    with keystone_client(svc, token, keystone.project_id("alpha")) as api:
        api.event_hooks["response"].append(check_response(keystone.secrets))
        resp = api.get("/volumes")
        assert resp.status_code == 503, resp.text
        resp = api.post("/volumes", json={"volume": {"size": 1}})
        assert resp.status_code == 503, resp.text
    assert_no_secrets(firebrick_texts(svc), keystone.secrets)
