"""Binding Flower nodes to staked trainers, on real signed binding claims and Flower messages.

The grid here is the keeper's SuperLink as `Bindings` sees it: which nodes are connected, queries
pushed, answers pulled. Each connected node answers (or not) the way a trainer's signer would.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest
from flwr.app import ConfigRecord, Message, Metadata, RecordDict
from flwr.app.message import make_message

from chain_config import LocalnetConfig
from client_kit.envelope import BindingClaim, sign
from client_kit.keys import wallet_from_mnemonic
from client_kit.task_hub import Standing
from keepers import binding as binding_module
from keepers.binding import Bindings

CHAIN_ID, CONTRACT, TASK_ID = "fedchain-local-1", "wasm1hub", 5
TRAINERS = [wallet_from_mnemonic(LocalnetConfig().dev_account(f"trainer{i}").mnemonic) for i in (1, 2)]
ADDRESSES = [str(w.address()) for w in TRAINERS]


def _standing(address: str) -> Standing:
    return Standing.ACTIVE if address in ADDRESSES else Standing.ABSENT


class Fleet:
    """Connected nodes; `runs[node]` is the trainer index whose signer runs it (absent: silent)."""

    def __init__(self) -> None:
        self.connected: set[int] = set()
        self.runs: dict[int, int] = {}
        self._queries: dict[str, int] = {}  # message id -> node
        self.pushed: list[int] = []

    def get_node_ids(self) -> list[int]:
        return sorted(self.connected)

    def push_messages(self, messages: Iterable[Message]) -> list[str]:
        ids = []
        for message in messages:
            message_id = f"q{len(self.pushed)}"
            self._queries[message_id] = int(message.metadata.dst_node_id)
            self.pushed.append(int(message.metadata.dst_node_id))
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> list[Message]:
        replies = []
        for message_id in message_ids:
            node = self._queries.get(message_id)
            if node is None or node not in self.runs:
                continue
            claim = BindingClaim(CHAIN_ID, CONTRACT, TASK_ID, node)
            envelope = sign(TRAINERS[self.runs[node]].signer(), claim)
            metadata = Metadata(1, "", node, 0, message_id, "", time.time(), 600, "query")
            replies.append(
                make_message(metadata=metadata, content=RecordDict({"envelope": ConfigRecord(envelope.to_record())}))
            )
            del self._queries[message_id]
        return replies


@pytest.fixture()
def in_server_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bindings builds query Messages as a ServerApp does: give the process the identity it has there."""
    from flwr.supercore.task_identity import TaskIdentity

    monkeypatch.setattr(TaskIdentity, "_run_id", 1)
    monkeypatch.setattr(TaskIdentity, "_node_id", 0)
    monkeypatch.setattr(TaskIdentity, "_task_id", 1)


def _bindings() -> Bindings:
    return Bindings(CHAIN_ID, CONTRACT, TASK_ID, _standing)


@pytest.mark.usefixtures("in_server_app")
def test_a_restarted_trainer_node_takes_over_from_its_dead_one() -> None:
    """Review: a trainer whose node process restarted (new node id, the dead one still listed) was
    refused ("already answers through node …") and, never asked again, sat out the whole run."""
    fleet, bindings = Fleet(), _bindings()
    fleet.connected, fleet.runs = {101}, {101: 0}
    assert bindings.wait(fleet, 1, timeout=2, poll_s=0.01) == [101]  # type: ignore[arg-type]
    fleet.connected, fleet.runs = {101, 202}, {202: 0}  # restarted as node 202; 101 lingers
    assert bindings.wait(fleet, 1, timeout=2, poll_s=0.01) in ([101], [202])  # type: ignore[arg-type]
    bindings.nodes(fleet)  # type: ignore[arg-type]
    assert bindings.nodes(fleet) == [202]  # type: ignore[arg-type]
    assert bindings.by_node == {202: ADDRESSES[0]}  # one node per trainer: never two updates
    assert "now answers through node 202" in bindings.refused[101]
    fleet.connected = {202}  # the dead node expires
    assert bindings.nodes(fleet) == [202]  # type: ignore[arg-type]


@pytest.mark.usefixtures("in_server_app")
def test_a_silent_stranger_costs_one_message_not_a_stall(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: each new node used to be handshaken synchronously, for up to 10 s; a stranger
    registering one silent node before each phase stalled every round for everyone."""
    fleet, bindings = Fleet(), _bindings()
    fleet.connected, fleet.runs = {1}, {1: 0}
    assert bindings.wait(fleet, 1, timeout=2, poll_s=0.01) == [1]  # type: ignore[arg-type]
    for stranger in range(900, 910):  # a fresh silent node before every call
        fleet.connected.add(stranger)
        started = time.monotonic()
        assert bindings.nodes(fleet) == [1]  # type: ignore[arg-type]
        assert time.monotonic() - started < 0.5
    assert fleet.pushed.count(905) == 1  # asked once while its query is pending
    monkeypatch.setattr(binding_module, "HANDSHAKE_TIMEOUT_S", 0.0)  # its query expires...
    bindings.nodes(fleet)  # type: ignore[arg-type]
    assert fleet.pushed.count(905) == 2  # ...and a node that was only busy gets asked again
    assert 905 not in bindings.refused
    for _ in range(5):  # but a node that stays silent is given up on (review: a flood of them)
        bindings.nodes(fleet)  # type: ignore[arg-type]
    assert fleet.pushed.count(905) == binding_module.MAX_ASKS
    assert "did not answer" in bindings.refused[905]
    assert bindings.nodes(fleet) == [1]  # type: ignore[arg-type]


@pytest.mark.usefixtures("in_server_app")
def test_only_a_staked_trainers_signature_binds_a_node() -> None:
    fleet, bindings = Fleet(), _bindings()
    outsider = wallet_from_mnemonic(LocalnetConfig().dev_account("trainer9").mnemonic)
    TRAINERS.append(outsider)
    try:
        fleet.connected, fleet.runs = {7, 8}, {7: 1, 8: 2}
        assert bindings.wait(fleet, 2, timeout=0.3, poll_s=0.01) == [7]  # type: ignore[arg-type]
        assert "is not a staked, unslashed trainer" in bindings.refused[8]
    finally:
        TRAINERS.pop()
