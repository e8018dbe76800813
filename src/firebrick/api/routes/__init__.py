"""HTTP routes, each module one resource; thin: translate, call, render."""

from __future__ import annotations

from fastapi import APIRouter

from firebrick.api.routes import (
    admin,
    attachments,
    backups,
    capabilities,
    encryption,
    extensions,
    group_snapshots,
    group_types,
    groups,
    hosts,
    limits,
    manage,
    messages,
    qos_specs,
    quotas,
    snapshots,
    timeline,
    transfers,
    type_access,
    types,
    volumes,
    workers,
)

# Every resource's router; the app mounts each under /v3 and /v3/{project_id}.
ROUTERS: tuple[APIRouter, ...] = (
    volumes.router, snapshots.router, types.router, admin.router, messages.router,
    limits.router, quotas.router, workers.router, attachments.router,
    # [qos]
    qos_specs.router, encryption.router,

    # [transfers]
    transfers.router,

    # [groups]
    group_types.router, groups.router, group_snapshots.router,

    # [manage]
    manage.router,

    # [migration]

    # [images]

    # [backups]
    backups.router,

    # [rbd]

    # [notifications]

    # [metrics]
    timeline.router,

    # [core]
    capabilities.router, extensions.router, hosts.router, type_access.router,
)  # fmt: skip
