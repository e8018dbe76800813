#!/usr/bin/env python3
"""`make bench`, images: creates from Glance images and uploads to Glance, as a client sees
them, against a real Keystone and Glance (``make keystone``, ``make glance``) on loopback.

One embedded ``firebrick serve`` behind Keystone with one raw file backend, the
image-volume cache on, its volumes on a loop-mounted XFS with reflink when run as root
(else the state directory's filesystem, and the cache clones by copy). Measured, in one
run:

* a plain download of each image with ``curl`` into a file on the same filesystem (MB/s):
  the reference for the first creates;
* the first create from a 1 GiB raw and a 1 GiB qcow2 image (cache miss: download, verify,
  convert, fill the cache entry, clone it): POST to ``available``, as MB/s of image data;
* creates served from the cache (N of them, one at a time): p50/p95 of POST to
  ``available`` (target: p50 <= 50 ms whatever the image size);
* upload of a 1 GiB volume (``os-volume_upload_image``, raw): POST to image ``active`` and
  volume ``available``, as MB/s.

Writes ``bench-images.json`` (``--output``).

    python bench/image_bench.py            # 1 GiB images, 20 cached creates
    python bench/image_bench.py --size-mib 256 -n 10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))

from infra import glance as gl  # noqa: E402
from infra import keystone as ks  # noqa: E402

MiB = 1 << 20
TARGET_CACHED_P50_MS = 50.0
MICROVERSION = {"OpenStack-API-Version": "volume 3.71"}


@contextmanager
def volume_dir(parent: Path, size_gib: int) -> Iterator[tuple[Path, str]]:
    """An XFS with reflink (root and mkfs.xfs), else a plain folder: (dir, kind)."""
    if os.geteuid() != 0 or not shutil.which("mkfs.xfs"):
        path = parent / "volumes"
        path.mkdir()
        yield path, "plain"
        return
    image, mountpoint = parent / "xfs.img", parent / "xfs"
    mountpoint.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(size_gib << 30)
    subprocess.run(["mkfs.xfs", "-q", "-m", "reflink=1", str(image)], check=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mountpoint)], check=True)
    try:
        yield mountpoint, "xfs-reflink"
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        image.unlink(missing_ok=True)


def pattern_file(path: Path, size: int) -> Path:
    """``size`` bytes of non-zero data (no holes, nothing for qcow2 to skip)."""
    block = (bytes(range(1, 256)) * (MiB // 255 + 1))[:MiB]
    with path.open("wb") as handle:
        for n in range(size // MiB):
            handle.write(n.to_bytes(8, "big") + block[8:])
    return path


def start_firebrick(state: Path, volumes: Path, deployment: ks.Deployment) -> tuple[
        subprocess.Popen[bytes], str]:  # fmt: skip
    state.mkdir(parents=True, exist_ok=True)
    port = ks.free_port()
    auth = deployment.authtoken_section()
    config = state / "firebrick.conf"
    config.write_text("\n".join([
        "[DEFAULT]", "host = bench", f"state_path = {state}", "osapi_volume_listen = 127.0.0.1",
        f"osapi_volume_listen_port = {port}", "enabled_backends = file-1",
        "auth_strategy = keystone", "quota_volumes = -1", "quota_gigabytes = -1", "",
        "[file-1]", f"file_volume_dir = {volumes}", "max_over_subscription_ratio = 1000",
        "image_volume_cache_enabled = true", "",
        "[keystone_authtoken]", *(f"{k} = {v}" for k, v in auth.items()), "",
    ]))  # fmt: skip
    binary = Path(sys.executable).parent / "firebrick"
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "firebrick"]
    out = (state / "serve.out").open("ab")
    proc = subprocess.Popen([*command, "serve", "--config", str(config)], stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            httpx.get(base + "/", timeout=1.0)
            return proc, base
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("firebrick serve did not start")


class Client:
    def __init__(self, base: str, project_id: str, token: str) -> None:
        self.post_times: list[float] = []
        self.http = httpx.Client(base_url=f"{base}/v3/{project_id}", timeout=600.0,
                                 headers={"X-Auth-Token": token, **MICROVERSION})  # fmt: skip

    def wait(self, volume_id: str, poll: float = 0.002) -> dict[str, Any]:
        while True:
            volume: dict[str, Any] = self.http.get(f"/volumes/{volume_id}").json()["volume"]
            if volume["status"] in ("available", "error"):
                if volume["status"] == "error":
                    raise SystemExit(f"volume {volume_id} went to error")
                return volume
            time.sleep(poll)
            poll = min(poll * 1.5, 0.05)

    def create(self, size_gb: int, image_id: str) -> tuple[float, str]:
        started = time.perf_counter()
        resp = self.http.post("/volumes", json={"volume": {"size": size_gb,
                                                           "imageRef": image_id}})  # fmt: skip
        resp.raise_for_status()
        self.post_times.append(time.perf_counter() - started)
        volume_id = resp.json()["volume"]["id"]
        self.wait(volume_id)
        return time.perf_counter() - started, volume_id

    def delete(self, volume_id: str) -> None:
        self.http.delete(f"/volumes/{volume_id}")


def curl_download(glance_url: str, token: str, image_id: str, dest: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", str(dest), "-H", f"X-Auth-Token: {token}",
                    f"{glance_url}/v2/images/{image_id}/file"], check=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    dest.unlink()
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    size = args.size_mib * MiB
    size_gb = max(1, -(-size // (1 << 30)))
    # A qcow2 of dense data is a little larger than the disk it holds: one GiB more.
    sizes = {"raw": size_gb, "qcow2": size_gb + 1}
    keystone = ks.KeystoneServer(work / "keystone")
    glance: gl.GlanceServer | None = None
    firebrick: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {"image_mib": args.size_mib, "n_cached": args.n}
    try:
        keystone.start()
        deployment = ks.provision(keystone, projects=("bench",), roles=("member",))
        glance = gl.GlanceServer(work / "glance", keystone)
        glance.start()
        glance.register()
        gl.grant_service_admin(keystone)
        user = deployment.user("bench", "member")
        token = keystone.token(user.name, user.password, "bench")
        raw_src = pattern_file(work / "image.raw", size)
        qcow2_src = _qcow2_of(raw_src, work / "image.qcow2")
        started = time.perf_counter()
        images = {
            "raw": gl.upload(glance.url, token, raw_src, name="bench-raw", disk_format="raw"),
            "qcow2": gl.upload(glance.url, token, qcow2_src, name="bench-qcow2",
                               disk_format="qcow2"),
        }  # fmt: skip
        stored = sum(int(i["size"]) for i in images.values())
        results["glance_store_mb_s"] = round(stored / MiB / (time.perf_counter() - started), 1)
        print(f"images stored in Glance at {results['glance_store_mb_s']} MB/s", flush=True)
        raw_src.unlink()
        qcow2_src.unlink()
        with volume_dir(work, 2 * (size_gb + 1) * (args.n + 6) + 8) as (volumes, fs_kind):
            results["filesystem"] = fs_kind
            firebrick, base = start_firebrick(work / "firebrick", volumes, deployment)
            client = Client(base, user.project_id, token)
            made: list[str] = []
            for kind, image in images.items():
                curl_s = curl_download(glance.url, token, image["id"], volumes / ".curl")
                first_s, volume_id = client.create(sizes[kind], image["id"])
                made.append(volume_id)
                results[f"{kind}_image_bytes"] = image["size"]
                results[f"curl_{kind}_mb_s"] = round(image["size"] / MiB / curl_s, 1)
                results[f"first_create_{kind}_s"] = round(first_s, 2)
                results[f"first_create_{kind}_mb_s"] = round(image["size"] / MiB / first_s, 1)
                print(f"{kind}: curl {results[f'curl_{kind}_mb_s']} MB/s; first create "
                      f"{first_s:.2f} s = {results[f'first_create_{kind}_mb_s']} MB/s",
                      flush=True)  # fmt: skip
            cached: list[float] = []
            client.post_times.clear()
            for n in range(args.n):
                kind = "raw" if n % 2 else "qcow2"
                elapsed, volume_id = client.create(sizes[kind], images[kind]["id"])
                cached.append(elapsed * 1000)
                made.append(volume_id)
            results["cached_create_p50_ms"] = round(statistics.median(cached), 1)
            results["cached_create_p95_ms"] = round(percentile(cached, 0.95), 1)
            results["cached_create_post_p50_ms"] = round(
                statistics.median(client.post_times) * 1000, 1
            )
            results["cached_target_p50_ms"] = TARGET_CACHED_P50_MS
            print(f"cached creates: p50 {results['cached_create_p50_ms']} ms, p95 "
                  f"{results['cached_create_p95_ms']} ms (N={args.n}); the POST alone p50 "
                  f"{results['cached_create_post_p50_ms']} ms", flush=True)  # fmt: skip
            results["upload_mb_s"] = upload(client, glance.url, token, made[0], size_gb)
            print(f"upload of a {size_gb} GiB volume: {results['upload_mb_s']} MB/s", flush=True)
            for volume_id in made:
                client.delete(volume_id)
            time.sleep(1)
    finally:
        if firebrick is not None:
            firebrick.terminate()
            with suppress(subprocess.TimeoutExpired):
                firebrick.wait(20)
        if glance is not None:
            glance.stop()
        keystone.stop()
    return results


def _qcow2_of(raw: Path, dest: Path) -> Path:
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw),
                    str(dest)], check=True)  # fmt: skip
    return dest


def upload(client: Client, glance_url: str, token: str, volume_id: str, size_gb: int) -> float:
    started = time.perf_counter()
    resp = client.http.post(f"/volumes/{volume_id}/action", json={"os-volume_upload_image": {
        "image_name": "bench-upload", "disk_format": "raw"}})  # fmt: skip
    resp.raise_for_status()
    image_id = resp.json()["os-volume_upload_image"]["image_id"]
    with httpx.Client(base_url=f"{glance_url}/v2", headers={"X-Auth-Token": token}) as g:
        while g.get(f"/images/{image_id}").json()["status"] != "active":
            time.sleep(0.05)
    client.wait(volume_id)
    elapsed = time.perf_counter() - started
    return round(size_gb * 1024 / elapsed, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="image size (default 1024)")
    parser.add_argument("-n", type=int, default=20, help="creates served from the cache")
    parser.add_argument("--output", default="bench-images.json")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if not ks.available():
        print(f"images: skipped, {ks.unavailable_reason()}")
        return 0
    if not gl.available():
        print(f"images: skipped, {gl.unavailable_reason()}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="firebrick-bench-images-"))
    try:
        results = run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nimages: {json.dumps(results)}\nresults written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
