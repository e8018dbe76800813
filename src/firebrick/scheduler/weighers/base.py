"""The contract every pool weigher meets, and Cinder's normalisation of raw weights."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from firebrick.domain.model import PoolState, RequestSpec

# Cinder's offsets for placing unknown pools above the maximum (weights/capacity.py).
_OFFSET_MIN = 10000.0
_OFFSET_MULT = 100.0


class PoolWeigher(Protocol):
    """Scores one pool that passed the filters; higher wins before the multiplier.

    A non-finite score (``math.inf``) means "cannot tell": such pools rank last
    whatever the sign of the multiplier.
    """

    name: str

    def weigh(self, pool: PoolState, spec: RequestSpec) -> float: ...


def normalize(raw: Sequence[float], multiplier: float) -> list[float]:
    """Scale raw weights to [0, 1] as Cinder does: ``(w - min) / (max - min)``, all equal → 0.

    Unknown (non-finite) weights get Cinder's treatment so that, once multiplied, they
    come out lowest: -1 under a positive multiplier (or just below the minimum when real
    weights are negative), a synthetic value far above the maximum under a negative one.
    """
    known = [w for w in raw if math.isfinite(w)]
    if not known:
        return [0.0] * len(raw)
    low, high = min(known), max(known)
    if len(known) < len(raw):
        if multiplier > 0:
            unknown = -1.0 if low > -1.0 else low - 1.0
            low = unknown
        else:
            offset = (high - low) * _OFFSET_MULT
            unknown = high + (offset or _OFFSET_MIN)
            high = unknown
        raw = [w if math.isfinite(w) else unknown for w in raw]
    if high == low:
        return [0.0] * len(raw)
    span = high - low
    return [(w - low) / span for w in raw]
