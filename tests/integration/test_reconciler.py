"""The scheduler's reconciler re-sends the request of a volume that makes no progress; a
volume service already working on that volume must not start a second flow for it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

SLOW = {"file_create_delay": "2"}
IMPATIENT = {"transitional_status_timeout": "0.3", "reconcile_interval": "0.2"}


def test_a_request_sent_again_during_a_slow_create_runs_no_second_flow(start_service):
    svc = start_service(backends={"file-1": SLOW}, defaults=IMPATIENT)
    with svc.client() as api:
        volume = api.create_volume()  # waits for `available`
        lines = svc.log_lines_for(volume["id"])
        started = [ln for ln in lines if "flow 'volume_create_manager'" in ln and
                   "into state 'RUNNING'" in ln]  # fmt: skip
        assert len(started) == 1, "\n".join(lines)
        # The reconciler did send the request again while the create was held.
        assert "no progress in creating" in svc.log("scheduler"), svc.log("scheduler")[-2000:]
        assert "request sent again ignored" in svc.log("volume")
