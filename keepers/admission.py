"""Only staked trainers connect: the keeper's SuperLink admits exactly the node keys that its tasks'
joined, unslashed trainers named on chain.

Flower's SuperLink with node authentication refuses any node whose key was not registered through
its Control API (on loopback, never reachable from outside). The keeper registers the keys the
chain lists and unregisters those of trainers who left or were slashed, so a node nobody staked for
cannot register, cannot stall sampling and cannot flood the SuperLink with requests. A key that is
not a P-256 point admits nobody (the trainer who named it is simply not served).

Flower never registers an unregistered key again within one SuperLink's life: a trainer that left a
task and joined it again is admitted after the keeper's next restart.

The same Control API lists which key each node authenticates with (`NodeDirectory`): that is how a
task's ServerApp knows which trainer a node answers for (`keepers.binding`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from flwr.proto.control_pb2 import ListNodesRequest, RegisterNodeRequest, UnregisterNodeRequest
from flwr.supercore.primitives.asymmetric import public_key_to_bytes

from client_kit.node_identity import NodeKeyError, decode_public_key
from client_kit.task_hub import Task, TaskHub
from keepers.certificate import KeeperCertificate
from keepers.runtime import control_client


@dataclass
class AdmissionChange:
    admitted: list[str] = field(default_factory=list)  # trainer addresses newly admitted
    dismissed: list[str] = field(default_factory=list)  # trainer addresses no longer admitted
    refused: list[str] = field(default_factory=list)  # "address: reason" for keys that admit nobody


def superlink_key(chain_key: str) -> bytes:
    """A node key as the SuperLink holds it (PEM), from its on-chain form; raises NodeKeyError."""
    return public_key_to_bytes(decode_public_key(chain_key))


class NodeDirectory:
    """Which key each node registered with the SuperLink authenticates with: node id -> key (PEM)."""

    def __init__(self, superlink_port: int, certificate_pem: bytes) -> None:
        self._control = control_client(superlink_port, certificate_pem)

    def __call__(self) -> dict[int, bytes]:
        listed = self._control.ListNodes(ListNodesRequest()).nodes_info
        return {int(node.node_id): bytes(node.public_key) for node in listed}


def staked_node_keys(hub: TaskHub, tasks: list[Task]) -> dict[str, str]:
    """Node key -> trainer address, over the joined, unslashed trainers of `tasks` that named a key."""
    keys: dict[str, str] = {}
    for task in tasks:
        for member in hub.participants(task.id):
            if member.node_public_key and not member.slashed:
                keys[member.node_public_key] = member.trainer
    return keys


class NodeAdmission:
    """The node keys registered with one SuperLink (its state lives as long as that process)."""

    def __init__(self, superlink_port: int, certificate: KeeperCertificate) -> None:
        self._control = control_client(superlink_port, certificate.pem)
        self._registered: dict[str, tuple[int, str]] = {}  # node key -> (Flower node id, trainer)
        self._refused: set[str] = set()  # keys that failed once: not retried (nor reported) again

    def sync(self, wanted: Mapping[str, str]) -> AdmissionChange:
        """Register the keys in `wanted` (node key -> trainer) not registered yet; unregister the
        ones no longer wanted."""
        change = AdmissionChange()
        for key, trainer in wanted.items():
            if key in self._registered or key in self._refused:
                continue
            try:
                node_id = self._control.RegisterNode(RegisterNodeRequest(public_key=superlink_key(key))).node_id
            except (NodeKeyError, httpx.HTTPStatusError) as error:
                self._refused.add(key)
                change.refused.append(f"{trainer}: {error}")
                continue
            self._registered[key] = (node_id, trainer)
            change.admitted.append(trainer)
        for key in [key for key in self._registered if key not in wanted]:
            node_id, trainer = self._registered.pop(key)
            try:
                self._control.UnregisterNode(UnregisterNodeRequest(node_id=node_id))
            except httpx.HTTPStatusError:
                pass  # already gone from the SuperLink
            change.dismissed.append(trainer)
        return change
