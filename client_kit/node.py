"""A trainer's Flower node that runs only the trainer's own, hash-verified ClientApp.

Flower's stock SuperNode executes whatever ClientApp the SuperLink's app bundle (FAB) names, so the
keeper could push any code to a trainer's machine, and it starts a fresh process for every message.
This node speaks the same Fleet API to the keeper's SuperLink (Flower's own connection code:
register, activate, heartbeats, pull/push of messages and their objects) but answers every message
with the ClientApp object defined in the client.py the trainer verified against the chain, in this
process. From the bundle it reads only the declared run-config defaults (data, never code).

When a restarted SuperLink no longer knows the node, Flower's connection code answers the 401 by
sending SIGINT to its own process (a stock SuperNode exits and its supervisor restarts it); the
trainer runtime runs this node in a child process that ignores SIGINT, so the failed connection
ends and `run` registers again.

Across machines the connection is TLS, pinned to the certificate the keeper registered on chain
(`client_kit.endpoint`), and authenticated with the trainer's node key for the task
(`client_kit.node_identity`): the keeper's SuperLink admits only keys its task's staked trainers
named on chain, so until the keeper has admitted this node (or while its SuperLink is not up yet)
the node keeps trying, for at most `connect_timeout`.

It also polls briskly: a round's messages are picked up within `poll_interval` (DEFAULT_POLL_S),
not after Flower's fixed 3-second idle sleep. Each poll costs the keeper's SuperLink about a
millisecond of its one event-loop thread (measured, `keepers.superlink`), so ten nodes polling
every 0.25 s take about 4 % of it; many trainers on one keeper should poll less often
(`--poll-interval`: `bench.many_trainers` polls every 8 s).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from logging import getLogger
from typing import Any, NamedTuple, NoReturn

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from flwr.app import Context, Message, RecordDict
from flwr.app.error import Error
from flwr.clientapp import ClientApp
from flwr.common.config import get_fused_config_from_fab
from flwr.common.constant import ErrorCode
from flwr.supercore.heartbeat import HeartbeatSender
from flwr.supercore.inflatable.inflatable_object import (
    get_all_nested_objects,
    get_object_tree,
    no_object_id_recompute,
)
from flwr.supercore.inflatable.inflatable_utils import (
    pull_and_inflate_object_from_tree,
    push_object_contents_from_iterable,
)
from flwr.supercore.retry import RetryInvoker
from flwr.supercore.retry.http_retry import make_simple_http_retry_invoker
from flwr.supercore.run import RunNotRunningException
from flwr.supernode import fleet_http_client, fleet_http_connection
from flwr.supernode.fleet_http_connection import http_request_response

from client_kit.endpoint import EndpointError, KeeperEndpoint

logger = getLogger("fedchain.node")

DEFAULT_POLL_S = 0.25  # seconds between asks for work
RETRY_S = 2.0  # between attempts to connect while the keeper is not up or has not admitted this node yet


class ConnectionRefused(ConnectionError):
    """The SuperLink could not be reached, or refused to register or activate this node."""


def _refuse(code: int, message: str | None = None, *args: object, **kwargs: object) -> NoReturn:
    raise ConnectionRefused(message or f"Flower exit code {code}")


# Flower's connection code ends the whole process when a connection cannot start (sys.exit, and
# os._exit from a timer thread 5 s later, whatever the caller does). A trainer's node must instead
# try again: the keeper may not be up yet or may not have admitted this node's key yet.
fleet_http_connection.flwr_exit = _refuse  # type: ignore[assignment]


def patient_retry_invoker() -> RetryInvoker:
    """Flower's retry policy for Fleet requests, except that a request which timed out is asked
    again. Flower gives up on any error whose text mentions SSL, and a TLS handshake that timed out
    on a busy keeper ("_ssl.c: The handshake operation timed out") does: the node's connection
    ended, the message it was fetching was lost with it, and it came back with a new handshake,
    adding to the load that timed it out (397 times in one 1,000-trainer round). A certificate
    that fails the pin is a connection error, not a timeout, and still ends the attempt."""
    invoker = make_simple_http_retry_invoker()
    flowers = invoker.should_giveup
    invoker.should_giveup = lambda error: (
        not isinstance(error, httpx.TimeoutException) and flowers is not None and flowers(error)
    )
    return invoker


fleet_http_connection.make_simple_http_retry_invoker = patient_retry_invoker

# httpx drops an idle connection after 5 s, so a node polling less often than that (1,000 nodes on
# one keeper must) opened a new TCP connection and TLS handshake for every poll, on its side and on
# the keeper's one event loop. The keeper's SuperLink keeps idle connections for 75 s
# (`keepers.superlink.KEEP_ALIVE_S`); the node keeps its own a little less, so that it never
# reuses one the keeper is closing.
CONNECTION_KEEP_ALIVE_S = 60.0
_flowers_fleet_client = fleet_http_client.FleetHttpClient.__init__


def _fleet_client_keeping_connections(self: fleet_http_client.FleetHttpClient, base_url: str, **options: Any) -> None:
    """Flower's Fleet client, its HTTP connections kept open for CONNECTION_KEEP_ALIVE_S when idle."""
    _flowers_fleet_client(self, base_url, **options)
    flowers = self._client
    self._client = httpx.Client(
        verify=options.get("verify", True),
        timeout=flowers.timeout,
        follow_redirects=flowers.follow_redirects,
        limits=httpx.Limits(keepalive_expiry=CONNECTION_KEEP_ALIVE_S),
    )
    flowers.close()


fleet_http_client.FleetHttpClient.__init__ = _fleet_client_keeping_connections  # type: ignore[method-assign]
# Flower gives a heartbeat 5 s; on a keeper busy with a round a slow heartbeat then closes its
# connection and the next one pays a new TLS handshake. The node is marked offline only after two
# missed intervals, so a heartbeat may take longer.
HEARTBEAT_CALL_TIMEOUT_S = 15.0
fleet_http_client.HEARTBEAT_CALL_TIMEOUT = HEARTBEAT_CALL_TIMEOUT_S  # type: ignore[attr-defined]

# A Flower node declares a 30 s heartbeat interval and beats every 20 s or so: for 1,000 nodes that
# is 50 requests a second the keeper's SuperLink serves besides the round. A trainer's node
# declares HEARTBEAT_INTERVAL_S and beats at half to 70 % of it; a node that goes silent is still
# marked offline within two intervals, and a round never waits past its own timeout for it.
HEARTBEAT_INTERVAL_S = 60.0
fleet_http_connection.HEARTBEAT_DEFAULT_INTERVAL = HEARTBEAT_INTERVAL_S  # type: ignore[attr-defined]


class NodeHeartbeats(HeartbeatSender):
    """Flower's heartbeat sender (same retries on failure), beating on the node's interval. When
    the keeper refuses a beat (it no longer knows the node: its task ended, or it restarted), the
    beats stop quietly: the node's next poll meets the same refusal and its connection ends, and a
    new connection beats again. Flower's thread died with a traceback, one per node."""

    def _run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self._retry_invoker.invoke(self._heartbeat)
            except httpx.HTTPStatusError as error:
                logger.info("the keeper refused a heartbeat (%s): heartbeats stop", error.response.status_code)
                return
            self._stop_event.wait(HEARTBEAT_INTERVAL_S * random.uniform(0.5, 0.7))


fleet_http_connection.HeartbeatSender = NodeHeartbeats  # type: ignore[attr-defined,misc]


class _Fleet(NamedTuple):
    """The callables Flower's Fleet connection hands out, by name."""

    node_id: int
    receive: Callable[[], Any]
    send: Callable[..., Any]
    get_run: Callable[..., Any]
    get_fab: Callable[..., Any]
    pull_object: Callable[..., bytes]
    push_object: Callable[..., None]
    confirm: Callable[..., None]


class TrainerNode:
    """Connects to a SuperLink's Fleet API and answers its messages with `app`, in process."""

    def __init__(
        self,
        app: ClientApp,
        superlink: str,
        node_config: dict[str, str | int | float | bool],
        poll_interval: float = DEFAULT_POLL_S,
        on_connect: Callable[[int], None] | None = None,
        *,
        certificate_sha256: str | None = None,
        node_key: ec.EllipticCurvePrivateKey | None = None,
        plaintext: bool = False,
        on_impostor: Callable[[str], None] | None = None,
    ) -> None:
        """`certificate_sha256` (the keeper's, from chain) makes the connection TLS, pinned to it.
        Plain HTTP only when asked for with `plaintext` (a plain Flower SuperLink on loopback, as
        the benchmarks' baseline runs it): a missing fingerprint is never a reason to drop TLS.
        `node_key` is the key the keeper admitted; without it the node registers itself, which
        only a SuperLink without node authentication allows. `on_impostor` hears of every server
        that presented another certificate (the node keeps trying: one forged handshake must not
        end a trainer's task)."""
        if certificate_sha256 is None and not plaintext:
            raise EndpointError(f"no TLS certificate fingerprint for {superlink}: refusing to connect in the clear")
        self.app = app
        self.superlink = superlink
        self.node_config = node_config
        self.poll_interval = poll_interval
        self.on_connect = on_connect
        self.certificate_sha256 = certificate_sha256
        self.node_key = node_key
        self.on_impostor = on_impostor
        self._contexts: dict[int, Context] = {}

    def run(self, stop: threading.Event, connect_timeout: float = 60.0) -> None:
        """Serve until `stop` is set, reconnecting if the keeper restarts.

        Raises EndpointError when, for `connect_timeout`, the server at the endpoint was not the
        keeper the chain names, and ConnectionError when the keeper's SuperLink could not be
        reached, or did not admit this node, within `connect_timeout` (counted again after every
        connection that was served).
        """
        deadline = time.monotonic() + connect_timeout
        while not stop.is_set():
            try:
                self._serve_connection(stop, max(1.0, deadline - time.monotonic()))
                deadline = time.monotonic() + connect_timeout
            except EndpointError as error:  # another certificate: an impostor, or a rotation under way
                if self.on_impostor is not None:
                    self.on_impostor(str(error))
                if time.monotonic() >= deadline:
                    raise
                stop.wait(RETRY_S)
                continue
            except OSError as error:  # unreachable, or refused (ConnectionRefused)
                if time.monotonic() >= deadline:
                    raise ConnectionError(
                        f"cannot reach the keeper's SuperLink at {self.superlink}, or it did not admit this node "
                        f"(is the node key on chain? `fedchain trainer status`): {error}"
                    ) from error
                stop.wait(RETRY_S)
                continue
            stop.wait(self.poll_interval)

    def _serve_connection(self, stop: threading.Event, connect_timeout: float) -> None:
        """One connection's life; Flower's context logs and ends it when the SuperLink goes away."""
        certificate = None
        if self.certificate_sha256 is not None:
            certificate = KeeperEndpoint(self.superlink, self.certificate_sha256).pinned_certificate()
        keys = (self.node_key, self.node_key.public_key()) if self.node_key is not None else None
        connection = http_request_response(
            self.superlink,
            insecure=certificate is None,
            root_certificates=certificate,
            authentication_keys=keys,
            max_wait_time=connect_timeout,
        )
        with connection as callables:
            fleet = _Fleet(*callables)
            if self.on_connect is not None:
                self.on_connect(fleet.node_id)
            while not stop.is_set():
                received = fleet.receive()
                if received is None:
                    stop.wait(self.poll_interval)
                    continue
                message, tree = received
                try:
                    self._serve(fleet, message, tree)
                except RunNotRunningException:
                    logger.info("run %s ended; ignoring its message", message.metadata.run_id)

    def _serve(self, fleet: _Fleet, head: Message, tree: Any) -> None:
        """Pull the message's objects, answer it with the ClientApp, push the reply's objects."""
        run_id = head.metadata.run_id
        message = pull_and_inflate_object_from_tree(
            tree,
            lambda object_id: fleet.pull_object(run_id, object_id),
            lambda object_id: fleet.confirm(run_id, object_id),
            return_type=Message,
            initial_backoff=0.05,  # the message can arrive a moment before its objects do
            backoff_cap=0.5,
        )
        message.metadata.__dict__["_message_id"] = tree.object_id
        context = self._context(fleet, run_id)
        started = time.perf_counter()
        try:
            reply = self.app(message=message, context=context)
        except Exception as error:  # the keeper must hear why, the node keeps serving
            logger.exception("the ClientApp raised while handling %s", message.metadata.message_type)
            reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=str(error)), reply_to=message)
        runtime = time.perf_counter() - started
        with no_object_id_recompute():
            reply.metadata.__dict__["_message_id"] = reply.object_id
            reply_tree = get_object_tree(reply)
            objects = get_all_nested_objects(reply)
            wanted, session = fleet.send(reply, reply_tree, runtime)
            push_object_contents_from_iterable(
                ((object_id, objects[object_id].deflate()) for object_id in objects if object_id in wanted),
                lambda object_id, content: fleet.push_object(run_id, session, object_id, content),
            )

    def _context(self, fleet: _Fleet, run_id: int) -> Context:
        """One Context per run, kept across its messages (ClientApp state survives rounds)."""
        if run_id not in self._contexts:
            run = fleet.get_run(run_id)
            fab = fleet.get_fab(run.fab_hash, run_id)
            self._contexts[run_id] = Context(
                run_id=run_id,
                node_id=fleet.node_id,
                node_config=dict(self.node_config),
                state=RecordDict(),
                run_config=get_fused_config_from_fab(fab.content, run),
                series_id=run.series_id,
            )
        return self._contexts[run_id]


# The keeper's app bundle must name a ClientApp. fedchain trainers never run it (they serve their own
# verified client.py through TrainerNode); a stock SuperNode that does gets a plain refusal.
bundle_app = ClientApp()


@bundle_app.train()
def _refuse_train(message: Message, context: Context) -> Message:
    return _refusal(message)


@bundle_app.evaluate()
def _refuse_evaluate(message: Message, context: Context) -> Message:
    return _refusal(message)


def _refusal(message: Message) -> Message:
    reason = "fedchain tasks are trained with `fedchain trainer train` (client.py, checked), not by this bundle"
    return Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason), reply_to=message)
