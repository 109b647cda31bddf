"""Many real trainers on two cores: trainer threads hosted in a few processes (benchmarks only).

Each trainer is the real runtime — a SignerApp holding its staked key and a TrainerNode speaking
Flower's Fleet API over TLS pinned to the keeper's certificate on chain, with its own node key — but
the task's code runs in the same process through `InProcessWorker` instead of one sandboxed worker
process per trainer, which a hundred PyTorch processes would not fit in memory: the benchmarks
measure the protocol and the money, not the confinement.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey

from chain_config import Network
from client_kit.chain import ChainClient
from client_kit.data import load_folder
from client_kit.endpoint import KeeperEndpoint
from client_kit.node import TrainerNode
from client_kit.node_identity import node_private_key
from client_kit.preflight import keeper_endpoint
from client_kit.settings import settings_from_source
from client_kit.signer_app import SignerApp
from client_kit.task_hub import Task, TaskHub
from client_kit.worker import load_task


class InProcessWorker:
    """The task worker's interface served in this process (benchmarks only, see the module doc)."""

    def __init__(self, source: bytes, data_dir: Path) -> None:
        self._session = load_task(source, load_folder(data_dir))
        self.description = self._session.describe()

    def train(self, model: bytes, task_round: int) -> tuple[dict[str, Any], bytes]:
        return self._session.train({"round": task_round}, model)

    def evaluate(self, model: bytes) -> dict[str, Any]:
        return self._session.evaluate(model)


@dataclass(frozen=True)
class HostedTrainer:
    key_hex: str  # the staked account's private key
    data_dir: str
    fault: str = ""  # client_kit.signer_app.FAULTS: misbehave on purpose


def _host(
    source: bytes,
    endpoint: KeeperEndpoint,
    task_id: int,
    trainers: list[HostedTrainer],
    network: Network,
    journal: Path,
    poll_s: float,
    spread_s: float,
) -> None:
    """One process hosting several trainers, a SignerApp and a TrainerNode thread each, their
    nodes started evenly over `spread_s` (as a federation's nodes come online, not all at once)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = settings_from_source(source)
    hub = TaskHub(ChainClient(network), settings.contract)
    stop = threading.Event()
    task = hub.task(task_id)
    for trainer in trainers:
        wallet = LocalWallet(PrivateKey(bytes.fromhex(trainer.key_hex)), network.bech32_prefix)
        worker = InProcessWorker(source, Path(trainer.data_dir))
        examples = len(load_folder(Path(trainer.data_dir)))
        journal_dir = journal / str(wallet.address())
        signer = SignerApp(settings, wallet, task, worker, hub, journal_dir, examples, trainer.fault)  # type: ignore[arg-type]
        node = TrainerNode(
            signer.app,
            endpoint.address,
            {},
            poll_interval=poll_s,
            certificate_sha256=endpoint.tls_cert_sha256,
            node_key=node_private_key(wallet, network.chain_id, settings.contract, task_id),
        )
        threading.Thread(target=node.run, args=(stop, 600.0), daemon=True).start()
        stop.wait(spread_s / len(trainers))
    stop.wait()


def host_trainers(
    source: bytes,
    endpoint: KeeperEndpoint,
    task_id: int,
    trainers: list[HostedTrainer],
    network: Network,
    journal: Path,
    processes: int,
    poll_s: float,
    spread_s: float = 0.0,
) -> list[BaseProcess]:
    """Start `processes` host processes sharing the trainers round-robin, their nodes coming online
    over `spread_s`; the caller terminates them. They are spawned, not forked: a fork taken while
    another thread of the benchmark held OpenSSL's lock left a host's 125 nodes stuck for good in
    their first TLS handshake (one run in six)."""
    context = multiprocessing.get_context("spawn")
    started = []
    for part in range(processes):
        args = (source, endpoint, task_id, trainers[part::processes], network, journal, poll_s, spread_s)
        process = context.Process(target=_host, args=args, daemon=True)
        process.start()
        started.append(process)
    return started


def published_endpoint(hub: TaskHub, task: Task, timeout: float = 60.0) -> KeeperEndpoint:
    """The keeper's endpoint once its service published its certificate on chain."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        endpoint = keeper_endpoint(hub, task)
        if endpoint.tls_cert_sha256:
            return endpoint
        time.sleep(0.5)
    raise RuntimeError("the keeper did not publish its TLS certificate")
