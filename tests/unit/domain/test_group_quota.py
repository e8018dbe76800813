"""The groups quota and the group options read from the configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from firebrick import config
from firebrick.domain import quota


def test_groups_quota_comes_from_quota_groups(tmp_path: Path) -> None:
    conf = tmp_path / "firebrick.conf"
    conf.write_text("[DEFAULT]\nquota_groups = 3\ndefault_group_type = gold\n")
    loaded = config.load(conf)
    assert loaded.quotas.groups == 3
    assert loaded.default_group_type == "gold"
    assert quota.defaults_dict(loaded.quotas)["groups"] == 3
    assert config.load(None).default_group_type is None
    assert quota.defaults_dict(config.load(None).quotas)["groups"] == 10


def test_a_group_over_quota_is_cinders_413() -> None:
    with pytest.raises(quota.GroupLimitExceeded, match=r"groups allowed \(2\) exceeded"):
        quota.check({"groups": 1}, {"groups": 2}, {"groups": 2})
    quota.check({"groups": 1}, {"groups": -1}, {"groups": 50})
    assert quota.kind("groups") == "groups"
