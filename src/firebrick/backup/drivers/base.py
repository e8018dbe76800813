"""What the chunked format needs of a store: named objects in containers, streamed."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol


class ObjectMissing(Exception):
    """The store has no such object (a backup that is incomplete or was removed)."""


class ObjectWriter(Protocol):
    def write(self, data: bytes | memoryview) -> object: ...


class ObjectStore(Protocol):
    """A backup store; every object appears whole or not at all."""

    def check(self) -> None:
        """Raise if the store cannot be used (Cinder's ``check_for_setup_error``)."""

    def default_container(self, backup_id: str) -> str:
        """The container a backup created without one goes to."""

    def check_container(self, container: str) -> None:
        """Raise ValueError when ``container`` is not a name this store accepts."""

    def writer(
        self, container: str, name: str, *, durable: bool = True
    ) -> AbstractContextManager[ObjectWriter]:
        """A new object, published when the block ends without an error; durable then too,
        or (``durable=False``) only once ``sync`` has named it."""

    def sync(self, container: str, names: list[str]) -> None:
        """Make objects written with ``durable=False`` durable (and their names)."""

    def reader(self, container: str, name: str) -> AbstractContextManager[BinaryIO]:
        """An object's bytes; ObjectMissing when there is no such object."""

    def delete(self, container: str, name: str) -> None:
        """Remove an object; one that is already gone is not an error."""

    def names(self, container: str, prefix: str) -> list[str]:
        """Names of the container's objects that start with ``prefix``."""

    def discard(self, container: str, backup_id: str) -> None:
        """Remove what an interrupted write of this backup may have left behind."""
