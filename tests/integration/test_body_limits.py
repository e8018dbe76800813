"""Request bodies over the limit (112 KiB, oslo.middleware's sizelimit) are refused
without the service holding them: on ``Content-Length`` before a byte is read, and, for a
chunked body, as soon as what arrived passes the limit. The service's peak memory is
measured from ``/proc`` (``VmHWM``). Bodies dripped a few bytes at a time hold up nobody
else and no memory, and one that drips past the limit is refused all the same."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from harness import Service, VolumeApi

pytestmark = [pytest.mark.integration, pytest.mark.faults]

LIMIT = 114688
MiB = 1 << 20


def peak_rss_mib(service: Service) -> float:
    for line in Path(f"/proc/{service.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def raw_request(service: Service, head: str, body: bytes = b"", wait: float = 10.0) -> str:
    """Send ``head`` (and ``body``) on a socket; what the service answers within ``wait``."""
    url = urlsplit(service.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=wait) as sock:
        sock.sendall(head.encode() + body)
        started = time.monotonic()
        answer = b""
        while time.monotonic() - started < wait:
            if b"\r\n\r\n" in answer:
                head_part, _, rest = answer.partition(b"\r\n\r\n")
                lengths = [ln for ln in head_part.lower().split(b"\r\n")
                           if ln.startswith(b"content-length:")]  # fmt: skip
                if not lengths or len(rest) >= int(lengths[0].split(b":")[1]):
                    break
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(
    api: VolumeApi, service: Service
) -> None:
    before = api.volume_count()
    path = f"/v3/{api.project}/volumes"
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: u:{api.project}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {300 * MiB}\r\n\r\n")  # fmt: skip
    started = time.monotonic()
    answer = raw_request(service, head)  # no body at all: the answer must not wait for it
    status_line = answer.split("\r\n", 1)[0]
    print(
        "\nContent-Length 300 MiB, no body sent:",
        json.dumps({"answer": status_line, "after (s)": round(time.monotonic() - started, 2)}),
    )
    assert " 413 " in status_line, answer[:300]
    body = json.loads(answer.split("\r\n\r\n", 1)[1] or "{}") if "{" in answer else {}
    assert body.get("overLimit", {}).get("code") == 413, answer[:400]
    assert api.volume_count() == before


def chunks(total: int, size: int = 1 * MiB) -> Iterator[bytes]:
    yield b'{"volume": {"size": 1, "name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}}'


def test_a_chunked_body_is_cut_at_the_limit_and_memory_stays_flat(
    api: VolumeApi, service: Service
) -> None:
    before = api.volume_count()
    peak_before = peak_rss_mib(service)
    resp = api.post("/volumes", content=chunks(200 * MiB),
                    headers={"Content-Type": "application/json"})  # fmt: skip
    peak_after = peak_rss_mib(service)
    peaks = [round(peak_before), round(peak_after)]
    print(
        "\nchunked 200 MiB body:",
        json.dumps({"answer": resp.status_code, "peak RSS before / after (MiB)": peaks}),
    )
    api.assert_fault(resp, 413)
    assert peak_after - peak_before < 20, "the service read the body whole"
    assert api.volume_count() == before
    # Just under the limit is served as usual (here: a 400 for the bad name, not a 413).
    near = {"volume": {"size": 1, "name": "n" * (LIMIT - 100)}}
    api.assert_fault(api.post("/volumes", json=near), 400)


def test_unauthenticated_requests_are_refused_before_their_body_is_read(
    keystone_service: Service,
) -> None:
    head = ("POST /v3/volumes HTTP/1.1\r\nHost: x\r\nX-Auth-Token: not-a-token\r\n"
            f"Content-Type: application/json\r\nContent-Length: {LIMIT - 1}\r\n\r\n")  # fmt: skip
    started = time.monotonic()
    answer = raw_request(keystone_service, head)  # the body never comes
    took = round(time.monotonic() - started, 2)
    print(
        "\nunauthenticated, body never sent:",
        json.dumps({"answer": answer.split("\r\n", 1)[0], "after (s)": took}),
    )
    assert " 401 " in answer.split("\r\n", 1)[0], answer[:300]
    assert time.monotonic() - started < 5


DRIPS = 16
DRIP_EVERY = 0.15  # seconds between two pieces of a dripped body
# A body the service refuses once it has it all (size 0): a 400 that changes nothing.
DRIPPED = b'{"volume": {"size": 0, "name": "drip"}}'.ljust(120)


def connect(service: Service) -> socket.socket:
    url = urlsplit(service.base_url)
    return socket.create_connection((url.hostname, url.port), timeout=30)


def status_of(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")[9:12] or "none"


def drip(
    service: Service, head: str, pieces: Iterator[bytes], closes: list[bool] | None = None
) -> tuple[str, int, float]:
    """Send ``head``, then each piece ``DRIP_EVERY`` s apart until the service answers;
    (the answer's status, bytes sent, seconds taken). ``closes``: also wait for the end of
    the answer, and note whether the service then closed the connection."""
    started = time.monotonic()
    sent = 0
    answer = b""
    with connect(service) as sock:
        sock.sendall(head.encode())
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # answered and closed while we were still sending
                break
            sent += len(piece)
            sock.setblocking(False)
            try:
                answer = sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if answer:
                break
            time.sleep(DRIP_EVERY)
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - started
        if closes is not None:
            sock.settimeout(5)
            try:
                while sock.recv(65536):
                    pass
                closes.append(True)
            except TimeoutError:
                closes.append(False)
    return status_of(answer), sent, took


def test_slow_drip_bodies_hold_up_no_one_and_no_memory(api: VolumeApi, service: Service) -> None:
    before = api.volume_count()
    peak_before = peak_rss_mib(service)
    path = f"/v3/{api.project}/volumes"
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: u:{api.project}\r\n"
            "Content-Type: application/json\r\n")  # fmt: skip
    results: list[tuple[str, int, float]] = []

    def one_drip() -> None:
        pieces = (DRIPPED[i : i + 4] for i in range(0, len(DRIPPED), 4))
        results.append(drip(service, f"{head}Content-Length: {len(DRIPPED)}\r\n\r\n", pieces))

    over: list[tuple[str, int, float]] = []
    closed: list[bool] = []

    def over_the_limit() -> None:
        # Chunked: most of the limit at once, then 64 bytes a drip until past it.
        def pieces() -> Iterator[bytes]:
            yield b"%x\r\n%s\r\n" % (LIMIT - 300, b"x" * (LIMIT - 300))
            while True:
                yield b"40\r\n%s\r\n" % (b"x" * 64)

        over.append(drip(service, f"{head}Transfer-Encoding: chunked\r\n\r\n", pieces(), closed))

    threads = [threading.Thread(target=one_drip) for _ in range(DRIPS)]
    threads.append(threading.Thread(target=over_the_limit))
    for thread in threads:
        thread.start()
    latencies = []
    while any(t.is_alive() for t in threads):
        started = time.monotonic()
        assert api.get("/volumes").status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.1)
    for thread in threads:
        thread.join()
    peak_after = peak_rss_mib(service)
    answers = Counter(status for status, _, _ in results)
    print("\nslow drip:", json.dumps({
        "drips": DRIPS, "bytes each": len(DRIPPED), "every (s)": DRIP_EVERY,
        "answers": answers, "longest drip (s)": round(max(t for _, _, t in results), 1),
        "over the limit: answer, bytes sent, s, closed": (*over[0][:2],
                                                          round(over[0][2], 1), *closed),
        "plain GETs meanwhile": len(latencies),
        "GET median / max (s)": [round(statistics.median(latencies), 3),
                                 round(max(latencies), 3)],
        "peak RSS before / after (MiB)": [round(peak_before), round(peak_after)],
    }))  # fmt: skip
    assert answers == {"400": DRIPS}, answers
    assert over[0][0] == "413" and LIMIT < over[0][1] < LIMIT + 2048, over
    assert closed == [True], "the connection stayed open for the rest of the body"
    assert max(latencies) < 3, "a plain GET waited behind the drips"
    assert peak_after - peak_before < 20
    assert api.volume_count() == before


def test_a_body_that_takes_longer_than_api_body_timeout_is_cut_off(start_service) -> None:
    svc = start_service(defaults={"api_body_timeout": "2"})
    with svc.client("slow") as api:
        path = f"/v3/{api.project}/volumes"
        head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Auth-Token: u:{api.project}\r\n"
                f"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n")  # fmt: skip
        pieces = (DRIPPED[:4] for _ in range(1000))  # 4096 bytes would take 150 s
        closed: list[bool] = []
        status, sent, took = drip(svc, head, pieces, closed)
        found = {"answer": status, "bytes sent": sent, "after (s)": round(took, 1),
                 "closed": closed}  # fmt: skip
        print("\nbody timeout 2 s:", json.dumps(found))
        assert status == "408" and 2 <= took < 5, (status, took)
        assert closed == [True], "the connection stayed open for the rest of the body"
        assert api.volume_count() == 0
        # A body that arrives in time is served as usual.
        api.delete_volume(api.create_volume()["id"])
