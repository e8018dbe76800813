"""Version discovery, microversion negotiation and fault bodies, over plain HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

VERSION_KEYS = {"id", "status", "version", "min_version", "updated", "links", "media-types"}


def check_versions_document(body, base_url):
    versions = body["versions"]
    assert len(versions) == 1, body
    v3 = versions[0]
    assert set(v3) >= VERSION_KEYS, body
    assert v3["id"] == "v3.0"
    assert v3["status"] == "CURRENT"
    assert v3["version"] == "3.71"
    assert v3["min_version"] == "3.0"
    assert v3["updated"] == "2023-08-31T00:00:00Z"
    self_links = [link["href"] for link in v3["links"] if link.get("rel") == "self"]
    assert self_links == [f"{base_url}/v3/"], v3["links"]
    assert {
        "base": "application/json",
        "type": "application/vnd.openstack.volume+json;version=3",
    } in v3["media-types"]


def test_root_lists_versions_with_300(service):
    resp = httpx.get(service.base_url + "/")
    assert resp.status_code == 300, resp.text
    check_versions_document(resp.json(), service.base_url)


def test_v3_root_lists_versions_with_200(service, project):
    resp = httpx.get(service.base_url + "/v3/", headers={"X-Auth-Token": f"u:{project}"})
    assert resp.status_code == 200, resp.text
    check_versions_document(resp.json(), service.base_url)


def test_v3_without_slash_reaches_the_versions_document(service):
    # openstacksdk discovers versions with GET /v3 (no slash); Cinder redirects it.
    resp = httpx.get(service.base_url + "/v3", follow_redirects=True)
    assert resp.status_code == 200, resp.text
    check_versions_document(resp.json(), service.base_url)


def test_no_header_means_3_0_and_is_echoed(api):
    resp = api.get("/volumes")
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("OpenStack-API-Version") == "volume 3.0"
    assert "OpenStack-API-Version" in resp.headers.get("Vary", "")


@pytest.mark.parametrize("version", ["3.0", "3.27", "3.50", "3.71"])
def test_requested_version_is_echoed_with_vary(api, version):
    resp = api.get("/volumes", headers=api.mv(version))
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("OpenStack-API-Version") == f"volume {version}"
    assert "OpenStack-API-Version" in resp.headers.get("Vary", "")


def test_header_name_is_case_insensitive(api):
    resp = api.get("/volumes", headers={"openstack-api-version": "volume 3.42"})
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("OpenStack-API-Version") == "volume 3.42"


def test_latest_is_the_maximum(api):
    resp = api.get("/volumes", headers=api.mv("latest"))
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("OpenStack-API-Version") == "volume 3.71"


def test_version_is_echoed_on_errors(api):
    resp = api.get(f"/volumes/{uuid.uuid4()}", headers=api.mv("3.50"))
    message = api.assert_fault(resp, 404)
    assert "could not be found" in message
    assert resp.headers.get("OpenStack-API-Version") == "volume 3.50"
    assert "OpenStack-API-Version" in resp.headers.get("Vary", "")


@pytest.mark.parametrize("version", ["3.72", "3.99", "4.0", "2.0"])
def test_unsupported_version_is_406_compute_fault(api, version):
    resp = api.get("/volumes", headers=api.mv(version))
    message = api.assert_fault(resp, 406)
    assert version in message
    assert "3.71" in message


@pytest.mark.parametrize(
    "header", ["volume foo", "volume 3", "volume 3.x", "volume 3.01", "volume -3.5"]
)
def test_malformed_version_is_400(api, header):
    resp = api.get("/volumes", headers={"OpenStack-API-Version": header})
    api.assert_fault(resp, 400)


def test_header_without_volume_entry_is_400(api):
    resp = api.get("/volumes", headers={"OpenStack-API-Version": "compute 2.1"})
    api.assert_fault(resp, 400)


def test_unknown_route_is_404_item_not_found(api):
    api.assert_fault(api.get("/no-such-resource"), 404)


def test_request_id_headers(api):
    resp = api.get("/volumes")
    request_id = resp.headers.get("x-openstack-request-id", "")
    assert request_id.startswith("req-"), resp.headers
    uuid.UUID(request_id[4:])


def test_routes_with_and_without_project_id(service, project):
    with service.client(project) as with_project:
        volume = with_project.create_volume(name="routed")
    with service.client(project, microversion="3.67", with_project_in_url=False) as bare:
        listed = bare.get("/volumes")
        assert listed.status_code == 200, listed.text
        assert [v["id"] for v in listed.json()["volumes"]] == [volume["id"]]
        shown = bare.get(f"/volumes/{volume['id']}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["volume"]["name"] == "routed"
        # Links carry the project id only if the request URL did.
        for link in shown.json()["volume"]["links"]:
            assert f"/{project}/" not in link["href"], link
    with service.client(project) as with_project:
        for link in with_project.get(f"/volumes/{volume['id']}").json()["volume"]["links"]:
            assert f"/{project}/volumes/{volume['id']}" in link["href"], link
        with_project.delete_volume(volume["id"])


def test_project_in_url_must_match_token(service, project):
    other = uuid.uuid4().hex
    resp = httpx.get(
        f"{service.base_url}/v3/{other}/volumes", headers={"X-Auth-Token": f"u:{project}"}
    )
    assert resp.status_code == 400, resp.text
    assert "Malformed request url" in resp.json()["badRequest"]["message"]


def test_no_token_uses_the_project_from_the_url(service, project):
    with service.client(project) as client:
        volume = client.create_volume()
    resp = httpx.get(f"{service.base_url}/v3/{project}/volumes")
    assert resp.status_code == 200, resp.text
    assert [v["id"] for v in resp.json()["volumes"]] == [volume["id"]]
    with service.client(project) as client:
        client.delete_volume(volume["id"])
