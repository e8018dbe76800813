"""Firebrick's answers checked against Tempest's published response schemas, by Tempest.

Tempest's schemas (``tempest/lib/api_schema/response/volume/``, newer microversions in
``v3_*`` folders) are the contract Cinder's clients validate against. A validator process
in Tempest's own venv (``make tempest-venv``: ``.tempest-venv``, or ``TEMPEST_VENV``) runs
Tempest's ``RestClient.validate_response`` on each answer a test hands it, so the check is
Tempest's own: status code, body with its formats, headers.

    schemas = TempestSchemas.start()
    resp = api.post("/types", json={...})
    schemas.check("volume_types.create_volume_type", resp)   # raises SchemaMismatch

A reference is ``<module>.<name>`` below ``tempest.lib.api_schema.response.volume``, e.g.
``volumes.show_volume`` or ``v3_64.volumes.show_volume``.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]

_VALIDATOR = r"""
import importlib, json, sys
from tempest.lib.common import rest_client

class Resp(dict):
    def __init__(self, status, headers):
        super().__init__(headers)
        self.status = status

PACKAGE = "tempest.lib.api_schema.response.volume"
for line in sys.stdin:
    item = json.loads(line)
    try:
        module, _, name = item["ref"].rpartition(".")
        schema = getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)
        rest_client.RestClient.validate_response(
            schema, Resp(item["status"], item["headers"]), item["body"])
        answer = {"ok": True}
    except Exception as exc:
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
"""


class SchemaMismatch(AssertionError):
    pass


def _set_aside(body: Any, keys: frozenset[str]) -> set[str]:
    """Remove ``keys`` from the resources of ``body`` (``{"volume": {...}}``, or lists of
    them, and a list's ``count``); the keys some resource lacked."""
    missing: set[str] = set()
    if not isinstance(body, dict):
        return set(keys)
    if "count" in keys and body.pop("count", None) is None:
        missing.add("count")
    for member, value in list(body.items()):
        resources = value if isinstance(value, list) else [value]
        for resource in resources:
            if isinstance(resource, dict) and not member.endswith("_links"):
                missing |= {k for k in keys if k != "count" and k not in resource}
                for key in keys:
                    resource.pop(key, None)
    return missing


def venv_dir() -> Path:
    path = Path(os.environ.get("TEMPEST_VENV", ".tempest-venv"))
    return path if path.is_absolute() else REPO / path


def available() -> bool:
    return (venv_dir() / "bin" / "tempest").is_file()


def unavailable_reason() -> str:
    return f"Tempest is not installed in {venv_dir()} (run `make tempest-venv`)"


class TempestSchemas:
    """One validator process; ``check`` may be called from any thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._lock = threading.Lock()
        self.checked: list[str] = []

    @classmethod
    def start(cls) -> TempestSchemas:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
        process = subprocess.Popen(
            [str(venv_dir() / "bin" / "python"), "-u", "-c", _VALIDATOR],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        return cls(process)

    def stop(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(10)

    def mismatch(self, ref: str, resp: httpx.Response, newer: Iterable[str] = ()) -> str | None:
        """What Tempest finds wrong with ``resp`` under the schema ``ref``; None if valid.

        ``newer``: keys of a microversion newer than the schema (Tempest has no schema for
        it, e.g. a snapshot's ``user_id`` from 3.41): each must be in every resource of the
        answer; they are set aside before Tempest checks the rest.
        """
        body: Any = resp.json() if resp.content else ""
        if newer:
            missing = _set_aside(body, frozenset(newer))
            if missing:
                return f"microversion keys missing: {sorted(missing)}"
        item = {"ref": ref, "status": resp.status_code, "headers": dict(resp.headers),
                "body": body}  # fmt: skip
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock:
            self._process.stdin.write(json.dumps(item) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the Tempest schema validator exited")
        answer = json.loads(line)
        self.checked.append(ref)
        return None if answer["ok"] else str(answer["error"])

    def check(self, ref: str, resp: httpx.Response, newer: Iterable[str] = ()) -> None:
        """Raise :class:`SchemaMismatch` unless ``resp`` validates against ``ref``
        (``newer``: see :meth:`mismatch`)."""
        found = self.mismatch(ref, resp, newer)
        if found is not None:
            raise SchemaMismatch(
                f"{resp.request.method} {resp.request.url} ({resp.status_code}) does not "
                f"validate against Tempest's {ref}: {found}"
            )
