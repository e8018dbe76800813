"""The API keeps the contract its OpenAPI document states, under generated input.

A short schemathesis run (the document as published, a few thousand cases, most from its
coverage phase) against a service of its own seeded as `make fuzz` seeds it: no 5xx, no
status, header or body the document does not allow, no traceback in the logs. `make fuzz`
runs the long version.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from attach_helpers import missing_tools, stop_targets
from harness import MAX_MICROVERSION, Service

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 5
MIN_CASES = 300


def _load_fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("firebrick_fuzz", ROOT / "tools" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


fuzz = _load_fuzz()


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[Service]:
    if "tgtd" in " ".join(missing_tools()):
        pytest.skip("tgt is not installed")
    svc: Service = fuzz.start(tmp_path)
    try:
        yield svc
    finally:
        svc.stop()
        stop_targets(svc)


def test_generated_requests_keep_the_contract(fuzzed: Service, tmp_path: Path) -> None:
    args = argparse.Namespace(examples=EXAMPLES, seed=None, extra=[])
    outcome = fuzz.run_pass(fuzzed, tmp_path, fuzz.PASSES[0], args)
    fuzzed.stop()
    assert outcome.code == 0, f"schemathesis found {outcome.failures} failure(s); see its output"
    assert outcome.cases is not None and outcome.cases >= MIN_CASES, outcome
    assert fuzz.tracebacks(fuzzed) == []


# Inputs schemathesis found that made the server answer 500 (or leave a row behind), each
# now a 400 fault: (method, path under /v3/{project}, JSON body); {vol} and {type} are filled.
ACTION = "/volumes/{vol}/action"
ONCE_BROKEN: list[tuple[str, str, Any]] = [
    ("post", ACTION, {"os-reset_status": {"status": {}}}),
    ("post", ACTION, {"os-reset_status": {"migration_status": []}}),
    ("post", ACTION, {"os-initialize_connection": {"connector": {"x": 1}}}),
    ("post", ACTION, {"os-initialize_connection": {"connector": {"host": {"a": 1},
                                                                 "initiator": "iqn.2000-01.x:y"}}}),
    ("post", ACTION, {"os-attach": {"mountpoint": {"a": 1}, "host_name": "h"}}),
    ("post", ACTION, {"os-attach": {"mountpoint": "/dev/vdb", "host_name": ["h"]}}),
    ("post", ACTION, {"os-attach": {"mountpoint": "/dev/vdb", "host_name": "h",
                                    "instance_uuid": {}}}),
    ("post", ACTION, {"os-attach": {"mountpoint": "/dev/vdb", "instance_uuid": 5}}),
    ("post", ACTION, {"os-extend": {"new_size": "\u00b2"}}),
    ("post", ACTION, {"os-extend": {"new_size": "99999999999999999999"}}),
    ("post", "/attachments", {"attachment": {"volume_uuid": "{vol}", "instance_uuid": {"a": 1}}}),
    ("put", "/types/{type}", {"volume_type": {"description": {"a": 1}}}),
    ("put", "/os-services/disable",
     {"host": "fuzz@file-1", "binary": "cinder-volume", "disabled_reason": {"a": 1}}),
    ("put", "/volumes/{vol}/metadata", {"metadata": {"k": "\u0000"}}),
    ("get", "/volumes?created_at=gt:0001-01-01T00:00:00%2B01:00", None),
    ("get", "/volumes?size=99999999999999999999999", None),
    ("get", "/volumes?name=a%00b", None),
    ("get", "/volumes/a%00b", None),
]  # fmt: skip


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def test_inputs_that_once_broke_the_server_are_400s_and_change_nothing(tmp_path: Path) -> None:
    svc: Service = fuzz.start(tmp_path)
    try:
        with svc.client(user="fuzz", microversion=MAX_MICROVERSION) as api:
            vol = api.create_volume(1)["id"]
            created = api.post("/types", json={"volume_type": {"name": "once-broken"}})
            names = {"vol": vol, "type": created.json()["volume_type"]["id"]}
            for method, path, body in ONCE_BROKEN:
                resp = api.request(method, path.format(**names), json=_fill(body, names))
                api.assert_fault(resp, 400)
            deep = api.post("/volumes", content=b"[" * 100_000,
                            headers={"Content-Type": "application/json"})  # fmt: skip
            api.assert_fault(deep, 400)
            left = api.get("/attachments", params={"volume_id": vol}).json()["attachments"]
            assert left == []
            assert api.wait_for_volume(vol)["metadata"] == {}
            api.delete_volume(vol)  # a stray attachment row used to make this fail
    finally:
        svc.stop()
        stop_targets(svc)
    assert fuzz.tracebacks(svc) == []


@pytest.fixture(scope="module")
def document(service: Service) -> dict[str, Any]:
    resp = httpx.get(f"{service.base_url}/openapi.json", timeout=10)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/volumes"), ("put", "/volumes/{volume_id}"),
     ("post", "/volumes/{volume_id}/action"), ("post", "/snapshots"),
     ("put", "/snapshots/{snapshot_id}"), ("post", "/types"), ("put", "/types/{type_id}"),
     ("post", "/types/{type_id}/extra_specs"), ("put", "/types/{type_id}/extra_specs/{key}"),
     ("post", "/attachments"), ("put", "/attachments/{attachment_id}"),
     ("put", "/os-quota-sets/{target_project}"), ("put", "/os-services/{action}"),
     ("post", "/workers/cleanup"), ("put", "/volumes/{owner_id}/metadata/{key}")],
)  # fmt: skip
@pytest.mark.parametrize("prefix", ["/v3", "/v3/{project_id}"])
def test_served_document_declares_request_bodies(
    document: dict[str, Any], method: str, path: str, prefix: str
) -> None:
    body = document["paths"][prefix + path][method]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"]


def test_served_document_has_no_fastapi_validation_errors(document: dict[str, Any]) -> None:
    codes = {
        code
        for item in document["paths"].values()
        for op in item.values()
        for code in op["responses"]
    }
    assert "422" not in codes
    assert {"200", "202", "204", "300", "400", "403", "404", "406", "409", "413"} <= codes
