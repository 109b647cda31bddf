"""The trainer's end of the link, under attack (review round 3, each reproduced before the fix):

- a refused impostor could make the restarted node speak plain HTTP when the keeper's profile had
  lost its fingerprint (the node supervisor followed whatever the profile said);
- one forged TLS handshake made the trainer quit its task for good.

The attackers here are Python sockets on loopback; the keeper is a real SuperLink with TLS and
node authentication (keepers.link).
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flwr.clientapp import ClientApp
from flwr.proto.control_pb2 import ListNodesRequest
from flwr.proto.run_pb2 import GetRunRequest
from flwr.supercore.retry.http_retry import make_simple_http_retry_invoker
from flwr.supernode.fleet_http_client import FleetHttpClient

from client_kit.endpoint import KeeperEndpoint
from client_kit.node import HEARTBEAT_INTERVAL_S, NodeHeartbeats, TrainerNode, patient_retry_invoker
from client_kit.node_identity import encode_public_key
from client_kit.signer_app import TrainerError
from client_kit.supervisor import NodeSupervisor
from keepers.admission import NodeAdmission
from keepers.certificate import ensure_certificate
from keepers.link import KeeperLink
from keepers.runtime import control_client, start_superlink
from localnet.processes import free_port


class LoopbackAttacker:
    """A TCP server on loopback holding its own TLS certificate; `_handle` decides what each
    connection gets."""

    def __init__(self, certificate_folder: Path) -> None:
        cert = ensure_certificate(certificate_folder, ["127.0.0.1"])
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert.cert_file, cert.key_file)
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _present_own_certificate(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self.tls.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._server.close()


class PathAttacker(LoopbackAttacker):
    """TLS with the attacker's own certificate, or plain HTTP recorded, by the first byte."""

    def __init__(self, certificate_folder: Path) -> None:
        super().__init__(certificate_folder)
        self.plaintext: list[bytes] = []  # request heads received in the clear
        self.tls_hellos = 0
        self._thread.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if conn.recv(1, socket.MSG_PEEK) == b"\x16":  # a TLS ClientHello
                self.tls_hellos += 1
                self._present_own_certificate(conn)
                return
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
            self.plaintext.append(head)
            conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()


class OneShotImpostor(LoopbackAttacker):
    """A TCP relay to the keeper that answers only its first connection itself, with its own
    certificate; every later connection reaches the genuine keeper untouched."""

    def __init__(self, upstream_port: int, certificate_folder: Path) -> None:
        super().__init__(certificate_folder)
        self.upstream_port = upstream_port
        self.intercepted = 0
        self._thread.start()

    def _handle(self, conn: socket.socket) -> None:
        if self.intercepted == 0:
            self.intercepted += 1
            self._present_own_certificate(conn)
        else:
            self._relay(conn)

    def _relay(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for end in (source, sink):
                    try:
                        end.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()


def _signer() -> SimpleNamespace:
    """What the node child uses of a SignerApp: its ClientApp and its round log."""
    return SimpleNamespace(app=ClientApp(), log=SimpleNamespace(sink=None, note=lambda *args, **kwargs: None))


def _run(supervisor: NodeSupervisor, attacker: PathAttacker, seconds: float) -> None:
    supervisor.start()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and not attacker.plaintext:
            try:
                supervisor.check()
            except TrainerError:
                return  # the trainer stopped: what it should do
            time.sleep(0.2)
    finally:
        supervisor.stop()


@pytest.fixture
def attacker(tmp_path: Path):
    path_attacker = PathAttacker(tmp_path / "attacker")
    yield path_attacker
    path_attacker.close()


def test_a_refused_impostor_cannot_downgrade_the_restarted_node_to_plaintext(tmp_path: Path, attacker) -> None:
    keeper_sha = ensure_certificate(tmp_path / "keeper", ["127.0.0.1"]).sha256  # the genuine keeper's
    profile = [KeeperEndpoint(attacker.address, keeper_sha)]  # what the chain says, read by resolve()

    def resolve() -> KeeperEndpoint:
        return profile[0]

    supervisor = NodeSupervisor(_signer(), resolve, ec.generate_private_key(ec.SECP256R1()), 5.0, 0.5)
    # The keeper re-registered (say, a new fee) without --tls-cert-sha256: the chain holds no fingerprint.
    profile[0] = KeeperEndpoint(attacker.address, None)
    _run(supervisor, attacker, 25.0)
    assert attacker.tls_hellos >= 1  # the first node met the attacker's certificate and refused it
    assert not attacker.plaintext, f"the trainer node fell back to plaintext HTTP: {attacker.plaintext[0][:300]!r}"


def test_the_node_never_starts_without_the_chains_certificate(tmp_path: Path, attacker) -> None:
    """The supervisor's own read of the profile is checked too: no fingerprint, no node."""
    with pytest.raises(TrainerError, match="no TLS certificate on chain"):
        NodeSupervisor(
            _signer(), lambda: KeeperEndpoint(attacker.address, None), ec.generate_private_key(ec.SECP256R1()), 5.0, 0.5
        )
    assert not attacker.plaintext


def test_one_forged_handshake_does_not_end_the_trainers_task(tmp_path: Path) -> None:
    link = KeeperLink(free_port(), tmp_path / "keeper")  # SuperLink with TLS and node authentication
    node_key = ec.generate_private_key(ec.SECP256R1())
    impostor = None
    try:
        link.ensure_running()
        assert link.admit({encode_public_key(node_key.public_key()): "fed1trainer"}).admitted
        impostor = OneShotImpostor(link.port, tmp_path / "impostor")
        endpoint = type(link.endpoint)(impostor.address, link.certificate.sha256)  # what the chain says
        signer = _signer()
        supervisor = NodeSupervisor(signer, lambda: endpoint, node_key, 20.0, 0.5)
        supervisor.start()
        stopped: str | None = None
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and supervisor.node_id is None:
                try:
                    supervisor.check()
                except TrainerError as error:
                    stopped = str(error)
                    break
                time.sleep(0.2)
        finally:
            supervisor.stop()
        assert impostor.intercepted == 1
        assert stopped is None, f"one intercepted connection ended the training: {stopped}"
        assert supervisor.node_id is not None  # the genuine keeper was reachable all along
    finally:
        if impostor is not None:
            impostor.close()
        link.stop()


def _stalling_then_serving(certificate_dir: Path) -> tuple[int, ssl.SSLContext, threading.Event]:
    """A TLS server on loopback that leaves its first connection's handshake unanswered (a keeper
    too busy to answer in time) and answers every later request with 200."""
    certificate = ensure_certificate(certificate_dir, [])
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate.cert_file, certificate.key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        stalled, _ = listener.accept()  # held open, never handshaken
        while not done.is_set():
            connection, _ = listener.accept()
            try:
                with server_side.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            except ssl.SSLError:  # a client that refused this certificate
                continue
        stalled.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], ssl.create_default_context(cadata=certificate.pem.decode()), done


def test_a_handshake_that_timed_out_is_tried_again(tmp_path: Path) -> None:
    """Review (issue 18): Flower's retry policy gives up on every error mentioning SSL, so a TLS
    handshake that timed out on a busy keeper ended the node's connection and lost the message it
    was fetching (397 times in one 1,000-trainer round). The trainer node's policy asks again."""
    port, trusted, done = _stalling_then_serving(tmp_path / "tls")
    with httpx.Client(verify=trusted, timeout=0.5) as client:
        with pytest.raises(httpx.ConnectTimeout) as timed_out:
            client.get(f"https://127.0.0.1:{port}/")
        assert make_simple_http_retry_invoker().should_giveup(timed_out.value)  # Flower's: the connection ends
        invoker = patient_retry_invoker()
        invoker.max_time = 10.0
        assert invoker.invoke(client.get, f"https://127.0.0.1:{port}/").text == "ok"
    done.set()


def test_a_certificate_off_the_pin_still_ends_the_attempt(tmp_path: Path) -> None:
    """Asking again is for timeouts only: a server whose certificate is not the pinned one is refused."""
    port, _, done = _stalling_then_serving(tmp_path / "tls")
    other = ensure_certificate(tmp_path / "other", [])
    with httpx.Client(verify=ssl.create_default_context(cadata=other.pem.decode()), timeout=0.5) as client:
        with pytest.raises(httpx.ConnectTimeout):
            client.get(f"https://127.0.0.1:{port}/")  # the stalled first connection
        with pytest.raises(httpx.ConnectError) as refused:
            client.get(f"https://127.0.0.1:{port}/")
    assert patient_retry_invoker().should_giveup(refused.value)
    done.set()


def test_an_idle_node_keeps_its_connection_between_polls(tmp_path: Path) -> None:
    """Review (issue 18): httpx closes a connection idle for 5 s, so a node polling every 8 s paid
    a new TLS handshake per poll, on its side and on the keeper's one event loop (the SuperLink
    kept its side open for nothing). The trainer node's Fleet client reuses its connection."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    accepted: list[socket.socket] = []

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class CountingServer(http.server.ThreadingHTTPServer):
        def get_request(self) -> tuple[socket.socket, Any]:
            connection, address = super().get_request()
            accepted.append(connection)
            return tls.wrap_socket(connection, server_side=True), address

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate.cert_file, certificate.key_file)
    server = CountingServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = FleetHttpClient.from_server_address(f"127.0.0.1:{server.server_port}", False, certificate.pem, [])
    try:
        client.GetRun(GetRunRequest(run_id=1))
        time.sleep(6.5)  # idle longer than httpx's default keep-alive
        client.GetRun(GetRunRequest(run_id=1))
        assert len(accepted) == 1
    finally:
        server.shutdown()


def test_a_trainer_node_beats_on_its_own_interval(tmp_path: Path) -> None:
    """Review (issue 18): a Flower node declares a 30 s heartbeat and beats every 20 s or so, 50
    requests a second for 1,000 nodes besides the round. A trainer's node declares
    HEARTBEAT_INTERVAL_S to the keeper's real SuperLink, which lists it online under it."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    port = free_port()
    link = start_superlink(port, tmp_path / "link", certificate)
    key = ec.generate_private_key(ec.SECP256R1())
    stop, connected = threading.Event(), threading.Event()
    try:
        NodeAdmission(port, certificate).sync({encode_public_key(key.public_key()): "wasm1trainer"})
        node = TrainerNode(
            ClientApp(),
            f"127.0.0.1:{port}",
            {},
            on_connect=lambda _: connected.set(),
            certificate_sha256=certificate.sha256,
            node_key=key,
        )
        threading.Thread(target=node.run, args=(stop, 30.0), daemon=True).start()
        assert connected.wait(30)
        (listed,) = control_client(port, certificate.pem).ListNodes(ListNodesRequest()).nodes_info
        assert listed.heartbeat_interval == HEARTBEAT_INTERVAL_S == 60.0
        assert listed.status == "online"
    finally:
        stop.set()
        link.stop()


def test_a_refused_heartbeat_ends_the_beats_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the keeper has finalized a task it no longer knows its nodes: every node's heartbeat
    thread died on the 401 with a traceback (a thousand of them at the end of a 1,000-trainer
    round). A refused beat now ends the beats without one."""
    uncaught: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: uncaught.append(args.exc_value))
    request = httpx.Request("POST", "https://127.0.0.1/v1/fleet/send-node-heartbeat")
    calls: list[float] = []

    def refused() -> bool:
        calls.append(time.monotonic())
        raise httpx.HTTPStatusError("401 Unauthorized", request=request, response=httpx.Response(401, request=request))

    beats = NodeHeartbeats(refused)
    beats.start()
    beats._thread.join(timeout=10)
    assert not beats._thread.is_alive() and len(calls) == 1 and uncaught == []
