"""A volume service cut off from the broker and the database by a network partition for
longer than ``service_down_time`` (issue 20).

The volume service of ``file-a`` runs in a network namespace of its own, reaching RabbitMQ
and PostgreSQL only over a veth pair the test makes (10.251.x.0/30, a fresh namespace
``fbp-<random>``; no other interface or address is touched, and all of it is deleted at
the end). Both servers listen on 127.0.0.1 of the host, which the namespace cannot
reach, so the test relays the veth's host address to them (:class:`Relay`). The
partition is the host end of the veth set down: packets are lost, no connection is
refused or reset, as when a switch or a cable fails.

``file-a`` is the preferred pool (ten times the room of ``file-b``), so every untyped
create goes there while it is seen up. The checks:

- once the scheduler sees ``file-a`` down (``service_down_time`` after its last
  heartbeat), new creates land on ``file-b`` and finish while the partition lasts;
- the work ``file-a`` had in hand when it was cut off (creates in its driver, deletes
  queued for it, a create placed on it before it was seen down) ends as asked after the
  link is back: finished by the service itself, or sent again by the scheduler's
  reconciler (``transitional_status_timeout`` is short here) and then done only once;
- nothing ran twice: one ``volume.create.end`` per volume and one ``volume.delete.end``
  per delete, every volume's file exists once, on its own backend, and quota usage and the
  pools' allocations are exact;
- the cut-off service was not restarted: it reconnects by itself, is seen up again and
  takes new volumes.

Neither side's connections notice the cut by themselves: AMQP heartbeats are off
(``rpc/rabbit.py``) and TCP keepalive starts after 60 s idle, far beyond this partition;
a socket of the cut-off service that sends during the cut is closed after 1 s
(py-amqp's TCP_USER_TIMEOUT) and connected again after. Everything else, the database
connections included, waits for TCP to retransmit once the link is back (its backoff
doubles from 0.2 s, so a wait of up to about half the partition again).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

pytest.register_assert_rewrite("distributed", "fault_storm")

from distributed import Cluster, StartCluster, backend_of, wait_for  # noqa: E402
from fault_storm import Storm  # noqa: E402
from infra.postgres import PostgresServer  # noqa: E402
from infra.rabbitmq import RabbitMQServer  # noqa: E402

pytest_plugins = ["distributed"]
pytestmark = [pytest.mark.integration, pytest.mark.faults]

SERVICE_DOWN_TIME = 4.0
CUT_FOR = 15.0  # seconds the link stays down: well beyond service_down_time
CREATE_DELAY = "5"  # file-a holds every create this long: work in hand at the cut
SETTINGS = {
    "service_down_time": f"{SERVICE_DOWN_TIME:g}",
    "report_interval": "1",
    # Short, so that the reconciler sends the cut-off service's work again soon after it
    # is back, while that work may still be running: it must not run twice.
    "transitional_status_timeout": "8",
    "reconcile_interval": "2",
}
BACKENDS = {
    "file-a": {"file_capacity_gb": "1000", "file_create_delay": CREATE_DELAY},
    "file-b": {"file_capacity_gb": "100"},
}
CUT_OFF = "volume-file-a"


# ---------------------------------------------------------------------------------------
# the namespace, the veth pair and the relay


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


@dataclass
class Partition:
    """A network namespace joined to the host by one veth pair (host .1, namespace .2)."""

    namespace: str
    host_if: str
    host_ip: str
    ns_ip: str

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace]

    def cut(self) -> None:
        ip("link", "set", self.host_if, "down")

    def heal(self) -> None:
        ip("link", "set", self.host_if, "up")


def unused_subnet() -> int:
    """x of a 10.251.x.0/30 no address or route of this host is in."""
    taken = ip("-4", "-o", "addr", "show").stdout + ip("-4", "route", "show", "table", "all").stdout
    for _ in range(100):
        x = random.randrange(256)
        if f"10.251.{x}." not in taken:
            return x
    raise RuntimeError("no free 10.251.x.0/30 subnet")


@pytest.fixture
def partition() -> Iterator[Partition]:
    """A fresh namespace ``fbp-<random>`` and veth pair, deleted afterwards."""
    if shutil.which("ip") is None:
        message = "ip (iproute2) is not installed (as root: apt-get install iproute2)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    tag = uuid.uuid4().hex[:8]
    namespace, host_if, ns_if = f"fbp-{tag}", f"fbp{tag}h", f"fbp{tag}n"
    made = ip("netns", "add", namespace, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {made.stderr.strip()}")
    try:
        x = unused_subnet()
        part = Partition(namespace, host_if, f"10.251.{x}.1", f"10.251.{x}.2")
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", namespace)
        ip("addr", "add", f"{part.host_ip}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", namespace, "addr", "add", f"{part.ns_ip}/30", "dev", ns_if)
        ip("-n", namespace, "link", "set", ns_if, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        yield part
    finally:
        ip("link", "del", host_if, check=False)  # takes its peer with it
        ip("netns", "del", namespace, check=False)


@dataclass
class Relay:
    """TCP connections accepted on ``listen`` relayed to ``target``, byte for byte; one
    side closing or failing closes both, as the server's own socket would end."""

    listen: tuple[str, int]
    target: tuple[str, int]
    accepted: int = 0
    _sockets: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = socket.create_server(self.listen)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._server.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(self.target, timeout=5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._sockets |= {down, up}
            for src, dst in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes the other pipe's recv
        sock.close()
        with self._lock:
            self._sockets.discard(sock)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            self._close(sock)


def reachable_from(part: Partition, host: str, port: int) -> bool:
    """Whether a TCP connection from inside the namespace to ``host:port`` is taken."""
    probe = (
        "import socket,sys\n"
        "try: socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)\n"
        "except OSError: sys.exit(1)\n"
    )
    cmd = [*part.prefix, "python3", "-c", probe, host, str(port)]
    return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0


def isolate(cluster: Cluster, part: Partition, ports: list[int]) -> list[Relay]:
    """Start ``CUT_OFF`` in the namespace, reaching the broker and the database through
    relays on the veth's host address."""
    relays = [Relay((part.host_ip, p), ("127.0.0.1", p)) for p in ports]
    via = f"@{part.host_ip}:"
    transport_url = cluster.transport_url.replace("@127.0.0.1:", via)
    database_url = cluster.database_url.replace("@127.0.0.1:", via)
    assert via in transport_url and via in database_url, (transport_url, database_url)
    cluster.overrides[CUT_OFF] = {
        "DEFAULT": {"transport_url": transport_url},
        "database": {"connection": database_url},
    }
    cluster.spawn(CUT_OFF, prefix=part.prefix)
    cluster.wait_ready(CUT_OFF)
    return relays


# ---------------------------------------------------------------------------------------
# the test


def events(cluster: Cluster, event_type: str) -> Counter[str]:
    """How many ``event_type`` notifications each volume got."""
    path = cluster.state_path / "notifications.jsonl"
    found: Counter[str] = Counter()
    for line in path.read_text().splitlines() if path.exists() else []:
        note = json.loads(line)
        if note["event_type"] == event_type:
            found[note["payload"]["volume_id"]] += 1
    return found


def driver_runs(cluster: Cluster) -> Counter[str]:
    """How many times a create flow reached the driver, per volume (the volume logs)."""
    found: Counter[str] = Counter()
    for backend in BACKENDS:
        for line in cluster.role(f"volume-{backend}").log().splitlines():
            if "'CreateVolumeFromSpecTask" in line and "into state 'RUNNING'" in line:
                found[line.split("Volume ", 1)[1].split(":", 1)[0]] += 1
    return found


def test_a_volume_service_cut_off_by_a_partition(
    partition: Partition,
    cluster_factory: StartCluster,
    rabbit_server: RabbitMQServer,
    pg_server: PostgresServer,
) -> None:
    cluster = cluster_factory(
        backends=BACKENDS, defaults=SETTINGS, roles=("api", "scheduler", "volume-file-b")
    )
    ports = [rabbit_server.port, pg_server.port]
    # The namespace has a loopback of its own: the relays are its only way out.
    assert not any(reachable_from(partition, "127.0.0.1", p) for p in ports)
    relays = isolate(cluster, partition, ports)
    try:
        run_partition(cluster, partition, relays)
    finally:
        cluster.kill(CUT_OFF)
        for relay in relays:
            relay.close()


def run_partition(cluster: Cluster, part: Partition, relays: list[Relay]) -> None:
    cluster.wait_for_pools("file-a", "file-b")
    host_a = cluster.service_host("file-a")
    pid_a = cluster.role(CUT_OFF).process.pid  # type: ignore[union-attr]
    found: dict[str, object] = {"namespace": part.namespace, "veth host address": part.host_ip}
    with cluster.client(timeout=60) as api:
        record = Storm(cluster, api.project)

        def create() -> str:
            volume_id = api.create()
            record.volumes.append(volume_id)
            record.sizes[volume_id] = 1
            return volume_id

        def delete(volume_id: str) -> None:
            resp = api.delete(f"/volumes/{volume_id}")
            assert resp.status_code == 202, resp.text
            record.deleted.add(volume_id)

        # Two volumes on file-a to delete later, then four creates that fill its four
        # workers (each held CREATE_DELAY s in the driver), the deletes queued behind them.
        doomed = [create() for _ in range(2)]
        for volume_id in doomed:
            assert backend_of(api.wait_for_volume(volume_id)) == "file-a"
        in_hand = [create() for _ in range(4)]
        wait_for(lambda: set(in_hand) <= set(cluster.volume_files("file-a")),
                 "the creates in file-a's driver", 30)  # fmt: skip
        for volume_id in doomed:
            delete(volume_id)

        part.cut()
        cut_at = time.monotonic()
        # Placed before the scheduler can know: it goes to file-a and waits for it.
        window = create()
        wait_for(lambda: api.service_state("cinder-volume", host_a) == "down",
                 f"{host_a} seen down", 30)  # fmt: skip
        seen_down = time.monotonic() - cut_at
        during = [create() for _ in range(3)]
        landed = {}
        for volume_id in during:
            landed[volume_id] = backend_of(api.wait_for_volume(volume_id, timeout=20))
        finished_during = time.monotonic() - cut_at
        still = {v: (api.volume(v) or {}).get("status") for v in [*in_hand, window, *doomed]}
        time.sleep(max(CUT_FOR - (time.monotonic() - cut_at), 0))

        part.heal()
        healed_at = time.monotonic()
        cut_for = healed_at - cut_at
        wait_for(lambda: api.service_state("cinder-volume", host_a) == "up",
                 f"{host_a} seen up again", 60)  # fmt: skip
        seen_up = time.monotonic() - healed_at
        record.settled(60)
        settled = time.monotonic() - healed_at
        after = create()
        after_on = backend_of(api.wait_for_volume(after, timeout=30))
        record.settled(30)

    scheduler_log = cluster.role("scheduler").log()
    a_log = cluster.role(CUT_OFF).log()
    found.update({
        "cut for (s)": round(cut_for, 1),
        "seen down after (s)": round(seen_down, 1),
        "creates during the cut": landed,
        "...available within (s) of the cut": round(finished_during, 1),
        "in hand at the cut (status mid-cut)": still,
        "seen up again after the heal (s)": round(seen_up, 1),
        "everything final after the heal (s)": round(settled, 1),
        "re-sent by the reconciler": scheduler_log.count("sending its request again"),
        "re-sent while still running (ignored)": a_log.count("already being created here"),
        "create after the heal on": after_on,
        "connections relayed": sum(r.accepted for r in relays),
    })  # fmt: skip
    print("\npartition:", json.dumps(found, indent=1))

    assert seen_down >= SERVICE_DOWN_TIME - 1.5, "seen down before service_down_time passed"
    assert cut_for > SERVICE_DOWN_TIME * 2
    # Once seen down, file-a gets nothing new: the creates of the cut finish on file-b.
    assert set(landed.values()) == {"file-b"}, landed
    assert finished_during < cut_for, "creates of the cut waited for the partition"
    # The work in hand was held up by the cut, not failed by it.
    assert all(s in ("creating", "deleting") for s in still.values()), still
    assert after_on == "file-a", "the cut-off service takes no new volumes after it is back"
    assert cluster.role(CUT_OFF).alive() and cluster.role(CUT_OFF).process.pid == pid_a  # type: ignore[union-attr]
    for name in cluster.roles:
        assert cluster.role(name).alive(), f"{name} died"

    # Nothing ran twice, every file is on its volume's backend.
    kept = [v for v in record.volumes if v not in record.deleted]
    once = dict.fromkeys(record.volumes, 1)
    for counted in (events(cluster, "volume.create.start"), events(cluster, "volume.create.end"),
                    driver_runs(cluster)):  # fmt: skip
        assert {v: counted[v] for v in record.volumes} == once, counted
    deleted = events(cluster, "volume.delete.end")
    assert {v: deleted[v] for v in record.deleted} == dict.fromkeys(record.deleted, 1), deleted
    with cluster.client(record.project) as api:
        hosts = {v: backend_of(api.volume(v) or {}) for v in kept}
    files = {b: cluster.volume_files(b) for b in BACKENDS}
    assert {v: [b for b in files if v in files[b]] for v in kept} == {
        v: [hosts[v]] for v in kept
    }, files
