"""The contract every pool filter meets: one question, answered with a reason."""

from __future__ import annotations

from typing import Protocol

from firebrick.domain.model import PoolState, RequestSpec


class PoolFilter(Protocol):
    """A yes/no question about one pool for one request.

    ``rejects`` returns ``None`` when the pool passes, otherwise a reason written for the
    operator who has to fix it (numbers, names, what was wanted and what was found).
    Filters must not mutate the pool or the spec: the scheduler shares them.
    """

    name: str

    def rejects(self, pool: PoolState, spec: RequestSpec) -> str | None: ...
