"""FilterScheduler: drop the pools that can't take the volume, weigh the rest, pick the top.

Cinder's decision function (scheduler.md §5-§8) with two differences: the backends
already tried for this request are always skipped (Cinder's optional
IgnoreAttemptedHostsFilter), and every rejected pool carries its reason so the caller can
show it instead of leaving it in a log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from firebrick.domain.errors import NoValidBackend
from firebrick.domain.model import PoolState, RequestSpec, RetryInfo
from firebrick.scheduler.filters.base import PoolFilter
from firebrick.scheduler.weighers.base import PoolWeigher, normalize

ATTEMPTED_HOSTS = "AttemptedHosts"
RESOURCE_BACKEND = "ResourceBackend"


@dataclass(frozen=True)
class Placement:
    pool: PoolState
    weight: float
    rejected: dict[str, str]  # pool name -> "FilterName: reason" for pools that did not pass


class FilterScheduler:
    """Places one volume on one pool; pure, so the caller owns pools, retries and locking."""

    def __init__(
        self,
        filters: Sequence[PoolFilter],
        weighers: Sequence[tuple[PoolWeigher, float]],
        max_attempts: int = 3,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("scheduler_max_attempts must be at least 1")
        self._filters = tuple(filters)
        self._weighers = tuple(weighers)
        self.max_attempts = max_attempts

    def choose(self, pools: Sequence[PoolState], spec: RequestSpec, retry: RetryInfo) -> Placement:
        """The best pool for ``spec``; raises NoValidBackend with a reason per rejected pool.

        ``retry.num_attempts`` must already count this attempt (1 on the first call).
        """
        attempted = _attempted_backends(retry)
        if retry.num_attempts > self.max_attempts:
            history = {
                pool.name: f"{ATTEMPTED_HOSTS}: {attempted[pool.backend]}"
                for pool in pools
                if pool.backend in attempted
            }
            raise NoValidBackend(
                f"Exceeded max scheduling attempts {self.max_attempts} "
                f"for resource {spec.volume_id}",
                history,
            )
        survivors: list[PoolState] = []
        rejected: dict[str, str] = {}
        for pool in pools:
            reason = self._rejection(pool, spec, attempted)
            if reason is None:
                survivors.append(pool)
            else:
                rejected[pool.name] = reason
        if not survivors:
            raise NoValidBackend(
                "No valid backend was found. No weighed backends available", rejected
            )
        weights = self._weigh(survivors, spec)
        # Highest weight wins; equal weights fall to the lowest pool name, so the choice
        # never depends on the order the pools were listed in.
        best = min(range(len(survivors)), key=lambda i: (-weights[i], survivors[i].name))
        return Placement(pool=survivors[best], weight=weights[best], rejected=rejected)

    def explain(self, pools: Sequence[PoolState], spec: RequestSpec) -> dict[str, str | None]:
        """Per pool: None if it passes every filter, else "FilterName: reason".

        For get_pools?volume_type (with ``size=0``) and dry runs; ignores retries.
        """
        return {pool.name: self._rejection(pool, spec, {}) for pool in pools}

    def _rejection(
        self, pool: PoolState, spec: RequestSpec, attempted: Mapping[str, str]
    ) -> str | None:
        target = spec.resource_backend
        if target is not None and not _matches_target(pool, target):
            return f"{RESOURCE_BACKEND}: request is pinned to '{target}'"
        if pool.backend in attempted:
            return f"{ATTEMPTED_HOSTS}: {attempted[pool.backend]}"
        for pool_filter in self._filters:
            reason = pool_filter.rejects(pool, spec)
            if reason is not None:
                return f"{pool_filter.name}: {reason}"
        return None

    def _weigh(self, pools: list[PoolState], spec: RequestSpec) -> list[float]:
        totals = [0.0] * len(pools)
        # Normalised weights of a single candidate are all 0: nothing to compare.
        if len(pools) == 1:
            return totals
        for weigher, multiplier in self._weighers:
            raw = [weigher.weigh(pool, spec) for pool in pools]
            for i, weight in enumerate(normalize(raw, multiplier)):
                totals[i] += multiplier * weight
        return totals


def _matches_target(pool: PoolState, target: str) -> bool:
    # 'host@backend#pool' pins to one pool, 'host@backend' to any pool of that backend.
    return pool.name == target if "#" in target else pool.backend == target


def _attempted_backends(retry: RetryInfo) -> dict[str, str]:
    last = len(retry.backends)
    attempted: dict[str, str] = {}
    for attempt, backend in enumerate(retry.backends, start=1):
        if attempt == last and retry.last_error:
            attempted[backend] = f"already tried (attempt {attempt} failed: {retry.last_error})"
        else:
            attempted[backend] = f"already tried (attempt {attempt} failed)"
    return attempted
