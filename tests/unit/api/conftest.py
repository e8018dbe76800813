from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from firebrick.api.app import create_app


@pytest.fixture(scope="module")
def app() -> Any:
    """The API app over mocked services: its routes and documents, never a request."""
    deps = {
        name: mock.MagicMock()
        for name in ("volume_api", "snapshot_api", "volume_actions", "attachment_api", "db",
                     "quota_defaults", "scheduler")
    }  # fmt: skip
    return create_app(
        **deps, default_volume_type="__DEFAULT__", max_limit=1000, service_down_time=60.0
    )
