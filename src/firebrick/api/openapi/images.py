"""The image actions of ``POST /volumes/{volume_id}/action`` (request bodies)."""

from __future__ import annotations

from typing import Any, Final

from firebrick.api.openapi.schemas import BOOLEAN, Schema, obj
from firebrick.image.image_utils import UPLOAD_DISK_FORMATS

_KEY: Final[Schema] = {"type": "string", "minLength": 1, "maxLength": 255}

IMAGE_VOLUME_ACTIONS: Final[dict[str, Schema]] = {
    "os-volume_upload_image": obj(
        {"image_name": _KEY, "force": BOOLEAN, "disk_format": {"enum": list(UPLOAD_DISK_FORMATS)},
         "container_format": {"enum": ["bare"]},
         "visibility": {"enum": ["community", "public", "private", "shared"],
                        "description": "From microversion 3.1."},
         "protected": {**BOOLEAN, "description": "From microversion 3.1."}},
        ("image_name",), additional=False,
    ),
    "os-set_image_metadata": obj(
        {"metadata": {"type": "object", "additionalProperties": {"type": "string",
                                                                 "maxLength": 255}}},
        ("metadata",), additional=False,
    ),
    "os-unset_image_metadata": obj({"key": _KEY}, ("key",), additional=False),
    "os-show_image_metadata": {"type": ["object", "null"], "maxProperties": 0},
}  # fmt: skip

IMAGE_ACTION_EXAMPLES: Final[dict[str, Any]] = {
    "os-show_image_metadata": {},
    "os-set_image_metadata": {"metadata": {"os_distro": "debian"}},
}
