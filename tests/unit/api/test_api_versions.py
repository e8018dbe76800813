from __future__ import annotations

from firebrick.api.versions import versions_document


def test_versions_document() -> None:
    assert versions_document("http://cinder.example:8776") == {
        "versions": [
            {
                "id": "v3.0",
                "status": "CURRENT",
                "version": "3.71",
                "min_version": "3.0",
                "updated": "2023-08-31T00:00:00Z",
                "links": [
                    {"rel": "describedby", "type": "text/html",
                     "href": "https://docs.openstack.org/"},
                    {"rel": "self", "href": "http://cinder.example:8776/v3/"},
                ],
                "media-types": [
                    {"base": "application/json",
                     "type": "application/vnd.openstack.volume+json;version=3"}
                ],
            }
        ]
    }  # fmt: skip


def test_trailing_slash_in_base_url() -> None:
    doc = versions_document("http://h:1/")
    assert doc["versions"][0]["links"][1]["href"] == "http://h:1/v3/"


def test_tempest_required_keys() -> None:
    (entry,) = versions_document("http://h:1")["versions"]
    required = {"status", "updated", "id", "links", "min_version", "version", "media-types"}
    assert required <= set(entry)
