"""HTTP routes, each module one resource; thin: translate, call, render."""

from __future__ import annotations

from fastapi import APIRouter

# Each family of routes below adds its import and its routers at its own [anchor].
# [qos]
# [transfers]
# [groups]
from firebrick.api.routes import (
    admin,
    attachments,
    group_snapshots,
    group_types,
    groups,
    limits,
    messages,
    quotas,
    snapshots,
    types,
    volumes,
    workers,
)

# [manage]

# [migration]

# [images]

# [core]

# Every resource's router; the app mounts each under /v3 and /v3/{project_id}.
ROUTERS: tuple[APIRouter, ...] = (
    volumes.router, snapshots.router, types.router, admin.router, messages.router,
    limits.router, quotas.router, workers.router, attachments.router,
    # [qos]

    # [transfers]

    # [groups]
    group_types.router, groups.router, group_snapshots.router,

    # [manage]

    # [migration]

    # [images]

    # [core]
)  # fmt: skip
