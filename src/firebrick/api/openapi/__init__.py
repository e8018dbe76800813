"""The OpenAPI document the API publishes at ``/openapi.json``.

The routes read their bodies as raw JSON (``deps.JsonBody``) so that bad input gets
Cinder's exact messages, which leaves FastAPI's own document without request bodies and
with none of the real status codes. This package starts from FastAPI's document (paths,
operation ids) and adds what a client, or a fuzzer, needs to know:

* the request body of each operation, in Cinder's request shapes;
* its success status and a loose-but-true response schema (the keys always present);
* the faults every ``/v3`` operation can answer, in Cinder's fault format
  ``{"<faultName>": {"code": N, "message": "..."}}``, instead of FastAPI's 422;
* the ``OpenStack-API-Version`` request header, the list query parameters, and the
  ``x-openstack-request-id`` and ``OpenStack-API-Version`` response headers.

Every route is mounted twice, at ``/v3/...`` and ``/v3/{project_id}/...``; both get the
same description, looked up by method and the path below the prefix.

``schemas`` holds the schema pieces, ``operations`` what is said about each operation
(with examples and follow-up links); this module assembles the document.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from firebrick.api import microversion
from firebrick.api.faults import fault_name
from firebrick.api.openapi.links import FOLLOW_UPS
from firebrick.api.openapi.operations import (
    BODY_FAULTS,
    COMMON_FAULTS,
    EXAMPLES,
    OPERATIONS,
    ROOT_OPERATIONS,
    Op,
)
from firebrick.api.openapi.schemas import STRING, Schema, obj, wrapped
from firebrick.api.shape_index import expanded

JSON: Final = "application/json"
PREFIXES: Final = ("/v3/{project_id}", "/v3")


def _ref(kind: str, name: str) -> Schema:
    return {"$ref": f"#/components/{kind}/{name}"}


# ---------------------------------------------------------------------------------------
# follow-up links (operations.FOLLOW_UPS), added to the built document


def _add_links(paths: dict[str, Any]) -> None:
    for prefix in PREFIXES:
        for (method, path, status), targets in FOLLOW_UPS.items():
            source = paths.get(prefix + path, {}).get(method.lower())
            if source is None:
                continue
            links: Schema = {}
            for target_method, target_path, params in targets:
                target = paths.get(prefix + target_path, {}).get(target_method.lower())
                if target is None:
                    continue
                parameters = dict(params)
                if "{project_id}" in prefix:
                    parameters["project_id"] = "$request.path.project_id"
                name = target["operationId"]
                links[name] = {"operationId": name, "parameters": parameters}
            source["responses"][str(status)]["links"] = links


# ---------------------------------------------------------------------------------------
# components


def _minor_versions() -> str:
    minors = range(microversion.MIN.minor, microversion.MAX.minor + 1)
    return "|".join(str(m) for m in minors)


API_VERSION_PATTERN: Final = f"^volume (3\\.({_minor_versions()})|latest)$"
RESPONSE_VERSION_PATTERN: Final = f"^volume 3\\.({_minor_versions()})$"


def _fault_schema(code: int) -> Schema:
    name = fault_name(code)
    return obj(
        {name: {"allOf": [_ref("schemas", "FaultDetail"),
                          obj({"code": {"const": code}})]}},
        (name,),
        additional=False,
    )  # fmt: skip


def _fault_response(code: int, description: str) -> Schema:
    schema = _ref("schemas", f"Fault{code}")
    if code == 401:
        # keystonemiddleware answers in its own format.
        keystone = wrapped(
            "error",
            obj({"code": {"const": 401}, "title": STRING, "message": STRING}, ("code", "message")),
        )
        schema = {"anyOf": [schema, keystone]}
    headers: Schema = {
        "x-openstack-request-id": _ref("headers", "RequestId"),
        "OpenStack-API-Version": _ref("headers", "ApiVersionAnswered"),
    }
    if code == 413:
        headers["Retry-After"] = _ref("headers", "RetryAfter")
    return {
        "description": description,
        "headers": headers,
        "content": {JSON: {"schema": schema}},
    }


_FAULT_DESCRIPTIONS: Final = {
    400: "Bad request: malformed or invalid input, or a malformed microversion.",
    401: "No valid token (auth_strategy = keystone).",
    403: "Policy does not allow the caller to do this.",
    404: "Not found, not visible to the caller, or not at this microversion.",
    406: "The requested microversion is not supported.",
    409: "The request conflicts with the resource's current state.",
    413: "Over a quota, or the request body is too large.",
    503: "No service that can do it is up (e.g. no backup service).",
}


def _components() -> Schema:
    schemas: Schema = {
        "FaultDetail": obj(
            {"code": {"type": "integer"}, "message": {"type": "string"},
             "retryAfter": {"type": "string"}},
            ("code", "message"),
        ),
    }  # fmt: skip
    for code in _FAULT_DESCRIPTIONS:
        schemas[f"Fault{code}"] = _fault_schema(code)
    return {
        "schemas": schemas,
        "responses": {
            f"Fault{code}": _fault_response(code, text)
            for code, text in _FAULT_DESCRIPTIONS.items()
        },
        "headers": {
            "RequestId": {
                "description": "The id of this request, as logged by the service.",
                "required": True,
                "schema": {"type": "string", "pattern": "^req-[0-9a-f-]{36}$"},
            },
            "ApiVersion": {
                "description": "The microversion the request was served at.",
                "required": True,
                "schema": {"type": "string", "pattern": RESPONSE_VERSION_PATTERN},
            },
            "ApiVersionAnswered": {
                "description": "The microversion, when the request's one could be read.",
                "required": False,
                "schema": {"type": "string", "pattern": RESPONSE_VERSION_PATTERN},
            },
            "RetryAfter": {
                "description": "Seconds before a retry may succeed.",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            },
        },
        "parameters": {
            "ApiVersion": {
                "name": microversion.HEADER,
                "in": "header",
                "required": False,
                "description": (
                    f"The microversion, '{microversion.SERVICE} 3.X' or "
                    f"'{microversion.SERVICE} latest'; {microversion.MIN} when absent."
                ),
                "schema": {"type": "string", "pattern": API_VERSION_PATTERN},
            },
            "ProjectId": {
                "name": "project_id",
                "in": "path",
                "required": True,
                "description": "The caller's project (it must be the token's project).",
                "schema": {"type": "string", "minLength": 1},
            },
        },
    }


# ---------------------------------------------------------------------------------------
# assembling


def _split(path: str) -> tuple[str | None, str]:
    """(prefix, path below it) of a FastAPI path; no prefix for the root operations."""
    if any(path == root for _, root in ROOT_OPERATIONS):
        return None, path
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            return prefix, path[len(prefix) :]
    return None, path


def _success(status: int, body: Schema | None, *, in_v3: bool) -> Schema:
    headers: Schema = {"x-openstack-request-id": _ref("headers", "RequestId")}
    if in_v3:
        headers["OpenStack-API-Version"] = _ref("headers", "ApiVersion")
    response: Schema = {"description": "Success.", "headers": headers}
    if body is not None:
        response["content"] = {JSON: {"schema": body}}
    return response


def _path_parameters(path: str, op: Op, prefix: str | None) -> list[Schema]:
    params: list[Schema] = []
    if prefix == "/v3/{project_id}":
        params.append(_ref("parameters", "ProjectId"))
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            schema = op.path.get(name, {"type": "string", "minLength": 1})
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _lookup(method: str, path: str, prefix: str | None) -> Op | None:
    key = (method.upper(), path)
    return OPERATIONS.get(key) if prefix is not None else ROOT_OPERATIONS.get(key)


def undescribed(doc: dict[str, Any]) -> list[str]:
    """``METHOD path`` of each operation of FastAPI's document this package does not describe."""
    missing = []
    for full_path, item in doc.get("paths", {}).items():
        prefix, path = _split(full_path)
        missing += [f"{m.upper()} {full_path}" for m in item if _lookup(m, path, prefix) is None]
    return missing


def _describe(method: str, path: str, operation: Schema, prefix: str | None) -> None:
    key = (method.upper(), path)
    in_v3 = prefix is not None
    op = _lookup(method, path, prefix)
    if op is None:
        # A route nobody described yet (the unit tests catch it): its success statuses, no
        # body schemas, and the faults every operation can give.
        ok: dict[int, Schema | None] = {
            int(code): None for code in operation.get("responses", {}) if code != "422"
        }
        op = Op(ok or {200: None})
    params = _path_parameters(path, op, prefix)
    params += [copy.deepcopy(q) for q in op.query]
    params += [copy.deepcopy(h) for h in op.headers]
    if in_v3:
        params.append(_ref("parameters", "ApiVersion"))
    if params:
        operation["parameters"] = params
    else:
        operation.pop("parameters", None)
    if op.body is not None:
        media: Schema = {"schema": copy.deepcopy(op.body)}
        if key in EXAMPLES:
            media["examples"] = {k: {"value": v} for k, v in copy.deepcopy(EXAMPLES[key]).items()}
        operation["requestBody"] = {"required": True, "content": {JSON: media}}
    responses: Schema = {
        str(status): _success(status, copy.deepcopy(body), in_v3=in_v3)
        for status, body in op.ok.items()
    }
    faults = set(op.faults)
    if in_v3:
        faults |= set(COMMON_FAULTS)
        if op.body is not None:
            faults |= set(BODY_FAULTS)
    for code in sorted(faults):
        responses[str(code)] = _ref("responses", f"Fault{code}")
    operation["responses"] = responses
    if op.description:
        operation["description"] = op.description


def build(app: FastAPI) -> dict[str, Any]:
    """The whole document for ``app`` (FastAPI's, completed as the module docstring says)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=expanded(app.routes),
    )
    for full_path, item in doc.get("paths", {}).items():
        prefix, path = _split(full_path)
        for method, operation in item.items():
            _describe(method, path, operation, prefix)
    _add_links(doc.get("paths", {}))
    doc["components"] = _components()
    return doc


def document(app: FastAPI) -> dict[str, Any]:
    """The document, built once per app (FastAPI's ``app.openapi`` contract)."""
    if app.openapi_schema is None:
        app.openapi_schema = build(app)
    return app.openapi_schema
