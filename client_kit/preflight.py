"""What a trainer checks before a single round is trained: that this client.py is the one the task
registered on chain, that the trainer's key staked into the task and was not slashed, and that
the task still takes rounds. Each refusal says why and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cosmpy.aerial.wallet import LocalWallet

from client_kit.endpoint import KeeperEndpoint
from client_kit.keys import KeysError, KeyStore, read_mnemonic_file, wallet_from_mnemonic
from client_kit.settings import ClientSettings
from client_kit.signer_app import TrainerError
from client_kit.task_hub import Participant, Task, TaskHub, TaskNotFound


@dataclass(frozen=True)
class KeySource:
    """Where the trainer's staked key comes from: a named key (key folder or keyring) or a mnemonic file."""

    key: str | None = None
    key_file: Path | None = None
    keys_dir: Path | None = None

    def wallet(self, prefix: str, allow_dev_accounts: bool) -> LocalWallet:
        if self.key_file is not None:
            return wallet_from_mnemonic(read_mnemonic_file(self.key_file), prefix)
        if self.key:
            folder = self.keys_dir or Path.home() / ".config" / "fedchain" / "keys"
            return KeyStore(folder, prefix, allow_dev_accounts=allow_dev_accounts).wallet(self.key)
        raise KeysError("give --key NAME or --key-file PATH: the key that staked into the task")


def check_chain(hub: TaskHub, settings: ClientSettings) -> None:
    """Refuse to go on unless the trainer's own node serves the chain its configuration names, and
    client.py names that chain, address prefix and contract too. The trainer's configuration
    decides where it connects and what it signs for; client.py (the organization's file) only has
    to agree: otherwise its claims would be signed for a task that pays nothing."""
    network = hub.chain.network
    served = hub.chain.node_chain_id()
    if served != network.chain_id:
        raise TrainerError(f"your node serves chain {served!r}, not {network.chain_id!r}: check --node and --chain-id")
    for field, named, yours in (
        ("chain", settings.chain_id, network.chain_id),
        ("address prefix", settings.prefix, network.bech32_prefix),
        ("contract", settings.contract, hub.contract),
    ):
        if named != yours:
            raise TrainerError(f"client.py names {field} {named!r}, not {yours!r} (yours): refusing to run it")


def keeper_endpoint(hub: TaskHub, task: Task, address: str | None = None) -> KeeperEndpoint:
    """Where the task's keeper serves trainers and the certificate it must present, as the keeper
    itself registered them on chain (the organization's client.py cannot send trainers elsewhere).
    `address` overrides where to connect (e.g. another route to the same keeper); the certificate
    is the chain's all the same."""
    profile = hub.profile(task.keeper)
    if profile is None or profile.keeper is None or not (address or profile.keeper.endpoint):
        raise TrainerError(f"the keeper of task {task.id}, {task.keeper}, has no endpoint on chain; give --superlink")
    return KeeperEndpoint(address or profile.keeper.endpoint, profile.keeper.tls_cert_sha256)


def check_client(hub: TaskHub, task_id: int, sha256: str, name: str = "client.py") -> Task:
    """The task, if the client.py whose bytes hash to `sha256` is the one it registered."""
    try:
        task = hub.task(task_id)
    except TaskNotFound:
        raise TrainerError(f"task {task_id} not found on {hub.chain.network.chain_id}") from None
    if sha256 != task.client_sha256:
        raise TrainerError(
            f"{name} (sha256 {sha256[:16]}…) is not the client registered for task {task.id} "
            f"(sha256 {task.client_sha256[:16]}…): refusing to run it; fetch it again with "
            f"`fedchain trainer join {task.id}`"
        )
    return task


def check_membership(hub: TaskHub, task: Task, address: str) -> Participant:
    """`address`'s membership; refuses unless it staked into the task, is not slashed, and rounds remain."""
    member = hub.participant(task.id, address)
    if member is None:
        raise TrainerError(
            f"{address} has not joined task {task.id}: stake first with `fedchain trainer join {task.id}`"
        )
    if member.slashed:
        raise TrainerError(f"{address} was slashed in task {task.id}; it cannot train it (see `fedchain org status`)")
    if not task.status.live or task.rounds_completed >= task.rounds:
        raise TrainerError(f"task {task.id} is {task.status} with {task.rounds_completed}/{task.rounds} rounds done")
    return member
