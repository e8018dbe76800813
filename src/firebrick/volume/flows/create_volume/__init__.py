"""The ``volume_create_manager`` flow: what a volume service does to create one volume."""

from __future__ import annotations

from taskflow.patterns import linear_flow

from firebrick.volume.flows.create_volume.base import Ports
from firebrick.volume.flows.create_volume.create_volume_from_spec import CreateVolumeFromSpecTask
from firebrick.volume.flows.create_volume.create_volume_on_finish import CreateVolumeOnFinishTask
from firebrick.volume.flows.create_volume.extract_volume_ref import ExtractVolumeRefTask
from firebrick.volume.flows.create_volume.extract_volume_spec import ExtractVolumeSpecTask
from firebrick.volume.flows.create_volume.notify_volume_action import NotifyVolumeActionTask
from firebrick.volume.flows.create_volume.on_failure_reschedule import OnFailureRescheduleTask

FLOW_NAME = "volume_create_manager"


def get_flow(ports: Ports) -> linear_flow.Flow:
    """Store: ``volume_id``, ``request_spec``, ``retry``."""
    flow = linear_flow.Flow(FLOW_NAME)
    flow.add(
        ExtractVolumeRefTask(ports),
        OnFailureRescheduleTask(ports),
        ExtractVolumeSpecTask(ports),
        NotifyVolumeActionTask(ports, "create.start"),
        CreateVolumeFromSpecTask(ports),
        CreateVolumeOnFinishTask(ports),
    )
    return flow


__all__ = ["FLOW_NAME", "Ports", "get_flow"]
