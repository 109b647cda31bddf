"""Accounts for benchmarks that need many trainers: deterministic keys, funding, register + join."""

from __future__ import annotations

import hashlib

from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from cosmpy.protos.cosmos.bank.v1beta1.tx_pb2 import MsgSend
from cosmpy.protos.cosmos.base.v1beta1.coin_pb2 import Coin
from rich.progress import Progress

from client_kit.chain import ChainClient
from client_kit.node_identity import claim_for
from client_kit.task_hub import TaskHub


def derive_wallets(count: int, seed: str) -> list[LocalWallet]:
    """`count` accounts whose keys derive from `seed`, the same in every run."""
    return [
        LocalWallet(PrivateKey(hashlib.sha256(f"bench {seed} {i}".encode()).digest()), "wasm") for i in range(count)
    ]


def fund(chain: ChainClient, funder: LocalWallet, wallets: list[LocalWallet], amount: int) -> None:
    """Send `amount` to each, 100 sends per transaction."""
    for start in range(0, len(wallets), 100):
        sends = [
            MsgSend(
                from_address=str(funder.address()),
                to_address=str(w.address()),
                amount=[Coin(amount=str(amount), denom=chain.network.denom)],
            )
            for w in wallets[start : start + 100]
        ]
        chain.broadcast(funder, sends)


def register_and_join(
    chain: ChainClient, hub: TaskHub, wallets: list[LocalWallet], task_id: int, stake: int, progress: Progress
) -> None:
    """Every trainer signs its own [register, join] tx (naming its node key for the task); all are
    broadcast, then awaited."""
    job = progress.add_task(f"  {len(wallets)} trainers register + join", total=len(wallets) * 2)
    hashes = []
    for wallet in wallets:
        sender = str(wallet.address())
        messages = [
            hub.message(sender, TaskHub.register_body("bench", trainer=True)),
            hub.message(
                sender,
                TaskHub.join_body(task_id, claim_for(wallet, chain.network.chain_id, hub.contract, task_id)),
                f"{stake}{chain.network.denom}",
            ),
        ]
        hashes.append(chain.submit(wallet, messages)[0])
        progress.advance(job)
    for tx_hash in hashes:
        chain.wait_for_tx(tx_hash)
        progress.advance(job)
