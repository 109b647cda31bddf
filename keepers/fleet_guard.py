"""What a node may store on the keeper's SuperLink: its own replies, of a bounded size, whose objects
are what they claim to be; and what it may confirm: its own messages.

Flower's Fleet API trusts a node with more than a trainer should have. Adversarial reviews
reproduced, against the keeper's SuperLink (tests/test_fleet_guard.py):
- a node pushes an instruction message to another trainer's node, or a reply under another
  node's name: the victim's node serves the fake instead of its train message;
- a reply tree of n objects each listing the next twice (or whose content declares that) expands
  to 2^n paths, which Flower's `get_object_tree` walks under the store's lock: the SuperLink stops;
- a tree hangs thousands of new objects under an object already stored, which no size check of
  the stored tree sees: memory grows without bound;
- an object of next round's message (its config record is predictable) registered in advance with
  a child nobody will push: the next round's train message can never be pulled whole;
- a node confirms an object that is not its message: Flower deletes it (and, with a planted
  reference, a shared object of next round's message);
- a reply named after an object of the round's message: the ServerApp inflates a record as a reply
  and its run dies;
- a node re-pushes its stored (never completed) reply as a "retry" with thousands of new objects
  under its record, again and again: each retry registered them unchecked (60,000 in four pushes);
- a reply of 2,000 objects of 5 MiB each (10 GB) passed the object count: the SuperLink held it and
  the ServerApp pulled it whole;
- an object pushed without a push session went into whichever session waited for it, the
  ServerApp's own included (next round's config record is predictable): its push failed and the
  run ended;
- a reply to a message that does not exist opened a push session nothing ever closed;
- a reply Flower then refused (a second reply to a message) or failed on (an object id that is no
  hash, deep in the tree) left a push session open for good, with the objects registered so far;
- a push held the state's lock and then took the push-session lock, the reverse of Flower's
  clean-up of an expired session: the two could wait for each other for good (Flower's own
  storing of a message takes them in that order too; here every path takes the session's first).

So a node's PushMessages must carry exactly one message that replies to a live message addressed
to that node (whose size the keeper recorded when its ServerApp sent it), from the node that
pushes it, whose id is the hash of a message object with exactly the metadata (and error, or
one content record) announced, so it can be nothing else; the tree may list as many objects as the
keeper's message it answers and REPLY_EXTRA_OBJECTS more (at most MAX_TREE_OBJECTS), expand to no
more, and claim for an object already stored only the children it has. A node's retried push of a
reply it stored already passes the same checks (it lists exactly what is stored) and Flower answers
it with the objects still to push. The check and the registration happen under the state's lock,
so two pushes cannot pass the check against the same store and then both register (the
push-session lock first, as Flower's clean-up takes them). An object a node pushes is at most
MAX_OBJECT_BYTES (an array chunk, as Flower cuts them, and a header), goes into a push session the
node's own reply opened, and stored with its content it must declare the children it was
registered with. The keeper's own ServerApp
registers its messages' objects with the children its trees give, whatever a node registered
first. A node may confirm only a message addressed to it. What still gets through — a record of
the wrong kind under a reply's message — fails to inflate in the keeper's grid, which drops that
reply alone (`keepers.brisk_grid`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from itertools import islice

from flwr.app import Message
from flwr.common.constant import FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE
from flwr.proto.fleet_pb2 import PushMessagesRequest, PushMessagesResponse
from flwr.proto.message_pb2 import (
    ConfirmMessageReceivedRequest,
    ConfirmMessageReceivedResponse,
    ObjectTree,
    PushObjectRequest,
    PushObjectResponse,
)
from flwr.proto.message_pb2 import Message as MessageProto
from flwr.server.superlink.linkstate import LinkState
from flwr.server.superlink.linkstate.in_memory_linkstate import InMemoryLinkState
from flwr.supercore.constant import HEAD_BODY_DIVIDER, HEAD_VALUE_DIVIDER
from flwr.supercore.error import ApiErrorCode, FlowerError
from flwr.supercore.inflatable.inflatable_object import (
    get_object_children_ids_from_object_content,
    is_valid_sha256_hash,
    iterate_object_tree,
)
from flwr.supercore.object_store import ObjectStore
from flwr.supercore.object_store.in_memory_object_store import InMemoryObjectStore
from flwr.superlink.servicer.fleet import fleet_handlers

MAX_TREE_OBJECTS = 2_000  # a reply of an 11M-parameter model is 16 objects; 2,000 is a 10 GB one
# A reply has one object more than the train message it answers (the envelope); an evaluation
# reply far fewer. Each object a node pushes is at most a chunk of an array (Flower's own chunking)
# or a small record, so a reply stays within about the size of the message it answers.
REPLY_EXTRA_OBJECTS = 8
MAX_OBJECT_BYTES = FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE + 64 * 2**10
MESSAGES_REMEMBERED = 100_000  # instruction messages whose tree size is kept (the oldest forgotten)

_flowers_push = fleet_handlers.push_messages
_flowers_push_object = fleet_handlers.push_object
_flowers_confirm = fleet_handlers.confirm_message_received
_flowers_put = InMemoryObjectStore.put
_flowers_preregister = InMemoryObjectStore.preregister
_flowers_store_message = InMemoryLinkState.store_message_and_object_tree

_node_push = threading.local()  # set while a node's push registers its tree
_message_objects: OrderedDict[str, int] = OrderedDict()  # the keeper's message id -> objects in its tree
_remembered = threading.Lock()
_session_owners: dict[str, int] = {}  # a node's push session id -> the node (call under the session lock)


def _own_session(state: InMemoryLinkState, session_id: str, node: int) -> None:
    """Remember whose push session this is; forget sessions Flower closed (now and then, so that
    the bookkeeping stays about as large as Flower's own)."""
    sessions = state._object_push_sessions
    if len(_session_owners) > 2 * len(sessions) + 1_000:
        for closed in [s for s in _session_owners if s not in sessions]:
            del _session_owners[closed]
    if session_id in sessions:
        _session_owners[session_id] = node


def reply_object_limit(message_id: str) -> int | None:
    """How many objects a reply to this message may have: as many as the message, and a few more,
    at most MAX_TREE_OBJECTS; None for a message whose size is not (or no longer) known."""
    with _remembered:
        objects = _message_objects.get(message_id)
    return None if objects is None else min(MAX_TREE_OBJECTS, objects + REPLY_EXTRA_OBJECTS)


def _remember_message(object_tree: ObjectTree) -> None:
    with _remembered:
        _message_objects[object_tree.object_id] = sum(1 for _ in iterate_object_tree(object_tree))
        while len(_message_objects) > MESSAGES_REMEMBERED:
            _message_objects.popitem(last=False)


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


def _claims_other_children(tree: ObjectTree, store: InMemoryObjectStore) -> bool:
    """Whether the tree lists, under an object already stored, other children than it has."""
    with store.lock_store:
        for node in iterate_object_tree(tree):
            entry = store.store.get(node.object_id)
            if entry is not None and entry.child_object_ids != [child.object_id for child in node.children]:
                return True
    return False


def reply_object_id(request: PushMessagesRequest) -> str | None:
    """The id of the message object a node's push announces: the hash of a Message with exactly
    the announced metadata (its own id left out, as Flower's `deflate` does) and error, or with the
    tree's one content record; None for a tree no message object can have."""
    proto = request.messages_list[0]
    tree = request.message_object_trees[0]
    has_error = proto.HasField("error")
    if len(tree.children) != (0 if has_error else 1):
        return None
    metadata = MessageProto(metadata=proto.metadata).metadata
    metadata.message_id = ""
    body = MessageProto(metadata=metadata, error=proto.error if has_error else None).SerializeToString(
        deterministic=True
    )
    head = HEAD_VALUE_DIVIDER.join(("Message", ",".join(c.object_id for c in tree.children), str(len(body))))
    return hashlib.sha256(head.encode() + HEAD_BODY_DIVIDER + body).hexdigest()


def push_refusal(request: PushMessagesRequest, state: InMemoryLinkState) -> str | None:
    """Why a node's PushMessages may not be stored, or None (call under the state's lock)."""
    store = state.object_store
    if len(request.messages_list) != 1 or len(request.message_object_trees) != 1:
        return "push one reply at a time"
    metadata = request.messages_list[0].metadata
    if not metadata.reply_to_message_id:
        return "a node may push replies only"
    if metadata.src_node_id != request.node.node_id:
        return "a node may push its own replies only"
    instruction = state.message_ins_store.get(metadata.reply_to_message_id)
    if instruction is None or instruction.metadata.dst_node_id != request.node.node_id:
        return "a reply to no message this node has"
    if metadata.run_id != instruction.metadata.run_id:
        return "a reply of another run than its message's"
    most = reply_object_limit(metadata.reply_to_message_id)
    if most is None:
        return "a reply to a message the keeper no longer tracks"
    tree = request.message_object_trees[0]
    if tree.object_id != metadata.message_id or reply_object_id(request) != metadata.message_id:
        return "the reply's id is not that of the message it announces"
    answered = state.message_ins_id_to_message_res_id.get(metadata.reply_to_message_id)
    if answered is not None and answered != metadata.message_id:
        return "the message has another reply already"
    listed = list(islice(iterate_object_tree(tree), most + 1))  # one walk, stopped past the limit
    if not all(is_valid_sha256_hash(node.object_id) for node in listed):
        return "an object id that is no sha256 hash"
    stored = state.message_res_store.get(metadata.message_id)
    retried = stored is not None and stored.metadata.src_node_id == request.node.node_id
    if not retried and tree.object_id in store:
        return "an object with the reply's id is stored already"
    if len(listed) > most or expanded_size(tree, store, most) > most:
        return f"the reply's object tree has more than {most} objects"
    if _claims_other_children(tree, store):  # a retry lists exactly what is stored
        return "the object tree gives a stored object other children than it has"
    return None  # a retry (the node's first answer was lost): Flower answers with what is left to push


def guarded_push_messages(request: PushMessagesRequest, state: LinkState) -> PushMessagesResponse:
    """Flower's Fleet PushMessages handler, for what `push_refusal` allows. The push-session lock
    is taken before the state's, in the order Flower's clean-up of an expired session takes them
    (holding the state's first, a push and a clean-up could each wait for the other for good)."""
    with state._lock_object_push_sessions, state.lock:  # type: ignore[attr-defined]
        refusal = push_refusal(request, state)  # type: ignore[arg-type]
        if refusal is not None:
            raise FlowerError(ApiErrorCode.FORBIDDEN_ACTION, f"SuperNode {request.node.node_id}: {refusal}")
        sessions = state._object_push_sessions  # type: ignore[attr-defined]
        before = set(sessions)  # nobody else opens one meanwhile: this thread holds their lock
        _node_push.active = True
        try:
            response = _flowers_push(request, state)
        finally:
            _node_push.active = False
            for opened in set(sessions) - before:  # Flower opens a session before it stores the reply
                if not sessions[opened].root_object_ids:  # the reply was not stored: nothing will close it
                    state._cleanup_push_session(opened, cleanup_messages=False)  # type: ignore[attr-defined]
        _own_session(state, response.session_id, request.node.node_id)  # type: ignore[arg-type]
        return response


def guarded_confirm(
    request: ConfirmMessageReceivedRequest, state: LinkState, store: ObjectStore
) -> ConfirmMessageReceivedResponse:
    """Flower's Fleet ConfirmMessageReceived handler, for a message addressed to the confirming node;
    for an id that is no (longer a) message, nothing is deleted (it expired, or was never one)."""
    message = state.message_ins_store.get(request.message_object_id)  # type: ignore[attr-defined]
    if message is None:
        return ConfirmMessageReceivedResponse()
    if message.metadata.dst_node_id != request.node.node_id:
        raise FlowerError(
            ApiErrorCode.FORBIDDEN_ACTION, f"SuperNode {request.node.node_id}: not a message addressed to it"
        )
    return _flowers_confirm(request=request, state=state, store=store)


def guarded_push_object(request: PushObjectRequest, state: LinkState) -> PushObjectResponse:
    """Flower's Fleet PushObject handler, for an object no bigger than an array chunk and a header,
    pushed into a push session of the node's own reply. Flower stores an object pushed without a
    session into whichever session waits for it, the ServerApp's own included, whose push then
    fails and ends the run; another node's session likewise loses that node its reply."""
    node = request.node.node_id
    if len(request.object_content) > MAX_OBJECT_BYTES:
        refusal = f"an object of {len(request.object_content)} bytes (at most {MAX_OBJECT_BYTES})"
        raise FlowerError(ApiErrorCode.FORBIDDEN_ACTION, f"SuperNode {node}: {refusal}")
    if not request.session_id:
        raise FlowerError(ApiErrorCode.FORBIDDEN_ACTION, f"SuperNode {node}: an object pushed outside a push session")
    with state._lock_object_push_sessions:  # type: ignore[attr-defined]
        if request.session_id in state._object_push_sessions and _session_owners.get(request.session_id) != node:  # type: ignore[attr-defined]
            raise FlowerError(ApiErrorCode.FORBIDDEN_ACTION, f"SuperNode {node}: not a push session of this node")
    return _flowers_push_object(request, state)


def checked_put(store: InMemoryObjectStore, object_id: str, object_content: bytes) -> None:
    """Flower's `put` (which checks that the content hashes to `object_id`), for content that
    declares the children the object was registered with."""
    declared = get_object_children_ids_from_object_content(object_content)
    with store.lock_store:
        entry = store.store.get(object_id)
        if entry is not None and entry.child_object_ids != declared:
            raise ValueError(f"object {object_id} declares other children than it was registered with")
    _flowers_put(store, object_id, object_content)


def authoritative_preregister(store: InMemoryObjectStore, run_id: int, object_tree: ObjectTree) -> list[str]:
    """Flower's `preregister`; for the keeper's own ServerApp (not a node's push), an object a node
    registered first but never stored takes the children the ServerApp's tree gives it."""
    if getattr(_node_push, "active", False):
        return _flowers_preregister(store, run_id, object_tree)
    _remember_message(object_tree)
    with store.lock_store:
        wanted = {
            node.object_id: [child.object_id for child in node.children] for node in iterate_object_tree(object_tree)
        }
        planted = {
            object_id: children
            for object_id, children in wanted.items()
            if (entry := store.store.get(object_id)) is not None
            and not entry.is_available
            and entry.child_object_ids != children
        }
        missing = _flowers_preregister(store, run_id, object_tree)
        for object_id, children in planted.items():
            entry = store.store[object_id]
            for child in entry.child_object_ids:
                if (claimed := store.store.get(child)) is not None and claimed.ref_count > 0:
                    claimed.ref_count -= 1
            for child in children:
                store.store[child].ref_count += 1
            entry.child_object_ids = children
    return missing


def sessions_first(
    state: InMemoryLinkState, message: Message, object_tree: ObjectTree, session_id: str
) -> tuple[bool, list[str]]:
    """Flower's `store_message_and_object_tree` (the ServerApp's push and a node's), with the
    push-session lock taken before the state's: Flower takes the state's and then the session's
    there, and the other way round when it cleans up an expired session; taken in one order
    everywhere, no two requests can wait for each other for good."""
    with state._lock_object_push_sessions:
        return _flowers_store_message(state, message, object_tree, session_id)


def install(store_class: type[ObjectStore] = InMemoryObjectStore) -> None:
    """Put the guards in place in this (the SuperLink's) process."""
    fleet_handlers.push_messages = guarded_push_messages
    fleet_handlers.push_object = guarded_push_object
    InMemoryLinkState.store_message_and_object_tree = sessions_first  # type: ignore[method-assign]
    fleet_handlers.confirm_message_received = guarded_confirm  # type: ignore[assignment]
    store_class.put = checked_put  # type: ignore[method-assign]
    store_class.preregister = authoritative_preregister  # type: ignore[method-assign]
