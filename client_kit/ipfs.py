"""Content-addressed storage: pin and fetch bytes by CID, with a hash check on every fetch.

Two backends behind one protocol:
- `KuboStore`, the default: a Kubo daemon's RPC spoken directly over HTTP (POST only). The old
  `ipfshttpclient` refuses any daemon newer than 0.8, and Kubo is at 0.4x. CIDs are CIDv1 (base32,
  raw leaves).
- `PinataStore`: Pinata's hosted IPFS. Uploads go through its v3 Files API (CIDv1), reads through
  an IPFS gateway, and pinning an existing CID through the standard IPFS Pinning Service API, which
  other pinning services implement too. The JWT comes from the environment (`PINATA_JWT`).

Whatever the backend, `fetch_verified` refuses bytes whose sha256 differs from the chain's record.
Large content (checkpoints, models) is streamed both ways: `add_file` uploads a file in chunks
(Kubo splits it into blocks of 256 KiB), `fetch_to_file` writes what arrives to disk while hashing
it, so neither side ever holds the whole of it in memory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

MAX_CONTENT_BYTES = 1 << 30  # what fetch_verified reads at most unless told otherwise (a model of 1 GiB)
MAX_CLIENT_BYTES = 16 << 20  # a task's client.py, model source included
CHUNK_BYTES = 1 << 20  # what is read or written at a time when streaming


class IpfsError(RuntimeError):
    """Storage failed or returned content that does not match what the chain recorded."""


@dataclass(frozen=True)
class Pinned:
    cid: str
    size: int
    sha256: str


class ContentStore(Protocol):
    def add(self, data: bytes, name: str = "blob") -> Pinned: ...

    def add_file(self, path: Path, name: str | None = None) -> Pinned: ...

    def chunks(self, cid: str, max_bytes: int = MAX_CONTENT_BYTES) -> Iterator[bytes]: ...

    def cat(self, cid: str, max_bytes: int = MAX_CONTENT_BYTES) -> bytes: ...

    def is_pinned(self, cid: str) -> bool: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class KuboStore:
    """A Kubo daemon's RPC API (bind it to 127.0.0.1: it is an admin interface)."""

    def __init__(self, api_url: str, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def _post(self, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._http.post(f"{self.api_url}/api/v0/{path}", **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            raise IpfsError(f"IPFS daemon at {self.api_url} unreachable (is the localnet up?): {error}") from error
        if response.status_code != 200:
            raise IpfsError(f"IPFS {path} failed ({response.status_code}): {response.text.strip()[:300]}")
        return response

    def add(self, data: bytes, name: str = "blob") -> Pinned:
        return self._add((name, data, "application/octet-stream"), sha256_hex(data))

    def add_file(self, path: Path, name: str | None = None) -> Pinned:
        """Upload a file as it is read (httpx streams a file part in chunks): Kubo's chunked add."""
        with open(path, "rb") as handle:
            return self._add((name or path.name, handle, "application/octet-stream"), file_sha256(path))

    def _add(self, part: tuple[str, object, str], sha256: str) -> Pinned:
        response = self._post(
            "add",
            params={"cid-version": "1", "pin": "true", "quieter": "true"},
            files={"file": part},
        )
        answer = response.json()
        return Pinned(cid=answer["Hash"], size=int(answer["Size"]), sha256=sha256)

    def chunks(self, cid: str, max_bytes: int = MAX_CONTENT_BYTES) -> Iterator[bytes]:
        """The content as it arrives, refused once it passes `max_bytes`."""
        url = f"{self.api_url}/api/v0/cat"
        try:
            with self._http.stream("POST", url, params={"arg": cid, "length": str(max_bytes + 1)}) as response:
                if response.status_code != 200:
                    response.read()
                    raise IpfsError(f"IPFS cat failed ({response.status_code}): {response.text.strip()[:300]}")
                yield from _bounded(response, cid, max_bytes)
        except httpx.HTTPError as error:
            raise IpfsError(f"IPFS daemon at {self.api_url} unreachable (is the localnet up?): {error}") from error

    def cat(self, cid: str, max_bytes: int = MAX_CONTENT_BYTES) -> bytes:
        return b"".join(self.chunks(cid, max_bytes))

    def is_pinned(self, cid: str) -> bool:
        try:
            self._post("pin/ls", params={"arg": cid, "type": "recursive"})
        except IpfsError:
            return False
        return True

    def peer_id(self) -> str:
        return self._post("id").json()["ID"]


class PinataStore:
    """Pinata: v3 Files API for uploads, a gateway for reads, the Pinning Service API for pins by CID."""

    def __init__(
        self,
        jwt: str | None = None,
        api_url: str = "https://api.pinata.cloud",
        uploads_url: str = "https://uploads.pinata.cloud",
        gateway_url: str | None = None,
        network: str = "public",
        timeout: float = 60.0,
    ) -> None:
        token = jwt or os.environ.get("PINATA_JWT", "")
        if not token:
            raise IpfsError("the Pinata backend needs an API JWT: set PINATA_JWT (never put it in a file in the repo)")
        if network not in ("public", "private"):
            raise IpfsError(f"Pinata network must be public or private, not {network!r}")
        self.api_url = api_url.rstrip("/")
        self.uploads_url = uploads_url.rstrip("/")
        self.gateway_url = (gateway_url or os.environ.get("PINATA_GATEWAY") or "https://gateway.pinata.cloud").rstrip(
            "/"
        )
        self.network = network
        self._http = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"})

    def _call(self, method: str, url: str, what: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            raise IpfsError(f"Pinata unreachable at {url}: {error}") from error
        self._refusal(response, what)
        return response

    @staticmethod
    def _refusal(response: httpx.Response, what: str) -> None:
        """Raise the plain reason when Pinata refused (nothing for a success)."""
        if response.status_code in (401, 403):
            raise IpfsError(f"Pinata refused the JWT while trying to {what} ({response.status_code}): check PINATA_JWT")
        if response.status_code == 429:
            raise IpfsError(f"Pinata rate limit reached while trying to {what}; retry later")
        if response.status_code >= 400:
            raise IpfsError(f"Pinata could not {what} ({response.status_code}): {response.text.strip()[:300]}")

    def add(self, data: bytes, name: str = "blob") -> Pinned:
        return self._add(name, data, len(data), sha256_hex(data))

    def add_file(self, path: Path, name: str | None = None) -> Pinned:
        """Upload a file as it is read (the v3 upload takes one multipart file part, streamed)."""
        with open(path, "rb") as handle:
            return self._add(name or path.name, handle, path.stat().st_size, file_sha256(path))

    def _add(self, name: str, content: object, size: int, sha256: str) -> Pinned:
        response = self._call(
            "POST",
            f"{self.uploads_url}/v3/files",
            f"upload {name}",
            files={"file": (name, content, "application/octet-stream")},
            data={"network": self.network, "name": name},
        )
        try:
            body = response.json()["data"]
            cid, size = str(body["cid"]), int(body.get("size", size))
        except (ValueError, KeyError, TypeError):
            raise IpfsError(f"Pinata answered an upload without data.cid: {response.text[:300]}") from None
        return Pinned(cid=cid, size=size, sha256=sha256)

    def chunks(self, cid: str, max_bytes: int = MAX_CONTENT_BYTES) -> Iterator[bytes]:
        """The content through the gateway as it arrives, refused once it passes `max_bytes`."""
        url = f"{self.gateway_url}/ipfs/{cid}"
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    self._refusal(response, f"fetch {cid}")
                yield from _bounded(response, cid, max_bytes)
        except httpx.HTTPError as error:
            raise IpfsError(f"Pinata unreachable at {url}: {error}") from error

    def cat(self, cid: str, max_bytes: int = MAX_CONTENT_BYTES) -> bytes:
        return b"".join(self.chunks(cid, max_bytes))

    def pin(self, cid: str, name: str = "") -> str:
        """Pin an existing CID (Pinning Service API); returns the pin's status (queued, pinning, pinned)."""
        response = self._call("POST", f"{self.api_url}/psa/pins", f"pin {cid}", json={"cid": cid, "name": name or cid})
        status = response.json().get("status", "")
        if status == "failed":
            raise IpfsError(f"Pinata failed to pin {cid}")
        return str(status)

    def is_pinned(self, cid: str) -> bool:
        response = self._call(
            "GET", f"{self.api_url}/psa/pins", f"look up {cid}", params={"cid": cid, "status": "pinned"}
        )
        return int(response.json().get("count", 0)) > 0


def _bounded(response: httpx.Response, cid: str, max_bytes: int) -> Iterator[bytes]:
    size = 0
    for chunk in response.iter_bytes(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise IpfsError(f"content of {cid} is larger than {max_bytes:,} bytes: refusing it")
        yield chunk


def fetch_verified(store: ContentStore, cid: str, expected_sha256: str, max_bytes: int = MAX_CONTENT_BYTES) -> bytes:
    """Fetch by CID (at most `max_bytes`) and refuse the bytes unless their sha256 equals the chain's record."""
    data = store.cat(cid, max_bytes)
    actual = sha256_hex(data)
    if actual != expected_sha256.lower():
        raise IpfsError(
            f"content of {cid} does not match the hash on chain (expected {expected_sha256}, got {actual}); refusing it"
        )
    return data


def fetch_to_file(
    store: ContentStore, cid: str, expected_sha256: str, destination: Path, max_bytes: int = MAX_CONTENT_BYTES
) -> Path:
    """Stream the content to disk while hashing it; only verified content takes the destination's
    name (a file that fails the check never lands there). Never holds the whole in memory."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_suffix(destination.suffix + ".partial")
    digest = hashlib.sha256()
    try:
        with open(temporary, "wb") as handle:
            for chunk in store.chunks(cid, max_bytes):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != expected_sha256.lower():
            raise IpfsError(
                f"content of {cid} does not match the hash on chain (expected {expected_sha256}, "
                f"got {digest.hexdigest()}); refusing it"
            )
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    temporary.replace(destination)
    return destination
