"""Which Flower node answers for which staked trainer: only those nodes are ever sent work.

The keeper's SuperLink authenticates every request a node makes by the node's key, and it admits
only keys its tasks' trainers named on chain (`keepers.admission`), each named with the key's own
signature of (contract, task, trainer), which task_hub verifies and keeps unique within a task. So
the key a node authenticates with already says which trainer it answers for: the ServerApp reads
node ids and keys from the SuperLink's Control API (`NodeDirectory`) and keys and trainers from the
chain. Binding costs no message round trip, so no node can stall it, delay it or lose its place by
answering late: binding 1,000 nodes is one list request and one chain query.

A node's id never changes while the SuperLink lives (its key is registered once), so each node is
looked up once. The task's members are read again when a node connects whose key they do not name
(at most every NEW_NODE_REFRESH_S): a trainer that joined from the web app names its key only when
it starts training, usually after the run began, and the SuperLink admits its node only once the
chain shows that key. A node whose key stays unnamed (another task's trainer on the same keeper)
costs a read every MEMBERS_REFRESH_S at most. One node per address, the
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
NEW_NODE_REFRESH_S = 1.0


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
    _strangers: set[int] = field(default_factory=set)  # connected nodes the last read did not name

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
            strangers = {node for node in nodes if self._keys.get(node) not in self._members}
            since = None if self._members_read_at is None else time.monotonic() - self._members_read_at
            new_ones = bool(strangers - self._strangers)
            if strangers and (
                since is None or since >= MEMBERS_REFRESH_S or (new_ones and since >= NEW_NODE_REFRESH_S)
            ):
                self._members_read_at = time.monotonic()  # a failed read is retried after the same wait
                self._members = dict(self.member_keys())
                self._strangers = {node for node in strangers if self._keys.get(node) not in self._members}
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
