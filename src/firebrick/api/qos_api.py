"""The api role's side of QoS specs (Cinder's ``qos_specs_manage`` controller and
``cinder/volume/qos_specs.py``): validate, record, notify.

Every call emits Cinder's notification (publisher ``QoSSpecs.<host>``): ``qos_specs.create``,
``.update``, ``.delete``, ``.delete_keys``, ``.associations``, ``.associate``,
``.disassociate``, ``.disassociate_all``; a call refused for a missing or invalid resource
emits the same event type at ERROR priority with the error message, as Cinder does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from firebrick.api.views.volumes import timestamp
from firebrick.db import qos
from firebrick.db.engine import Database
from firebrick.db.volumes import now
from firebrick.domain.errors import FirebrickError, Invalid
from firebrick.domain.qos import (
    DEFAULT_CONSUMER,
    QosSpecs,
    QoSSpecsExists,
    QoSSpecsInUse,
    split_consumer,
)
from firebrick.notifier import Notifier

PUBLISHER = "QoSSpecs"
T = TypeVar("T")


class InvalidVolumeType(Invalid):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid volume type: {reason}")


@dataclass
class QosSpecsAPI:
    db: Database
    notifier: Notifier
    host: str

    # -- notifications -----------------------------------------------------------------

    def _info(self, event: str, payload: dict[str, Any]) -> None:
        self.notifier.emit(f"{PUBLISHER}.{self.host}", event, payload)

    @contextmanager
    def _notifying_errors(self, event: str, subject: Mapping[str, str]) -> Iterator[None]:
        """A refusal of the operation becomes an ERROR notification of its event type."""
        try:
            yield
        except FirebrickError as exc:
            payload = {**subject, "error_message": exc.message}
            self.notifier.emit(f"{PUBLISHER}.{self.host}", event, payload, priority="ERROR")
            raise

    def _write(self, event: str, specs_id: str, work: Callable[[Connection], T]) -> T:
        with self._notifying_errors(event, {"id": specs_id}), self.db.write() as conn:
            return work(conn)

    # -- reading -----------------------------------------------------------------------

    def get(self, specs_id: str) -> QosSpecs:
        with self.db.read() as conn:
            return qos.get(conn, specs_id)

    def list_specs(
        self,
        *,
        filters: Mapping[str, str],
        sort: Sequence[tuple[str, str]],
        limit: int,
        marker: str | None,
        offset: int,
    ) -> list[QosSpecs]:
        with self.db.read() as conn:
            return qos.list_specs(
                conn, filters=filters, sort=sort, limit=limit, marker=marker, offset=offset
            )

    def associations(self, specs_id: str) -> list[tuple[str, str]]:
        subject = {"id": specs_id}
        with self._notifying_errors("qos_specs.associations", subject), self.db.read() as conn:
            found = qos.get(conn, specs_id)
            pairs = qos.associations(conn, specs_id)
        self._info("qos_specs.associations", {"id": specs_id, "created_at": _at(found)})
        return pairs

    # -- changing ----------------------------------------------------------------------

    def create(self, name: str, specs: Mapping[str, str | None]) -> QosSpecs:
        """New specs; ``specs`` may hold the ``consumer`` (default back-end)."""
        with self._notifying_errors("qos_specs.create", {"name": name}):
            consumer, rest = split_consumer(specs)
            try:
                with self.db.write() as conn:
                    if qos.name_taken(conn, name):
                        raise QoSSpecsExists(name)
                    created = qos.create(conn, name, consumer or DEFAULT_CONSUMER, rest)
            except IntegrityError:  # a concurrent create of the same name won
                raise QoSSpecsExists(name) from None
        self._info(
            "qos_specs.create",
            {"name": name, "created_at": _at(created), "specs": dict(specs)},
        )
        return created

    def set_keys(self, specs_id: str, specs: Mapping[str, str | None]) -> None:
        """Add or change keys (and the consumer)."""

        def work(conn: Connection) -> QosSpecs:
            found = qos.get(conn, specs_id)
            consumer, rest = split_consumer(specs)
            qos.set_specs(conn, specs_id, consumer, rest)
            return found

        found = self._write("qos_specs.update", specs_id, work)
        self._info(
            "qos_specs.update",
            {"id": specs_id, "created_at": _at(found), "updated_at": timestamp(now()),
             "specs": dict(specs)},
        )  # fmt: skip

    def unset_keys(self, specs_id: str, keys: Sequence[str]) -> None:
        def work(conn: Connection) -> QosSpecs:
            qos.delete_keys(conn, qos.get(conn, specs_id), keys)
            return qos.get(conn, specs_id)

        found = self._write("qos_specs.delete_keys", specs_id, work)
        self._info(
            "qos_specs.delete_keys",
            {"id": specs_id, "created_at": _at(found), "updated_at": timestamp(found.updated_at)},
        )

    def delete(self, specs_id: str, *, force: bool) -> None:
        """Delete the specs; while a type uses them, only with ``force`` (which
        disassociates every type first)."""

        def work(conn: Connection) -> QosSpecs:
            found = qos.get(conn, specs_id)
            if qos.associations(conn, specs_id):
                if not force:
                    raise QoSSpecsInUse()
                qos.disassociate_all(conn, specs_id)
            qos.remove(conn, specs_id)
            return found

        found = self._write("qos_specs.delete", specs_id, work)
        self._info(
            "qos_specs.delete",
            {"id": specs_id, "created_at": _at(found), "deleted_at": timestamp(now())},
        )

    def associate(self, specs_id: str, type_id: str) -> None:
        """Point the type at the specs; a type holds at most one (400 for a second)."""

        def work(conn: Connection) -> QosSpecs:
            found = qos.get(conn, specs_id)
            current = qos.type_qos_id(conn, type_id)
            if current is not None and current != specs_id:
                raise InvalidVolumeType(
                    f"Type {type_id} is already associated with another qos specs: {current}"
                )
            if current is None:
                qos.associate(conn, specs_id, type_id)
            return found

        found = self._write("qos_specs.associate", specs_id, work)
        self._info(
            "qos_specs.associate",
            {"id": specs_id, "type_id": type_id, "created_at": _at(found)},
        )

    def disassociate(self, specs_id: str, type_id: str) -> None:
        def work(conn: Connection) -> QosSpecs:
            found = qos.get(conn, specs_id)
            qos.type_qos_id(conn, type_id)  # the type must exist
            qos.disassociate(conn, specs_id, type_id)
            return found

        found = self._write("qos_specs.disassociate", specs_id, work)
        self._info(
            "qos_specs.disassociate",
            {"id": specs_id, "type_id": type_id, "created_at": _at(found)},
        )

    def disassociate_all(self, specs_id: str) -> None:
        def work(conn: Connection) -> QosSpecs:
            found = qos.get(conn, specs_id)
            qos.disassociate_all(conn, specs_id)
            return found

        found = self._write("qos_specs.disassociate_all", specs_id, work)
        self._info("qos_specs.disassociate_all", {"id": specs_id, "created_at": _at(found)})


def _at(specs: QosSpecs) -> str | None:
    return timestamp(specs.created_at)
