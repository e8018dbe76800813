"""`make fuzz`: schemathesis against the OpenAPI document a real `firebrick serve` publishes.

Starts a service on a free loopback port in a temporary directory (SQLite, two file
backends, each exporting over a private tgt iSCSI port) and runs ``schemathesis run`` on its
``/openapi.json`` with the contract checks, twice: once on the document as published, once
with the newest microversion pinned (see PASSES). Before each pass it seeds a project of
its own with volumes (some with snapshots, some reserved or attached), a volume type and
attachments; ids in paths and bodies come from the seeds about half of the time
(schemathesis dictionaries), so that generated input reaches real resources, not only 404s.

Fails when schemathesis finds anything, when the passes generated fewer cases than
``--min-cases`` together, or when the service's logs hold a traceback.

Usage: tools/fuzz.py [--examples N] [--pass NAME] [--database sqlite|postgresql] [--seed S]
                     [--min-cases N] [--keep] [-- more schemathesis run arguments]
(``make fuzz FUZZ_ARGS="--examples 100"``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from attach_helpers import connector, stop_targets, target_backend  # noqa: E402
from harness import (  # noqa: E402
    MAX_MICROVERSION,
    STARTUP_TIMEOUT,
    Service,
    VolumeApi,
    free_port,
    launch,
    new_project,
    render_config,
    spawn,
)

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
DEFAULT_EXAMPLES = 30  # per operation and phase: about 7,000 cases a pass (124 operations)
DEFAULT_MIN_CASES = 5000
# Unlimited quotas, so that creates get past the quota check and the fuzzer reaches what
# comes after them (its own quota updates may still bring limits back).
DEFAULTS = {"quota_volumes": "-1", "quota_snapshots": "-1", "quota_gigabytes": "-1"}
TRACEBACK = "Traceback (most recent call last)"


def schemathesis_bin() -> str:
    script = Path(sys.executable).parent / "schemathesis"
    return str(script) if script.exists() else "schemathesis"


def start(workdir: Path, database_url: str | None = None) -> Service:
    """``firebrick serve`` on SQLite, or on ``database_url`` (an empty database) if given."""
    backends = {
        name: {"file_capacity_gb": "100000", **target_backend("iscsi")}
        for name in ("file-1", "file-2")
    }
    if database_url is None:
        return launch(workdir, backends=backends, defaults=DEFAULTS, host="fuzz")
    port = free_port()
    state_path = workdir / f"state-{port}"
    state_path.mkdir(parents=True)
    text, rendered = render_config(state_path, port, "fuzz", backends, DEFAULTS)
    text = re.sub(r"(?m)^connection = .*$", f"connection = {database_url}", text)
    config_path = state_path / "firebrick.conf"
    config_path.write_text(text)
    output_path = state_path / "serve.out"
    svc = Service(
        host="fuzz", base_url=f"http://127.0.0.1:{port}", state_path=state_path,
        config_path=config_path, backends=rendered,
        process=spawn(config_path, state_path, output_path), output_path=output_path,
    )  # fmt: skip
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and svc.process.poll() is None:
        try:
            httpx.get(svc.base_url + "/", timeout=1.0)
            return svc
        except httpx.HTTPError:
            time.sleep(0.1)
    svc.stop()
    raise RuntimeError(f"firebrick serve did not come up:\n{svc.output()[-4000:]}")


SEED_VOLUMES = 24


def _created(resp: Any, key: str | None) -> str:
    """The id of what ``resp`` made (under ``key``); the request must have succeeded."""
    assert resp.status_code in (200, 202), f"seeding failed: {resp.status_code} {resp.text}"
    found: str = resp.json()[key]["id"] if key else ""
    return found


def _wait_snapshot(api: VolumeApi, snapshot_id: str) -> None:
    def ready() -> bool:
        resp = api.get(f"/snapshots/{snapshot_id}")
        return resp.status_code == 200 and resp.json()["snapshot"]["status"] == "available"

    api.wait_for(ready, f"snapshot {snapshot_id}")


def seed(svc: Service, project: str) -> dict[str, list[str]]:
    """Resources for the fuzzer to aim at, by kind (what the dictionaries are made of)."""
    with svc.client(project, user="fuzz", microversion=MAX_MICROVERSION) as api:
        # Whatever an earlier pass did to quota classes and services, this project can create.
        unlimited = {"quota_set": {"volumes": -1, "snapshots": -1, "gigabytes": -1}}
        _created(api.put(f"/os-quota-sets/{project}", json=unlimited), None)
        for backend in svc.backends:
            host = {"host": f"{svc.host}@{backend}", "binary": "cinder-volume"}
            _created(api.put("/os-services/enable", json=host), None)
        volumes = [
            api.create_volume(1, wait=None, name=f"seed-{i}", metadata={"purpose": "fuzz"})["id"]
            for i in range(SEED_VOLUMES)
        ]
        for volume_id in volumes:
            api.wait_for_volume(volume_id)
        snapshots = []
        for volume_id in volumes[:10]:
            body = {"snapshot": {"volume_id": volume_id, "metadata": {"purpose": "fuzz"}}}
            snapshots.append(_created(api.post("/snapshots", json=body), "snapshot"))
        for snapshot_id in snapshots:
            _wait_snapshot(api, snapshot_id)
        name = f"fuzz-{project[:8]}"
        body = {"volume_type": {"name": name, "extra_specs": {"color": "blue"}}}
        types = [_created(api.post("/types", json=body), "volume_type"), name]
        attachments = []
        for i, volume_id in enumerate(volumes[10:14]):
            inner: dict[str, Any] = {"volume_uuid": volume_id, "instance_uuid": str(uuid.uuid4())}
            if i % 2:  # exported and completed: the volume is in-use
                inner["connector"] = connector(host=f"compute-{i}")
            attachment_id = _created(api.post("/attachments", json={"attachment": inner}),
                                     "attachment")  # fmt: skip
            if i % 2:
                api.post(f"/attachments/{attachment_id}/action", json={"os-complete": None})
            attachments.append(attachment_id)
    return {
        "volumes": volumes,
        "snapshots": snapshots,
        "owners": volumes + snapshots,
        "types": types,
        "attachments": attachments,
        "keys": ["purpose", "color"],
    }


# (parameter, dictionary, probability): where the seeds go.
BINDINGS = (
    ("path.volume_id", "volumes", 0.5),
    ("path.owner_id", "owners", 0.5),
    ("path.snapshot_id", "snapshots", 0.5),
    ("path.type_id", "types", 0.5),
    ("path.attachment_id", "attachments", 0.5),
    ("path.key", "keys", 0.3),
    ("body.snapshot.volume_id", "volumes", 0.5),
    ("body.attachment.volume_uuid", "volumes", 0.5),
    ("body.volume.snapshot_id", "snapshots", 0.3),
    ("body.volume.source_volid", "volumes", 0.3),
    ("body.volume.volume_type", "types", 0.5),
    ("body.os-retype.new_type", "types", 0.5),
    ("body.os-detach.attachment_id", "attachments", 0.5),
)


def write_config(path: Path, project: str, seeds: dict[str, list[str]]) -> None:
    # Every /v3/{project_id}/... operation gets the token's project: any other project in
    # the URL is refused (400) before the operation runs, which would test nothing.
    lines = ["[parameters]", f'"path.project_id" = {json.dumps(project)}']
    lines += [
        f'"{name}" = {{ dictionary = "{kind}", probability = {chance} }}'
        for name, kind, chance in BINDINGS
    ]
    for kind, values in seeds.items():
        lines += ["", f"[dictionaries.{kind}]", f"values = {json.dumps(values)}"]
    path.write_text("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Pass:
    """One schemathesis run: its name and the arguments that set it apart."""

    name: str
    args: tuple[str, ...]
    about: str


PASSES = (
    Pass("document", (), "the document as published, microversion header fuzzed too"),
    # A malformed microversion header is refused before anything else, and schemathesis
    # breaks the header in about half of its negative cases: this pass pins the newest
    # microversion so that broken bodies, paths and queries reach the routes.
    Pass("latest", ("--header", f"OpenStack-API-Version: volume {MAX_MICROVERSION}"),
         f"microversion pinned at {MAX_MICROVERSION}"),
)  # fmt: skip


@dataclass
class Outcome:
    name: str
    code: int
    cases: int | None
    failures: int | None
    seconds: float


def command(
    url: str, config: Path, report_dir: Path, project: str, step: Pass, args: argparse.Namespace
) -> list[str]:
    argv = [
        schemathesis_bin(),
        "--config-file", str(config),
        "run", f"{url}/openapi.json",
        "--checks", ",".join(CHECKS),
        "--header", f"X-Auth-Token: fuzz:{project}",
        *step.args,
        "--max-examples", str(args.examples),
        "--generation-database", "none",
        "--no-color",
        "--report", "json",
        "--report-dir", str(report_dir),
    ]  # fmt: skip
    if args.seed is not None:
        argv += ["--seed", str(args.seed)]
    return argv + list(args.extra)


def report_numbers(output: str, report_dir: Path) -> tuple[int | None, int | None]:
    """(cases generated, unique failures) from schemathesis' JSON report, else its summary."""
    for report in sorted(report_dir.glob("*.json")):
        try:
            data: Any = json.loads(report.read_text())
            cases = data["test_cases"]
            return int(cases["generated"]), int(cases["unique_failures"])
        except (ValueError, KeyError, TypeError):
            continue
    match = re.search(r"(\d+) generated", output)
    return (int(match.group(1)) if match else None), None


def run_pass(svc: Service, workdir: Path, step: Pass, args: argparse.Namespace) -> Outcome:
    started = time.monotonic()
    project = new_project()
    seeds = seed(svc, project)
    config = workdir / f"schemathesis-{step.name}.toml"
    write_config(config, project, seeds)
    report_dir = workdir / f"report-{step.name}"
    argv = command(svc.base_url, config, report_dir, project, step, args)
    print(f"\n==== fuzz pass {step.name!r}: {step.about} ====", flush=True)
    print("fuzz: " + " ".join(argv), flush=True)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    cases, failures = report_numbers("".join(lines), report_dir)
    return Outcome(step.name, code, cases, failures, time.monotonic() - started)


def tracebacks(svc: Service) -> list[str]:
    """Each traceback in the service's logs and output, with the line that introduced it."""
    found: list[str] = []
    paths = [*sorted(svc.log_dir.glob("*.log")), svc.output_path]
    for path in paths:
        if not path.exists():
            continue
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if TRACEBACK in line:
                context = lines[max(0, i - 1) : i + 1]
                tail = next(
                    (ln for ln in lines[i + 1 : i + 80] if ln and not ln.startswith(" ")), ""
                )
                found.append(f"{path.name}: {' | '.join(context)} ... {tail}")
    return found


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str | None]:
    """None for SQLite (the service's own file); a fresh PostgreSQL database's URL."""
    if kind == "sqlite":
        yield None
        return
    from infra.postgres import PostgresServer, make_base_dir
    from infra.postgres import free_port as pg_port

    server = PostgresServer(make_base_dir("fb-fuzz-pg-"), pg_port())
    server.start()
    try:
        yield server.create_database("fuzz")
    finally:
        server.remove()


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="firebrick-fuzz-"))
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with database(args.database, workdir) as url:
        svc = start(workdir, url)
        print(f"fuzz: firebrick at {svc.base_url} on {args.database} "
              f"(state {svc.state_path})", flush=True)  # fmt: skip
        try:
            for step in PASSES:
                if args.passes and step.name not in args.passes:
                    continue
                outcomes.append(run_pass(svc, workdir, step, args))
        finally:
            svc.stop()
            stop_targets(svc)
    traces = tracebacks(svc)
    total = sum(o.cases or 0 for o in outcomes)
    problems = [f"pass {o.name}: schemathesis exited with {o.code}" for o in outcomes if o.code]
    if total < args.min_cases:
        problems.append(f"{total} cases generated, fewer than {args.min_cases}")
    if traces:
        problems.append(f"{len(traces)} traceback(s) in the service's logs")
    print("\n==== fuzz summary ====")
    for o in outcomes:
        print(f"pass {o.name}: {o.cases} cases, {o.failures} unique failures, "
              f"exit code {o.code}, {o.seconds:.0f} s")  # fmt: skip
    print(f"total: {total} cases; tracebacks in the service's logs: {len(traces)}")
    for trace in traces[:20]:
        print(f"  {trace}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    if problems:
        print("FAILED: " + "; ".join(problems))
        print(f"state, logs and reports kept in {workdir}")
        return 1
    print("OK")
    if args.keep:
        print(f"state, logs and reports kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        help="schemathesis --max-examples (per operation and phase)",
    )
    parser.add_argument("--seed", type=int, default=None, help="schemathesis --seed")
    parser.add_argument(
        "--min-cases",
        type=int,
        default=DEFAULT_MIN_CASES,
        help="fail when schemathesis generates fewer cases",
    )
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="the service's database (postgresql: a private server, as the tests start)",
    )
    parser.add_argument(
        "--pass",
        dest="passes",
        action="append",
        choices=[p.name for p in PASSES],
        help="run only this pass (repeatable; default: all)",
    )
    parser.add_argument("extra", nargs="*", help="more schemathesis run arguments, after --")
    return run(parser.parse_args(argv))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
