"""Content-addressed storage: pin and fetch bytes by CID, with a hash check on every fetch.

Kubo's RPC is spoken directly over HTTP (POST only): the old `ipfshttpclient` refuses any daemon
newer than 0.8, and Kubo is at 0.4x. Every CID is CIDv1 (base32, raw leaves).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx


class IpfsError(RuntimeError):
    """Storage failed or returned content that does not match what the chain recorded."""


@dataclass(frozen=True)
class Pinned:
    cid: str
    size: int
    sha256: str


class ContentStore(Protocol):
    def add(self, data: bytes, name: str = "blob") -> Pinned: ...

    def cat(self, cid: str) -> bytes: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
        response = self._post(
            "add",
            params={"cid-version": "1", "pin": "true", "quieter": "true"},
            files={"file": (name, data, "application/octet-stream")},
        )
        answer = response.json()
        return Pinned(cid=answer["Hash"], size=int(answer["Size"]), sha256=sha256_hex(data))

    def cat(self, cid: str) -> bytes:
        return self._post("cat", params={"arg": cid}).content

    def is_pinned(self, cid: str) -> bool:
        try:
            self._post("pin/ls", params={"arg": cid, "type": "recursive"})
        except IpfsError:
            return False
        return True

    def peer_id(self) -> str:
        return self._post("id").json()["ID"]


def fetch_verified(store: ContentStore, cid: str, expected_sha256: str) -> bytes:
    """Fetch by CID and refuse the bytes unless their sha256 equals the value recorded on chain."""
    data = store.cat(cid)
    actual = sha256_hex(data)
    if actual != expected_sha256.lower():
        raise IpfsError(
            f"content of {cid} does not match the hash on chain (expected {expected_sha256}, got {actual}); refusing it"
        )
    return data


def fetch_to_file(store: ContentStore, cid: str, expected_sha256: str, destination: Path) -> Path:
    """Verify first, write second: a file that fails the check never lands on disk."""
    data = fetch_verified(store, cid, expected_sha256)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_suffix(destination.suffix + ".partial")
    temporary.write_bytes(data)
    temporary.replace(destination)
    return destination
