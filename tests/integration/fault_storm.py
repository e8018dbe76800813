"""A storm of volume work for the fault tests: creates, deletes, snapshots, extends and
attachment reservations from one client thread, retried as a client retries (on 503 and
on a dropped connection), with every request the API accepted recorded, and the checks
that nothing of it was stranded, lost or counted wrong once the storm is over."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from distributed import Client, Cluster, wait_for

MV_ATTACH = {"OpenStack-API-Version": "volume 3.44"}
FINAL = {"available", "error", "in-use", "error_deleting", "error_extending"}


@dataclass
class Storm:
    cluster: Cluster
    project: str
    volumes: list[str] = field(default_factory=list)  # accepted creates
    deleted: set[str] = field(default_factory=set)  # accepted deletes
    snapshots: dict[str, str] = field(default_factory=dict)  # snapshot -> volume
    sizes: dict[str, int] = field(default_factory=dict)  # volume -> size last asked for
    answers: Counter[str] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            assert not self._thread.is_alive(), "the storm did not stop"

    def _send(self, api: Client, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        try:
            resp = api.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            self.answers[type(exc).__name__] += 1
            time.sleep(0.2)
            return None
        self.answers[f"{method} {resp.status_code}"] += 1
        if resp.status_code == 503:
            self.retry_after.add(resp.headers.get("Retry-After", ""))
            time.sleep(0.2)
        return resp

    def _status(self, api: Client, volume_id: str) -> str | None:
        resp = self._send(api, "GET", f"/volumes/{volume_id}")
        return resp.json()["volume"]["status"] if resp is not None and resp.is_success else None

    def _run(self) -> None:
        step = 0
        with self.cluster.client(self.project) as api:
            while not self._stop.is_set():
                step += 1
                resp = self._send(api, "POST", "/volumes", json={"volume": {"size": 1}})
                if resp is not None and resp.status_code == 202:
                    volume_id = resp.json()["volume"]["id"]
                    self.volumes.append(volume_id)
                    self.sizes[volume_id] = 1
                ready = [v for v in self.volumes[-4:-1] if v not in self.deleted]
                for volume_id in ready:
                    if self._status(api, volume_id) != "available":
                        continue
                    action = step % 4
                    if action == 0:
                        body = {"snapshot": {"volume_id": volume_id}}
                        made = self._send(api, "POST", "/snapshots", json=body)
                        if made is not None and made.status_code == 202:
                            self.snapshots[made.json()["snapshot"]["id"]] = volume_id
                    elif action == 1:
                        size = self.sizes[volume_id] + 1
                        body = {"os-extend": {"new_size": size}}
                        done = self._send(api, "POST", f"/volumes/{volume_id}/action", json=body)
                        if done is not None and done.status_code == 202:
                            self.sizes[volume_id] = size
                    elif action == 2:
                        body = {"attachment": {"volume_uuid": volume_id}}
                        made = self._send(api, "POST", "/attachments", json=body,
                                          headers=MV_ATTACH)  # fmt: skip
                        if made is not None and made.status_code == 200:
                            attachment = made.json()["attachment"]["id"]
                            self._send(api, "DELETE", f"/attachments/{attachment}",
                                       headers=MV_ATTACH)  # fmt: skip
                    elif not any(v == volume_id for v in self.snapshots.values()):
                        gone = self._send(api, "DELETE", f"/volumes/{volume_id}")
                        if gone is not None and gone.status_code == 202:
                            self.deleted.add(volume_id)
                time.sleep(0.05)

    def settled(self, timeout: float) -> None:
        """Wait until every accepted request has reached its end, then check that each
        one did what was asked, and that usage, allocations and files agree."""
        with self.cluster.client(self.project) as api:

            def pending() -> list[str]:
                shown = {v["id"]: v for v in api.volumes()}
                waiting = [f"{v} {shown[v]['status']}" for v in shown
                           if shown[v]["status"] not in FINAL]  # fmt: skip
                waiting += [f"{v} still there" for v in self.deleted if v in shown]
                waiting += [f"{v} lost" for v in self.volumes
                            if v not in shown and v not in self.deleted]  # fmt: skip
                for snapshot_id in self.snapshots:
                    resp = api.get(f"/snapshots/{snapshot_id}")
                    if resp.status_code != 200:
                        waiting.append(f"snapshot {snapshot_id} {resp.status_code}")
                    elif resp.json()["snapshot"]["status"] != "available":
                        waiting.append(f"snapshot {snapshot_id} {resp.json()['snapshot']}")
                return waiting

            try:
                wait_for(lambda: not pending(), "the storm's work to settle", timeout)
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {pending()[:10]}") from None
            shown = {v["id"]: v for v in api.volumes()}
            wrong = {
                v: (shown[v]["status"], shown[v]["size"], self.sizes[v])
                for v in shown
                if shown[v]["status"] != "available" or shown[v]["size"] != self.sizes[v]
            }
            assert wrong == {}, f"volumes not as asked (status, size, asked): {wrong}"
            usage = api.get(f"/os-quota-sets/{self.project}", params={"usage": "true"})
            in_use = {k: v["in_use"] for k, v in usage.json()["quota_set"].items()
                      if isinstance(v, dict)}  # fmt: skip
            assert in_use["volumes"] == len(shown)
            assert in_use["snapshots"] == len(self.snapshots)
            volume_gb = sum(v["size"] for v in shown.values())
            snapshot_gb = sum(api.get(f"/snapshots/{s}").json()["snapshot"]["size"]
                              for s in self.snapshots)  # fmt: skip
            assert in_use["gigabytes"] == volume_gb + snapshot_gb
            pools = api.get("/scheduler-stats/get_pools", params={"detail": "true"}).json()
            allocated = sum(p["capabilities"]["allocated_capacity_gb"] for p in pools["pools"])
            assert allocated == volume_gb + snapshot_gb
        files = self.cluster.all_volume_files()
        assert sorted(files) == sorted(shown), "files and volumes disagree"
