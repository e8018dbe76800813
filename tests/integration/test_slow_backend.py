"""Creates on a slow backend overlap: a volume service runs one create flow's own work at a
time (firebrick/volume/gate.py), but never holds the others up behind the backend's."""

from __future__ import annotations

import time

DELAY = 2.0  # seconds the backend holds every create (file_create_delay)
CREATES = 4


def test_creates_wait_for_a_slow_backend_side_by_side_not_in_turn(start_service):
    svc = start_service(backends={"file-1": {"file_create_delay": str(DELAY)}})
    with svc.client() as api:
        started = time.monotonic()
        ids = [api.create_volume(wait=None)["id"] for _ in range(CREATES)]
        for volume_id in ids:
            api.wait_for_volume(volume_id, "available")
        took = time.monotonic() - started
    # In turn, they would take CREATES × DELAY = 8 s; side by side, one DELAY and the rest.
    assert took < (CREATES - 1) * DELAY, f"{CREATES} creates took {took:.1f} s"
    assert took >= DELAY
