"""Which Flower node answers for which staked trainer: only those nodes are ever sent work.

The keeper's SuperLink authenticates every request a node makes by the node's key, and it admits
only keys its tasks' trainers named on chain (`keepers.admission`), each named with the key's own
signature of (contract, task, trainer), which task_hub verifies and keeps unique within a task. So
the key a node authenticates with already says which trainer it answers for: the ServerApp reads
node ids and keys from the SuperLink's Control API (`NodeDirectory`) and keys and trainers from the
chain. Binding costs no message round trip, so no node can stall it, delay it or lose its place by
answering late: binding 1,000 nodes is one list request and one chain query.

A node's id never changes while the SuperLink lives (its key is registered once), so each node is
looked up once; a node whose key no trainer of this task named (another task's trainer on the same
keeper) is looked up again only when the task's members are read again, at most every
MEMBERS_REFRESH_S, in case the key was named after the run began. One node per address, the
latest: a trainer that named a new key (`SetNodeKey`) answers through the node of its new key, and
the node it replaced is dropped, so a trainer never answers twice. A failed lookup (the chain or
the SuperLink slow to answer) binds nobody new for now and never ends the round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from logging import WARNING

from flwr.common.logger import log
from flwr.serverapp import Grid

from client_kit.task_hub import Standing

MEMBERS_REFRESH_S = 30.0


@dataclass
class Bindings:
    """Node id -> staked address, for one task's run."""

    node_keys: Callable[[], Mapping[int, bytes]]  # the SuperLink's: node id -> the key it authenticates with
    member_keys: Callable[[], Mapping[bytes, str]]  # the chain's: this task's node keys -> who named them
    standing: Callable[[str], Standing]
    by_node: dict[int, str] = field(default_factory=dict)  # node id -> staked address
    _keys: dict[int, bytes] = field(default_factory=dict)  # every node looked up so far
    _members: dict[bytes, str] = field(default_factory=dict)
    _members_read_at: float | None = None  # time.monotonic() of the last read

    def nodes(self, grid: Grid) -> list[int]:
        """The connected nodes bound to staked, unslashed trainers (binding any new ones first)."""
        connected = set(grid.get_node_ids())
        unbound = connected - set(self.by_node)
        if unbound:
            self._bind(unbound)
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

    def _bind(self, nodes: set[int]) -> None:
        try:
            if not nodes <= self._keys.keys():
                self._keys.update(self.node_keys())
            strangers = any(self._keys.get(node) not in self._members for node in nodes)
            stale = self._members_read_at is None or time.monotonic() - self._members_read_at >= MEMBERS_REFRESH_S
            if strangers and stale:
                self._members_read_at = time.monotonic()  # a failed read is retried after the same wait
                self._members = dict(self.member_keys())
        except Exception as error:  # the chain or the SuperLink hiccuped: bind what is known, ask later
            log(WARNING, "binding new nodes postponed: %s: %s", type(error).__name__, error)
        for node in sorted(nodes):
            key = self._keys.get(node)
            address = None if key is None else self._members.get(key)
            if address is None or self.standing(address) != Standing.ACTIVE:
                continue
            for previous in [n for n, a in self.by_node.items() if a == address]:
                del self.by_node[previous]
            self.by_node[node] = address
