"""The service objects of the migration and revert actions, built from the app's state.

The actions themselves are dispatched by ``POST /volumes/{id}/action`` (``volumes.py``).
"""

from __future__ import annotations

from fastapi import Request

from firebrick.api.migration_api import MigrationAPI
from firebrick.api.revert_api import RevertAPI


def migration_api(request: Request) -> MigrationAPI:
    state = request.app.state
    return MigrationAPI(db=state.db, bus=state.bus, service_down_time=state.service_down_time)


def revert_api(request: Request) -> RevertAPI:
    return RevertAPI(db=request.app.state.db, bus=request.app.state.bus)
