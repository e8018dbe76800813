"""Volume type encryption: its errors, the spec record, and the key a volume of an
encrypted type gets (Cinder's ``create_encryption_key``). No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from firebrick.domain.errors import Invalid, NotFound

CONTROL_LOCATIONS: Final = ("front-end", "back-end")
DB_MAX_INT: Final = 2**31 - 1
DEFAULT_KEY_BITS: Final = 256
MAX_KEY_BITS: Final = 8192


class VolumeTypeEncryptionExists(Invalid):
    def __init__(self, type_id: str) -> None:
        super().__init__(f"Volume type encryption for type {type_id} already exists.")


class VolumeTypeEncryptionNotFound(NotFound):
    def __init__(self, type_id: str) -> None:
        super().__init__(f"Volume type encryption for type {type_id} does not exist.")


class EncryptedTypeInUse(Invalid):
    """Create, update and delete of a type's encryption need the type to have no volume."""

    def __init__(self, verb: str) -> None:
        super().__init__(f"Cannot {verb} encryption specs. Volume type in use.")


@dataclass(frozen=True)
class Encryption:
    volume_type_id: str
    encryption_id: str
    created_at: datetime
    provider: str | None = None
    cipher: str | None = None
    key_size: int | None = None
    control_location: str | None = None
    updated_at: datetime | None = None

    def spec(self) -> tuple[object, ...]:
        """What makes two encryptions the same for the data (not the ids or dates)."""
        return (self.provider, self.cipher, self.key_size, self.control_location)


def key_bits(encryption: Encryption) -> int:
    """The length of a new volume's key: the type's ``key_size``, else 256 bits.

    A length a key manager could not make (not a positive multiple of 8, or over 8192)
    fails the create as Cinder's does when Barbican refuses it.
    """
    bits = encryption.key_size if encryption.key_size else DEFAULT_KEY_BITS
    if bits % 8 or not 0 < bits <= MAX_KEY_BITS:
        raise Invalid("Key manager error")
    return bits


def key_algorithm(encryption: Encryption) -> str:
    """Cinder asks its key manager for a key of the cipher's algorithm (``aes`` of
    ``aes-xts-plain64``); a type without a cipher cannot have volumes."""
    if not encryption.cipher:
        raise Invalid("Invalid encryption spec")
    return encryption.cipher.split("-")[0]
