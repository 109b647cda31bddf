"""A Grid that hands replies over as they arrive, polling every 0.05 s instead of Flower's fixed 3 s.

Flower's Grid sleeps 3 s between reply pulls and returns the whole phase's replies at once, so
every train or evaluate phase costs up to 3 s of idle waiting even when all trainers answered in
milliseconds, and the ServerApp holds every reply before it can look at the first. This wrapper
keeps Flower's own push and pull calls and changes two things: how often it asks, and that
`send_and_receive` yields each reply when it is pulled — in pulls of at most PULL_BYTES of model
(as many replies as the round's message size allows) — so the strategy verifies and drops one
reply before the next is read (`keepers.strategy`). Everything else is delegated.

The SuperLink hands over a reply as soon as the trainer has pushed the message, often before its
objects (the model's chunks) are all pushed; Flower's grid then waits 1 s before asking for a
missing object again, and up to 10 s after that. A 10-trainer round's last reply often came 1 s
late that way. The keeper's grid asks again after OBJECT_BACKOFF_S, doubling up to
OBJECT_BACKOFF_CAP_S, as the trainer's node does when pulling its message (`client_kit.node`).
Flower also waits for a reply's objects for up to two hours: a trainer pushing one object every
few minutes held every round that long. Here a pull waits for a reply's objects no longer than
the phase has left, or FINAL_PULL_S once its deadline has passed; a reply whose objects are not
all there by then is unavailable, which makes its trainer a no-show, never an offender.

Flower's grid pushes and pulls a message's objects two requests at a time. A round's messages to
1,000 trainers are 1,000 objects to push and their replies 7,000 to pull, each request waiting its
turn behind the nodes' own requests on a busy SuperLink; here OBJECT_REQUESTS run at once. And it
asks for every pending reply at each pass, which costs the SuperLink in proportion to how many are
pending: a pass over more than PASS_IDS pending replies waits proportionally longer before the next.

Flower's grid also pulls the replies one after another: each reply's objects, then its receipt
confirmed, then the next reply's. Ten replies that arrive together (a round's trainers all wait for
the same block) took 0.2–0.3 s to pull that way on a busy machine, a third of a 10-trainer round.
Here the replies of one pull are pulled at once (`pull_replies_at_once`, up to MESSAGE_PULLS), their
requests together at most OBJECT_REQUESTS in flight: more would exceed the connections Flower's
runtime client keeps open, and each request beyond them would pay a new TLS handshake.

A node can push, under its reply's message object, a record of the wrong kind (the SuperLink checks
the message object, not what its content turns out to be), and Flower's grid then raises while
inflating it, which ended the keeper's run for every trainer. Here such a reply is dropped alone
(`readable_reply`): its trainer is a no-show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from functools import partial
from logging import ERROR, WARNING
from typing import TypeVar

import httpx
from flwr.app import ArrayRecord, Message, Metadata, RecordDict
from flwr.app.error import Error
from flwr.app.message import make_message
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.proto.message_pb2 import ConfirmMessageReceivedRequest, ObjectTree
from flwr.proto.runtime_pb2 import PullAppMessagesRequest
from flwr.serverapp import Grid
from flwr.supercore import log
from flwr.supercore.constant import SYSTEM_MESSAGE_TYPE
from flwr.supercore.inflatable.inflatable_object import iterate_object_tree
from flwr.supercore.inflatable.inflatable_protobuf_utils import make_pull_object_fn_protobuf
from flwr.supercore.inflatable.inflatable_utils import (
    ObjectPullError,
    inflate_object_from_contents,
    pull_objects,
    push_objects,
)
from flwr.supercore.run import Run
from flwr.superlink.grid import http_grid

PULL_BYTES = 64 * 2**20  # replies pulled at once: about this many bytes of arrays
OBJECT_BACKOFF_S = 0.05  # first wait before asking again for an object not pushed yet
OBJECT_BACKOFF_CAP_S = 0.5
FINAL_PULL_S = 1.0  # how long a reply's objects are waited for once the phase's deadline has passed
NO_DEADLINE_S = 7200.0  # Flower's own limit, for a phase without a deadline
OBJECT_REQUESTS = 16  # object pushes or pulls at once (Flower's: 2)
PASS_IDS = 100  # pending replies one pass asks for before the wait between passes grows with them
MESSAGE_PULLS = 8  # replies pulled at once (their requests share OBJECT_REQUESTS)

Result = TypeVar("Result")


def brisk_object_pulls(max_time: float = NO_DEADLINE_S) -> None:
    """Make Flower's grid ask again for a reply's missing objects briskly, and for at most
    `max_time` seconds (see the module doc): its `pull_messages` calls its module's
    `pull_objects`, which takes both as arguments."""
    http_grid.pull_objects = partial(  # type: ignore[attr-defined]
        pull_objects,
        initial_backoff=OBJECT_BACKOFF_S,
        backoff_cap=OBJECT_BACKOFF_CAP_S,
        max_time=max_time,
        max_concurrent_pulls=OBJECT_REQUESTS,
    )


def readable_reply(object_id: str, contents: dict[str, bytes]) -> Message:
    """Flower's inflation of a pulled reply; one that does not inflate to a message becomes an
    error message that answers no pending id, so the round goes on without it."""
    try:
        reply = inflate_object_from_contents(object_id, contents)
        if isinstance(reply, Message):
            return reply
        reason = f"a {type(reply).__name__}, not a message"
    except Exception as error:  # whatever a node pushed must not end the round for the others
        reason = type(error).__name__
    log(WARNING, "reply %s could not be read (%s): dropped", object_id, reason)
    return _unavailable(0, "", f"unreadable reply: {reason}")


def _unavailable(run_id: int, reply_to: str, reason: str) -> Message:
    """The error message Flower's grid hands over in place of a reply it could not have."""
    metadata = Metadata(
        run_id=run_id,
        message_id="",
        src_node_id=SUPERLINK_NODE_ID,
        dst_node_id=SUPERLINK_NODE_ID,
        reply_to_message_id=reply_to,
        group_id="",
        created_at=time.time(),
        ttl=0,
        message_type=SYSTEM_MESSAGE_TYPE,
    )
    return make_message(metadata, error=Error(code=ErrorCode.MESSAGE_UNAVAILABLE, reason=reason))


def pull_replies_at_once(grid: http_grid.HttpGrid, message_ids: Sequence[str]) -> Iterator[Message]:
    """What `HttpGrid.pull_messages` returns for `message_ids`, with the replies pulled at once
    rather than one after another (see the module doc), each handed on as soon as it is in (a big
    or slow one holds nobody else's). Each reply is Flower's: its objects
    pulled through the module's `pull_objects` (briskly, within the phase's time), its receipt
    confirmed, inflated (`readable_reply`); one whose objects do not all come is an "unavailable"
    error message in its place, as Flower's grid makes it."""
    client, run_id = grid._runtime_client, grid.run.run_id
    try:
        found = client.PullMessages(PullAppMessagesRequest(message_ids=list(message_ids)))
    except httpx.HTTPStatusError as error:
        if error.response.status_code == httpx.codes.REQUEST_ENTITY_TOO_LARGE:
            log(ERROR, http_grid.ERROR_MESSAGE_PULL_MESSAGES_PAYLOAD_TOO_LARGE)
            return
        raise
    replies = list(zip(found.messages_list, found.message_object_trees, strict=True))
    if not replies:
        return
    in_flight = threading.BoundedSemaphore(OBJECT_REQUESTS)

    def limited(call: Callable[..., Result]) -> Callable[..., Result]:
        def request(*args: object) -> Result:
            with in_flight:
                return call(*args)

        return request

    pull_object = limited(make_pull_object_fn_protobuf(client.PullObject, grid.node, run_id))
    confirm = limited(client.ConfirmMessageReceived)

    def whole(message_id: str, reply_to: str, tree: ObjectTree) -> Message:
        try:
            contents = http_grid.pull_objects(
                object_ids=[branch.object_id for branch in iterate_object_tree(tree)], pull_object_fn=pull_object
            )
        except ObjectPullError as error:
            reason = f"Reply message objects are unavailable (the trainer did not push them in time). {error}"
            return _unavailable(run_id, reply_to, reason)
        except Exception as error:  # one reply's failed request must not end the round for the others
            return _unavailable(run_id, reply_to, f"Reply could not be pulled ({type(error).__name__}: {error})")
        try:
            confirm(ConfirmMessageReceivedRequest(node=grid.node, run_id=run_id, message_object_id=message_id))
        except Exception as error:  # the keeper's own request failed: the reply is in hand all the same
            log(WARNING, "receipt of reply %s not confirmed (%s): its objects stay", message_id, error)
        reply = readable_reply(message_id, contents)
        reply.metadata.__dict__["_message_id"] = message_id
        return reply

    pool = ThreadPoolExecutor(min(MESSAGE_PULLS, len(replies)), thread_name_prefix="reply-pull")
    try:
        pulls = [
            pool.submit(whole, proto.metadata.message_id, proto.metadata.reply_to_message_id, tree)
            for proto, tree in replies
        ]
        yield from (pull.result() for pull in as_completed(pulls))
    finally:  # a consumer that stops early waits for no pull that has not begun
        pool.shutdown(wait=False, cancel_futures=True)


class BriskGrid(Grid):
    def __init__(self, inner: Grid, poll_interval: float = 0.05, pull_bytes: int = PULL_BYTES) -> None:
        brisk_object_pulls()
        http_grid.push_objects = partial(push_objects, max_concurrent_pushes=OBJECT_REQUESTS)  # type: ignore[attr-defined]
        http_grid.inflate_object_from_contents = readable_reply  # type: ignore[attr-defined]
        self.inner = inner
        self.poll_interval = poll_interval
        self.pull_bytes = pull_bytes

    def set_run(self, run: Run) -> None:
        self.inner.set_run(run)

    @property
    def run(self) -> Run:
        return self.inner.run

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str, ttl: float | None = None
    ) -> Message:
        return self.inner.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self.inner.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self.inner.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """Flower's grid's replies pulled at once (`pull_replies_at_once`); another grid's its own way."""
        if isinstance(self.inner, http_grid.HttpGrid):
            return pull_replies_at_once(self.inner, list(message_ids))
        return self.inner.pull_messages(message_ids)

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterator[Message]:
        """Pushes the messages now; the replies come from the returned iterator as they arrive."""
        messages = list(messages)
        waiting = list(self.inner.push_messages(messages))
        size = max((array_bytes(m) for m in messages), default=0)
        per_pull = max(1, self.pull_bytes // max(1, size))  # a reply is about as big as its message
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._arrivals(waiting, per_pull, deadline)

    def _arrivals(self, waiting: list[str], per_pull: int, deadline: float | None) -> Iterator[Message]:
        """Replies to `waiting`, each once, as they arrive. A reply stored before the deadline is
        never lost to the time the caller spends on earlier ones: once the deadline has passed,
        every pending reply is asked for one last time."""
        pending = dict.fromkeys(waiting)  # in push order
        while pending:
            last_call = deadline is not None and time.monotonic() >= deadline
            ids = list(pending)
            for start in range(0, len(ids), per_pull):
                left = NO_DEADLINE_S if deadline is None else deadline - time.monotonic()
                brisk_object_pulls(max(FINAL_PULL_S, left))
                for reply in self.pull_messages(ids[start : start + per_pull]):
                    if pending.pop(reply.metadata.reply_to_message_id, False) is None:
                        yield reply
            if last_call:
                return
            if pending:
                pause = self.poll_interval * max(1.0, len(pending) / PASS_IDS)
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                time.sleep(pause if left is None else min(pause, left))


def array_bytes(message: Message) -> int:
    """The bytes of arrays a message carries (the model, for a train message)."""
    records = [record for record in message.content.values() if isinstance(record, ArrayRecord)]
    return sum(len(array.data) for record in records for array in record.values())
