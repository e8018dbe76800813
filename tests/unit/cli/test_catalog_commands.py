"""``firebrick catalog`` prints both service types with three endpoints each."""

from __future__ import annotations

import shlex

import pytest

from firebrick import cli
from firebrick.catalog import Registration, commands


def _endpoints(lines: list[str]) -> list[tuple[str, str, str]]:
    found = []
    for line in lines:
        words = shlex.split(line)
        if words[:3] == ["openstack", "endpoint", "create"]:
            found.append((words[5], words[6], words[7]))
    return found


def test_both_service_types_with_public_internal_admin() -> None:
    lines = commands(Registration(public_url="http://api:8776"))
    endpoints = _endpoints(lines)
    assert {(t, i) for t, i, _ in endpoints} == {
        (t, i) for t in ("block-storage", "volumev3") for i in ("public", "internal", "admin")
    }
    assert {url for *_, url in endpoints} == {"http://api:8776/v3/%(project_id)s"}
    assert any(shlex.split(x)[-1] == "volumev3" and "service" in x for x in lines)


def test_internal_and_admin_urls_and_no_project_id() -> None:
    reg = Registration(
        public_url="https://bs.example.com/v3/",
        internal_url="http://10.0.0.2:8776",
        admin_url="http://10.0.0.3:8776",
        with_project_id=False,
    )
    urls = {(t, i): u for t, i, u in _endpoints(commands(reg))}
    assert urls[("volumev3", "public")] == "https://bs.example.com/v3"
    assert urls[("block-storage", "internal")] == "http://10.0.0.2:8776/v3"
    assert urls[("block-storage", "admin")] == "http://10.0.0.3:8776/v3"


def test_cli_prints_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog", "--url", "http://api:8776", "--region", "R2"]) == 0
    out = capsys.readouterr().out
    assert "openstack endpoint create --region R2 volumev3 public" in out
    assert "auth_strategy = keystone" in out
