"""Volume transfers: the record, its one-time key, and the quota a transfer moves.

A transfer offers a volume (and, unless ``no_snapshots``, its snapshots) to whoever
presents its ``auth_key``. The key is shown once, when the transfer is made; only a salted
HMAC of it is kept, and a presented key is compared with it in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from firebrick.domain import quota
from firebrick.domain.errors import Invalid, NotFound

# Cinder's volume_transfer_key_length: 16 hex characters, typed by people.
AUTH_KEY_LENGTH = 16
SALT_BYTES = 16


class TransferNotFound(NotFound):
    def __init__(self, transfer_id: str) -> None:
        super().__init__(f"Transfer {transfer_id} could not be found.")


class InvalidAuthKey(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid auth key: {reason}")


@dataclass(frozen=True)
class Transfer:
    id: str
    volume_id: str
    name: str | None
    created_at: datetime
    no_snapshots: bool = False
    source_project_id: str | None = None
    destination_project_id: str | None = None
    accepted: bool = False


@dataclass(frozen=True)
class Secret:
    """What is stored of a key: the salt and the HMAC-SHA256 of the key under it."""

    salt: str
    crypt_hash: str


def new_auth_key() -> str:
    return secrets.token_hex(AUTH_KEY_LENGTH // 2)


def seal(auth_key: str) -> Secret:
    salt = secrets.token_hex(SALT_BYTES)
    return Secret(salt=salt, crypt_hash=_digest(salt, auth_key))


def opens(secret: Secret, presented: str) -> bool:
    """Whether ``presented`` is the key ``secret`` was sealed from (constant time)."""
    return hmac.compare_digest(_digest(secret.salt, presented), secret.crypt_hash)


def _digest(salt: str, auth_key: str) -> str:
    return hmac.new(salt.encode(), auth_key.encode(), hashlib.sha256).hexdigest()


def volume_deltas(size: int, type_name: str | None) -> dict[str, int]:
    """The usage the volume itself moves: ``volumes``, ``gigabytes`` and their per-type twins."""
    return quota.volume_deltas(size, type_name)


def snapshot_deltas(sizes: Iterable[int], type_name: str | None) -> dict[str, int]:
    """The usage the volume's snapshots of these sizes move (each counts its size, as Cinder)."""
    total: dict[str, int] = {}
    for size in sizes:
        for resource, delta in quota.snapshot_deltas(size, type_name).items():
            total[resource] = total.get(resource, 0) + delta
    return total


def negated(deltas: Mapping[str, int]) -> dict[str, int]:
    return {resource: -delta for resource, delta in deltas.items()}


def plus(usage: Mapping[str, int], deltas: Mapping[str, int]) -> dict[str, int]:
    """``usage`` as it would be with ``deltas`` added."""
    combined = dict(usage)
    for resource, delta in deltas.items():
        combined[resource] = combined.get(resource, 0) + delta
    return combined
