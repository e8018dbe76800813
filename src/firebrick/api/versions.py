"""The versions document served at ``/`` (300) and ``/v3/`` (200)."""

from __future__ import annotations

from typing import Any, Final

from firebrick.api import microversion

UPDATED: Final = "2023-08-31T00:00:00Z"
DOCS_URL: Final = "https://docs.openstack.org/"
MEDIA_TYPE: Final = "application/vnd.openstack.volume+json;version=3"


def versions_document(base_url: str) -> dict[str, Any]:
    """The single v3.0 entry; ``base_url`` is ``scheme://host:port`` (public endpoint)."""
    return {
        "versions": [
            {
                "id": "v3.0",
                "status": "CURRENT",
                "version": str(microversion.MAX),
                "min_version": str(microversion.MIN),
                "updated": UPDATED,
                "links": [
                    {"rel": "describedby", "type": "text/html", "href": DOCS_URL},
                    {"rel": "self", "href": f"{base_url.rstrip('/')}/v3/"},
                ],
                "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
            }
        ]
    }
