"""Running a TaskFlow flow many times at the cost of running it, not of setting it up.

TaskFlow's default in-memory backend deep-copies every atom detail on each state change,
about half of a six-task flow's cost. Firebrick does not need that copy: a flow's progress
is journaled in the volume row, in the same transaction as the state change each step makes
anyway (see DESIGN.md's performance budget), so the engine's own storage only has to live as
long as one run, in the one thread that runs it.

What is the same for every run of a flow is done once (:class:`CompiledFlow`): compiling
its pattern into a graph, and checking that the store gives every task its arguments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import fasteners.lock
from taskflow import storage
from taskflow.engines.action_engine.compiler import PatternCompiler
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


class _RunLock:
    """The storage's lock for a run in one thread: TaskFlow's builder takes it around each
    scheduling step. A reentrant lock does; fasteners' reader-writer lock cost a create
    several hundred acquisitions, each a context manager in Python."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def read_lock(self) -> threading.RLock:
        return self._lock

    def write_lock(self) -> threading.RLock:
        return self._lock


class _Storage(storage.Storage):  # type: ignore[misc]
    """TaskFlow's storage for one engine run in one thread: saving without a retry around
    each save, and its methods without a reader-writer lock around each call.

    TaskFlow retries a save that raised StorageFailure, through tenacity, which builds a
    new retry controller for every call: an eighth of a create's CPU in the volume
    process. A save to :class:`PassThroughBackend` cannot fail, so nothing is retried.
    Each method takes a lock so that several threads may share an engine; an engine here
    runs in the thread that made it (serial tasks, listeners called in line), and the lock
    (about a third of the flow engine's cost) guarded nothing.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = _RunLock()

    _save_flow_detail = storage.Storage._save_flow_detail.__wrapped__
    _save_atom_detail = storage.Storage._save_atom_detail.__wrapped__

    def _atomdetail_by_name(
        self, atom_name: str, expected_type: Any = None, clone: bool = False
    ) -> tuple[Any, Any]:
        """The atom detail twice, never a copy: TaskFlow changes a copy and saves it back
        so that a failed save leaves the original as it was; saved to
        :class:`PassThroughBackend`, which cannot fail, the copy (one an engine transition)
        only costs. ``AtomDetail.update`` from itself is a no-op."""
        uuid = self._atom_name_to_uuid.get(atom_name)
        found = self._flowdetail.find(uuid) if uuid is not None else None
        if found is None or (expected_type and not isinstance(found, expected_type)):
            error: tuple[Any, Any] = super()._atomdetail_by_name(atom_name, expected_type)
            return error  # TaskFlow's answer for a missing atom: NotFound, TypeError or None
        return found, found


def _unlock_methods() -> None:
    for name, method in vars(storage.Storage).items():
        inner = getattr(method, "__wrapped__", None)
        code = getattr(method, "__code__", None)
        if inner is not None and code is not None and code.co_filename == fasteners.lock.__file__:
            setattr(_Storage, name, inner)


_unlock_methods()


class _Engine(SerialActionEngine):  # type: ignore[misc]
    def __init__(self, compiled: CompiledFlow, flow_detail: Any, store_keys: frozenset[str]):
        super().__init__(compiled.flow, flow_detail, compiled.backend, {})
        self._compiler = compiled.compiler
        self._checked = compiled.checked
        self._store_keys = store_keys

    @misc.cachedproperty  # type: ignore[untyped-decorator]
    def storage(self) -> _Storage:
        def scope_fetcher(atom_name: str) -> Any:
            if self._compiled:
                return self._runtime.fetch_scopes_for(atom_name)
            return None

        return _Storage(self._flow_detail, backend=self._backend, scope_fetcher=scope_fetcher)

    def validate(self) -> None:
        """TaskFlow's check that every task's arguments are there, once per set of store
        keys: the flow and the store's keys decide its answer, not the values."""
        if self._store_keys in self._checked:
            self._validated = True
            return
        super().validate()
        self._checked.add(self._store_keys)


class CompiledFlow:
    """A flow compiled once, for engines that each run it once
    (``taskflow.engines.load(flow, store=…, backend=…)`` then ``run()``, without compiling
    the same pattern again or looking the engine up through stevedore on every load)."""

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.backend = PassThroughBackend()
        self.compiler = PatternCompiler(flow)
        self.compiler.compile()  # here, in one thread: later calls return the frozen graph
        self.checked: set[frozenset[str]] = set()

    def engine(self, store: dict[str, Any]) -> Any:
        book = models.LogBook(self.flow.name)
        flow_detail = p_utils.create_flow_detail(self.flow, book=book, backend=self.backend)
        engine = _Engine(self, flow_detail, frozenset(store))
        engine.storage.inject(store)
        return engine
