"""The keeper's SuperLink: Flower's own (`flower-superlink`, same arguments), finding a node's
messages without checking everyone else's, handing them over only once they are whole and again
if their node never confirmed them, keeping idle connections open between polls, and running the
Control API's middleware for Control requests only; the round's Fleet requests are served
without Flower's middleware machinery (`keepers.fast_path`), and what a node may push is
checked (`keepers.fleet_guard`).

Flower 1.42's in-memory state answers each node's poll (PullMessages) by walking every stored
message and, for each, re-checking its expiry and federation (`_check_stored_messages`), before it
even looks at whom the message is for. With a round's 1,000 train messages stored, every poll of
every node costs about 2.4 ms of the SuperLink's one event loop (measured in process; 0.2 ms with
this module): the SuperLink's work grows with the square of the number of nodes. Here a poll
first picks the messages addressed to the polling node and checks only those, exactly as Flower
checks them; everything else is Flower's code. A message for another node is checked when that
node polls or when the ServerApp asks for its reply, as before.

Flower delivers a message at most once: a poll marks it delivered before the answer is on its way,
so a node whose poll timed out (on a keeper busy with a round) polls again and finds nothing, and
its trainer is counted a no-show though it never saw the message (370 of 1,000 train messages in
one run). A node confirms a message once it holds all of it (ConfirmMessageReceived, which deletes
the message from the object store), and a node polls only when it holds no message it is still
fetching; so here a message its node has not confirmed is delivered again on that node's next
poll, when nothing newer waits for the node, at most REDELIVERIES times. Only the node itself can
poll for its messages (the SuperLink authenticates its key), only the keeper's ServerApp can
address one to it (`keepers.fleet_guard`), and the SuperLink takes one reply per message, so a
second delivery gives nobody a second say.

Flower also hands a node its message as soon as the ServerApp has stored it, before the ServerApp
has pushed the message's objects (one request each, a thousand for a thousand nodes). Each node
then asks for the missing objects again and again, and with 1,000 nodes those requests filled the
SuperLink's event loop, so the ServerApp's own pushes waited behind them: five minutes after the
round began, 62 trainers had their message. Here a message is handed over once all its objects
are in, which a node finds on its next poll. Replies likewise: Flower hands the ServerApp a reply
whose objects the trainer is still pushing, and the ServerApp's pass over the round's replies then
waits on it, backing off, while complete replies behind it wait too; here such a reply is left for
the next pass.

Flower serves its HTTP APIs with uvicorn's default keep-alive of 5 s, so a node polling less often
than that (1,000 nodes must: `bench.many_trainers` polls every 8 s) opens a new TCP connection and
a new TLS handshake for every poll: in one 1,000-node run 687 of them timed out and their nodes
gave up. Here idle connections stay open for KEEP_ALIVE_S, longer than any node's poll or Flower's
30 s heartbeat, and the process may hold a connection per node (its open-file limit is raised to
the hard limit).

Every request also passes eight middleware layers, each a Starlette BaseHTTPMiddleware (a task
group and a memory stream per layer and request). Four of them concern the Control API only and
the fifth writes Fleet event logs only when an event-log plugin is loaded: each first checks that
and otherwise hands the request on unchanged. Here those five are applied only where they act
(`Where`), with their own checks, so a node's request passes three layers: error translation,
protobuf translation and node authentication, all as Flower has them.

Run: python -m keepers.superlink <flower-superlink arguments>
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from functools import partial
from weakref import WeakKeyDictionary

import uvicorn
from flwr.app import Message
from flwr.server.superlink.linkstate.in_memory_linkstate import InMemoryLinkState
from flwr.supercore.date import now
from flwr.supercore.object_store.in_memory_object_store import InMemoryObjectStore
from flwr.superlink import main as superlink_app
from flwr.superlink.cli import flower_superlink
from flwr.superlink.routers.control.middlewares import (
    ControlAuthenticationMiddleware,
    ControlEventLogMiddleware,
    ControlLicenseMiddleware,
    ControlSensitiveResponseMiddleware,
    _is_control_path,
)
from flwr.superlink.routers.fleet.middlewares import FleetEventLogMiddleware
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from keepers import fleet_guard
from keepers.fast_path import fleet_event_log_loaded, with_round_fast_path

REDELIVERIES = 3  # times a message its node never confirmed is delivered again
_deliveries: WeakKeyDictionary[Message, int] = WeakKeyDictionary()


def messages_for_node(
    state: InMemoryLinkState, node_id: int, limit: int | None, *, run_id: int | None = None
) -> list[Message]:
    """Flower's `get_message_ins`, checking only the node's own messages: the messages for
    `node_id` (at most `limit`, of `run_id` if given) whose objects have all been pushed, marked
    delivered. Those never delivered come first, oldest first; a message delivered before that its
    node has not confirmed comes again only when nothing newer waits for the node, at most
    REDELIVERIES times."""
    if limit is not None and limit < 1:
        raise AssertionError("`limit` must be >= 1")
    fresh: list[Message] = []
    unconfirmed: list[Message] = []
    with state.lock:
        addressed = [mid for mid, message in state.message_ins_store.items() if message.metadata.dst_node_id == node_id]
        for message_id in addressed:
            state._check_stored_messages({message_id})  # expired or out of the federation: deleted
            message = state.message_ins_store.get(message_id)
            if message is None or (run_id is not None and message.metadata.run_id != run_id):
                continue
            if still_arriving(state.object_store, message_id):
                continue
            if message.metadata.delivered_at == "":
                fresh.append(message)
            elif message_id in state.object_store and _deliveries.get(message, 0) <= REDELIVERIES:
                unconfirmed.append(message)
            if limit and len(fresh) == limit:
                break
        found = (fresh or unconfirmed)[:limit]
        delivered_at = now().isoformat()
        for message in found:
            message.metadata.delivered_at = delivered_at
            _deliveries[message] = _deliveries.get(message, 0) + 1
    return found


_flowers_replies = InMemoryLinkState.get_message_res


def replies_once_whole(state: InMemoryLinkState, message_ids: set[str], run_id: int) -> list[Message]:
    """Flower's `get_message_res`, leaving out the replies whose objects are not all pushed yet:
    they are handed over at a later pass, whole."""
    with state.lock:  # re-entrant: Flower's own call takes it again, and no reply is stored in between
        replies = state.message_ins_id_to_message_res_id
        whole = {
            mid for mid in message_ids if mid not in replies or not still_arriving(state.object_store, replies[mid])
        }
        return _flowers_replies(state, whole, run_id)


def still_arriving(store: InMemoryObjectStore, object_id: str) -> bool:
    """Whether an object of this object's tree is registered in the store but not pushed yet
    (each object looked at once, however many parents list it)."""
    with store.lock_store:
        pending, seen = [object_id], {object_id}
        while pending:
            entry = store.store.get(pending.pop())
            if entry is None:  # not registered: Flower's pull handler drops the message
                continue
            if not entry.is_available:
                return True
            for child in entry.child_object_ids:
                if child not in seen:
                    seen.add(child)
                    pending.append(child)
    return False


def _control_request(scope: Scope) -> bool:
    """The Control middlewares' own test (`_is_control_path(request.url.path)`)."""
    return _is_control_path(Request(scope).url.path)


WHERE_THEY_ACT: dict[type, Callable[[Scope], bool]] = {
    ControlSensitiveResponseMiddleware: _control_request,
    ControlAuthenticationMiddleware: _control_request,
    ControlLicenseMiddleware: _control_request,
    ControlEventLogMiddleware: _control_request,
    FleetEventLogMiddleware: fleet_event_log_loaded,
}


class Where:
    """A middleware applied to the HTTP requests `acts_on` selects; every other request goes
    straight to the next layer, as the middleware itself would have passed it on."""

    def __init__(self, app: ASGIApp, middleware: type, acts_on: Callable[[Scope], bool], **options: object) -> None:
        self.app = app
        self.middleware = middleware(app, **options)
        self.acts_on = acts_on

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.acts_on(scope):
            await self.app(scope, receive, send)
        else:
            await self.middleware(scope, receive, send)


def middleware_where_it_acts(layers: list[Middleware]) -> list[Middleware]:
    """Flower's middleware stack, in its order, with each layer in WHERE_THEY_ACT applied only
    where it acts."""
    placed = []
    for layer in layers:
        acts_on = WHERE_THEY_ACT.get(layer.cls)  # type: ignore[arg-type]
        if acts_on is None or layer.args:
            placed.append(layer)
        else:
            placed.append(Middleware(Where, middleware=layer.cls, acts_on=acts_on, **layer.kwargs))
    return placed


KEEP_ALIVE_S = 75  # seconds an idle connection stays open (nginx's default too)


def main() -> None:
    InMemoryLinkState.get_message_ins = messages_for_node  # type: ignore[assignment,method-assign]
    InMemoryLinkState.get_message_res = replies_once_whole  # type: ignore[method-assign]
    fleet_guard.install()
    uvicorn.run = partial(uvicorn.run, timeout_keep_alive=KEEP_ALIVE_S)  # Flower calls uvicorn.run
    flowers_middleware = superlink_app._get_middleware
    superlink_app._get_middleware = lambda: middleware_where_it_acts(with_round_fast_path(flowers_middleware()))
    _, most = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))
    sys.exit(flower_superlink())


if __name__ == "__main__":
    main()
