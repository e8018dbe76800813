"""HTTP routes, each module one resource; thin: translate, call, render."""

from __future__ import annotations

from fastapi import APIRouter

from firebrick.api.routes import (
    admin,
    attachments,
    limits,
    messages,
    quotas,
    snapshots,
    types,
    volumes,
    workers,
)

# Each family of routes below adds its import and its routers at its own [anchor].
# [qos]

# [transfers]

# [groups]

# [manage]
# isort: split
from firebrick.api.routes import manage

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

    # [manage]
    manage.router,

    # [migration]

    # [images]

    # [core]
)  # fmt: skip
