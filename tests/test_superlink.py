"""The keeper's SuperLink answers a node's poll exactly as Flower's does, looking only at its
messages, and keeps a node's idle connection open between polls.

Two real Flower in-memory states get the same nodes, run and messages (one already expired);
each node polls both, one through Flower's own `get_message_ins`, one through
`keepers.superlink.messages_for_node`: the same messages, marked delivered the same way.
"""

from __future__ import annotations

import http.client
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flwr.app import ConfigRecord, Message, RecordDict
from flwr.common import MessageType
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.server.superlink.linkstate.in_memory_linkstate import InMemoryLinkState
from flwr.supercore.constant import NOOP_FEDERATION_ID
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation.noop_federation_manager import NoOpFederationManager

from keepers.certificate import ensure_certificate
from keepers.runtime import start_superlink
from keepers.superlink import messages_for_node
from localnet.processes import free_port

NODES = 4


def _state() -> tuple[InMemoryLinkState, list[int], int]:
    state = InMemoryLinkState(NoOpFederationManager(), ObjectStoreFactory().store())
    nodes = [state.create_node("owner", "owner", os.urandom(32), 30.0) for _ in range(NODES)]
    for node in nodes:
        state.activate_node(node, 30.0)
    run = state.create_run(None, None, None, {}, NOOP_FEDERATION_ID, None, "owner", "serverapp")
    return state, nodes, run


@pytest.fixture()
def as_server_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Messages are built as the ServerApp builds them: give this process its identity."""
    monkeypatch.setattr(TaskIdentity, "_node_id", SUPERLINK_NODE_ID)
    yield


def _message(run: int, node: int, number: int, ttl: float) -> Message:
    message = Message(
        content=RecordDict({"config": ConfigRecord({"n": number})}), dst_node_id=node, message_type=MessageType.TRAIN
    )
    message.metadata.__dict__["_ttl"] = ttl
    message.metadata.__dict__["_message_id"] = message.object_id
    return message


@pytest.mark.usefixtures("as_server_app")
def test_a_poll_finds_the_same_messages_as_flowers(monkeypatch: pytest.MonkeyPatch) -> None:
    flowers, ours = _state(), _state()
    for state, nodes, run in (flowers, ours):
        monkeypatch.setattr(TaskIdentity, "_run_id", run)
        monkeypatch.setattr(TaskIdentity, "_task_id", state.run_ids[run].run.primary_task_id)
        for number in range(12):
            node = nodes[number % NODES]
            ttl = 0.001 if number == 5 else 3600.0  # one message for node 1 expires before its poll
            assert state.store_message_ins(_message(run, node, number, ttl)) is not None
    time.sleep(0.01)
    for index in range(NODES):
        for limit in (None, 1):
            theirs = flowers[0].get_message_ins(flowers[1][index], limit)
            mine = messages_for_node(ours[0], ours[1][index], limit)
            assert [m.content["config"]["n"] for m in mine] == [m.content["config"]["n"] for m in theirs]
            assert all(m.metadata.delivered_at for m in mine)
    assert len(ours[0].message_ins_store) == len(flowers[0].message_ins_store) == 11  # the expired one is gone
    with pytest.raises(AssertionError):
        messages_for_node(ours[0], ours[1][0], 0)


def test_an_idle_node_keeps_its_connection_between_polls(tmp_path: Path) -> None:
    """Review (issue 18): uvicorn closed a connection after 5 idle seconds, so every poll of a node
    polling every 8 s paid a new TLS handshake; with 1,000 nodes 687 handshakes timed out. The
    keeper's SuperLink keeps a connection open across an idle gap longer than that."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    port = free_port()
    link = start_superlink(port, tmp_path / "link", certificate)
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=ssl.create_default_context(cadata=certificate.pem.decode()), timeout=10
    )
    try:
        connection.request("GET", "/")
        assert connection.getresponse().read()
        opened = connection.sock
        time.sleep(6.5)  # idle longer than uvicorn's default keep-alive
        connection.request("GET", "/")  # on a closed connection: RemoteDisconnected
        assert connection.getresponse().read()
        assert connection.sock is opened  # the same connection answered
    finally:
        connection.close()
        link.stop()
