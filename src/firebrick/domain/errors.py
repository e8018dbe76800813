"""Errors the domain raises; the API maps each kind to Cinder's HTTP fault."""

from __future__ import annotations


class FirebrickError(Exception):
    """Base of every error Firebrick raises on purpose; ``message`` is safe to show."""

    code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(FirebrickError):
    """The request cannot be carried out as asked (HTTP 400)."""

    code = 400


class InvalidInput(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid input received: {reason}")


class InvalidVolume(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid volume: {reason}")


class InvalidSnapshot(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid snapshot: {reason}")


class InvalidAvailabilityZone(Invalid):
    def __init__(self, az: str) -> None:
        super().__init__(f"Availability zone '{az}' is invalid.")


class Forbidden(FirebrickError):
    """Policy does not allow the caller to do this (HTTP 403)."""

    code = 403


class NotFound(FirebrickError):
    """The resource does not exist or is not visible to the caller (HTTP 404)."""

    code = 404


class VolumeNotFound(NotFound):
    def __init__(self, volume_id: str) -> None:
        super().__init__(f"Volume {volume_id} could not be found.")
        self.volume_id = volume_id


class VolumeTypeNotFound(NotFound):
    def __init__(self, type_id: str) -> None:
        super().__init__(f"Volume type {type_id} could not be found.")


class VolumeTypeNotFoundByName(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"Volume type with name {name} could not be found.")


class SnapshotNotFound(NotFound):
    def __init__(self, snapshot_id: str) -> None:
        super().__init__(f"Snapshot {snapshot_id} could not be found.")


class MarkerNotFound(NotFound):
    def __init__(self, marker: str) -> None:
        super().__init__(f"Marker {marker} could not be found.")


class Conflict(FirebrickError):
    """The request conflicts with the resource's current state (HTTP 409)."""

    code = 409


class QuotaExceeded(FirebrickError):
    """Over quota (HTTP 413); the message names the quota class as Cinder does."""

    code = 413


class VolumeLimitExceeded(QuotaExceeded):
    def __init__(self, allowed: int, name: str = "volumes") -> None:
        super().__init__(
            f"VolumeLimitExceeded: Maximum number of volumes allowed ({allowed}) "
            f"exceeded for quota '{name}'."
        )


class VolumeSizeExceedsAvailableQuota(QuotaExceeded):
    def __init__(self, requested: int, consumed: int, quota: int, name: str = "gigabytes") -> None:
        super().__init__(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"{name} quota. Requested {requested}G, quota is {quota}G and {consumed}G has "
            "been consumed."
        )


class VolumeSizeExceedsLimit(QuotaExceeded):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum "
            f"allowed limit {limit}G."
        )


class NoValidBackend(FirebrickError):
    """No pool can take the request; ``reasons`` says why each pool was rejected."""

    def __init__(self, message: str, reasons: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reasons = dict(reasons or {})


class DriverError(FirebrickError):
    """The backend failed an operation; rescheduling to another backend may help."""


class DriverNotInitialized(DriverError):
    def __init__(self, backend: str) -> None:
        super().__init__(f"Volume driver of backend {backend} is not initialized.")
