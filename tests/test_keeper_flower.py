"""The keeper end to end: a real SuperLink, real SuperNodes, the ServerApp, the chain and Kubo.

Trainers train on disjoint splits of scikit-learn's digits; the keeper verifies signed updates,
averages, pins each global model and attests every round on chain, then finalizes.
"""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from chain_config import LocalnetConfig
from client_kit.ipfs import KuboStore, fetch_verified
from client_kit.model_format import decode, encode
from keepers.chain import ChainClient
from keepers.runtime import ManagedProcess, start_superlink, start_supernode, submit_task_run
from keepers.task_hub import TaskHub, TaskSpec
from localnet.deploy import Deployment
from localnet.network import Localnet
from tests.conftest import dev_wallet


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _key_file(config: LocalnetConfig, name: str, folder: Path) -> Path:
    path = folder / f"{name}.mnemonic"
    path.write_text(config.dev_account(name).mnemonic + "\n")
    path.chmod(0o600)
    return path


def _create_task(
    chain: ChainClient, hub: TaskHub, kubo: KuboStore, config: LocalnetConfig, trainers: list[str], rounds: int
) -> int:
    org, keeper = dev_wallet(config, "organization"), dev_wallet(config, "keeper")
    hub.register(org, "Acme Health", organization=True)
    model = kubo.add(
        encode(["weight", "bias"], [np.zeros((64, 10), np.float32), np.zeros(10, np.float32)]), "initial.safetensors"
    )
    client = kubo.add(b"# client.py placeholder: the ClientApp is client_kit.flower_client\n", "client.py")
    now = int(chain.block_time())
    spec = TaskSpec(
        model_name="digits-softmax",
        description="keeper e2e",
        client_cid=client.cid,
        client_sha256=client.sha256,
        initial_model_cid=model.cid,
        initial_model_sha256=model.sha256,
        rounds=rounds,
        min_trainers=len(trainers),
        max_trainers=len(trainers),
        stake=1_000_000,
        join_deadline=now + 600,
        training_deadline=now + 3600,
        keeper=str(keeper.address()),
        no_show_penalty_bps=1000,
        slash_bps=5000,
    )
    task_id, _ = hub.create_task(org, spec, 30_000_000, config.denom)
    for name in trainers:
        wallet = dev_wallet(config, name)
        hub.register(wallet, name, trainer=True)
        hub.join_task(wallet, task_id, 1_000_000, config.denom)
    return task_id


def _run_config(config: LocalnetConfig, deployment: Deployment, task_id: int, keeper_key: Path) -> dict:
    network = config.network()
    return {
        "task-id": task_id,
        "chain-id": network.chain_id,
        "grpc-url": network.grpc_url,
        "rpc-url": network.rpc_url,
        "denom": network.denom,
        "gas-price": str(network.gas_price),
        "prefix": network.bech32_prefix,
        "contract": deployment.contract,
        "keeper-key-file": str(keeper_key),
        "ipfs-api": config.kubo_api_url,
        "norm-bound": 50.0,
        "max-examples": 1000,
        "connect-timeout": 60.0,
        "feed-port": _free_port(),
        "epochs": 5,
        "learning-rate": 0.5,
    }


@pytest.mark.slow
def test_three_trainers_three_rounds_accuracy_rises_and_rounds_are_on_chain(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    names = ["trainer4", "trainer5", "trainer6"]
    task_id = _create_task(chain, hub, kubo, config, names, rounds=3)

    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    for i, name in enumerate(names):
        part = order[i::3][:400]
        folder = tmp_path / name / "data"
        folder.mkdir(parents=True)
        np.savez(folder / "data.npz", x=digits.data[part], y=digits.target[part])
        _key_file(config, name, tmp_path / name)

    port = _free_port()
    processes: list[ManagedProcess] = []
    try:
        processes.append(start_superlink(port, tmp_path / "keeper"))
        for name in names:
            processes.append(
                start_supernode(
                    f"127.0.0.1:{port}",
                    _free_port(),
                    {"key-file": str(tmp_path / name / f"{name}.mnemonic"), "data-dir": str(tmp_path / name / "data")},
                    tmp_path / f"{name}.log",
                )
            )
        keeper_key = _key_file(config, "keeper", tmp_path)
        result = submit_task_run(port, tmp_path / "keeper", _run_config(config, deployment, task_id, keeper_key))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    finally:
        for process in reversed(processes):
            process.stop()

    task = hub.task(task_id)
    assert (task.status, task.rounds_completed) == ("finalized", 3)
    rounds = hub.rounds(task_id)
    accuracies = [r.metrics.accuracy for r in rounds]
    assert accuracies[-1] > accuracies[0] >= Decimal("0.1"), accuracies
    assert accuracies[-1] >= Decimal("0.85")
    for record in rounds:
        assert record.contributors_count == 3
        layer_names, arrays, metadata = decode(fetch_verified(kubo, record.model_cid, record.model_sha256))
        assert layer_names == ["weight", "bias"] and metadata["round"] == str(record.round)
        assert arrays[0].shape == (64, 10) and np.isfinite(arrays[0]).all()
    weights = {p.trainer: p.weight for p in hub.participants(task_id)}
    assert all(w > 0 for w in weights.values()) and len(weights) == 3
