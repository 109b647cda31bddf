"""Binding Flower nodes to staked trainers by the node key each authenticates with.

The directory is the keeper's real SuperLink (TLS, node authentication, keys registered through its
Control API as the keeper's admission registers them); the grid in the unit tests is that
SuperLink as `Bindings` sees it: which nodes are connected. It refuses to carry any message, for
binding must need none.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flwr.app import Message

from client_kit.node_identity import encode_public_key
from client_kit.task_hub import Standing
from keepers import binding as binding_module
from keepers.admission import NodeAdmission, NodeDirectory, superlink_key
from keepers.binding import Bindings
from keepers.certificate import ensure_certificate
from keepers.runtime import start_superlink
from localnet.processes import free_port


def _key() -> str:
    return encode_public_key(ec.generate_private_key(ec.SECP256R1()).public_key())


class Fleet:
    """The SuperLink as the ServerApp's grid and directory show it."""

    def __init__(self) -> None:
        self.connected: set[int] = set()
        self.keys: dict[int, bytes] = {}  # node id -> the key it authenticates with
        self.listings = 0

    def get_node_ids(self) -> list[int]:
        return sorted(self.connected)

    def push_messages(self, messages: Iterable[Message]) -> list[str]:
        raise AssertionError("binding sent a message")

    def directory(self) -> dict[int, bytes]:
        self.listings += 1
        return dict(self.keys)


class Chain:
    """This task's members as the chain lists them: node key -> trainer, and who is slashed."""

    def __init__(self) -> None:
        self.members: dict[bytes, str] = {}
        self.slashed: set[str] = set()
        self.reads = 0

    def member_keys(self) -> dict[bytes, str]:
        self.reads += 1
        return dict(self.members)

    def standing(self, address: str) -> Standing:
        if address in self.slashed:
            return Standing.SLASHED
        return Standing.ACTIVE if address in self.members.values() else Standing.ABSENT


def _federation(trainers: int) -> tuple[Fleet, Chain, Bindings]:
    fleet, chain = Fleet(), Chain()
    for node in range(1, trainers + 1):
        key = superlink_key(_key())
        fleet.connected.add(node)
        fleet.keys[node] = key
        chain.members[key] = f"wasm1trainer{node}"
    return fleet, chain, Bindings(fleet.directory, chain.member_keys, chain.standing)


def test_a_thousand_nodes_bind_without_a_message_in_one_look() -> None:
    """Review (issue 18): binding asked every node a signed query; with 1,000 nodes polling every
    8 s the answers came late, a node that missed three was refused for the whole run, and binding
    did not finish in 600 s. Now a node's key is its binding: one directory listing, one chain read,
    no message, nothing a slow node can miss."""
    fleet, chain, bindings = _federation(1000)
    assert bindings.wait(fleet, 1000, timeout=0) == list(range(1, 1001))  # type: ignore[arg-type]
    assert (fleet.listings, chain.reads) == (1, 1)
    assert bindings.by_node[7] == "wasm1trainer7"
    bindings.nodes(fleet)  # type: ignore[arg-type]
    assert (fleet.listings, chain.reads) == (1, 1)  # bound nodes are never looked up again


def test_a_node_no_trainer_of_the_task_named_is_never_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another task's trainer on the same keeper (its key admitted by the SuperLink) gets no work
    here; its node is looked up once, and the task's members are read again only after
    MEMBERS_REFRESH_S, when a key named since the run began binds."""
    fleet, chain, bindings = _federation(2)
    fleet.connected.add(50)
    fleet.keys[50] = superlink_key(_key())
    assert bindings.nodes(fleet) == [1, 2]  # type: ignore[arg-type]
    for _ in range(5):
        assert bindings.nodes(fleet) == [1, 2]  # type: ignore[arg-type]
    assert (fleet.listings, chain.reads) == (1, 1)
    chain.members[fleet.keys[50]] = "wasm1latecomer"  # named after the run began
    monkeypatch.setattr(binding_module, "MEMBERS_REFRESH_S", 0.0)
    assert bindings.nodes(fleet) == [1, 2, 50]  # type: ignore[arg-type]
    assert (fleet.listings, chain.reads) == (1, 2)


def test_a_trainer_answers_through_the_node_of_its_current_key_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trainer that named a new key (SetNodeKey) is bound through its new node and never through
    two: the old node is dropped, and a slashed trainer's node gets no work."""
    fleet, chain, bindings = _federation(2)
    assert bindings.nodes(fleet) == [1, 2]  # type: ignore[arg-type]
    new_key = superlink_key(_key())
    del chain.members[fleet.keys[1]]
    chain.members[new_key] = "wasm1trainer1"
    fleet.connected.add(3)
    fleet.keys[3] = new_key
    monkeypatch.setattr(binding_module, "MEMBERS_REFRESH_S", 0.0)
    assert bindings.nodes(fleet) == [2, 3]  # type: ignore[arg-type]
    assert bindings.by_node == {2: "wasm1trainer2", 3: "wasm1trainer1"}
    chain.slashed.add("wasm1trainer2")
    assert bindings.nodes(fleet) == [3]  # type: ignore[arg-type]


def test_the_superlink_lists_each_admitted_node_by_the_key_named_on_chain(tmp_path: Path) -> None:
    """The directory the ServerApp reads is the real SuperLink's: each key the keeper admitted
    (in its on-chain form) is listed under the node id it was registered as, in the form
    `superlink_key` gives the chain's keys, so the two can be matched."""
    certificate = ensure_certificate(tmp_path / "tls", [])
    port = free_port()
    link = start_superlink(port, tmp_path / "link", certificate)
    try:
        keys = {_key(): f"wasm1trainer{i}" for i in range(3)}
        change = NodeAdmission(port, certificate).sync(keys)
        assert sorted(change.admitted) == sorted(keys.values())
        listed = NodeDirectory(port, certificate.pem)()
        assert sorted(listed.values()) == sorted(superlink_key(key) for key in keys)
        assert len(set(listed)) == 3
    finally:
        link.stop()


def test_a_failed_lookup_binds_nobody_new_and_never_ends_the_round(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: a slow chain or SuperLink answer raised out of `nodes()`, inside the round, and
    ended the keeper's run; now the nodes bound so far keep working and the lookup is retried."""
    fleet, chain, bindings = _federation(2)
    assert bindings.nodes(fleet) == [1, 2]  # type: ignore[arg-type]
    fleet.connected.add(3)
    fleet.keys[3] = superlink_key(_key())
    chain.members[fleet.keys[3]] = "wasm1trainer3"
    healthy_directory, healthy_members = bindings.node_keys, bindings.member_keys

    def slow() -> dict:
        raise httpx.ReadTimeout("busy")

    bindings.node_keys = bindings.member_keys = slow
    monkeypatch.setattr(binding_module, "MEMBERS_REFRESH_S", 0.0)
    assert bindings.nodes(fleet) == [1, 2]  # type: ignore[arg-type]
    bindings.node_keys, bindings.member_keys = healthy_directory, healthy_members
    assert bindings.nodes(fleet) == [1, 2, 3]  # type: ignore[arg-type]


def test_a_trainer_that_names_its_key_after_the_run_began_binds_when_its_node_connects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review (CI timing): a trainer that joined from the web app names its node key only when it
    starts training, after the run began; its node waited up to 30 s for the next read of the
    task's members. A node the last read did not name now prompts a read at once."""
    fleet, chain, bindings = _federation(1)
    assert bindings.nodes(fleet) == [1]  # type: ignore[arg-type]
    monkeypatch.setattr(binding_module, "NEW_NODE_REFRESH_S", 0.0)
    key = superlink_key(_key())
    chain.members[key] = "wasm1webtrainer"  # SetNodeKey landed; the keeper then admitted the key
    fleet.connected.add(2)
    fleet.keys[2] = key
    assert bindings.nodes(fleet) == [1, 2]  # type: ignore[arg-type]
    assert chain.reads == 2
