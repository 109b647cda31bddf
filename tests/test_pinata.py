"""The Pinata backend against a local server that speaks the documented endpoints it uses.

The real service is unreachable from this machine, so a small HTTP server on 127.0.0.1 implements
Pinata's v3 upload (`POST /v3/files`, multipart `file` + `network`), the gateway read
(`GET /ipfs/{cid}`) and the IPFS Pinning Service API (`POST /psa/pins`, `GET /psa/pins?cid=`),
checking the Bearer token and the request shapes the way the service documents them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from client_kit.ipfs import IpfsError, PinataStore, fetch_to_file

TOKEN = "test-jwt-not-a-secret"


def raw_cid_v1(data: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32 lower: what IPFS gives a small single-block file."""
    digest = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


class FakePinata(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    pins: dict[str, str] = {}
    requests: list[tuple[str, str, dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorized(self) -> bool:
        self.requests.append((self.command, self.path, dict(self.headers)))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"error": {"reason": "INVALID_CREDENTIALS"}})
            return False
        return True

    def do_POST(self) -> None:  # http.server's naming
        if not self._authorized():
            return
        url = urlparse(self.path)
        length = int(self.headers["Content-Length"])
        if url.path == "/v3/files":
            form = _multipart(self.headers["Content-Type"], self.rfile.read(length))
            if "file" not in form or form.get("network") not in (b"public", b"private"):
                self._answer(400, {"error": "multipart 'file' and network=public|private are required"})
                return
            data = form["file"]
            cid = raw_cid_v1(data)
            self.files[cid] = data
            name = form.get("name", b"").decode()
            self._answer(200, {"data": {"id": "f-1", "name": name, "cid": cid, "size": len(data)}})
        elif url.path == "/psa/pins":
            body = json.loads(self.rfile.read(length))
            if "cid" not in body:
                self._answer(400, {"error": {"reason": "BAD_REQUEST", "details": "cid is required"}})
                return
            self.pins[body["cid"]] = "pinned" if body["cid"] in self.files else "queued"
            self._answer(202, {"requestid": "r-1", "status": self.pins[body["cid"]], "pin": body})
        else:
            self._answer(404, {"error": "no such endpoint"})

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path.startswith("/ipfs/"):  # the public gateway needs no token
            cid = url.path.removeprefix("/ipfs/")
            if cid in self.files:
                self._answer(200, self.files[cid])
            else:
                self._answer(404, {"error": "not found"})
            return
        if not self._authorized():
            return
        if url.path == "/psa/pins":
            query = parse_qs(url.query)
            cid, status = query.get("cid", [""])[0], query.get("status", ["pinned"])[0]
            found = [c for c, s in self.pins.items() if c == cid and s == status]
            self._answer(200, {"count": len(found), "results": [{"status": status, "pin": {"cid": c}} for c in found]})
        else:
            self._answer(404, {"error": "no such endpoint"})


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """Form fields of a multipart/form-data body, by name."""
    message = BytesParser(policy=default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


@pytest.fixture
def pinata(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    FakePinata.files, FakePinata.pins, FakePinata.requests = {}, {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePinata)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PINATA_JWT", TOKEN)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _store(url: str, **kwargs: object) -> PinataStore:
    return PinataStore(api_url=url, uploads_url=url, gateway_url=url, **kwargs)  # type: ignore[arg-type]


def test_upload_fetch_and_pin_by_cid_round_trip(pinata: str, tmp_path: Path) -> None:
    store = _store(pinata)
    data = b"# client.py for a task\nprint('hello')\n"
    pinned = store.add(data, name="client.py")
    assert pinned.cid == raw_cid_v1(data) and pinned.cid.startswith("bafkrei")
    assert pinned.size == len(data) and pinned.sha256 == hashlib.sha256(data).hexdigest()
    method, path, headers = FakePinata.requests[0]
    assert (method, path) == ("POST", "/v3/files") and headers["Authorization"] == f"Bearer {TOKEN}"
    assert "multipart/form-data" in headers["Content-Type"]

    assert store.cat(pinned.cid) == data
    assert fetch_to_file(store, pinned.cid, pinned.sha256, tmp_path / "client.py").read_bytes() == data
    (tmp_path / "model.safetensors").write_bytes(data * 1000)  # a file, uploaded as it is read
    from_file = store.add_file(tmp_path / "model.safetensors")
    assert from_file.cid == raw_cid_v1(data * 1000) and from_file.sha256 == hashlib.sha256(data * 1000).hexdigest()
    assert store.cat(from_file.cid) == data * 1000
    with pytest.raises(IpfsError, match=f"larger than {len(data) - 1} bytes"):  # read as a stream, then refused
        fetch_to_file(store, pinned.cid, pinned.sha256, tmp_path / "big.py", max_bytes=len(data) - 1)
    assert not (tmp_path / "big.py").exists()
    assert not store.is_pinned(pinned.cid)  # uploaded, but not yet pinned through the Pinning Service API
    assert store.pin(pinned.cid, "client.py") == "pinned"
    assert store.is_pinned(pinned.cid)
    assert store.pin("bafkreiunknown", "elsewhere") == "queued"
    assert not store.is_pinned("bafkreiunknown")


def test_a_wrong_token_missing_content_and_missing_jwt_are_plain_errors(
    pinata: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(IpfsError, match="refused the JWT"):
        _store(pinata, jwt="wrong").add(b"x", "x.bin")
    assert FakePinata.files == {}

    store = _store(pinata)
    with pytest.raises(IpfsError, match="could not fetch"):
        store.cat(raw_cid_v1(b"never uploaded"))
    pinned = store.add(b"real bytes", "model.safetensors")
    with pytest.raises(IpfsError, match="does not match the hash on chain"):
        fetch_to_file(store, pinned.cid, hashlib.sha256(b"other bytes").hexdigest(), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()

    monkeypatch.delenv("PINATA_JWT")
    with pytest.raises(IpfsError, match="PINATA_JWT"):
        PinataStore()
    with pytest.raises(IpfsError, match="unreachable"):
        PinataStore(jwt=TOKEN, uploads_url="http://127.0.0.1:9").add(b"x")
