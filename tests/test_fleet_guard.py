"""What a node may store on the keeper's SuperLink (`keepers.fleet_guard`) and in what order a node
gets its messages (`keepers.superlink.messages_for_node`), on Flower's real state and Fleet handlers.

Each test is an attack an adversarial review reproduced against the keeper's SuperLink (issue 18):
a node that pushes an instruction to another trainer's node, or a reply under another node's
name; a reply tree that expands to 2^n objects; an object of next round's message registered in
advance with a child nobody pushes; an old unconfirmed message served before a newer one.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Message, RecordDict
from flwr.common import MessageType
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.common.serde import message_to_proto
from flwr.proto.fleet_pb2 import PushMessagesRequest
from flwr.proto.message_pb2 import ObjectTree, PushObjectRequest
from flwr.proto.node_pb2 import Node
from flwr.server.superlink.linkstate.in_memory_linkstate import InMemoryLinkState
from flwr.supercore.constant import NOOP_FEDERATION_ID
from flwr.supercore.error import FlowerError
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects, get_object_tree
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.object_store.in_memory_object_store import InMemoryObjectStore
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation.noop_federation_manager import NoOpFederationManager
from flwr.superlink.servicer.fleet import fleet_handlers
from flwr.supernode.fleet_http_connection import remove_content_from_message

from client_kit.protocol import ARRAYS, CONFIG, SERVER_ROUND
from keepers import superlink
from keepers.fleet_guard import MAX_TREE_OBJECTS, expanded_size, guarded_push_messages, put_with_declared_children
from keepers.superlink import REDELIVERIES, messages_for_node, still_arriving


@pytest.fixture()
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[InMemoryLinkState, list[int], int]]:
    """A running run on Flower's in-memory state with three nodes, patched as the keeper's SuperLink is."""
    monkeypatch.setattr(InMemoryObjectStore, "put", put_with_declared_children)
    monkeypatch.setattr(fleet_handlers, "push_messages", guarded_push_messages)
    state = InMemoryLinkState(NoOpFederationManager(), ObjectStoreFactory().store())
    nodes = [state.create_node("owner", "owner", os.urandom(32), 30.0) for _ in range(3)]
    for node in nodes:
        state.activate_node(node, 30.0)
    run = state.create_run(None, None, None, {}, NOOP_FEDERATION_ID, None, "owner", "serverapp")
    task = state.run_ids[run].run.primary_task_id
    state.claim_task(task)
    assert state.activate_task(task)
    monkeypatch.setattr(TaskIdentity, "_node_id", SUPERLINK_NODE_ID)
    monkeypatch.setattr(TaskIdentity, "_run_id", run)
    monkeypatch.setattr(TaskIdentity, "_task_id", task)
    yield state, nodes, run


def _server_push(state: InMemoryLinkState, message: Message) -> str:
    """What the ServerApp's push does: store the message, register its tree, push what is missing."""
    message.metadata.__dict__["_message_id"] = message.object_id
    session = state.start_session(message.metadata.run_id)
    stored, missing = state.store_message_and_object_tree(message, get_object_tree(message), session)
    assert stored
    objects = get_all_nested_objects(message)
    for object_id in missing:
        assert state.store_object(message.metadata.run_id, session, object_id, objects[object_id].deflate())
    return message.object_id


def _node_push(state: InMemoryLinkState, node: int, message: Message, tree: ObjectTree) -> None:
    """A node's PushMessages through the Fleet handler, with whatever tree it likes."""
    request = PushMessagesRequest(
        node=Node(node_id=node),
        messages_list=[message_to_proto(remove_content_from_message(message))],
        message_object_trees=[tree],
    )
    response = fleet_handlers.push_messages(request, state)
    objects = {object_id: o.deflate() for object_id, o in get_all_nested_objects(message).items()}
    for object_id in dict.fromkeys(response.objects_to_push):
        if object_id in objects:
            fleet_handlers.push_object(
                PushObjectRequest(
                    node=Node(node_id=node),
                    run_id=message.metadata.run_id,
                    session_id=response.session_id,
                    object_id=object_id,
                    object_content=objects[object_id],
                ),
                state,
            )


def _train(nodes: list[int], task_round: int, arrays: ArrayRecord) -> list[Message]:
    content = RecordDict({ARRAYS: arrays, CONFIG: ConfigRecord({"task-id": 7, SERVER_ROUND: task_round})})
    return [Message(content=content, dst_node_id=node, message_type=MessageType.TRAIN) for node in nodes]


def test_a_node_cannot_push_an_instruction_to_another_trainers_node(link: tuple) -> None:
    """Flower stores a message a node pushes without `reply_to` as an instruction to its
    destination: the victim's node served it instead of its train message, round after round."""
    state, nodes, _ = link
    fake = Message(RecordDict({CONFIG: ConfigRecord({SERVER_ROUND: 3})}), dst_node_id=nodes[1], message_type="train")
    fake.metadata.__dict__["_message_id"] = fake.object_id
    with pytest.raises(FlowerError, match="replies only"):
        _node_push(state, nodes[0], fake, get_object_tree(fake))
    assert messages_for_node(state, nodes[1], 1) == []


def test_a_node_cannot_reply_under_another_nodes_name(link: tuple) -> None:
    state, nodes, _ = link
    (train,) = _train([nodes[1]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    spoofed = Message(RecordDict({"metrics": ConfigRecord({"loss": 0.5})}), reply_to=train)  # from nodes[1]
    spoofed.metadata.__dict__["_message_id"] = spoofed.object_id
    with pytest.raises(FlowerError, match="own replies"):
        _node_push(state, nodes[0], spoofed, get_object_tree(spoofed))
    assert train.object_id not in state.message_ins_id_to_message_res_id


def _bomb(depth: int) -> tuple[list[ConfigRecord], ObjectTree]:
    """Objects each listing the next one twice: a proto of `depth` objects, 2^depth paths."""
    levels = [ConfigRecord({"i": i}) for i in range(depth)]
    tree = ObjectTree(object_id=levels[-1].object_id)
    for i in range(depth - 2, -1, -1):
        tree = ObjectTree(object_id=levels[i].object_id, children=[tree, ObjectTree(object_id=levels[i + 1].object_id)])
    return levels, tree


def test_a_reply_tree_that_expands_to_two_to_the_forty_objects_is_refused(link: tuple) -> None:
    """A 6 KB reply tree expanding to 2^40 objects froze the SuperLink: every walk of it held the
    state lock (a 26-deep one took 10.6 s, during which no node's heartbeat got through)."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    reply = Message(RecordDict({"metrics": ConfigRecord({"loss": 0.5})}), reply_to=train)
    reply.metadata.__dict__["_message_id"] = reply.object_id
    _, bomb = _bomb(40)
    real = get_object_tree(reply)
    tree = ObjectTree(object_id=real.object_id, children=[*real.children, bomb])
    started = time.perf_counter()
    assert expanded_size(tree, state.object_store) == MAX_TREE_OBJECTS + 1
    with pytest.raises(FlowerError, match="expands to more than"):
        _node_push(state, nodes[0], reply, tree)
    assert time.perf_counter() - started < 1.0
    assert expanded_size(real, state.object_store) == len(get_all_nested_objects(reply))  # an honest reply


def test_the_message_check_looks_at_each_object_once(link: tuple) -> None:
    """The same tree stored by any other way costs a walk proportional to its objects, not paths."""
    state, _, run = link
    levels, bomb = _bomb(40)
    state.object_store.preregister(run, bomb)
    for level in levels[1:]:
        state.object_store.put(level.object_id, level.deflate())
    started = time.perf_counter()
    assert still_arriving(state.object_store, levels[0].object_id)
    assert time.perf_counter() - started < 0.5


def test_next_rounds_objects_registered_in_advance_cannot_hold_its_message(link: tuple) -> None:
    """A trainer registered round 2's config record (predictable) with a child nobody pushes:
    Flower keeps the first registrant's children, so nobody could pull round 2's message whole.
    Stored with its content, an object takes the children its content declares."""
    state, nodes, _ = link
    attacker, honest = nodes[0], nodes[1]
    first = _train(nodes, 1, ArrayRecord([np.zeros(4)]))
    for message in first:
        _server_push(state, message)
    reply = Message(RecordDict({"metrics": ConfigRecord({"loss": 0.5})}), reply_to=first[0])
    reply.metadata.__dict__["_message_id"] = reply.object_id
    next_config = ConfigRecord({"task-id": 7, SERVER_ROUND: 2})
    never = hashlib.sha256(b"never pushed").hexdigest()
    real = get_object_tree(reply)
    planted = ObjectTree(object_id=next_config.object_id, children=[ObjectTree(object_id=never)])
    _node_push(state, attacker, reply, ObjectTree(object_id=real.object_id, children=[*real.children, planted]))
    assert state.object_store.store[next_config.object_id].child_object_ids == [never]  # planted
    for message in _train(nodes, 2, ArrayRecord([np.ones(4)])):
        _server_push(state, message)
    assert state.object_store.store[next_config.object_id].child_object_ids == []
    delivered = [m.content[CONFIG][SERVER_ROUND] for m in messages_for_node(state, honest, None)]
    assert 2 in delivered


def test_a_newer_message_comes_before_an_old_unconfirmed_one_which_comes_back_a_few_times(link: tuple) -> None:
    """A node that lost round 1's message before confirming it gets it again, but not ahead of
    round 2's message, and not forever (an object another tree holds on to must not pin it)."""
    state, nodes, _ = link
    (old,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, old)
    assert [m.object_id for m in messages_for_node(state, nodes[0], 1)] == [old.object_id]  # answer lost
    (new,) = _train([nodes[0]], 2, ArrayRecord([np.ones(4)]))
    _server_push(state, new)
    assert [m.object_id for m in messages_for_node(state, nodes[0], 1)] == [new.object_id]
    again = [len(messages_for_node(state, nodes[0], 1)) for _ in range(2 * REDELIVERIES + 2)]
    assert sum(again) == 2 * REDELIVERIES  # each unconfirmed one REDELIVERIES times more, then no more
    assert superlink.messages_for_node is messages_for_node
