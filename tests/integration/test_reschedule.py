"""A driver failure sends the volume back to the scheduler; it never stays in ``creating``."""

from __future__ import annotations

FAILING = {"file_fail_create": "true"}


def backend_of(volume):
    return volume["os-vol-host-attr:host"].split("@", 1)[1].split("#", 1)[0]


def failures_of(lines):
    return [
        line
        for line in lines
        if "CreateVolumeFromSpecTask" in line and "into state 'FAILURE'" in line
    ]


def test_failed_create_is_rescheduled_to_the_good_backend(start_service):
    # The failing backend is the more attractive one (more capacity), so it is tried first.
    svc = start_service(
        backends={
            "file-bad": {**FAILING, "file_capacity_gb": "1000"},
            "file-good": {"file_capacity_gb": "10"},
        }
    )
    with svc.client() as api:
        volume = api.create_volume()
        assert backend_of(volume) == "file-good", (
            f"landed on {volume['os-vol-host-attr:host']}; a reschedule must not pick the "
            "backend that just failed again"
        )
        assert svc.backends["file-good"].volume_path(volume["id"]).exists()
        assert not svc.backends["file-bad"].volume_path(volume["id"]).exists()

        lines = svc.log_lines_for(volume["id"])
        assert failures_of(lines), "\n".join(lines)
        assert [
            line
            for line in lines
            if "OnFailureRescheduleTask" in line and "into state 'REVERTED'" in line
        ], "\n".join(lines)
        # The flow ran to the end once, on the good backend.
        assert any(
            "CreateVolumeOnFinishTask" in line and "into state 'SUCCESS'" in line for line in lines
        )

        events = api.wait_for(
            lambda: (
                [
                    n
                    for n in svc.notifications_for(volume["id"])
                    if n["event_type"] == "volume.create.end"
                ]
                and svc.notifications_for(volume["id"])
            ),
            "volume.create.end",
        )
        starts = [n for n in events if n["event_type"] == "volume.create.start"]
        ends = [n for n in events if n["event_type"] == "volume.create.end"]
        assert len(starts) == 2, events
        assert "@file-bad#" in starts[0]["payload"]["host"], starts[0]
        assert "@file-good#" in starts[1]["payload"]["host"], starts[1]
        assert len(ends) == 1, events
        assert "@file-good#" in ends[0]["payload"]["host"], ends[0]
        api.delete_volume(volume["id"])
        assert not svc.backends["file-good"].volume_path(volume["id"]).exists()


def test_only_failing_backends_end_in_error(start_service):
    svc = start_service(
        backends={"file-a": dict(FAILING), "file-b": dict(FAILING)},
        defaults={"scheduler_max_attempts": "3"},
    )
    with svc.client() as api:
        volume = api.create_volume(wait="error")
        lines = svc.log_lines_for(volume["id"])
        failures = failures_of(lines)
        assert 2 <= len(failures) <= 3, "\n".join(lines)
        assert svc.find_volume_file(volume["id"]) is None, svc.volume_files()
        assert not [
            n for n in svc.notifications_for(volume["id"]) if n["event_type"] == "volume.create.end"
        ]
        # The volume is in error for good: it does not go back to creating.
        assert api.get(f"/volumes/{volume['id']}").json()["volume"]["status"] == "error"
        api.delete_volume(volume["id"])


def test_max_attempts_one_disables_rescheduling(start_service):
    svc = start_service(
        backends={
            "file-bad": {**FAILING, "file_capacity_gb": "1000"},
            "file-good": {"file_capacity_gb": "10"},
        },
        defaults={"scheduler_max_attempts": "1"},
    )
    with svc.client() as api:
        volume = api.create_volume(wait="error")
        assert len(failures_of(svc.log_lines_for(volume["id"]))) == 1
        assert svc.find_volume_file(volume["id"]) is None
        api.delete_volume(volume["id"])
