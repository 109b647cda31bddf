"""Which Flower node answers for which staked trainer: only those nodes are ever sent work.

Anyone can register a node with a keeper's SuperLink. A round waits only for nodes bound to a
staked trainer of the task: the keeper sends each new node a `query` message, and the node's
reply must be a binding claim signed by the key of an address that joined the task and was not
slashed. One node per address: a second node for an address already bound (and still connected)
is refused, so a trainer cannot answer twice. A node that fails once is never asked again, so
junk nodes cost one round trip each, not one per round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flwr.app import Message, RecordDict
from flwr.common import MessageType
from flwr.serverapp import Grid

from client_kit.envelope import BindingClaim, EnvelopeError, SignedEnvelope, verify_envelope
from client_kit.protocol import ENVELOPE
from client_kit.task_hub import Standing

HANDSHAKE_TIMEOUT_S = 10.0


@dataclass
class Bindings:
    chain_id: str
    contract: str
    task_id: int
    standing: Callable[[str], Standing]
    prefix: str = "wasm"
    by_node: dict[int, str] = field(default_factory=dict)  # node id -> staked address
    refused: dict[int, str] = field(default_factory=dict)  # node id -> why

    def nodes(self, grid: Grid) -> list[int]:
        """The connected nodes bound to staked, unslashed trainers, after asking any new node."""
        connected = set(grid.get_node_ids())
        new = sorted(connected - set(self.by_node) - set(self.refused))
        if new:
            self._handshake(grid, new, connected)
        return sorted(
            node
            for node, address in self.by_node.items()
            if node in connected and self.standing(address) == Standing.ACTIVE
        )

    def _handshake(self, grid: Grid, nodes: list[int], connected: set[int]) -> None:
        messages = [Message(content=RecordDict(), dst_node_id=node, message_type=MessageType.QUERY) for node in nodes]
        answered: set[int] = set()
        for reply in grid.send_and_receive(messages, timeout=HANDSHAKE_TIMEOUT_S):
            node = int(reply.metadata.src_node_id)
            answered.add(node)
            address, reason = self._verify(reply, node)
            if address is None:
                self.refused[node] = reason
                continue
            holder = next((n for n, a in self.by_node.items() if a == address and n in connected), None)
            if holder is not None:
                self.refused[node] = f"{address} already answers through node {holder}"
                continue
            self.by_node = {n: a for n, a in self.by_node.items() if a != address}  # a reconnected trainer
            self.by_node[node] = address
        for node in set(nodes) - answered:
            self.refused[node] = "did not answer the binding query"

    def _verify(self, reply: Message, node: int) -> tuple[str | None, str]:
        try:
            if reply.has_error() or ENVELOPE not in reply.content.config_records:
                return None, "no signed binding"
            envelope = SignedEnvelope.from_record(reply.content.config_records[ENVELOPE], BindingClaim)
            expected = BindingClaim(self.chain_id, self.contract, self.task_id, node)
            address = verify_envelope(envelope, expected, self.prefix)
        except EnvelopeError as error:
            return None, f"bad binding: {error}"
        except Exception as error:  # a crafted reply is refused, never raised
            return None, f"unreadable binding ({type(error).__name__})"
        if self.standing(address) != Standing.ACTIVE:
            return None, f"{address} is not a staked, unslashed trainer of task {self.task_id}"
        return address, ""
