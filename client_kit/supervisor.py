"""The trainer's Flower node runs in a child process, restarted when it exits.

When a restarted keeper no longer knows the node, Flower's connection code sends SIGINT to its own
process; the child ignores it and a fresh child registers again. The user's Ctrl-C reaches the
parent, which stops the child. Progress (connected node id, per-round results) comes back over a
queue for the parent's live table.

A child that meets a server with another certificate than the chain's says so and keeps trying
(one forged handshake must not end a trainer's task); the parent reads the keeper's profile again
and, if the keeper rotated its certificate, restarts the child pinned to the new one. A profile
without a fingerprint is never followed (TLS is not dropped for anyone's word). Only when every
attempt for the connect timeout met another certificate does training stop.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from client_kit.endpoint import EndpointError, KeeperEndpoint
from client_kit.node import TrainerNode
from client_kit.signer_app import SignerApp, TrainerError


def _node_process(
    signer: SignerApp,
    endpoint: KeeperEndpoint,
    node_key: ec.EllipticCurvePrivateKey,
    connect_timeout: float,
    poll_interval: float,
    reports: Any,
) -> None:
    """Child process: serve the task with the inherited signer (and its worker); report progress."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signer.log.sink = lambda task_round, values: reports.put(("round", task_round, values))
    node = TrainerNode(
        signer.app,
        endpoint.address,
        node_config={},
        poll_interval=poll_interval,
        on_connect=lambda node_id: reports.put(("node", node_id)),
        certificate_sha256=endpoint.tls_cert_sha256,
        node_key=node_key,
        on_impostor=lambda reason: reports.put(("impostor", reason)),
    )
    try:
        node.run(threading.Event(), connect_timeout=connect_timeout)
    except EndpointError as error:
        reports.put(("refused", str(error)))
        raise SystemExit(4) from None
    except ConnectionError as error:
        reports.put(("unreachable", str(error)))
        raise SystemExit(3) from None


class NodeSupervisor:
    """Runs the trainer node in a child process and starts a fresh one if it exits (keeper restarts)."""

    MAX_RESTARTS = 20

    def __init__(
        self,
        signer: SignerApp,
        resolve: Callable[[], KeeperEndpoint],
        node_key: ec.EllipticCurvePrivateKey,
        connect_timeout: float,
        poll_interval: float,
    ) -> None:
        """`resolve` reads the keeper's endpoint and certificate from chain (in this process)."""
        self.signer = signer
        self.resolve = resolve
        self.endpoint = resolve()
        if not self.endpoint.tls_cert_sha256:
            raise TrainerError(f"the keeper at {self.endpoint.address} has no TLS certificate on chain")
        self.node_key = node_key
        self.connect_timeout = connect_timeout
        self.poll_interval = poll_interval
        self.node_id: int | None = None
        self.restarts = 0
        self._context = multiprocessing.get_context("fork")  # the child inherits the signer and the worker's pipes
        self._reports = self._context.SimpleQueue()
        self._process: Any = None

    @property
    def superlink(self) -> str:
        return self.endpoint.address

    def start(self) -> None:
        self._process = self._context.Process(
            target=_node_process,
            args=(self.signer, self.endpoint, self.node_key, self.connect_timeout, self.poll_interval, self._reports),
            name="fedchain-trainer-node",
            daemon=True,
        )
        self._process.start()

    def check(self) -> None:
        """Take the child's reports; restart it if it exited; raise TrainerError if it cannot connect."""
        while not self._reports.empty():
            kind, *payload = self._reports.get()
            if kind == "node":
                self.node_id = payload[0]
            elif kind == "round":
                self.signer.log.note(payload[0], **payload[1])
            elif kind == "unreachable":
                raise TrainerError(f"keeper unreachable at {self.superlink}: {payload[0]}")
            elif kind == "impostor":
                fresh = self.resolve()
                if fresh.tls_cert_sha256 and fresh != self.endpoint:  # the keeper rotated or moved
                    self.endpoint = fresh
                    self._restart()
            elif kind == "refused":
                raise TrainerError(str(payload[0]))
        if self._process is not None and not self._process.is_alive():
            self.restarts += 1
            if self.restarts > self.MAX_RESTARTS:
                code = self._process.exitcode
                raise TrainerError(f"the trainer node exited {self.restarts} times (last exit code {code})")
            self.start()  # e.g. a restarted keeper no longer knew this node: register again

    def _restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.kill()
