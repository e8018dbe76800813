"""What can go wrong with an image, as Cinder names it; messages are safe to show."""

from __future__ import annotations

from firebrick.domain.errors import FirebrickError, Invalid, NotFound

# User message event ids (VOLUME_<resource>_<action>_<detail>), Cinder's numbers.
COPY_IMAGE_TO_VOLUME_FAILED = "VOLUME_VOLUME_005_001"
COPY_IMAGE_NO_SPACE = "VOLUME_VOLUME_005_007"
UPLOAD_FAILED = "VOLUME_VOLUME_003_004"


class ImageError(Invalid):
    """An image that no backend can make a volume of: never rescheduled."""

    event_id = COPY_IMAGE_TO_VOLUME_FAILED


class ImageNotFound(ImageError):
    def __init__(self, image_id: str) -> None:
        super().__init__(f"Image {image_id} could not be found.")


class ImageUnacceptable(ImageError):
    def __init__(self, image_id: str, reason: str) -> None:
        super().__init__(f"Image {image_id} is unacceptable: {reason}")


class ImageTooBig(ImageError):
    event_id = COPY_IMAGE_NO_SPACE

    def __init__(self, image_id: str, reason: str) -> None:
        super().__init__(f"Image {image_id} size exceeded available disk space: {reason}")


class GlanceUnavailable(FirebrickError):
    """Glance did not answer, or answered with a server error (HTTP 503 to the caller)."""

    code = 503


class GlanceRefused(Invalid):
    """Glance refused a request with a 4xx the caller can fix (HTTP 400 to the caller)."""


class GlanceMetadataNotFound(NotFound):
    def __init__(self, volume_id: str) -> None:
        super().__init__(f"Glance metadata for volume/snapshot {volume_id} cannot be found.")
