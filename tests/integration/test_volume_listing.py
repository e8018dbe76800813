"""Listing volumes: pagination, sorting, filters and counts (cinderclient and plain HTTP)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlparse

import pytest
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

NAMES = ["delta", "alpha", "echo", "bravo", "charlie"]


@pytest.fixture(scope="module")
def listing(service):
    """A project holding five available volumes (created in NAMES order) and one in error."""
    project = uuid.uuid4().hex
    client = service.client(project)
    volumes = []
    for i, name in enumerate(NAMES):
        group = "even" if i % 2 == 0 else "odd"
        volumes.append(client.create_volume(size=1 + i % 2, name=name, metadata={"group": group}))
    type_resp = client.post(
        "/types",
        json={
            "volume_type": {
                "name": f"nowhere-{project[:8]}",
                "extra_specs": {"volume_backend_name": "nowhere"},
            }
        },
    )
    assert type_resp.status_code == 200, type_resp.text
    broken = client.create_volume(
        name="broken", volume_type=type_resp.json()["volume_type"]["id"], wait="error"
    )
    yield {"client": client, "project": project, "volumes": volumes, "broken": broken}
    for volume in [*volumes, broken]:
        client.delete_volume(volume["id"])
    client.delete(f"/types/{type_resp.json()['volume_type']['id']}")
    client.close()


@pytest.fixture
def cinder(service, listing):
    endpoint = service.endpoint(listing["project"])
    sess = ks_session.Session(auth=token_endpoint.Token(endpoint, f"tester:{listing['project']}"))
    return cinder_client.Client("3.71", session=sess)


def all_ids(listing):
    return [v["id"] for v in listing["volumes"]] + [listing["broken"]["id"]]


def test_default_order_is_newest_first(listing):
    resp = listing["client"].get("/volumes/detail")
    assert resp.status_code == 200, resp.text
    assert [v["id"] for v in resp.json()["volumes"]] == list(reversed(all_ids(listing)))


def test_summary_list_has_only_id_name_links(listing):
    volumes = listing["client"].get("/volumes").json()["volumes"]
    assert len(volumes) == 6
    for volume in volumes:
        assert set(volume) == {"id", "name", "links"}, volume


def test_sort_by_name_with_cinderclient(cinder):
    names = [v.name for v in cinder.volumes.list(sort="name:asc")]
    assert names == sorted([*NAMES, "broken"])
    names = [v.name for v in cinder.volumes.list(sort="name:desc")]
    assert names == sorted([*NAMES, "broken"], reverse=True)


def test_sort_by_two_keys(listing):
    resp = listing["client"].get("/volumes/detail", params={"sort": "size:desc,name:asc"})
    assert resp.status_code == 200, resp.text
    got = [(v["size"], v["name"]) for v in resp.json()["volumes"]]
    assert got == sorted(got, key=lambda sn: (-sn[0], sn[1]))


def test_legacy_sort_key_and_dir(listing):
    resp = listing["client"].get("/volumes/detail", params={"sort_key": "name", "sort_dir": "asc"})
    assert resp.status_code == 200, resp.text
    assert [v["name"] for v in resp.json()["volumes"]] == sorted([*NAMES, "broken"])


def test_pagination_with_cinderclient_marker_and_limit(cinder, listing):
    expected = list(reversed(all_ids(listing)))
    seen, marker = [], None
    while True:
        page = cinder.volumes.list(limit=2, marker=marker)
        if not page:
            break
        assert len(page) <= 2
        seen += [v.id for v in page]
        marker = page[-1].id
    assert seen == expected


def test_next_links_walk_the_whole_list(listing):
    client = listing["client"]
    resp = client.get("/volumes/detail", params={"limit": 4, "sort": "name:asc"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [v["name"] for v in body["volumes"]] == ["alpha", "bravo", "broken", "charlie"]
    links = [link for link in body.get("volumes_links", []) if link["rel"] == "next"]
    assert len(links) == 1, body.get("volumes_links")
    query = parse_qs(urlparse(links[0]["href"]).query)
    assert query["marker"] == [body["volumes"][-1]["id"]]
    assert query["limit"] == ["4"]
    nxt = client.get(links[0]["href"])
    assert nxt.status_code == 200, nxt.text
    assert [v["name"] for v in nxt.json()["volumes"]] == ["delta", "echo"]
    assert not [link for link in nxt.json().get("volumes_links", []) if link["rel"] == "next"]


def test_unknown_marker_is_404(listing):
    resp = listing["client"].get("/volumes", params={"marker": str(uuid.uuid4())})
    listing["client"].assert_fault(resp, 404)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": -1},
        {"limit": "abc"},
        {"offset": -1},
        {"sort": "bogus:asc"},
        {"sort": "name:sideways"},
        {"sort": "name", "sort_key": "name"},
    ],
)
def test_bad_paging_parameters_are_400(listing, params):
    listing["client"].assert_fault(listing["client"].get("/volumes", params=params), 400)


def test_filter_by_name_with_cinderclient(cinder, listing):
    found = cinder.volumes.list(search_opts={"name": "charlie"})
    assert [v.id for v in found] == [listing["volumes"][NAMES.index("charlie")]["id"]]


def test_filter_by_status(cinder, listing):
    assert [v.id for v in cinder.volumes.list(search_opts={"status": "error"})] == [
        listing["broken"]["id"]
    ]
    available = {v.id for v in cinder.volumes.list(search_opts={"status": "available"})}
    assert available == {v["id"] for v in listing["volumes"]}
    assert cinder.volumes.list(search_opts={"status": "no-such-status"}) == []


def test_filter_by_metadata(cinder, listing):
    found = {v.id for v in cinder.volumes.list(search_opts={"metadata": {"group": "odd"}})}
    assert found == {listing["volumes"][1]["id"], listing["volumes"][3]["id"]}
    assert cinder.volumes.list(search_opts={"metadata": {"group": "none"}}) == []


def test_like_filter_at_3_34(listing):
    client = listing["client"]
    resp = client.get("/volumes", params={"name~": "ha"}, headers=client.mv("3.34"))
    assert resp.status_code == 200, resp.text
    assert sorted(v["name"] for v in resp.json()["volumes"]) == ["alpha", "charlie"]


def test_with_count_at_3_45(cinder, listing):
    client = listing["client"]
    resp = client.get(
        "/volumes", params={"with_count": "true", "limit": 2}, headers=client.mv("3.45")
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["count"] == 6
    assert len(resp.json()["volumes"]) == 2
    resp = client.get(
        "/volumes/detail",
        params={"with_count": "true", "status": "available"},
        headers=client.mv("3.45"),
    )
    assert resp.json()["count"] == 5
    volumes, count = cinder.volumes.list(search_opts={"with_count": True, "name": "alpha"})
    assert count == 1
    assert [v.name for v in volumes] == ["alpha"]


def test_count_absent_without_with_count(listing):
    resp = listing["client"].get("/volumes", headers=listing["client"].mv("3.45"))
    assert "count" not in resp.json()


def test_summary_at_3_12(listing):
    client = listing["client"]
    resp = client.get("/volumes/summary", headers=client.mv("3.36"))
    assert resp.status_code == 200, resp.text
    summary = resp.json()["volume-summary"]
    assert summary["total_count"] == 6
    assert summary["total_size"] == sum(v["size"] for v in listing["volumes"]) + 1
    assert sorted(summary["metadata"]["group"]) == ["even", "odd"]


def test_show_of_missing_volume_with_cinderclient(cinder):
    with pytest.raises(cinder_exceptions.NotFound):
        cinder.volumes.get(str(uuid.uuid4()))
