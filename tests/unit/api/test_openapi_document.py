"""The published OpenAPI document: complete, Cinder-shaped, and true to its own examples."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from fastapi.openapi.utils import get_openapi

from firebrick.api import microversion, openapi
from firebrick.api.shape_index import expanded

METHODS = ("get", "put", "post", "delete")


@pytest.fixture(scope="module")
def doc(app: Any) -> dict[str, Any]:
    built: dict[str, Any] = app.openapi()
    return built


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = doc["components"][kind][name]
    return node


def test_the_app_publishes_this_document_once(app: Any, doc: dict[str, Any]) -> None:
    assert app.openapi() is doc
    assert doc["openapi"].startswith("3.1")


def test_every_route_is_described(app: Any) -> None:
    plain = get_openapi(title="t", version="1", routes=expanded(app.routes))
    assert openapi.undescribed(plain) == []


def test_no_fastapi_422_and_no_leftover_validation_schemas(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        assert "422" not in op["responses"], f"{method} {path}"
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_every_v3_operation_documents_cinder_faults(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        if not path.startswith("/v3/") or path == "/v3/":
            continue
        for code in ("400", "401", "403", "404", "406"):
            assert op["responses"][code] == {"$ref": f"#/components/responses/Fault{code}"}, (
                f"{method} {path} {code}"
            )
        if "requestBody" in op:
            assert "413" in op["responses"], f"{method} {path}"


@pytest.mark.parametrize(
    ("code", "name"),
    [(400, "badRequest"), (403, "forbidden"), (404, "itemNotFound"), (406, "computeFault"),
     (409, "conflictingRequest"), (413, "overLimit")],
)  # fmt: skip
def test_fault_schemas_accept_cinder_faults_only(doc: dict[str, Any], code: int, name: str) -> None:
    response = doc["components"]["responses"][f"Fault{code}"]
    schema = {**response["content"]["application/json"]["schema"],
              "components": doc["components"]}  # fmt: skip
    good = {name: {"code": code, "message": "no"}}
    jsonschema.validate(good, schema)
    for bad in ({"detail": "no"}, {name: {"code": code}}, {name: {"code": 1, "message": "x"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert response["headers"]["x-openstack-request-id"]["$ref"].endswith("/RequestId")


MAIN_BODIES = [
    ("post", "/volumes", "volume"),
    ("put", "/volumes/{volume_id}", "volume"),
    ("post", "/volumes/{volume_id}/action", None),
    ("post", "/snapshots", "snapshot"),
    ("put", "/snapshots/{snapshot_id}", "snapshot"),
    ("post", "/types", "volume_type"),
    ("put", "/types/{type_id}", "volume_type"),
    ("post", "/types/{type_id}/extra_specs", "extra_specs"),
    ("post", "/attachments", "attachment"),
    ("put", "/attachments/{attachment_id}", "attachment"),
    ("put", "/os-quota-sets/{target_project}", "quota_set"),
    ("put", "/os-quota-class-sets/{class_name}", "quota_class_set"),
    ("post", "/volumes/{owner_id}/metadata", "metadata"),
    ("put", "/os-services/{action}", None),
    ("post", "/workers/cleanup", None),
]


@pytest.mark.parametrize(("method", "path", "key"), MAIN_BODIES)
@pytest.mark.parametrize("prefix", ["/v3", "/v3/{project_id}"])
def test_main_operations_declare_request_bodies(
    doc: dict[str, Any], method: str, path: str, key: str | None, prefix: str
) -> None:
    body = doc["paths"][prefix + path][method]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    if key is not None:
        assert schema["required"] == [key]
        assert "object" in schema["properties"][key]["type"]


def test_every_post_and_put_has_a_body(doc: dict[str, Any]) -> None:
    missing = [
        f"{m} {p}"
        for m, p, op in operations(doc)
        if m in ("post", "put") and "requestBody" not in op
    ]
    assert missing == []


def test_volume_actions_cover_every_action_the_route_knows(doc: dict[str, Any]) -> None:
    from firebrick.api.routes import images, volumes

    schema = doc["paths"]["/v3/volumes/{volume_id}/action"]["post"]["requestBody"]
    names = {next(iter(branch["required"])) for branch in
             schema["content"]["application/json"]["schema"]["anyOf"]}  # fmt: skip
    known = set(volumes._LEGACY_ATTACH) | {"os-extend", "os-retype", "os-set_bootable",
                                           "os-update_readonly_flag", "os-reset_status",
                                           "os-force_delete", "os-unmanage",
                                           "os-migrate_volume",
                                           "os-migrate_volume_completion",
                                           "revert"} | images.IMAGE_ACTIONS  # fmt: skip
    assert names == known


def test_examples_match_their_schemas(doc: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in operations(doc):
        media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        for name, example in media.get("examples", {}).items():
            schema = {**media["schema"], "components": doc["components"]}
            try:
                jsonschema.validate(example["value"], schema)
            except jsonschema.ValidationError as exc:
                pytest.fail(f"{method} {path} example {name}: {exc.message}")
            checked += 1
    assert checked > 20


def test_success_statuses_are_the_ones_the_routes_answer(doc: dict[str, Any]) -> None:
    def ok(method: str, path: str) -> set[str]:
        return {c for c in doc["paths"][path][method]["responses"] if c.startswith(("2", "3"))}

    assert ok("post", "/v3/volumes") == {"202"}
    assert ok("delete", "/v3/volumes/{volume_id}") == {"202"}
    assert ok("post", "/v3/volumes/{volume_id}/action") == {"200", "202"}
    assert ok("post", "/v3/types") == {"200"}
    assert ok("post", "/v3/workers/cleanup") == {"202"}
    assert ok("post", "/v3/attachments/{attachment_id}/action") == {"204"}
    assert ok("delete", "/v3/messages/{message_id}") == {"204"}
    assert ok("get", "/") == {"300"}


def test_bodiless_answers_declare_no_content(doc: dict[str, Any]) -> None:
    for method, path in [("delete", "/v3/volumes/{volume_id}"),
                         ("post", "/v3/volumes/{volume_id}/action")]:  # fmt: skip
        for code, response in doc["paths"][path][method]["responses"].items():
            if code.startswith("2"):
                assert "content" not in response


def test_project_id_is_a_declared_path_parameter(doc: dict[str, Any]) -> None:
    for method, path, op in operations(doc):
        names = [resolve(doc, p)["name"] for p in op.get("parameters", []) if
                 resolve(doc, p)["in"] == "path"]  # fmt: skip
        assert names == re.findall(r"\{(\w+)\}", path), f"{method} {path}"


@pytest.mark.parametrize(
    ("value", "valid"),
    [("volume 3.0", True), (f"volume {microversion.MAX}", True), ("volume latest", True),
     ("volume 3.27", True), ("volume 3.72", False), ("volume 2.0", False), ("3.5", False),
     ("volume 3.05", False)],
)  # fmt: skip
def test_microversion_header_pattern(doc: dict[str, Any], value: str, valid: bool) -> None:
    pattern = doc["components"]["parameters"]["ApiVersion"]["schema"]["pattern"]
    assert bool(re.fullmatch(pattern.strip("^$"), value)) is valid


def test_links_point_at_operations_that_exist(doc: dict[str, Any]) -> None:
    ids = {op["operationId"] for _, _, op in operations(doc)}
    links = [
        link
        for _, _, op in operations(doc)
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) > 40
    assert all(link["operationId"] in ids for link in links)
