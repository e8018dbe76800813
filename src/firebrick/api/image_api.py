"""The api role's side of images: the checks of a create from an image, upload to an
image (``os-volume_upload_image``) and the volume image metadata actions.

Glance is asked with the caller's token when there is one (``auth_strategy = keystone``):
Glance then decides what the caller may see, and the images the caller uploads are the
caller's. Otherwise (noauth) the service user's token, or none, is used, and the owner and
visibility of the image are checked here for callers that are not admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from firebrick.api.microversion import APIVersion
from firebrick.api.views.volumes import timestamp
from firebrick.context import RequestContext
from firebrick.db import images as images_db
from firebrick.db import types, volumes
from firebrick.db.engine import Database
from firebrick.domain import statuses
from firebrick.domain.errors import Invalid, InvalidInput, InvalidVolume
from firebrick.domain.model import Volume
from firebrick.image import glance as glance_api
from firebrick.image import image_utils
from firebrick.image.access import GlanceAccess
from firebrick.image.errors import GlanceMetadataNotFound, GlanceUnavailable, ImageNotFound
from firebrick.image.glance import GlanceClient
from firebrick.policy import authorize
from firebrick.rpc.bus import Bus, cast_or_defer, volume_topic

GiB = 1 << 30
UPLOAD_PARAMS = APIVersion(3, 1)
UPLOAD_PUBLIC_RULE = "volume_extension:volume_actions:upload_public"
BAD_IMAGE = "Invalid image identifier or unable to access requested image."
# Cinder's glance_core_properties: not copied from a volume's image metadata to an upload.
CORE_PROPERTIES = frozenset({"checksum", "container_format", "disk_format", "image_name",
                             "image_id", "min_disk", "min_ram", "name", "size"})  # fmt: skip
# Copied from an image into the volume's image metadata (Cinder's IMAGE_ATTRIBUTES).
IMAGE_ATTRIBUTES = ("checksum", "container_format", "disk_format", "min_disk", "min_ram", "size")
# What the volume service is told of the image (firebrick.volume.images).
SPEC_KEYS = ("id", "status", "updated_at", "checksum", "os_hash_algo", "os_hash_value",
             "disk_format", "container_format", "size", "virtual_size")  # fmt: skip
UPLOAD_KEYS = frozenset({"image_name", "force", "disk_format", "container_format"})
VISIBILITIES = ("community", "public", "private", "shared")
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}


def _strict_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput(f"{name} must be a boolean, not {value!r}.")


def volume_image_metadata(image: Mapping[str, Any]) -> dict[str, str]:
    """What a volume keeps of its image: properties, then Cinder's base attributes."""
    found = dict(glance_api.properties(dict(image)))
    found["image_id"] = str(image["id"])
    if image.get("name"):
        found["image_name"] = str(image["name"])
    for key in IMAGE_ATTRIBUTES:
        if image.get(key) is not None:
            found[key] = str(image[key])
    return found


def check_image_metadata(image: Mapping[str, Any], size: int) -> None:
    """Cinder's check_image_metadata: active, and its sizes fit ``size`` GiB."""
    if image.get("status") != "active":
        raise InvalidInput(f"Image {image['id']} is not active.")
    image_gb = (int(image.get("size") or 0) + GiB - 1) // GiB
    if image_gb > size:
        raise InvalidInput(
            f"Size of specified image {image_gb}GB is larger than volume size {size}GB."
        )
    min_disk = int(image.get("min_disk") or 0)
    if size < min_disk:
        raise InvalidInput(
            f"Volume size {size}GB cannot be smaller than the image minDisk size {min_disk}GB."
        )
    if image.get("virtual_size"):
        virtual_gb = (int(image["virtual_size"]) + GiB - 1) // GiB
        if virtual_gb > size:
            raise InvalidInput(
                f"Image {image['id']} is unacceptable: Image virtual size is {virtual_gb}GB "
                f"and doesn't fit in a volume of size {size}GB."
            )


@dataclass
class ImageAPI:
    db: Database
    bus: Bus
    glance: GlanceAccess
    user_token: str | None
    catalog_endpoint: str | None
    enable_force_upload: bool = False

    @classmethod
    def of(cls, request: Request) -> ImageAPI:
        keystone = request.app.state.auth_strategy == "keystone"
        identity = getattr(request.state, "identity", None)
        return cls(
            db=request.app.state.db,
            bus=request.app.state.bus,
            glance=request.app.state.glance,
            user_token=request.headers.get("x-auth-token") if keystone else None,
            catalog_endpoint=getattr(identity, "image_endpoint", None),
            enable_force_upload=request.app.state.enable_force_upload,
        )

    def client(self) -> GlanceClient:
        return self.glance.for_user(self.user_token, self.catalog_endpoint)

    @staticmethod
    def _refused(exc: GlanceUnavailable) -> Invalid:
        """Cinder answers 400 when it cannot reach Glance for a request: so does this."""
        return Invalid(exc.message)

    # Create from an image -------------------------------------------------------------

    def _visible(self, client: GlanceClient, ctx: RequestContext, image: dict[str, Any]) -> bool:
        if self.user_token or ctx.is_admin:
            return True  # Glance answered for the caller itself / admins see every image
        if image.get("visibility") in ("public", "community") or image.get("owner") == (
            ctx.project_id
        ):
            return True
        return image.get("visibility") == "shared" and client.is_member(
            str(image["id"]), ctx.project_id
        )

    def _find(self, client: GlanceClient, image_ref: str) -> dict[str, Any]:
        try:
            image_ref = str(uuid.UUID(image_ref))  # canonical: nothing else reaches the URL
        except ValueError:
            matches = client.find_by_name(image_ref)
            if len(matches) > 1:
                raise InvalidInput(
                    f"Multiple matches found for '{image_ref}', use an ID to be more specific."
                ) from None
            if not matches:
                raise InvalidInput(BAD_IMAGE) from None
            image_ref = str(matches[0]["id"])
        return client.show(image_ref)

    def for_create(
        self, ctx: RequestContext, image_ref: str, size: int | None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Check the image a volume is to be made from: what the volume will keep of it, and
        what the volume service needs to know (so that it need not ask Glance again)."""
        try:
            client = self.client()
            image = self._find(client, image_ref)
        except ImageNotFound:
            raise InvalidInput(BAD_IMAGE) from None
        except GlanceUnavailable as exc:
            raise self._refused(exc) from None
        if not self._visible(client, ctx, image):
            raise InvalidInput(BAD_IMAGE)
        if size is None:
            raise InvalidInput("Volume size 'None' must be an integer and greater than 0")
        check_image_metadata(image, size)
        return volume_image_metadata(image), {k: image.get(k) for k in SPEC_KEYS}

    # Upload to an image ---------------------------------------------------------------

    def _upload_params(self, body: object, version: APIVersion) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid("Invalid input for field/attribute os-volume_upload_image.")
        allowed = UPLOAD_KEYS | ({"visibility", "protected"} if version >= UPLOAD_PARAMS
                                 else set())  # fmt: skip
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise Invalid(f"Additional properties are not allowed ({', '.join(unknown)} "
                          "were unexpected)")  # fmt: skip
        name = body.get("image_name")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise Invalid("Invalid input for field/attribute image_name: it is required, a "
                          "string of 1 to 255 characters.")  # fmt: skip
        disk_format = body.get("disk_format", "raw")
        if disk_format not in image_utils.UPLOAD_DISK_FORMATS:
            raise Invalid(f"Invalid input for field/attribute disk_format: {disk_format!r} is "
                          f"not one of {', '.join(image_utils.UPLOAD_DISK_FORMATS)}.")  # fmt: skip
        container_format = body.get("container_format", "bare")
        if container_format != "bare":
            raise Invalid(f"Invalid input for field/attribute container_format: "
                          f"{container_format!r}; only 'bare' is supported.")  # fmt: skip
        params: dict[str, Any] = {
            "name": name, "disk_format": disk_format, "container_format": container_format,
            "force": _strict_bool("force", body.get("force", False)),
        }  # fmt: skip
        if version >= UPLOAD_PARAMS:
            visibility = body.get("visibility", "private")
            if visibility not in VISIBILITIES:
                raise Invalid(f"Invalid input for field/attribute visibility: {visibility!r}.")
            params["visibility"] = visibility
            params["protected"] = _strict_bool("protected", body.get("protected", False))
        return params

    def upload(
        self, ctx: RequestContext, volume_id: str, body: object, version: APIVersion
    ) -> dict[str, Any]:
        params = self._upload_params(body, version)
        if params.get("visibility") == "public":
            authorize(ctx, UPLOAD_PUBLIC_RULE)
        force = params.pop("force") and self.enable_force_upload
        allowed = [statuses.AVAILABLE, statuses.IN_USE] if force else [statuses.AVAILABLE]
        with self.db.write() as conn:
            volume = volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)
            moved = volumes.update(
                conn, volume_id, {"status": "uploading", "previous_status": volume.status},
                expected={"status": allowed},
            )  # fmt: skip
            if not moved:
                raise InvalidVolume(f"Volume {volume_id} status must be {' or '.join(allowed)}")
            keep = images_db.of_volume(conn, volume_id)
            volume_type = types.get(conn, volume.volume_type_id) if volume.volume_type_id else None
        meta = {k: v for k, v in keep.items()
                if k not in CORE_PROPERTIES and not k.startswith("os_glance")}  # fmt: skip
        meta.update(params)
        if not self.user_token and self.glance.acts_as_service:
            meta["owner"] = ctx.project_id  # the service user creates it for the caller
        try:
            image = self.client().create(meta)
        except GlanceUnavailable as exc:
            self._undo_uploading(volume)
            raise self._refused(exc) from None
        except Exception:
            self._undo_uploading(volume)
            raise
        assert volume.host is not None
        cast_or_defer(self.bus, volume_topic(volume.host.split("#", 1)[0]),
                      "copy_volume_to_image",
                      {"volume_id": volume_id, "image_id": image["id"],
                       "disk_format": params["disk_format"]})  # fmt: skip
        return _upload_view(volume, volume_type, image)

    def _undo_uploading(self, volume: Volume) -> None:
        with self.db.write() as conn:
            volumes.update(conn, volume.id, {"status": volume.status, "previous_status": None},
                           expected={"status": "uploading"})  # fmt: skip

    # Image metadata -------------------------------------------------------------------

    def _volume(self, conn: Any, ctx: RequestContext, volume_id: str) -> Volume:
        return volumes.get(conn, volume_id, None if ctx.is_admin else ctx.project_id)

    def set_metadata(self, ctx: RequestContext, volume_id: str, body: object) -> dict[str, str]:
        items = body.get("metadata") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) != {"metadata"} or not isinstance(items, dict):
            raise Invalid("Malformed request body.")
        for key, value in items.items():
            if not isinstance(key, str) or not 1 <= len(key) <= 255:
                raise InvalidInput("Metadata property key must be 1 to 255 characters long.")
            if not isinstance(value, str) or len(value) > 255:
                raise InvalidInput("Metadata property value must be a string of at most 255 "
                                   "characters.")  # fmt: skip
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            if volume.status in (statuses.MAINTENANCE, "uploading"):
                raise InvalidVolume("Updating volume metadata is not allowed for volumes in "
                                    f"{volume.status} status.")  # fmt: skip
            images_db.set_metadata(conn, volume_id, items)
            return images_db.of_volume(conn, volume_id)

    def unset_metadata(self, ctx: RequestContext, volume_id: str, body: object) -> None:
        key = body.get("key") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or set(body) != {"key"}
            or not isinstance(key, str)
            or (not 1 <= len(key) <= 255)
        ):
            raise Invalid("Malformed request body.")
        with self.db.write() as conn:
            volume = self._volume(conn, ctx, volume_id)
            if volume.status in (statuses.MAINTENANCE, "uploading"):
                raise InvalidVolume("Updating volume metadata is not allowed for volumes in "
                                    f"{volume.status} status.")  # fmt: skip
            if not images_db.delete_key(conn, volume_id, key):
                raise GlanceMetadataNotFound(volume_id)

    def show_metadata(self, ctx: RequestContext, volume_id: str, body: object) -> dict[str, str]:
        if body is not None and body != {}:
            raise Invalid("Malformed request body.")
        with self.db.read() as conn:
            self._volume(conn, ctx, volume_id)
            return images_db.of_volume(conn, volume_id)


def _upload_view(volume: Volume, volume_type: Any, image: Mapping[str, Any]) -> dict[str, Any]:
    """Cinder's answer to os-volume_upload_image."""
    shown_type = None
    if volume_type is not None:
        shown_type = {
            "id": volume_type.id, "name": volume_type.name,
            "description": volume_type.description, "is_public": volume_type.is_public,
            "extra_specs": dict(volume_type.extra_specs),
            "qos_specs_id": volume_type.qos_specs_id, "deleted": False, "deleted_at": None,
            "created_at": None, "updated_at": None,
        }  # fmt: skip
    body: dict[str, Any] = {
        "id": volume.id,
        "updated_at": timestamp(volume.updated_at),
        "status": "uploading",
        "display_description": volume.description,
        "size": volume.size,
        "volume_type": shown_type,
        "image_id": image["id"],
        "container_format": image.get("container_format"),
        "disk_format": image.get("disk_format"),
        "image_name": image.get("name"),
    }
    if "protected" in image:
        body["protected"] = image["protected"]
    if "visibility" in image:
        body["visibility"] = image["visibility"]
    return {"os-volume_upload_image": body}
