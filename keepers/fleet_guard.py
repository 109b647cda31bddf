"""What a node may store on the keeper's SuperLink: its own replies, of a bounded size, and objects
whose place in a tree is what their content says.

Flower's Fleet API lets a node push any message, not only a reply, to any node, under any sender,
with an object tree of any shape, and keeps the child list of whoever registered an object first.
Three attacks on a trainer follow, each reproduced in review (tests/test_fleet_guard.py):
- an instruction message pushed to another trainer's node: that node serves it instead of its
  train message, and the trainer is counted a no-show;
- a reply tree in which each object lists the next one twice: a few kilobytes whose expansion has
  2^n paths, which Flower's `get_object_tree` (and any walk of the tree) follows while holding
  the SuperLink's state lock, stopping every node's requests;
- an object the ServerApp will send next round (its config record is predictable) registered in
  advance with a child nobody will push: the next round's train message can never be pulled
  whole, by anyone.

Here a node's PushMessages must carry exactly one message that replies to a message, from the
node that pushes it, with the tree of that very message, expanding to at most MAX_TREE_OBJECTS
objects; and an object stored with its content takes the children its content declares (the
content's hash is its id, so nobody can forge them).
"""

from __future__ import annotations

from flwr.proto.fleet_pb2 import PushMessagesRequest, PushMessagesResponse
from flwr.proto.message_pb2 import ObjectTree
from flwr.server.superlink.linkstate import LinkState
from flwr.supercore.error import ApiErrorCode, FlowerError
from flwr.supercore.inflatable.inflatable_object import (
    get_object_children_ids_from_object_content,
    iterate_object_tree,
)
from flwr.supercore.object_store.in_memory_object_store import InMemoryObjectStore
from flwr.superlink.servicer.fleet import fleet_handlers

MAX_TREE_OBJECTS = 10_000  # a reply of an 11M-parameter model is 16 objects

_flowers_push = fleet_handlers.push_messages
_flowers_put = InMemoryObjectStore.put


def expanded_size(tree: ObjectTree, store: InMemoryObjectStore, cap: int = MAX_TREE_OBJECTS) -> int:
    """How many objects a walk of this tree visits once stored (an object already in the store
    keeps the children it was registered with), counted up to `cap` + 1."""
    children: dict[str, list[str]] = {}
    for node in iterate_object_tree(tree):  # in the order Flower registers them: the first one counts
        children.setdefault(node.object_id, [child.object_id for child in node.children])
    with store.lock_store:
        for object_id in children:
            if (entry := store.store.get(object_id)) is not None:
                children[object_id] = list(entry.child_object_ids)
    sizes: dict[str, int] = {}
    open_: set[str] = set()  # on the current path: meeting one again is a cycle, which no content can make
    stack = [(tree.object_id, False)]
    while stack:  # post-order, each object once
        object_id, expanded = stack.pop()
        if object_id in sizes:
            continue
        below = children.get(object_id, [])
        if not expanded:
            if object_id in open_:
                return cap + 1
            open_.add(object_id)
            stack.append((object_id, True))
            for child in below:
                if child in open_:
                    return cap + 1
                if child not in sizes:
                    stack.append((child, False))
            continue
        open_.discard(object_id)
        sizes[object_id] = min(cap + 1, 1 + sum(sizes[child] for child in below))
    return sizes[tree.object_id]


def push_refusal(request: PushMessagesRequest, store: InMemoryObjectStore) -> str | None:
    """Why a node's PushMessages may not be stored, or None."""
    if len(request.messages_list) != 1 or len(request.message_object_trees) != 1:
        return "push one reply at a time"
    metadata = request.messages_list[0].metadata
    if not metadata.reply_to_message_id:
        return "a node may push replies only"
    if metadata.src_node_id != request.node.node_id:
        return "a node may push its own replies only"
    tree = request.message_object_trees[0]
    if tree.object_id != metadata.message_id:
        return "the object tree is not the reply's"
    if expanded_size(tree, store) > MAX_TREE_OBJECTS:
        return f"the reply's object tree expands to more than {MAX_TREE_OBJECTS} objects"
    return None


def guarded_push_messages(request: PushMessagesRequest, state: LinkState) -> PushMessagesResponse:
    """Flower's Fleet PushMessages handler, for what `push_refusal` allows."""
    refusal = push_refusal(request, state.object_store)  # type: ignore[arg-type]
    if refusal is not None:
        raise FlowerError(ApiErrorCode.FORBIDDEN_ACTION, f"SuperNode {request.node.node_id}: {refusal}")
    return _flowers_push(request, state)


def put_with_declared_children(store: InMemoryObjectStore, object_id: str, object_content: bytes) -> None:
    """Flower's `put` (which checks that the content hashes to `object_id`); the object then has
    the children its content declares, whatever its first registration claimed."""
    _flowers_put(store, object_id, object_content)
    declared = get_object_children_ids_from_object_content(object_content)
    with store.lock_store:
        entry = store.store.get(object_id)
        if entry is None or entry.child_object_ids == declared:
            return
        for child in entry.child_object_ids:
            if (claimed := store.store.get(child)) is not None:
                claimed.ref_count -= 1
        for child in declared:
            if (real := store.store.get(child)) is not None:
                real.ref_count += 1
        entry.child_object_ids = declared
