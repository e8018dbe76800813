"""`make tempest`: OpenStack Tempest's volume API suite against a real Firebrick.

Starts a real Keystone (the one the keystone tests start) and a real Glance (``make
glance``) registered in its catalog, uploads a small public qcow2 image for
``[compute] image_ref``, registers Firebrick in the catalog, runs ``firebrick serve`` with
``auth_strategy = keystone`` and two backends (image-volume cache on): a file backend and
an RBD backend on a throwaway one-node Ceph (``tests/integration/infra/ceph.py``), writes
``tempest.conf`` (catalog discovery, both backend names so that the multi-backend and
migration tests run, the manage tests with the refs both drivers use, Glance and the
image dependency tests on; no Nova or Swift) and runs Tempest's ``tempest.api.volume``
tests from Tempest's own venv (``make tempest`` builds ``.tempest-venv`` with the pinned
release).

Credentials are pre-provisioned (``accounts.yaml``), not dynamic: Tempest's dynamic
credentials call Neutron to clean up security groups whenever Neutron counts as available,
and it must count as available or Tempest skips whole classes of volume tests (nothing
here calls Neutron; the tests that would boot a server skip for want of Nova). Two shards
run side by side, each one class at a time with projects of its own, so that no two
classes ever share a project (quota and limits tests count a project's volumes). A test
Tempest runs only with dynamic credentials is run again with them afterwards.

Keystone keeps its data in PostgreSQL when the machine has it (``infra.postgres``) and its
venv has psycopg2: two shards authenticating at once made its SQLite database refuse a
write now and then (a 500 on a token request fails a whole test class).

Prints passed/failed/skipped with every skip reason and each failure's traceback tail;
exits non-zero on any failure, or when fewer tests passed than ``--min-passed``.

Usage: tools/tempest.py [--regex R] [--shards N] [--min-passed N] [--keep] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from attach_helpers import stop_targets, target_backend  # noqa: E402
from ceph_helpers import rbd_backend  # noqa: E402
from harness import Service, free_port, launch  # noqa: E402
from infra import ceph as ceph_infra  # noqa: E402
from infra import glance as gl  # noqa: E402
from infra import keystone as ks  # noqa: E402
from infra import postgres as pg  # noqa: E402

TEMPEST_VERSION = "47.0.0"
DEFAULT_REGEX = r"^tempest\.api\.volume\."
BACKENDS = ("file-1", "rbd-1")
# The RBD backend's OSD: a sparse file; Tempest's volumes are thin and mostly empty.
CEPH_OSD_GIB = 20
MIN_PASSED = 205
SHARDS = 2
# Per shard: a test's primary and project_reader come from one project of two members, its
# alt from a project of its own (see provision_accounts); admins have projects of their own.
PROJECTS_PER_SHARD = 3
ADMINS_PER_SHARD = 2
NEEDS_DYNAMIC_CREDENTIALS = "Must use dynamic credentials."
# Tests that need a service Firebrick does not replace but do not check for it themselves
# (Tempest skips the others): run, they fail on Tempest's side before reaching Firebrick.
EXCLUDED: dict[str, str] = {}
# Services Firebrick does not replace: a skip that names one of these is expected.
ABSENT_SERVICES = ("nova", "compute", "swift", "object", "neutron", "network", "backup",
                   "server")  # fmt: skip
# Skip reasons that do not name the service they wait for.
SKIP_SERVICES = {
    # [compute-feature-enabled] volume_multiattach: whether Nova attaches to several servers
    "Volume multi-attach is not available.": "nova",
}

# Reads a subunit v2 stream (stdin) in Tempest's venv; prints one JSON line a test.
SUBUNIT_READER = r"""
import json, sys
import subunit, testtools
results = {}
def on_test(test):
    details = test.get("details", {})
    reason, trace = details.get("reason"), details.get("traceback")
    results[test["id"]] = {
        "status": test["status"],
        "reason": reason.as_text() if reason is not None else "",
        "traceback": trace.as_text() if trace is not None else "",
    }
stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
result = testtools.StreamToDict(on_test)
result.startTestRun()
stream.run(result)
result.stopTestRun()
for test_id, found in results.items():
    print(json.dumps({"id": test_id, **found}))
"""


def tempest_venv() -> Path:
    path = Path(os.environ.get("TEMPEST_VENV", ".tempest-venv"))
    return path if path.is_absolute() else ROOT / path


def tempest_bin(name: str) -> str:
    return str(tempest_venv() / "bin" / name)


# ---------------------------------------------------------------------------------------
# the deployment under test


def start_firebrick(
    workdir: Path, deployment: ks.Deployment, port: int, ceph: ceph_infra.CephCluster
) -> Service:
    backends = {
        "file-1": {"file_capacity_gb": "1000", "image_volume_cache_enabled": "true",
                   **target_backend("iscsi")},
        "rbd-1": rbd_backend(ceph, image_volume_cache_enabled="true"),
    }  # fmt: skip
    return launch(
        workdir / "firebrick",
        backends=backends,
        defaults={"auth_strategy": "keystone", "report_interval": "2"},
        host="tempest",
        port=port,
        sections={"keystone_authtoken": deployment.authtoken_section()},
    )


def provision_accounts(conn: Any, shard: int) -> list[dict[str, Any]]:
    """A shard's pre-provisioned accounts, created in Keystone (``accounts.yaml`` rows).

    Members are declared with ``reader`` too: Keystone's implied roles make them readers.
    """
    roles = {role.name: role for role in conn.identity.roles()}
    accounts: list[dict[str, Any]] = []

    def account(project: Any, name: str, role: str, **declared: Any) -> None:
        password = secrets.token_urlsafe(12)
        user = conn.identity.create_user(name=name, password=password, domain_id="default")
        conn.identity.assign_project_role_to_user(project, user, roles[role])
        accounts.append({"username": name, "project_name": project.name, "password": password,
                         **declared})  # fmt: skip

    # Tempest hands out ``alt`` as the first free account in file order that has no admin
    # role, but picks ``primary`` by a tie-break on a hash of the password: random. An alt
    # of primary's own project (a third of the runs) broke the alt tests and left no
    # reader beside primary. So alt has an account of its own, first, declared with no
    # role, which nothing but alt ever asks for.
    alt = conn.identity.create_project(name=f"tempest-{shard}-alt", domain_id="default")
    account(alt, f"tempest-{shard}-alt", "member")
    for p in range(PROJECTS_PER_SHARD):
        project = conn.identity.create_project(name=f"tempest-{shard}-{p}", domain_id="default")
        for u in range(2):
            account(project, f"tempest-{shard}-{p}-{u}", "member", roles=["member", "reader"])
    for a in range(ADMINS_PER_SHARD):
        name = f"tempest-{shard}-admin-{a}"
        project = conn.identity.create_project(name=name, domain_id="default")
        account(project, name, "admin", types=["admin"])
    return accounts


def start_glance(workdir: Path, keystone: ks.KeystoneServer) -> tuple[gl.GlanceServer, str]:
    """Glance in the catalog, Firebrick's service user made admin, and a public image."""
    glance = gl.GlanceServer(workdir / "glance", keystone, threads=16)
    glance.start()
    try:
        glance.register()
        gl.grant_service_admin(keystone)
        source = gl.make_image(workdir / "tempest-image.qcow2",
                               os.urandom(1 << 20) + b"tempest" * 4096, "qcow2",
                               virtual_size=64 << 20)  # fmt: skip
        token = keystone.token(ks.ADMIN_USER, keystone.admin_password, "admin")
        image = gl.upload(glance.url, token, source, name="tempest-image",
                          disk_format="qcow2", visibility="public")  # fmt: skip
    except BaseException:
        glance.stop()
        raise
    return glance, str(image["id"])


def tempest_conf(
    keystone: ks.KeystoneServer, workspace: Path, accounts: Path | None, image_ref: str = ""
) -> str:
    """``tempest.conf``: pre-provisioned ``accounts``, or else dynamic credentials."""
    auth = {"default_credentials_domain_name": ks.DOMAIN, "create_isolated_networks": "false"}
    if accounts is not None:
        auth |= {"use_dynamic_credentials": "false", "test_accounts_file": str(accounts)}
    else:
        auth |= {"use_dynamic_credentials": "true", "admin_username": ks.ADMIN_USER,
                 "admin_password": keystone.admin_password, "admin_project_name": "admin",
                 "admin_domain_name": ks.DOMAIN}  # fmt: skip
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {"log_file": "tempest.log", "debug": "true"},
        "oslo_concurrency": {"lock_path": str(workspace / "locks")},
        "auth": auth,
        "identity": {"uri_v3": keystone.url, "auth_version": "v3", "region": ks.REGION},
        "identity-feature-enabled": {"api_v2": "false"},
        "service_available": {
            "cinder": "true", "nova": "false", "glance": "true" if image_ref else "false",
            "swift": "false",
            # Dynamic credentials would call it (see the module's docstring).
            "neutron": "true" if accounts is not None else "false",
        },
        "volume": {
            "catalog_type": "block-storage",
            "backend_names": ",".join(BACKENDS),
            "storage_protocol": "iSCSI",
            "vendor_name": "Open Source",
            "min_microversion": "3.0",
            "max_microversion": "3.71",
            "build_interval": "1",
            "build_timeout": "120",
            "manage_volume_ref": "source-name,volume-%s",
            "manage_snapshot_ref": "source-name,snapshot-%s",
            "disk_format": "raw,qcow2",
            "backup_driver": "posix",
        },
        "compute": {"image_ref": image_ref, "image_ref_alt": image_ref},
        "image": {"container_formats": "bare", "disk_formats": "raw,qcow2,vmdk,vdi,vhd,vhdx"},
        "volume-feature-enabled": {
            "multi_backend": "true", "backup": "true", "manage_volume": "true",
            "manage_snapshot": "true", "extend_attached_volume": "false",
            "api_extensions": "all", "enable_volume_image_dep_tests": "true",
        },
    }  # fmt: skip
    lines: list[str] = []
    for section, options in sections.items():
        lines += [f"[{section}]", *(f"{k} = {v}" for k, v in options.items()), ""]
    return "\n".join(lines)


def make_workspace(path: Path, conf: str) -> Path:
    (path / "etc").mkdir(parents=True, exist_ok=True)
    (path / "etc" / "tempest.conf").write_text(conf)
    package = _tempest_package()
    # Tempest's own test discovery; a class's tests stay on one worker (group_regex).
    (path / ".stestr.conf").write_text(
        f"[DEFAULT]\ntest_path={package / 'test_discover'}\ntop_dir={package.parent}\n"
        "group_regex=([^\\.]*\\.)*\n"
    )
    subprocess.run([tempest_bin("stestr"), "init"], cwd=path, capture_output=True, check=True)
    return path


# ---------------------------------------------------------------------------------------
# running Tempest


def _env(workspace: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
    return env | {"TEMPEST_CONFIG_DIR": str(workspace / "etc"), "TEMPEST_CONFIG": "tempest.conf"}


def listed(workspace: Path, regex: str, exclude: str = "") -> list[str]:
    """The tests ``regex`` selects (less ``exclude``), by stestr's discovery."""
    found = subprocess.run(
        [tempest_bin("stestr"), "list", *(["--exclude-regex", exclude] if exclude else []),
         regex],
        cwd=workspace, env=_env(workspace), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in found.stdout.splitlines() if line.startswith("tempest.")]


def start_run(workspace: Path, tests: list[str]) -> subprocess.Popen[bytes]:
    """``tempest run`` of ``tests``, one class at a time; its subunit stream to a file."""
    (workspace / "tests.txt").write_text("\n".join(tests) + "\n")
    with (workspace / "results.subunit").open("wb") as out:
        return subprocess.Popen(
            [tempest_bin("tempest"), "run", "--load-list", "tests.txt", "--serial",
             "--subunit"],
            cwd=workspace, env=_env(workspace), stdout=out, stderr=subprocess.DEVNULL,
        )  # fmt: skip


def read_results(workspace: Path) -> list[dict[str, Any]]:
    with (workspace / "results.subunit").open("rb") as data:
        parsed = subprocess.run([tempest_bin("python"), "-c", SUBUNIT_READER], stdin=data,
                                capture_output=True, check=True)  # fmt: skip
    return [json.loads(line) for line in parsed.stdout.decode().splitlines() if line]


def _base_id(test_id: str) -> str:
    """A test's id without its ``[id-…,tags]`` suffix."""
    return test_id.split("[", 1)[0]


def _class_of(test_id: str) -> str:
    return _base_id(test_id).rsplit(".", 1)[0]


def shard(tests: list[str], shards: int) -> list[list[str]]:
    """Whole classes, the biggest first, each to the shard with the fewest tests."""
    by_class: dict[str, list[str]] = collections.defaultdict(list)
    for test in tests:
        by_class[_class_of(test)].append(test)
    dealt: list[list[str]] = [[] for _ in range(shards)]
    for members in sorted(by_class.values(), key=len, reverse=True):
        min(dealt, key=len).extend(members)
    return [d for d in dealt if d]


def outcomes(selected: list[str], results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The outcome of every selected test, as Tempest counts them: the tests of a class
    whose ``setUpClass`` was skipped or failed (they never ran) share its outcome, and a
    failed ``tearDownClass`` fails the class's tests that passed."""
    by_test = {_base_id(r["id"]): r for r in results
               if r["id"].startswith("tempest.") and r["status"] != "exists"}  # fmt: skip
    setup: dict[str, dict[str, Any]] = {}
    teardown: dict[str, dict[str, Any]] = {}
    for r in results:
        for prefix, into in (("setUpClass (", setup), ("tearDownClass (", teardown)):
            if r["id"].startswith(prefix) and r["status"] in ("fail", "skip"):
                into[r["id"][len(prefix) :].rstrip(")")] = r
    found: dict[str, dict[str, Any]] = {}
    for test_id in selected:
        base, owner = _base_id(test_id), _class_of(test_id)
        result = by_test.get(base) or setup.get(owner)
        if result is None:
            result = {"status": "fail", "reason": "", "traceback": "did not run"}
        elif result["status"] == "success" and owner in teardown:
            result = teardown[owner]
        found[base] = result
    return found


# ---------------------------------------------------------------------------------------
# the report


def _names_absent_service(reason: str) -> bool:
    lowered = SKIP_SERVICES.get(reason, reason).lower()
    return any(name in lowered for name in ABSENT_SERVICES)


def report(found: dict[str, dict[str, Any]], excluded: int, min_passed: int) -> int:
    by_status = collections.Counter(r["status"] for r in found.values())
    passed, failed = by_status["success"], by_status["fail"] + by_status["uxsuccess"]
    skipped = by_status["skip"] + excluded
    for test_id, r in sorted(found.items()):
        if r["status"] in ("fail", "uxsuccess"):
            print(f"FAIL {test_id}")
            tail = r["traceback"].strip().splitlines()[-12:]
            print("    " + "\n    ".join(tail))
    reasons = collections.Counter(r["reason"] or "(no reason)" for r in found.values()
                                  if r["status"] == "skip")  # fmt: skip
    for reason in EXCLUDED.values():
        reasons[f"excluded: {reason}"] += 1
    if reasons:
        print("\nSkip reasons:")
        for reason, count in reasons.most_common():
            service = SKIP_SERVICES.get(reason)
            marker = "" if _names_absent_service(reason) else "  <-- a Firebrick feature?"
            print(f"  {count:4d}  {reason}{f' ({service})' if service else ''}{marker}")
    print(f"\nTempest {TEMPEST_VERSION} volume API: {passed} passed, {failed} failed, "
          f"{skipped} skipped ({len(found) + excluded} tests)")  # fmt: skip
    if failed:
        return 1
    if passed < min_passed:
        print(f"fewer than {min_passed} tests passed")
        return 1
    return 0


def run_suite(
    workdir: Path, keystone: ks.KeystoneServer, regex: str, shards: int, image_ref: str
) -> tuple[dict[str, dict[str, Any]], int]:
    """Every selected test's outcome, and how many tests were excluded."""
    conn = keystone.admin_connection()
    try:
        accounts = [provision_accounts(conn, n) for n in range(shards)]
    finally:
        conn.close()
    workspaces = []
    for n, rows in enumerate(accounts):
        path = workdir / f"tempest-{n}"
        (path / "etc").mkdir(parents=True, exist_ok=True)
        (path / "etc" / "accounts.yaml").write_text(yaml.safe_dump(rows))
        conf = tempest_conf(keystone, path, path / "etc" / "accounts.yaml", image_ref)
        workspaces.append(make_workspace(path, conf))
    exclude = "|".join(EXCLUDED)
    selected = listed(workspaces[0], regex, exclude)
    excluded = len(listed(workspaces[0], regex)) - len(selected)
    dealt = shard(selected, shards)
    runs = [start_run(ws, tests) for ws, tests in zip(workspaces, dealt, strict=False)]
    for run in runs:
        run.wait()
    found = outcomes(selected, [r for ws in workspaces[: len(runs)] for r in read_results(ws)])

    again = [t for t in selected if found[_base_id(t)]["reason"] == NEEDS_DYNAMIC_CREDENTIALS]
    if again:
        dynamic = workdir / "tempest-dynamic"
        make_workspace(dynamic, tempest_conf(keystone, dynamic, None, image_ref))
        start_run(dynamic, again).wait()
        found.update(outcomes(again, read_results(dynamic)))
    return found, excluded


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--regex", default=DEFAULT_REGEX)
    parser.add_argument("--shards", type=int, default=SHARDS)
    parser.add_argument("--min-passed", type=int, default=MIN_PASSED)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if not (tempest_venv() / "bin" / "tempest").exists():
        print(f"Tempest is not installed in {tempest_venv()} (run `make tempest`)")
        return 2
    if not ks.available():
        print(ks.unavailable_reason())
        return 2
    if not gl.available():
        print(gl.unavailable_reason())
        return 2
    if not ceph_infra.available():
        print(ceph_infra.unavailable_reason())
        return 2

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="firebrick-tempest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    database = start_keystone_database()
    keystone = ks.KeystoneServer(
        workdir / "keystone", threads=16, database_url=database and database[1]
    )
    service: Service | None = None
    glance: gl.GlanceServer | None = None
    ceph = ceph_infra.CephCluster(ceph_infra.make_base_dir("fb-tempest-ceph-"),
                                  osd_gib=CEPH_OSD_GIB)  # fmt: skip
    try:
        ceph.start()
        keystone.start()
        port = free_port()
        deployment = ks.provision(keystone, projects=(), endpoint=f"http://127.0.0.1:{port}")
        glance, image_ref = start_glance(workdir, keystone)
        service = start_firebrick(workdir, deployment, port, ceph)
        found, excluded = run_suite(workdir, keystone, args.regex, args.shards, image_ref)
        code = report(found, excluded, args.min_passed if args.regex == DEFAULT_REGEX else 0)
        if code:
            print_errors("Keystone", keystone.log())
        print(f"wall time {time.monotonic() - started:.0f} s; work directory {workdir}")
        return code
    finally:
        if service is not None:
            service.stop()
            stop_targets(service)
        if glance is not None:
            glance.stop()
        keystone.stop()
        if database is not None:
            database[0].remove()
        if args.keep:
            ceph.stop()
            print(f"Ceph's logs: {ceph.log_dir}")
        else:
            ceph.remove()
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def print_errors(name: str, log: str, limit: int = 30) -> None:
    """The last ``limit`` ERROR lines (and the exception lines) of a server's log."""
    lines = [line for line in log.splitlines() if " ERROR " in line or "Error:" in line]
    if lines:
        print(f"{name} errors ({len(lines)} lines, the last {min(limit, len(lines))}):")
        print("\n".join(f"  {line[:300]}" for line in lines[-limit:]))


def start_keystone_database() -> tuple[pg.PostgresServer, str] | None:
    """A PostgreSQL server and database for Keystone, or None (then Keystone uses SQLite)."""
    has_driver = subprocess.run(
        [str(ks.venv_dir() / "bin" / "python"), "-c", "import psycopg2"],
        capture_output=True, check=False,
    ).returncode == 0  # fmt: skip
    if not (pg.available() and has_driver):
        print("Keystone on SQLite (no PostgreSQL here, or no psycopg2 in its venv)")
        return None
    server = pg.PostgresServer(pg.make_base_dir("fb-tempest-pg-"), pg.free_port())
    server.start()
    url = server.create_database("keystone")
    return server, url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)


def _tempest_package() -> Path:
    script = "import os, tempest; print(os.path.dirname(tempest.__file__))"
    found = subprocess.run([tempest_bin("python"), "-c", script], capture_output=True,
                           text=True, check=True)  # fmt: skip
    return Path(found.stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
