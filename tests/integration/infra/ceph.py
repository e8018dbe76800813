"""A throwaway one-node Ceph for tests (mon, mgr, one OSD), and radosgw on it for S3.

Debian's Ceph (pacific) daemons run in the foreground as children of the test process,
with no systemd, no kernel module, no LVM and no ``ceph-volume``: the OSD is bluestore
on a sparse file (``bluestore block create``), as ``cinder-reference/ceph-up.sh`` does
it. Every port is picked free on 127.0.0.1 and every file lives under ``base_dir``, so
several clusters (pytest-xdist workers, other jobs on the machine) run side by side.
``stop()`` kills the daemons by pid; nothing outlives the cluster object's owner.

Clients: ``cluster.env`` has ``CEPH_CONF`` (and the admin keyring is named in the
config's ``[client]`` section), so ``rbd``, ``ceph``, ``qemu-img`` on ``rbd:pool/image``
and the ``rados``/``rbd`` Python modules all work against it.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

DAEMONS = ("ceph-mon", "ceph-mgr", "ceph-osd", "ceph-authtool", "monmaptool", "ceph", "rbd")
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
CLI_TIMEOUT = 60.0
# Messenger ports of the mgr and OSD come from this range (the mons' ports are explicit).
# Ceph binds the first free port of the range, so overlapping ranges only cost a retry.
PORT_RANGE_WIDTH = 400


def available() -> bool:
    """Whether the Ceph daemons and tools (Debian's ceph-mon/-mgr/-osd/-common) are here."""
    return all(shutil.which(name) for name in DAEMONS)


def radosgw_available() -> bool:
    return shutil.which("radosgw") is not None and shutil.which("radosgw-admin") is not None


def unavailable_reason() -> str:
    return (
        "Ceph is not installed (as root: apt-get install ceph-mon ceph-mgr ceph-osd "
        "ceph-common python3-rados python3-rbd radosgw)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_base_dir(prefix: str = "fb-ceph-") -> Path:
    """A short directory: admin sockets live under it and must fit in 107 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def _config(
    base: Path, mon_dir: Path, fsid: str, v2: int, v1: int, pmin: int, osd_bytes: int
) -> str:
    return f"""[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{v2},v1:127.0.0.1:{v1}]
public network = 127.0.0.0/8
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = {pmin}
ms bind port max = {pmin + PORT_RANGE_WIDTH}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = {base}/run
pid file = {base}/run/$name.pid
admin socket = {base}/run/$name.asok
log file = {base}/log/$name.log
crash dir = {base}/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
# Each new snapshot id is a pool map change through paxos, which the monitor batches for
# paxos_propose_interval (1 s by default): every snapshot (and so every clone) would wait
# that long on this one-monitor test cluster.
paxos propose interval = 0.01
paxos min wait = 0.001

[client]
keyring = {base}/ceph.$name.keyring

[mon]
keyring = $mon_data/keyring
mon data = {mon_dir}/$id
mon cluster log file = {base}/log/cluster.log

[mgr]
keyring = $mgr_data/keyring
mgr data = {base}/mgr/$id
mgr initial modules = rbd_support

[osd]
keyring = $osd_data/keyring
osd data = {base}/osd/$id
osd objectstore = bluestore
osd memory target = 1073741824
bluestore block create = true
bluestore block size = {osd_bytes}
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 268435456
"""


def _mon_dir(base: Path) -> Path:
    """Where the monitor keeps its store: in memory (/dev/shm) when there is one. Each new
    snapshot id is a map change the monitor commits to its store; on a busy shared disk
    that sync costs more than the whole clone it is part of, and this store is thrown
    away anyway (a few MiB)."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="fb-ceph-mon-", dir=shm))
    return base / "mon"


class CephCluster:
    """One mon (``a``), one mgr (``x``) and one OSD (``0``) under ``base_dir``.

    ``pool`` is created and initialised for RBD; clones from unprotected snapshots
    (clone v2) are allowed, as Cinder's RBD driver expects of a current cluster.
    """

    def __init__(self, base_dir: Path, pool: str = "volumes", osd_gib: int = 4) -> None:
        self.base_dir = Path(base_dir)
        self.pool = pool
        self.osd_bytes = osd_gib << 30
        self.fsid = str(uuid.uuid4())
        self.mon_v2 = free_port()
        self.mon_v1 = free_port()
        self.port_min = random.randrange(20000, 30000)
        self.mon_dir = _mon_dir(self.base_dir)
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    # -- paths and client environment -------------------------------------------------

    @property
    def conf(self) -> Path:
        return self.base_dir / "ceph.conf"

    @property
    def admin_keyring(self) -> Path:
        return self.base_dir / "ceph.client.admin.keyring"

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "log"

    @property
    def env(self) -> dict[str, str]:
        """The caller's environment with ``CEPH_CONF`` pointing at this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CEPH_")}
        env["CEPH_CONF"] = str(self.conf)
        return env

    @property
    def mon_host(self) -> str:
        return f"127.0.0.1:{self.mon_v1}"

    # -- commands ----------------------------------------------------------------------

    def run(self, *argv: str, stdin: str | None = None, check: bool = True) -> str:
        """Run a Ceph CLI (``ceph``, ``rbd``, ``rados``, …) against this cluster."""
        result = subprocess.run(
            [argv[0], "--conf", str(self.conf), *argv[1:]],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr}")
        return result.stdout

    def ceph_json(self, *argv: str) -> object:
        return json.loads(self.run("ceph", *argv, "--format", "json"))

    def _tool(self, *argv: str) -> None:
        # Tools that take no --conf (ceph-authtool, monmaptool).
        subprocess.run(argv, env=self.env, capture_output=True, check=True, timeout=CLI_TIMEOUT)

    def _daemon(self, name: str, *argv: str) -> None:
        """Start a daemon in the foreground (``-f``) as our child, so we own its pid."""
        with (self.log_dir / f"{name}.stdout").open("ab") as out:
            self._procs[name] = subprocess.Popen(
                [*argv, "-f", "-c", str(self.conf)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait(self, what: str, ready: object, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.log_dir}")
            try:
                if callable(ready) and ready():
                    return
            except (RuntimeError, ValueError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"Ceph: {what} not reached in {timeout:.0f} s; see {self.log_dir}")

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Create the cluster and return once every PG of ``pool`` is active+clean."""
        base = self.base_dir
        for sub in ("run", "log", "crash", "mgr/x", "osd/0"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (self.mon_dir / "a").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(_config(base, self.mon_dir, self.fsid, self.mon_v2, self.mon_v1,
                                     self.port_min, self.osd_bytes))  # fmt: skip
        mon_keyring = base / "mon.keyring"
        self._tool(
            "ceph-authtool", "--create-keyring", str(mon_keyring), "--gen-key", "-n", "mon.",
            "--cap", "mon", "allow *",
        )  # fmt: skip
        self._tool(
            "ceph-authtool", "--create-keyring", str(self.admin_keyring), "--gen-key",
            "-n", "client.admin", "--cap", "mon", "allow *", "--cap", "osd", "allow *",
            "--cap", "mds", "allow *", "--cap", "mgr", "allow *",
        )  # fmt: skip
        self._tool("ceph-authtool", str(mon_keyring), "--import-keyring", str(self.admin_keyring))
        monmap = base / "monmap"
        addrs = f"[v2:127.0.0.1:{self.mon_v2},v1:127.0.0.1:{self.mon_v1}]"
        self._tool("monmaptool", "--create", "--addv", "a", addrs, "--fsid", self.fsid, str(monmap))
        self._tool(
            "ceph-mon", "-c", str(self.conf), "--mkfs", "-i", "a", "--monmap", str(monmap),
            "--keyring", str(mon_keyring),
        )  # fmt: skip
        self._daemon("mon.a", "ceph-mon", "-i", "a")
        self._wait("mon quorum", lambda: self.run("ceph", "mon", "stat", "--connect-timeout", "5"))

        self.run(
            "ceph", "auth", "get-or-create", "mgr.x", "mon", "allow profile mgr", "osd", "allow *",
            "mds", "allow *", "-o", str(base / "mgr/x/keyring"),
        )  # fmt: skip
        self._daemon("mgr.x", "ceph-mgr", "-i", "x")

        osd_uuid = str(uuid.uuid4())
        osd_key = subprocess.run(
            ["ceph-authtool", "--gen-print-key"], capture_output=True, text=True, check=True
        ).stdout.strip()
        osd_id = self.run(
            "ceph", "osd", "new", osd_uuid, "-i", "-", stdin=json.dumps({"cephx_secret": osd_key})
        ).strip()
        if osd_id != "0":
            raise RuntimeError(f"unexpected OSD id {osd_id}")
        self._tool(
            "ceph-authtool", "--create-keyring", str(base / "osd/0/keyring"), "--name", "osd.0",
            "--add-key", osd_key,
        )  # fmt: skip
        with (self.log_dir / "osd.0.mkfs.log").open("ab") as out:
            subprocess.run(
                ["ceph-osd", "-c", str(self.conf), "-i", "0", "--mkfs", "--osd-uuid", osd_uuid],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=120,
            )  # fmt: skip
        self.start_osd()

        self.run("ceph", "osd", "pool", "create", self.pool, "8", "8")
        self.run("ceph", "osd", "pool", "set", self.pool, "size", "1", "--yes-i-really-mean-it")
        self.run("rbd", "pool", "init", self.pool)
        # Clone v2: clones of unprotected snapshots, and snapshots trashed while cloned.
        self.run("ceph", "osd", "set-require-min-compat-client", "mimic")
        self.wait_healthy()

    def _osd_up(self) -> bool:
        return "1 up" in self.run("ceph", "osd", "stat", "--connect-timeout", "5")

    def _pgs_clean(self) -> bool:
        stat = self.ceph_json("pg", "stat")
        assert isinstance(stat, dict)
        summary = stat.get("pg_summary", stat)
        states = summary.get("num_pg_by_state", [])
        total = summary.get("num_pgs", 0)
        clean = sum(s["num"] for s in states if s["name"] == "active+clean")
        return bool(total) and clean == total

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Until the OSD is up and every PG is active+clean."""
        self._wait("OSD up", self._osd_up, timeout)
        self._wait("all PGs active+clean", self._pgs_clean, timeout)

    def start_osd(self) -> None:
        self._daemon("osd.0", "ceph-osd", "-i", "0")
        self._wait("OSD up", self._osd_up)

    def kill_osd(self) -> None:
        """SIGKILL the OSD (a crash); I/O blocks until ``start_osd()`` brings it back."""
        proc = self._procs.pop("osd.0", None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart_osd(self, down_seconds: float = 0.0) -> None:
        self.kill_osd()
        time.sleep(down_seconds)
        self.start_osd()
        self.wait_healthy()

    def create_pool(self, name: str) -> None:
        """Another RBD pool (8 PGs, one replica), ready for images."""
        self.run("ceph", "osd", "pool", "create", name, "8", "8")
        self.run("ceph", "osd", "pool", "set", name, "size", "1", "--yes-i-really-mean-it")
        self.run("rbd", "pool", "init", name)
        self.wait_healthy()

    def images(self, pool: str | None = None) -> set[str]:
        """Names of the RBD images in ``pool`` (default: the cluster's pool)."""
        return set(json.loads(self.run("rbd", "ls", "--format", "json", pool or self.pool)))

    def trash(self, pool: str | None = None) -> list[dict[str, object]]:
        """The RBD trash of ``pool``: entries with ``id`` and ``name``."""
        found = json.loads(self.run("rbd", "trash", "ls", "--all", "--format", "json",
                                    pool or self.pool))  # fmt: skip
        return list(found)

    def image_info(self, spec: str) -> dict[str, object]:
        """``rbd info --format json`` of ``pool/image[@snap]``."""
        return dict(json.loads(self.run("rbd", "info", "--format", "json", spec)))

    def snapshots(self, spec: str) -> list[str]:
        found = json.loads(self.run("rbd", "snap", "ls", "--all", "--format", "json", spec))
        return [str(snap["name"]) for snap in found]

    def create_client(self, name: str, *caps: str) -> Path:
        """A cephx user ``client.<name>`` with ``caps``; returns its keyring file."""
        keyring = self.base_dir / f"ceph.client.{name}.keyring"
        self.run("ceph", "auth", "get-or-create", f"client.{name}", *caps, "-o", str(keyring))
        return keyring

    def stop(self) -> None:
        """Stop every daemon (TERM, then KILL) in reverse start order."""
        for name in reversed(list(self._procs)):
            proc = self._procs.pop(name)
            if proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)
        shutil.rmtree(self.mon_dir, ignore_errors=True)


@dataclass
class S3Server:
    """radosgw's S3 endpoint and the keys of its test user."""

    endpoint_url: str
    access_key: str
    secret_key: str
    user: str
    region: str = "default"
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_radosgw(cluster: CephCluster, user: str = "firebrick-test") -> S3Server:
    """radosgw (beast) on a free loopback port, with an S3 user made by ``radosgw-admin``."""
    port = free_port()
    name = "client.rgw.test"
    data = cluster.base_dir / "rgw"
    data.mkdir(exist_ok=True)
    keyring = data / "keyring"
    cluster.run(
        "ceph", "auth", "get-or-create", name, "mon", "allow rw", "osd", "allow rwx",
        "mgr", "allow rw", "-o", str(keyring),
    )  # fmt: skip
    log = cluster.log_dir / "rgw.stdout"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                "radosgw", "-f", "-c", str(cluster.conf), "-n", name,
                "--keyring", str(keyring),
                "--rgw-frontends", f"beast endpoint=127.0.0.1:{port}",
                "--rgw-data", str(data),
                "--rgw-thread-pool-size", "16",
                "--log-file", str(cluster.log_dir / "rgw.log"),
            ],
            env=cluster.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key=secrets.token_hex(10).upper(),
        secret_key=secrets.token_urlsafe(30),
        user=user,
        process=proc,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"radosgw exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(server.endpoint_url, timeout=2.0).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"radosgw did not answer in {START_TIMEOUT:.0f} s; see {log}")
        time.sleep(0.5)
    cluster.run(
        "radosgw-admin", "user", "create", f"--uid={user}", f"--display-name={user}",
        f"--access-key={server.access_key}", f"--secret-key={server.secret_key}",
    )  # fmt: skip
    return server
