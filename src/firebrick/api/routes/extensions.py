"""``/extensions``: the API extensions Cinder lists, which clients probe before using them.

Firebrick serves Cinder's extensions as part of its v3 API; the list names each one the
way Cinder does (``name``, ``alias``, ``updated``), so a client looking for, say,
``os-hosts`` or ``backups`` finds it.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from firebrick.api.deps import CallDep

router = APIRouter()

# (name, alias, updated, what it adds)
EXTENSIONS: Final = (
    ("AdminActions", "os-admin-actions", "2012-08-25T00:00:00+00:00",
     "Admin-only actions on volumes and snapshots (reset status, force delete, migrate)."),
    ("AvailabilityZones", "os-availability-zone", "2013-06-27T00:00:00+00:00",
     "The availability zones of the volume services."),
    ("Backups", "backups", "2012-12-12T00:00:00+00:00", "Volume backups."),
    ("Capabilities", "capabilities", "2015-08-31T00:00:00+00:00",
     "What each volume backend can do."),
    ("Cgsnapshots", "cgsnapshots", "2014-08-18T00:00:00+00:00",
     "Consistency group snapshots."),
    ("Consistencygroups", "consistencygroups", "2014-08-18T00:00:00+00:00",
     "Consistency groups."),
    ("ExtendedServices", "os-extended-services", "2014-01-10T00:00:00-00:00",
     "Disabled reasons and frozen state of services."),
    ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes",
     "2012-06-19T00:00:00+00:00", "A snapshot's project and progress in its view."),
    ("Hosts", "os-hosts", "2011-06-29T00:00:00+00:00", "Host administration (admin only)."),
    ("Qos_specs_manage", "qos-specs", "2013-08-02T00:00:00+00:00", "QoS specifications."),
    ("QuotaClasses", "os-quota-class-sets", "2012-03-12T00:00:00+00:00",
     "Default quota management."),
    ("Quotas", "os-quota-sets", "2011-08-08T00:00:00+00:00", "Per-project quota management."),
    ("SchedulerHints", "OS-SCH-HNT", "2013-04-18T00:00:00+00:00",
     "Hints for the scheduler on volume create."),
    ("Scheduler_stats", "scheduler-stats", "2014-09-07T00:00:00+00:00",
     "The pools the scheduler places volumes on."),
    ("Services", "os-services", "2012-10-28T00:00:00-00:00", "The services and their state."),
    ("SnapshotActions", "os-snapshot-actions", "2013-07-16T00:00:00+00:00",
     "Snapshot status updates."),
    ("SnapshotManage", "os-snapshot-manage", "2014-12-31T00:00:00+00:00",
     "Manage existing snapshots on a backend."),
    ("SnapshotUnmanage", "os-snapshot-unmanage", "2014-12-31T00:00:00+00:00",
     "Unmanage snapshots, leaving their data on the backend."),
    ("TypesExtraSpecs", "os-types-extra-specs", "2011-08-24T00:00:00+00:00",
     "Volume type extra specs."),
    ("TypesManage", "os-types-manage", "2011-08-24T00:00:00+00:00", "Volume type management."),
    ("UsedLimits", "os-used-limits", "2013-10-03T00:00:00+00:00",
     "How much of each limit is in use."),
    ("VolumeActions", "os-volume-actions", "2012-05-31T00:00:00+00:00", "Volume actions."),
    ("VolumeEncryptionMetadata", "os-volume-encryption-metadata",
     "2013-07-10T00:00:00+00:00", "A volume's encryption metadata."),
    ("VolumeHostAttribute", "os-vol-host-attr", "2011-11-03T00:00:00+00:00",
     "A volume's host in its view (admin only)."),
    ("VolumeImageMetadata", "os-vol-image-meta", "2012-12-07T00:00:00+00:00",
     "The image metadata of volumes made from images."),
    ("VolumeManage", "os-volume-manage", "2014-02-10T00:00:00+00:00",
     "Manage existing volumes on a backend."),
    ("VolumeMigStatusAttribute", "os-vol-mig-status-attr", "2013-08-08T00:00:00+00:00",
     "A volume's migration status in its view (admin only)."),
    ("VolumeTenantAttribute", "os-vol-tenant-attr", "2011-11-03T00:00:00+00:00",
     "A volume's project in its view."),
    ("VolumeTransfer", "os-volume-transfer", "2013-05-29T00:00:00+00:00",
     "Volume transfers between projects."),
    ("VolumeTypeAccess", "os-volume-type-access", "2014-06-26T00:00:00Z",
     "Private volume types shared with projects."),
    ("VolumeTypeEncryption", "encryption", "2013-07-01T00:00:00+00:00",
     "Encryption of volume types."),
    ("VolumeUnmanage", "os-volume-unmanage", "2012-05-31T00:00:00+00:00",
     "Unmanage volumes, leaving their data on the backend."),
)  # fmt: skip


@router.get("/extensions")
async def extensions(c: CallDep) -> JSONResponse:
    return JSONResponse({
        "extensions": [
            {"name": name, "alias": alias, "updated": updated, "description": text,
             "links": []}
            for name, alias, updated, text in EXTENSIONS
        ]
    })  # fmt: skip
