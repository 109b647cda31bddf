"""Which Flower node answers for which staked trainer: only those nodes are ever sent work.

Anyone can register a node with a keeper's SuperLink. A round waits only for nodes bound to a
staked trainer of the task: the keeper sends each new node a `query` message, and the node's
reply must be a binding claim signed by the key of an address that joined the task and was not
slashed. One node per address, the latest: a trainer whose node process restarted (new node id,
while the SuperLink still lists the dead one) is bound through its new node, and the node it
replaced is dropped, so a trainer never answers twice.

Nothing here waits. Queries are pushed, and answers collected, each time the round asks which
nodes to use: a stranger's node that never answers costs one message, not a stall of everyone's
round. A node whose answer is wrong is never asked again; one that has not answered within
HANDSHAKE_TIMEOUT_S (busy, or silent) is asked again later, at most MAX_ASKS times in all, so
thousands of silent nodes cost a bounded number of messages, not a stream for the whole task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flwr.app import ConfigRecord, Message, RecordDict
from flwr.common import MessageType
from flwr.serverapp import Grid

from client_kit.envelope import BindingClaim, EnvelopeError, SignedEnvelope, verify_envelope
from client_kit.protocol import ENVELOPE
from client_kit.task_hub import Standing
from keepers.replies import typed

HANDSHAKE_TIMEOUT_S = 10.0
MAX_ASKS = 3


@dataclass(frozen=True)
class PendingQuery:
    node: int
    sent_at: float  # time.monotonic()


@dataclass
class Bindings:
    chain_id: str
    contract: str
    task_id: int
    standing: Callable[[str], Standing]
    prefix: str = "wasm"
    by_node: dict[int, str] = field(default_factory=dict)  # node id -> staked address
    refused: dict[int, str] = field(default_factory=dict)  # node id -> why (never asked again)
    pending: dict[str, PendingQuery] = field(default_factory=dict)  # query message id -> its node
    asked: dict[int, int] = field(default_factory=dict)  # node id -> queries sent to it

    def nodes(self, grid: Grid) -> list[int]:
        """The connected nodes bound to staked, unslashed trainers, after taking in the answers
        that arrived and asking any node not asked yet (without waiting for its answer)."""
        connected = set(grid.get_node_ids())
        self._collect(grid)
        asked = {query.node for query in self.pending.values()}
        new = sorted(connected - set(self.by_node) - set(self.refused) - asked)
        if new:
            self._ask(grid, new)
        return sorted(
            node
            for node, address in self.by_node.items()
            if node in connected and self.standing(address) == Standing.ACTIVE
        )

    def wait(self, grid: Grid, at_least: int, timeout: float, poll_s: float = 0.5) -> list[int]:
        """The bound nodes once at least `at_least` are bound, or whatever is bound after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            bound = self.nodes(grid)
            if len(bound) >= at_least or time.monotonic() >= deadline:
                return bound
            time.sleep(poll_s)

    def _ask(self, grid: Grid, nodes: list[int]) -> None:
        messages = [Message(content=RecordDict(), dst_node_id=node, message_type=MessageType.QUERY) for node in nodes]
        now = time.monotonic()
        for node, message_id in zip(nodes, grid.push_messages(messages), strict=True):
            self.pending[message_id] = PendingQuery(node, now)
            self.asked[node] = self.asked.get(node, 0) + 1

    def _collect(self, grid: Grid) -> None:
        if not self.pending:
            return
        for reply in grid.pull_messages(list(self.pending)):
            query = self.pending.pop(reply.metadata.reply_to_message_id, None)
            if query is not None:
                self._bind(reply, query.node)
        now = time.monotonic()
        for message_id, query in list(self.pending.items()):
            if now - query.sent_at > HANDSHAKE_TIMEOUT_S:
                del self.pending[message_id]  # asked again on a later call, up to MAX_ASKS times
                if self.asked.get(query.node, 0) >= MAX_ASKS:
                    self.refused[query.node] = f"did not answer {MAX_ASKS} binding queries"

    def _bind(self, reply: Message, node: int) -> None:
        address, reason = self._verify(reply, node)
        if address is None:
            self.refused[node] = reason
            return
        for previous in [n for n, a in self.by_node.items() if a == address]:
            del self.by_node[previous]
            self.refused[previous] = f"{address} now answers through node {node}"
        self.by_node[node] = address

    def _verify(self, reply: Message, node: int) -> tuple[str | None, str]:
        try:
            if int(reply.metadata.src_node_id) != node:
                return None, f"the answer came from node {reply.metadata.src_node_id}"
            signed = None if reply.has_error() else typed(reply.content, ENVELOPE, ConfigRecord)
            if signed is None:
                return None, "no signed binding"
            envelope = SignedEnvelope.from_record(signed, BindingClaim)
            expected = BindingClaim(self.chain_id, self.contract, self.task_id, node)
            address = verify_envelope(envelope, expected, self.prefix)
        except EnvelopeError as error:
            return None, f"bad binding: {error}"
        except Exception as error:  # a crafted reply is refused, never raised
            return None, f"unreadable binding ({type(error).__name__})"
        if self.standing(address) != Standing.ACTIVE:
            return None, f"{address} is not a staked, unslashed trainer of task {self.task_id}"
        return address, ""
