"""What a node may store on the keeper's SuperLink (`keepers.fleet_guard`) and in what order a node
gets its messages (`keepers.superlink.messages_for_node`), on Flower's real state and Fleet handlers.

Each test is an attack two adversarial reviews reproduced against the keeper's SuperLink (issue
18): a node that pushes an instruction to another trainer's node, or a reply under another node's
name; a reply tree (or content) that expands to 2^n objects; objects hung under a stored one; an
object of next round's message registered in advance with a child nobody pushes; a node that
confirms (deletes) what is not its message; a reply named after an object of the round's message;
an old unconfirmed message served before a newer one; a "retried" push of a stored reply that
hangs new objects under it; a reply far bigger than the message it answers; a reply stored while
the ServerApp's pull was between its check and Flower's hand-over. And the keeper's grid, pulling a pass's
replies at once, gets Flower's replies from Flower's Runtime handlers.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from functools import partial

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Message, RecordDict
from flwr.common import MessageType
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.common.serde import message_to_proto
from flwr.proto.fleet_pb2 import PushMessagesRequest
from flwr.proto.message_pb2 import (
    ConfirmMessageReceivedRequest,
    ConfirmMessageReceivedResponse,
    ObjectTree,
    PullObjectRequest,
    PullObjectResponse,
    PushObjectRequest,
)
from flwr.proto.message_pb2 import Message as MessageProto
from flwr.proto.node_pb2 import Node
from flwr.proto.runtime_pb2 import PullAppMessagesRequest, PullAppMessagesResponse
from flwr.proto.task_pb2 import Task
from flwr.server.superlink.linkstate.in_memory_linkstate import InMemoryLinkState
from flwr.supercore.constant import NOOP_FEDERATION_ID
from flwr.supercore.error import FlowerError
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects, get_object_tree, iterate_object_tree
from flwr.supercore.inflatable.inflatable_utils import pull_objects
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.object_store.in_memory_object_store import InMemoryObjectStore
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation.noop_federation_manager import NoOpFederationManager
from flwr.superlink.grid import http_grid
from flwr.superlink.grid.http_grid import HttpGrid
from flwr.superlink.servicer.fleet import fleet_handlers
from flwr.superlink.servicer.runtime import runtime_handlers
from flwr.supernode.fleet_http_connection import remove_content_from_message

from client_kit.protocol import ARRAYS, CONFIG, SERVER_ROUND
from keepers import fleet_guard, superlink
from keepers.brisk_grid import pull_replies_at_once, readable_reply
from keepers.fleet_guard import MAX_OBJECT_BYTES, MAX_TREE_OBJECTS, REPLY_EXTRA_OBJECTS, expanded_size
from keepers.superlink import REDELIVERIES, messages_for_node, still_arriving


@pytest.fixture()
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[InMemoryLinkState, list[int], int]]:
    """A running run on Flower's in-memory state with three nodes, patched as the keeper's SuperLink is."""
    monkeypatch.setattr(fleet_handlers, "push_messages", fleet_guard.guarded_push_messages)
    monkeypatch.setattr(fleet_handlers, "push_object", fleet_guard.guarded_push_object)
    monkeypatch.setattr(fleet_guard, "_message_objects", OrderedDict())
    monkeypatch.setattr(InMemoryLinkState, "store_message_and_object_tree", fleet_guard.sessions_first)
    monkeypatch.setattr(fleet_handlers, "confirm_message_received", fleet_guard.guarded_confirm)
    monkeypatch.setattr(InMemoryObjectStore, "put", fleet_guard.checked_put)
    monkeypatch.setattr(InMemoryObjectStore, "preregister", fleet_guard.authoritative_preregister)
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


def _push_request(node: int, reply: Message, tree: ObjectTree) -> PushMessagesRequest:
    return PushMessagesRequest(
        node=Node(node_id=node),
        messages_list=[message_to_proto(remove_content_from_message(reply))],
        message_object_trees=[tree],
    )


def _orphans(tag: str, count: int) -> list[ObjectTree]:
    return [ObjectTree(object_id=hashlib.sha256(f"{tag}{i}".encode()).hexdigest()) for i in range(count)]


def _node_push(state: InMemoryLinkState, node: int, message: Message, tree: ObjectTree) -> list[bool]:
    """A node's PushMessages through the Fleet handler, with whatever tree it likes, then a push of
    each object it was asked for that it has; whether each was stored."""
    request = _push_request(node, message, tree)
    response = fleet_handlers.push_messages(request, state)
    objects = {object_id: o.deflate() for object_id, o in get_all_nested_objects(message).items()}
    return [
        fleet_handlers.push_object(
            PushObjectRequest(
                node=Node(node_id=node),
                run_id=message.metadata.run_id,
                session_id=response.session_id,
                object_id=object_id,
                object_content=objects[object_id],
            ),
            state,
        ).stored
        for object_id in dict.fromkeys(response.objects_to_push)
        if object_id in objects
    ]


def _reply(to: Message, loss: float = 0.5) -> Message:
    reply = Message(RecordDict({"metrics": ConfigRecord({"loss": loss})}), reply_to=to)
    reply.metadata.__dict__["_message_id"] = reply.object_id
    return reply


def _with(tree: ObjectTree, *extra: ObjectTree) -> ObjectTree:
    """`tree` claiming `extra` children besides its own (the message object's id stays right)."""
    return ObjectTree(object_id=tree.object_id, children=[*tree.children, *extra])


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
    spoofed = _reply(train)  # from nodes[1]
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
    reply = _reply(train)
    _, bomb = _bomb(40)
    real = get_object_tree(reply)
    (record,) = real.children
    tree = ObjectTree(object_id=real.object_id, children=[_with(record, bomb)])
    started = time.perf_counter()
    assert expanded_size(tree, state.object_store) == MAX_TREE_OBJECTS + 1
    with pytest.raises(FlowerError, match="more than"):
        _node_push(state, nodes[0], reply, tree)
    assert time.perf_counter() - started < 1.0
    assert expanded_size(real, state.object_store) == len(get_all_nested_objects(reply))  # an honest reply


def test_the_message_check_looks_at_each_object_once() -> None:
    """A tree stored by Flower's own code (which the guards refuse) costs a walk proportional to
    its objects, not to its 2^40 paths."""
    store = ObjectStoreFactory().store()
    levels, bomb = _bomb(40)
    store.preregister(1, bomb)
    for level in levels[1:]:
        store.put(level.object_id, level.deflate())
    started = time.perf_counter()
    assert still_arriving(store, levels[0].object_id)
    assert time.perf_counter() - started < 0.5


def test_content_that_declares_other_children_than_registered_is_not_stored(link: tuple) -> None:
    """Stored as registered flat, a record whose content lists the next object twice made a 2^n
    tree after the size check (Flower adopts neither check); a declared child never registered
    let a node's confirm delete a shared object of next round's message."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    twice = ArrayRecord([np.ones(3), np.ones(3)])  # its content lists one array object twice
    reply = Message(RecordDict({"arrays": twice}), reply_to=train)
    reply.metadata.__dict__["_message_id"] = reply.object_id
    real = get_object_tree(reply)
    (record_tree,) = real.children
    (arrays_tree,) = record_tree.children
    flat = ObjectTree(object_id=arrays_tree.object_id)  # registered without its children
    tree = ObjectTree(object_id=real.object_id, children=[ObjectTree(object_id=record_tree.object_id, children=[flat])])
    assert not all(_node_push(state, nodes[0], reply, tree))
    assert not state.object_store.store[arrays_tree.object_id].is_available


def test_a_node_may_confirm_only_its_own_message(link: tuple) -> None:
    state, nodes, run = link
    (train,) = _train([nodes[1]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    foreign = ConfirmMessageReceivedRequest(node=Node(node_id=nodes[0]), run_id=run, message_object_id=train.object_id)
    with pytest.raises(FlowerError, match="not a message addressed to it"):
        fleet_handlers.confirm_message_received(request=foreign, state=state, store=state.object_store)
    assert train.object_id in state.object_store
    shared = get_object_tree(train).children[0].object_id  # not a message: confirming it deletes nothing
    other = ConfirmMessageReceivedRequest(node=Node(node_id=nodes[0]), run_id=run, message_object_id=shared)
    fleet_handlers.confirm_message_received(request=other, state=state, store=state.object_store)
    assert shared in state.object_store
    own = ConfirmMessageReceivedRequest(node=Node(node_id=nodes[1]), run_id=run, message_object_id=train.object_id)
    fleet_handlers.confirm_message_received(request=own, state=state, store=state.object_store)
    assert train.object_id not in state.object_store


def test_a_reply_id_is_that_of_the_message_it_announces(link: tuple) -> None:
    """A reply named after the round's shared record made the ServerApp inflate a record as a
    reply, and its run died for everyone; one named after an object of next round's message made
    the ServerApp's own push of it fail. A reply's id must hash the message it announces."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    shared = get_object_tree(train).children[0]  # the message's RecordDict, as every node pulls it
    future = ConfigRecord({"task-id": 7, SERVER_ROUND: 2})  # next round's, predictable
    for named_after in (shared, ObjectTree(object_id=future.object_id)):
        named = _reply(train)
        named.metadata.__dict__["_message_id"] = named_after.object_id
        with pytest.raises(FlowerError, match="not that of the message"):
            _node_push(state, nodes[0], named, named_after)
    assert future.object_id not in state.object_store


def test_a_reply_pushed_again_is_answered_with_what_is_left(link: tuple) -> None:
    """A node whose PushMessages timed out after the SuperLink stored it asks again; refusing that
    ended its connection and made an honest trainer a no-show."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    reply = _reply(train)
    request = _push_request(nodes[0], reply, get_object_tree(reply))
    first = fleet_handlers.push_messages(request, state)
    again = fleet_handlers.push_messages(request, state)
    assert set(again.objects_to_push) == set(first.objects_to_push) == set(get_all_nested_objects(reply))
    assert _node_push(state, nodes[0], reply, get_object_tree(reply)) == [True] * len(first.objects_to_push)


def test_a_tree_may_not_hang_new_objects_under_a_stored_one(link: tuple) -> None:
    """Children listed under an object already stored are registered by Flower but counted by no
    walk of the stored tree: 40 such pushes registered 560,000 objects (350 MiB)."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    reply = _reply(train)
    real = get_object_tree(reply)
    stored = get_object_tree(train).children[0]
    orphans = _orphans("", 5)
    hung = ObjectTree(object_id=stored.object_id, children=[*stored.children, *orphans])
    (record,) = real.children
    with pytest.raises(FlowerError, match="other children"):
        _node_push(state, nodes[0], reply, ObjectTree(object_id=real.object_id, children=[_with(record, hung)]))
    many = _orphans("o", MAX_TREE_OBJECTS)
    with pytest.raises(FlowerError, match="more than"):
        _node_push(state, nodes[0], reply, ObjectTree(object_id=real.object_id, children=[_with(record, *many)]))
    assert len(state.object_store.store) < 100


def test_next_rounds_objects_registered_in_advance_cannot_hold_its_message(link: tuple) -> None:
    """A trainer registered round 2's config record (predictable) with a child nobody pushes:
    Flower keeps the first registrant's children, so nobody could pull round 2's message whole.
    The keeper's ServerApp registers its own messages' objects with the children its trees give."""
    state, nodes, _ = link
    attacker, honest = nodes[0], nodes[1]
    first = _train(nodes, 1, ArrayRecord([np.zeros(4)]))
    for message in first:
        _server_push(state, message)
    reply = _reply(first[0])
    next_config = ConfigRecord({"task-id": 7, SERVER_ROUND: 2})
    never = hashlib.sha256(b"never pushed").hexdigest()
    real = get_object_tree(reply)
    planted = ObjectTree(object_id=next_config.object_id, children=[ObjectTree(object_id=never)])
    (record,) = real.children
    _node_push(state, attacker, reply, ObjectTree(object_id=real.object_id, children=[_with(record, planted)]))
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


def test_a_reply_of_the_wrong_kind_is_dropped_alone(link: tuple) -> None:
    """A node can push a record of the wrong kind under its reply's message object (the push check
    sees ids, not kinds); Flower's grid raised while inflating it and the keeper's run died for
    every trainer. The keeper's grid turns it into an error that answers nothing pending."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    honest = _reply(train)
    contents = {object_id: o.deflate() for object_id, o in get_all_nested_objects(honest).items()}
    assert readable_reply(honest.object_id, contents).metadata.reply_to_message_id == train.object_id
    wrong = ConfigRecord({"loss": 0.5})  # where the message's RecordDict belongs
    metadata = MessageProto(metadata=message_to_proto(honest).metadata).metadata
    metadata.message_id = ""
    body = MessageProto(metadata=metadata).SerializeToString(deterministic=True)
    head = f"Message {wrong.object_id} {len(body)}".encode()
    forged = head + b"\x00" + body
    forged_id = hashlib.sha256(forged).hexdigest()
    dropped = readable_reply(forged_id, {forged_id: forged, wrong.object_id: wrong.deflate()})
    assert dropped.has_error() and dropped.metadata.reply_to_message_id == ""
    assert readable_reply(wrong.object_id, {wrong.object_id: wrong.deflate()}).has_error()  # not a message at all


class _RuntimeOnState:
    """Flower's Runtime API handlers on the state, called in this process as the SuperLink calls
    them for each of the ServerApp's requests."""

    def __init__(self, state: InMemoryLinkState, run: int) -> None:
        self.state, self.task = state, Task(run_id=run)

    def PullMessages(self, request: PullAppMessagesRequest) -> PullAppMessagesResponse:  # noqa: N802 (Flower's name)
        return runtime_handlers.pull_messages(request, self.state, self.task)

    def PullObject(self, request: PullObjectRequest) -> PullObjectResponse:  # noqa: N802
        return runtime_handlers.pull_object(request, self.state, self.task)

    def ConfirmMessageReceived(self, request: ConfirmMessageReceivedRequest) -> ConfirmMessageReceivedResponse:  # noqa: N802
        return runtime_handlers.confirm_message_received(request, self.state, self.task)


def test_replies_pulled_at_once_are_flowers_replies_and_an_incomplete_one_is_unavailable_alone(
    link: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keeper's grid pulls a pass's replies at once (`pull_replies_at_once`): each whole reply
    comes back as it was sent and is confirmed (gone from the store), in the order the SuperLink
    listed them, and one whose objects never come is Flower's "unavailable" error for its message,
    without holding the others."""
    state, nodes, run = link
    monkeypatch.setattr(http_grid, "pull_objects", partial(pull_objects, initial_backoff=0.05, max_time=0.5))
    trains = _train(nodes, 1, ArrayRecord([np.zeros(4)]))
    for message in trains:
        _server_push(state, message)
    replies = [_reply(train, loss=0.1 * (i + 1)) for i, train in enumerate(trains)]
    for node, reply in zip(nodes[:2], replies[:2], strict=True):
        _node_push(state, node, reply, get_object_tree(reply))
    incomplete = _push_request(nodes[2], replies[2], get_object_tree(replies[2]))
    assert fleet_handlers.push_messages(incomplete, state).objects_to_push  # and none of them pushed
    grid = HttpGrid(token="in process")
    grid._client = _RuntimeOnState(state, run)  # type: ignore[assignment]
    grid.set_run(state.run_ids[run].run)
    pulled = {}
    for reply in pull_replies_at_once(grid, [t.object_id for t in trains]):
        pulled[reply.metadata.reply_to_message_id] = reply
    assert list(pulled)[-1] == trains[2].object_id  # the incomplete one last: it held nobody
    assert set(pulled) == {train.object_id for train in trains}
    for train, sent in zip(trains[:2], replies[:2], strict=True):
        got = pulled[train.object_id]
        assert not got.has_error() and got.content["metrics"]["loss"] == sent.content["metrics"]["loss"]
        assert got.metadata.message_id == sent.object_id and sent.object_id not in state.object_store.store
    unavailable = pulled[trains[2].object_id]
    assert unavailable.has_error() and unavailable.error.code == ErrorCode.MESSAGE_UNAVAILABLE


def test_a_retried_push_is_checked_like_the_first(link: tuple) -> None:
    """Review: a node's push of a reply it had stored already skipped every tree check, so a node
    that never completed its reply could "retry" it with thousands of new objects under its record,
    again and again (60,000 registered in four pushes). Here it gets what a first push gets."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    reply = _reply(train)
    real = get_object_tree(reply)
    assert fleet_handlers.push_messages(_push_request(nodes[0], reply, real), state).objects_to_push  # none pushed
    registered = len(state.object_store.store)
    (record,) = real.children
    padded = ObjectTree(object_id=real.object_id, children=[_with(record, *_orphans("retry", 3))])
    with pytest.raises(FlowerError, match="other children"):
        fleet_handlers.push_messages(_push_request(nodes[0], reply, padded), state)
    assert len(state.object_store.store) == registered
    assert set(fleet_handlers.push_messages(_push_request(nodes[0], reply, real), state).objects_to_push) == set(
        get_all_nested_objects(reply)
    )  # an honest retry still gets what is left to push


def test_a_reply_may_be_only_a_little_bigger_than_the_message_it_answers(link: tuple) -> None:
    """Review: the object count allowed a 2,000-object reply of 5 MiB chunks (10 GB) to any message,
    and objects of any size: the SuperLink held it and the ServerApp pulled it whole."""
    state, nodes, run = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    limit = sum(1 for _ in iterate_object_tree(get_object_tree(train))) + REPLY_EXTRA_OBJECTS
    reply = _reply(train)
    real = get_object_tree(reply)
    (record,) = real.children
    size = sum(1 for _ in iterate_object_tree(real))
    for extra, refused in ((limit - size, False), (limit - size + 1, True)):
        tree = ObjectTree(object_id=real.object_id, children=[_with(record, *_orphans(f"big{extra}", extra))])
        try:
            fleet_handlers.push_messages(_push_request(nodes[0], reply, tree), state)
            assert not refused
        except FlowerError as error:
            assert refused and f"more than {limit} objects" in str(error)
            break
    huge = PushObjectRequest(
        node=Node(node_id=nodes[0]),
        run_id=train.metadata.run_id,
        object_id="0" * 64,
        object_content=b"x" * (MAX_OBJECT_BYTES + 1),
    )
    with pytest.raises(FlowerError, match="at most"):
        fleet_handlers.push_object(huge, state)


def test_a_reply_stored_during_the_servers_pull_waits_for_the_next_pass(
    link: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: the ServerApp's pull picked the whole replies under the state's lock, let go of it,
    and Flower's hand-over took it again: a reply a node stored in between, none of its objects
    pushed yet, was handed over and held every other reply of that pull while the ServerApp waited
    for its objects."""
    state, nodes, run = link
    trains = _train(nodes[:2], 1, ArrayRecord([np.zeros(4)]))
    for message in trains:
        _server_push(state, message)
    honest = _reply(trains[1])
    _node_push(state, nodes[1], honest, get_object_tree(honest))
    late = _reply(trains[0], loss=0.9)
    flowers = superlink._flowers_replies

    def node_pushes_meanwhile(st: InMemoryLinkState, ids: set[str], run_id: int) -> list[Message]:
        pusher = threading.Thread(
            target=fleet_handlers.push_messages, args=(_push_request(nodes[0], late, get_object_tree(late)), st)
        )
        pusher.start()
        pusher.join(timeout=0.5)  # done at once unless the pull holds the state
        return flowers(st, ids, run_id)

    monkeypatch.setattr(superlink, "_flowers_replies", node_pushes_meanwhile)
    handed = superlink.replies_once_whole(state, {t.object_id for t in trains}, run)
    assert [reply.metadata.reply_to_message_id for reply in handed] == [trains[1].object_id]


def test_an_object_goes_only_into_a_push_session_of_the_nodes_own(link: tuple) -> None:
    """Review: Flower stores an object pushed without a session into whichever session waits for
    it, the ServerApp's own included (next round's config record is predictable): the ServerApp's
    push of it then failed and its run ended for everyone."""
    state, nodes, run = link
    (train,) = _train([nodes[1]], 2, ArrayRecord([np.ones(4)]))
    train.metadata.__dict__["_message_id"] = train.object_id
    session = state.start_session(run)
    stored, missing = state.store_message_and_object_tree(train, get_object_tree(train), session)
    objects = get_all_nested_objects(train)
    config = next(i for i in missing if isinstance(objects[i], ConfigRecord))
    for session_id, refusal in (("", "outside a push session"), (session, "not a push session of this node")):
        planted = PushObjectRequest(
            node=Node(node_id=nodes[0]),
            run_id=run,
            session_id=session_id,
            object_id=config,
            object_content=objects[config].deflate(),
        )
        with pytest.raises(FlowerError, match=refusal):
            fleet_handlers.push_object(planted, state)
    assert stored and all(state.store_object(run, session, i, objects[i].deflate()) for i in missing)


def test_a_reply_to_no_message_of_the_node_opens_no_push_session(link: tuple) -> None:
    """Review: a reply to a message that does not exist passed the guard, and Flower opened a push
    session for it before refusing it, a session nothing ever closed (730 bytes a request)."""
    state, nodes, _ = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    (never_sent,) = _train([nodes[0]], 1, ArrayRecord([np.full(4, 7.0)]))
    never_sent.metadata.__dict__["_message_id"] = never_sent.object_id
    sessions = len(state._object_push_sessions)
    for node, message in ((nodes[0], never_sent), (nodes[1], train)):  # not sent; sent to another node
        reply = _reply(message)
        reply.metadata.__dict__["_src_node_id"] = node
        reply.metadata.__dict__["_message_id"] = reply.object_id
        with pytest.raises(FlowerError, match="a reply to no message this node has"):
            fleet_handlers.push_messages(_push_request(node, reply, get_object_tree(reply)), state)
    assert len(state._object_push_sessions) == sessions


def test_a_reply_to_a_message_the_keeper_no_longer_tracks_is_refused(
    link: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: once a message's size was forgotten, a reply to it could have 2,000 objects (10 GB)."""
    state, nodes, _ = link
    monkeypatch.setattr(fleet_guard, "MESSAGES_REMEMBERED", 1)
    first, second = _train(nodes[:2], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, first)
    _server_push(state, second)  # the first one's size is forgotten
    reply = _reply(first)
    with pytest.raises(FlowerError, match="no longer tracks"):
        fleet_handlers.push_messages(_push_request(nodes[0], reply, get_object_tree(reply)), state)


@pytest.mark.parametrize("pusher", ["a node", "the ServerApp"])
def test_a_push_and_an_expired_sessions_clean_up_take_the_locks_in_one_order(link: tuple, pusher: str) -> None:
    """Review: Flower's clean-up of an expired push session holds the session lock and then takes
    the state's; the guarded push held the state's and then (opening its session) took the
    session lock, and so does Flower's storing of the ServerApp's message: a push and a clean-up at
    once waited for each other for good, and so did every request after them."""
    state, nodes, run = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    reply = _reply(train)
    (following,) = _train([nodes[1]], 2, ArrayRecord([np.ones(4)]))
    following.metadata.__dict__["_message_id"] = following.object_id
    session = state.start_session(run)
    holding, done = threading.Event(), []

    def clean_up() -> None:  # what `store_object`/`get_object` do with an expired session
        with state._lock_object_push_sessions:
            holding.set()
            time.sleep(0.3)  # the push begins meanwhile
            state._on_push_session_expired(set())
        done.append("clean-up")

    def push() -> None:
        holding.wait()
        if pusher == "a node":
            fleet_handlers.push_messages(_push_request(nodes[0], reply, get_object_tree(reply)), state)
        else:
            state.store_message_and_object_tree(following, get_object_tree(following), session)
        done.append("push")

    threads = [threading.Thread(target=work, daemon=True) for work in (clean_up, push)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(done) == ["clean-up", "push"]


def test_a_reply_flower_will_not_store_leaves_no_push_session(link: tuple) -> None:
    """Review: Flower opens a reply's push session before it stores the reply; a second reply to
    an answered message, a reply of another run, or a tree with an object id that is no hash
    deep inside (Flower registered the objects before it and then raised) left the session open
    for good, with what it had registered: memory grew with every request."""
    state, nodes, run = link
    (train,) = _train([nodes[0]], 1, ArrayRecord([np.zeros(4)]))
    _server_push(state, train)
    first = _reply(train, loss=0.1)
    fleet_handlers.push_messages(_push_request(nodes[0], first, get_object_tree(first)), state)
    (other,) = _train([nodes[1]], 1, ArrayRecord([np.ones(4)]))
    _server_push(state, other)
    sessions, objects = set(state._object_push_sessions), len(state.object_store.store)
    second = _reply(train, loss=0.2)
    with pytest.raises(FlowerError, match="another reply"):
        fleet_handlers.push_messages(_push_request(nodes[0], second, get_object_tree(second)), state)
    reply = _reply(other)
    real = get_object_tree(reply)
    (record,) = real.children
    broken = ObjectTree(object_id=real.object_id, children=[_with(record, ObjectTree(object_id="not-a-sha256"))])
    with pytest.raises(FlowerError, match="no sha256"):
        fleet_handlers.push_messages(_push_request(nodes[1], reply, broken), state)
    elsewhere = _reply(other)
    elsewhere.metadata.__dict__["_run_id"] = run + 1
    elsewhere.metadata.__dict__["_message_id"] = elsewhere.object_id
    with pytest.raises(FlowerError, match="another run"):
        fleet_handlers.push_messages(_push_request(nodes[1], elsewhere, get_object_tree(elsewhere)), state)
    assert set(state._object_push_sessions) == sessions and len(state.object_store.store) == objects
