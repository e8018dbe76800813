"""A small client of Glance's image API v2: show, download (streamed), create, upload.

Each call takes the token to send (the caller's, or the service user's; never logged)
and the endpoint to send it to (see :mod:`firebrick.image.access`). Errors become
:mod:`firebrick.image.errors`: a missing or invisible image is ``ImageNotFound``, a
refused request ``GlanceRefused``, anything else ``GlanceUnavailable``. Image data is
streamed in chunks both ways, never held whole in memory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from firebrick.image.errors import GlanceRefused, GlanceUnavailable, ImageNotFound

LOG = logging.getLogger("firebrick.image")

CHUNK = 1 << 20
TIMEOUT = httpx.Timeout(30.0, read=300.0, write=300.0)
# Keys of an image that are Glance's own; the rest are the image's properties.
CORE_KEYS = frozenset({
    "id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo",
    "os_hash_value", "owner", "size", "virtual_size", "min_ram", "min_disk", "disk_format",
    "container_format", "created_at", "updated_at", "tags", "self", "file", "schema",
    "direct_url", "locations", "stores", "os_hidden", "member_status", "deleted",
    "deleted_at",
})  # fmt: skip


def properties(image: dict[str, Any]) -> dict[str, str]:
    """The image's custom properties (everything that is not a core attribute)."""
    return {k: str(v) for k, v in image.items() if k not in CORE_KEYS and v is not None}


class GlanceClient:
    """Calls to one Glance endpoint (``http://host:port``, with or without ``/v2``)."""

    def __init__(self, endpoint: str, token: str | None, timeout: httpx.Timeout = TIMEOUT):
        base = endpoint.rstrip("/")
        self.base = base if base.endswith("/v2") else f"{base}/v2"
        self._headers = {"X-Auth-Token": token} if token else {}
        self._timeout = timeout

    def _client(self) -> httpx.Client:
        return _shared_client(self.base, self._timeout)

    def _check(self, resp: httpx.Response, image_id: str | None, what: str) -> None:
        if resp.status_code < 400:
            return
        if resp.status_code == 404 and image_id is not None:
            raise ImageNotFound(image_id)
        if resp.status_code in (401, 403) and image_id is not None and what == "show":
            raise ImageNotFound(image_id)
        detail = _glance_message(resp)
        if 400 <= resp.status_code < 500:
            raise GlanceRefused(f"Glance refused to {what}: {detail}")
        raise GlanceUnavailable(f"The image service could not {what}: {detail}")

    def _call(self, method: str, path: str, image_id: str | None, what: str,
              **kwargs: Any) -> httpx.Response:  # fmt: skip
        try:
            headers = {**self._headers, **kwargs.pop("headers", {})}
            resp = self._client().request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
            raise GlanceUnavailable(f"The image service is unreachable ({kind}).") from None
        self._check(resp, image_id, what)
        return resp

    def show(self, image_id: str) -> dict[str, Any]:
        image: dict[str, Any] = self._call("GET", f"/images/{image_id}", image_id, "show").json()
        return image

    def find_by_name(self, name: str) -> list[dict[str, Any]]:
        found = self._call("GET", "/images", None, "list images", params={"name": name})
        images: list[dict[str, Any]] = found.json().get("images", [])
        return images

    def is_member(self, image_id: str, project_id: str) -> bool:
        """Whether ``project_id`` is an accepted member of a shared image."""
        try:
            resp = self._call("GET", f"/images/{image_id}/members/{project_id}", image_id,
                              "show member")  # fmt: skip
        except (ImageNotFound, GlanceRefused):
            return False
        return bool(resp.json().get("status") == "accepted")

    def create(self, meta: dict[str, Any]) -> dict[str, Any]:
        image: dict[str, Any] = self._call("POST", "/images", None, "create the image",
                                           json=meta).json()  # fmt: skip
        return image

    def delete(self, image_id: str) -> None:
        try:
            self._call("DELETE", f"/images/{image_id}", image_id, "delete the image")
        except ImageNotFound:
            return

    def download(self, image: dict[str, Any], out: BinaryIO) -> int:
        """Stream the image's data into ``out`` (holes where the data is zeros); verify it
        against the image's hash; return the number of bytes.

        Receiving, hashing and writing overlap: the hash and the writes run in threads of
        their own (both release the GIL), fed through small bounded queues.
        """
        image_id = str(image["id"])
        algo = image.get("os_hash_algo") if image.get("os_hash_value") else None
        expected = image.get("os_hash_value") if algo else image.get("checksum")
        digest = hashlib.new(str(algo or "md5"), usedforsecurity=False)
        written = 0
        with _Pipeline(digest.update, _SparseWriter(out).write) as pipeline:
            try:
                # Glance's gzip middleware would compress the data on the fly, in Python,
                # at a fraction of the network's speed.
                headers = {**self._headers, "Accept-Encoding": "identity"}
                with self._client().stream(
                    "GET", f"/images/{image_id}/file", headers=headers
                ) as resp:
                    if resp.status_code >= 400:
                        resp.read()
                        self._check(resp, image_id, "download the image")
                    for chunk in resp.iter_bytes(CHUNK):
                        pipeline.put(chunk)
                        written += len(chunk)
            except httpx.HTTPError as exc:
                raise GlanceUnavailable(
                    f"The download of image {image_id} broke off ({type(exc).__name__})."
                ) from None
        out.truncate(written)
        if expected and digest.hexdigest() != expected:
            raise GlanceUnavailable(f"Image {image_id}: the downloaded data does not match "
                                    "its checksum.")  # fmt: skip
        return written

    def upload(self, image_id: str, source: Path) -> None:
        """Stream the file ``source`` as the image's data, with its length: a chunked body
        costs Glance's WSGI server several times the CPU."""
        with source.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self._call("PUT", f"/images/{image_id}/file", image_id, "upload the image data",
                       content=_chunks(handle),
                       headers={"Content-Type": "application/octet-stream",
                                "Content-Length": str(size)})  # fmt: skip


class _SparseWriter:
    """Writes chunks, skipping over (not writing) the ones that are all zeros."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.zeros = bytes(CHUNK)

    def write(self, chunk: bytes) -> None:
        if len(chunk) == CHUNK and chunk == self.zeros:
            self.out.seek(CHUNK, 1)
        else:
            self.out.write(chunk)


class _Pipeline:
    """Hands each chunk to every consumer, each in a thread of its own; on leaving, waits
    for them and re-raises the first failure."""

    DEPTH = 8

    def __init__(self, *consumers: Callable[[bytes], None]) -> None:
        self._queues: list[queue.Queue[bytes | None]] = [queue.Queue(self.DEPTH) for _ in consumers]
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(c, q), daemon=True)
            for c, q in zip(consumers, self._queues, strict=True)
        ]

    def _run(self, consume: Callable[[bytes], None], source: queue.Queue[bytes | None]) -> None:
        failed = False
        while (chunk := source.get()) is not None:
            if failed:
                continue  # keep draining so that the producer never blocks
            try:
                consume(chunk)
            except BaseException as exc:
                self._errors.append(exc)
                failed = True

    def put(self, chunk: bytes) -> None:
        if self._errors:
            raise self._errors[0]
        for source in self._queues:
            source.put(chunk)

    def __enter__(self) -> _Pipeline:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for source in self._queues:
            source.put(None)
        for thread in self._threads:
            thread.join()
        if self._errors and exc_info[0] is None:
            raise self._errors[0]


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


_CLIENTS: dict[tuple[str, str], httpx.Client] = {}
_CLIENTS_LOCK = threading.Lock()


def _shared_client(base: str, timeout: httpx.Timeout) -> httpx.Client:
    """One keep-alive client per endpoint for the process (httpx clients are thread-safe):
    building a client costs ~40 ms here (its TLS context), a request on a kept connection
    ~7 ms. Tokens go per request, never into the shared client."""
    key = (base, repr(timeout))
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
            client = _CLIENTS[key] = httpx.Client(base_url=base, timeout=timeout,
                                                  limits=limits)  # fmt: skip
        return client


def _glance_message(resp: httpx.Response) -> str:
    """Glance's own explanation (its error pages are HTML or text), short and plain."""
    text = resp.text.strip()
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line and not line.startswith("<") and not line.lower().startswith("<!doctype"):
            return f"{resp.status_code} {line[:200]}"
    return str(resp.status_code)
