"""A TaskFlow persistence backend that keeps a flow's details in memory, uncopied.

TaskFlow's default in-memory backend deep-copies every atom detail on each state change,
about half of a six-task flow's cost. Firebrick does not need that copy: a flow's progress
is journaled in the volume row, in the same transaction as the state change each step makes
anyway (see DESIGN.md's performance budget), so the engine's own storage only has to live as
long as one run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from taskflow import storage
from taskflow.engines.action_engine.engine import SerialActionEngine
from taskflow.persistence import base, models
from taskflow.utils import misc
from taskflow.utils import persistence_utils as p_utils


class _Connection(base.Connection):  # type: ignore[misc]
    def __init__(self, backend: PassThroughBackend) -> None:
        self._backend = backend

    @property
    def backend(self) -> PassThroughBackend:
        return self._backend

    def close(self) -> None:
        pass

    def upgrade(self) -> None:
        pass

    def clear_all(self) -> None:
        pass

    def validate(self) -> None:
        pass

    def update_atom_details(self, atom_detail: Any) -> Any:
        return atom_detail

    def update_flow_details(self, flow_detail: Any) -> Any:
        return flow_detail

    def save_logbook(self, book: Any) -> Any:
        return book

    def destroy_logbook(self, book_uuid: str) -> None:
        pass

    def get_logbook(self, book_uuid: str, lazy: bool = False) -> Any:
        raise KeyError(book_uuid)

    def get_logbooks(self, lazy: bool = False) -> Iterator[Any]:
        return iter(())

    def get_flows_for_book(self, book_uuid: str) -> Iterator[Any]:
        return iter(())

    def get_flow_details(self, fd_uuid: str, lazy: bool = False) -> Any:
        raise KeyError(fd_uuid)

    def get_atom_details(self, ad_uuid: str) -> Any:
        raise KeyError(ad_uuid)

    def get_atoms_for_flow(self, fd_uuid: str) -> Iterator[Any]:
        return iter(())


class PassThroughBackend(base.Backend):  # type: ignore[misc]
    """Hands TaskFlow's storage back what it saves; one shared, stateless connection."""

    def __init__(self) -> None:
        super().__init__({})
        self._connection = _Connection(self)

    def get_connection(self) -> _Connection:
        return self._connection

    def close(self) -> None:
        pass


class _Storage(storage.Storage):  # type: ignore[misc]
    """TaskFlow's storage, saving without a retry around each save.

    TaskFlow retries a save that raised StorageFailure, through tenacity, which builds a
    new retry controller for every call: an eighth of a create's CPU in the volume
    process. A save to :class:`PassThroughBackend` cannot fail, so nothing is retried.
    """

    _save_flow_detail = storage.Storage._save_flow_detail.__wrapped__
    _save_atom_detail = storage.Storage._save_atom_detail.__wrapped__


class _Engine(SerialActionEngine):  # type: ignore[misc]
    @misc.cachedproperty  # type: ignore[untyped-decorator]
    def storage(self) -> _Storage:
        def scope_fetcher(atom_name: str) -> Any:
            if self._compiled:
                return self._runtime.fetch_scopes_for(atom_name)
            return None

        return _Storage(self._flow_detail, backend=self._backend, scope_fetcher=scope_fetcher)


def load_engine(
    flow: Any, store: dict[str, Any], backend: PassThroughBackend, book: models.LogBook
) -> Any:
    """``taskflow.engines.load(flow, store=…, backend=…, book=…)`` with the default (serial)
    engine, without looking the engine up through stevedore on every load."""
    flow_detail = p_utils.create_flow_detail(flow, book=book, backend=backend)
    engine = _Engine(flow, flow_detail, backend, {})
    engine.storage.inject(store)
    return engine
