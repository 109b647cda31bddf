"""The keeper end to end: a real SuperLink, the ServerApp, trainers running a real client.py, chain, Kubo.

Each trainer is the trainer runtime on a client.py rendered from a template, started as
`fedchain trainer train` starts it; they train on disjoint splits of scikit-learn's digits. The keeper verifies signed
updates, averages, pins each global model and attests every round on chain, then finalizes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flwr.clientapp import ClientApp
from websockets.sync.client import connect

from client_kit.chain import ChainClient
from client_kit.command import trainer_command
from client_kit.ipfs import KuboStore, fetch_verified
from client_kit.model_format import decode
from client_kit.node import TrainerNode
from client_kit.preflight import KeySource
from client_kit.task_hub import SlashReason, TaskHub, TaskStatus
from keepers.events import (
    FeedEvent,
    Published,
    RoundAttested,
    RoundStarted,
    TaskFinalized,
    TrainerConnected,
    TrainerSlashed,
    UpdateAccepted,
    UpdateRejected,
)
from keepers.runtime import flower_env
from localnet.deploy import Deployment
from localnet.network import Localnet
from localnet.processes import ManagedProcess, free_port, spawn
from tests.conftest import dev_wallet
from tests.trainers import (
    KeeperUnderTest,
    create_task,
    keeper_run_config,
    key_file,
    render_digits_client,
    start_trainers,
    write_digits_shards,
)


@pytest.mark.slow
def test_three_trainers_three_rounds_accuracy_rises_and_rounds_are_on_chain(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    names = ["trainer4", "trainer5", "trainer6"]
    client_file, built = render_digits_client(config, deployment.contract, tmp_path / "org")
    task_id = create_task(chain, hub, kubo, config, built, names, rounds=3)

    write_digits_shards(config, names, tmp_path)
    trainers: list[ManagedProcess] = []
    try:
        with KeeperUnderTest(chain, hub, config, task_id, tmp_path / "keeper", free_port()) as keeper:
            trainers = start_trainers(config, client_file, deployment.contract, task_id, names, tmp_path)
            keeper_key = key_file(config, "keeper", tmp_path)
            code = keeper.submit(keeper_run_config(config, deployment.contract, task_id, keeper_key))
            assert code == 0, (tmp_path / "keeper" / "runs.log").read_text()[-4000:]
        for trainer, name in zip(trainers, names, strict=True):  # each trainer claims by itself once settled
            assert trainer.process.wait(90) == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
            assert f"task {task_id} finished: claimed" in (tmp_path / f"{name}.log").read_text()
            assert "TLS certificate" in (tmp_path / f"{name}.log").read_text()
    finally:
        for process in trainers:
            process.stop()

    task = hub.task(task_id)
    assert (task.status, task.rounds_completed) == (TaskStatus.FINALIZED, 3)
    rounds = hub.rounds(task_id)
    accuracies = [r.metrics.value for r in rounds]
    assert accuracies[-1] > accuracies[0] >= Decimal("0.1"), accuracies
    assert accuracies[-1] >= Decimal("0.85")
    for record in rounds:
        assert record.contributors_count == 3
        layer_names, arrays, metadata = decode(fetch_verified(kubo, record.model_cid, record.model_sha256))
        assert layer_names == ["weight", "bias"] and metadata["round"] == str(record.round)
        assert arrays[0].shape == (64, 10) and np.isfinite(arrays[0]).all()
    weights = {p.trainer: p.weight for p in hub.participants(task_id)}
    assert all(w > 0 for w in weights.values()) and len(weights) == 3


@pytest.mark.slow
def test_a_batchnorm_cnn_trains_round_after_round_with_no_honest_trainer_slashed(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    """BatchNorm's int64 counter used to be averaged into float64, so every honest trainer's next
    update "differed from the model" and was slashed; the growing counter also broke the norm bound.
    The task here also caps an update's weight at 100 examples: the keeper applies the chain's cap."""
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    names = ["trainer8", "trainer9"]
    client_file, built = render_digits_client(
        config, deployment.contract, tmp_path / "org", model="cnn", learning_rate=0.05, epochs=2
    )
    assert "layers.1.num_batches_tracked" in built.names
    task_id = create_task(chain, hub, kubo, config, built, names, rounds=3, max_examples=100)
    write_digits_shards(config, names, tmp_path, per_trainer=300)
    processes: list[ManagedProcess] = []
    try:
        with KeeperUnderTest(chain, hub, config, task_id, tmp_path / "keeper", free_port()) as keeper:
            processes += start_trainers(config, client_file, deployment.contract, task_id, names, tmp_path)
            run_config = keeper_run_config(config, deployment.contract, task_id, key_file(config, "keeper", tmp_path))
            code = keeper.submit(run_config)
            assert code == 0, (tmp_path / "keeper" / "runs.log").read_text()[-4000:]
    finally:
        for process in processes:
            process.stop()
    task = hub.task(task_id)
    assert (task.status, task.rounds_completed, task.productive_rounds) == (TaskStatus.FINALIZED, 3, 3)
    assert hub.slashes(task_id) == [] and task.slashed_count == 0
    assert all(r.contributors_count == 2 and r.total_weight == 200 for r in hub.rounds(task_id))
    assert {p.weight for p in hub.participants(task_id)} == {300}  # 3 rounds × the cap of 100
    final = hub.rounds(task_id)[-1]
    layers, arrays, _ = decode(fetch_verified(kubo, final.model_cid, final.model_sha256))
    counter = arrays[layers.index("layers.1.num_batches_tracked")]
    assert counter.dtype == np.int64 and counter.shape == ()  # kept an integer, never averaged into floats


@pytest.mark.slow
def test_bad_updates_are_rejected_with_reasons_and_the_malicious_staked_trainer_is_slashed(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    honest = ["trainer1", "trainer2"]
    faults = {
        "trainer3": "unsigned",
        "trainer7": "impostor",
        "trainer8": "nan",
        "trainer9": "shape",
        "trainer10": "scale",
    }
    names = honest + list(faults)
    client_file, built = render_digits_client(config, deployment.contract, tmp_path / "org")
    task_id = create_task(chain, hub, kubo, config, built, names, rounds=1)
    write_digits_shards(config, names, tmp_path, per_trainer=150)
    feed_events: list[Published] = []
    run_config = keeper_run_config(config, deployment.contract, task_id, key_file(config, "keeper", tmp_path))
    listener = threading.Thread(target=_listen, args=(run_config.feed_port, feed_events), daemon=True)
    port = free_port()
    processes: list[ManagedProcess] = []
    try:
        with KeeperUnderTest(chain, hub, config, task_id, tmp_path / "keeper", port) as keeper:
            processes += start_trainers(config, client_file, deployment.contract, task_id, names, tmp_path, faults)
            # trainer1 answers from a second node too: it may not get work twice, stall the round,
            # or put trainer1 twice among the round's contributors.
            key = KeySource(key_file=tmp_path / "trainer1" / "trainer1.mnemonic")
            data = tmp_path / "trainer1" / "data"
            second = trainer_command(client_file, task_id, data, key, config.network(), deployment.contract)
            processes.append(spawn("trainer1-again", second, tmp_path / "trainer1-again.log", flower_env()))
            # A node nobody staked for, speaking TLS to the right certificate, is refused by the SuperLink.
            stranger = ec.generate_private_key(ec.SECP256R1())
            nobody = TrainerNode(
                ClientApp(), f"127.0.0.1:{port}", {}, certificate_sha256=keeper.certificate_sha256, node_key=stranger
            )
            with pytest.raises(ConnectionError, match="did not admit this node"):
                nobody.run(threading.Event(), connect_timeout=3.0)
            listener.start()
            code = keeper.submit(run_config)
            assert code == 0, (tmp_path / "keeper" / "runs.log").read_text()[-4000:]
    finally:
        for process in processes:
            process.stop()
    listener.join(timeout=10)
    connected = [p.event for p in feed_events if isinstance(p.event, TrainerConnected)]
    assert sorted(e.trainer for e in connected) == sorted(str(dev_wallet(config, n).address()) for n in names)

    address = {name: str(dev_wallet(config, name).address()) for name in names}
    record = hub.rounds(task_id)[0]
    assert record.contributors_count == 2  # the round completed from the honest updates alone
    participants = {p.trainer: p for p in hub.participants(task_id)}
    for name in honest:
        assert participants[address[name]].weight > 0 and not participants[address[name]].slashed
    slashes = {s.trainer: s for s in hub.slashes(task_id)}
    reasons = {name: slashes[address[name]] for name in ("trainer8", "trainer9", "trainer10")}
    assert reasons["trainer8"].reason == SlashReason.NON_FINITE and "NaN" in reasons["trainer8"].detail
    assert reasons["trainer9"].reason == SlashReason.WRONG_SHAPE and "layer 'weight'" in reasons["trainer9"].detail
    assert (
        reasons["trainer10"].reason == SlashReason.NORM_EXCEEDED and "exceeds the bound" in reasons["trainer10"].detail
    )
    for slash in reasons.values():  # each verdict can be re-checked off chain: the update is on IPFS
        offending = kubo.cat(slash.update_cid)
        assert slash.round == 1 and offending and json.loads(slash.claim.payload)["round"] == 1
    for name in ("trainer3", "trainer7"):  # rejected, but nothing proves a staked trainer signed it
        assert not participants[address[name]].slashed and participants[address[name]].weight == 0

    rejected = [p.event for p in feed_events if isinstance(p.event, UpdateRejected)]
    assert len(rejected) == 5 and sum(isinstance(p.event, UpdateAccepted) for p in feed_events) == 2
    assert any(e.reason.startswith("unsigned update") for e in rejected)
    assert any("answers for" in e.reason for e in rejected)  # the impostor signed with a key nobody staked
    kinds = [type(p.event) for p in feed_events]
    assert kinds.index(RoundStarted) < kinds.index(UpdateAccepted) < kinds.index(RoundAttested)
    assert kinds.index(RoundAttested) < kinds.index(TrainerSlashed) < kinds.index(TaskFinalized)
    assert [p.seq for p in feed_events] == sorted(p.seq for p in feed_events)


def _listen(port: int, events: list[Published], timeout: float = 300) -> None:
    """Follow the keeper's live feed from its start to task_finalized."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with connect(f"ws://127.0.0.1:{port}", open_timeout=2) as feed:
                while time.monotonic() < deadline:
                    published = Published.from_json(json.loads(feed.recv(timeout=deadline - time.monotonic())))
                    assert published is not None, "the keeper published an event of an unknown kind"
                    events.append(published)
                    if isinstance(published.event, TaskFinalized):
                        return
        except (OSError, TimeoutError):
            time.sleep(0.3)
        except Exception:  # the feed closing at the end of the run
            return


@pytest.mark.slow
def test_a_keeper_killed_between_and_mid_round_resumes_without_repeating_a_round(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    names = ["trainer4", "trainer5"]
    client_file, built = render_digits_client(config, deployment.contract, tmp_path / "org")
    task_id = create_task(chain, hub, kubo, config, built, names, rounds=3)
    write_digits_shards(config, names, tmp_path, per_trainer=300)
    run_config = keeper_run_config(config, deployment.contract, task_id, key_file(config, "keeper", tmp_path))
    workdir = tmp_path / "keeper"
    nodes: list[ManagedProcess] = []
    try:
        with KeeperUnderTest(chain, hub, config, task_id, workdir, free_port()) as keeper:
            nodes = start_trainers(config, client_file, deployment.contract, task_id, names, tmp_path)
            # Killed right after round 1 is attested (between rounds), then once round 3's first update
            # has been verified (inside a round, before its attestation).
            for moment in ((RoundAttested, 1), (UpdateAccepted, 3)):
                keeper.start(run_config)
                _wait_for_event(run_config.feed_port, *moment, timeout=180)
                keeper.restart()  # the SuperLink and the ServerApp it started die together
                assert hub.task(task_id).status == TaskStatus.RUNNING
            code = keeper.submit(run_config)
            assert code == 0, (workdir / "runs.log").read_text()[-4000:]
    finally:
        for process in nodes:
            process.stop()
    task = hub.task(task_id)
    assert (task.status, task.rounds_completed) == (TaskStatus.FINALIZED, 3)
    assert [r.round for r in hub.rounds(task_id)] == [1, 2, 3]
    assert all(r.contributors_count == 2 for r in hub.rounds(task_id))


def _wait_for_event(port: int, kind: type[FeedEvent], task_round: int, timeout: float) -> None:
    """Follow the keeper's live feed until `kind` happens in `task_round`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with connect(f"ws://127.0.0.1:{port}", open_timeout=2) as feed:
                while True:
                    published = Published.from_json(
                        json.loads(feed.recv(timeout=max(0.1, deadline - time.monotonic())))
                    )
                    if (
                        published
                        and isinstance(published.event, kind)
                        and getattr(published.event, "round", None) == task_round
                    ):
                        return
        except (OSError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError(f"no {kind.KIND} for round {task_round} within {timeout:.0f}s")


def test_a_task_nobody_trains_ends_with_empty_rounds_and_nothing_forfeited(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    """Review: a task filled with addresses that never connect used to stop the keeper's run
    ("no staked trainer connected"), so the task expired and the keeper's bond went to the
    organization and the idle addresses. Now each round waits its timeout for a trainer and is
    attested empty: nobody is paid, nobody loses anything, the bond comes back."""
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    client_file, built = render_digits_client(config, deployment.contract, tmp_path / "org")
    task_id = create_task(chain, hub, kubo, config, built, ["trainer7"], rounds=2, round_timeout_s=5)
    run_config = replace(
        keeper_run_config(config, deployment.contract, task_id, key_file(config, "keeper", tmp_path)),
        connect_timeout=2.0,
    )
    with KeeperUnderTest(chain, hub, config, task_id, tmp_path / "keeper", free_port()) as keeper:
        started = time.monotonic()
        code = keeper.submit(run_config)
        assert code == 0, (tmp_path / "keeper" / "runs.log").read_text()[-4000:]
        assert time.monotonic() - started >= 2 + 2 * 5  # it waited for trainers, round after round
    task = hub.task(task_id)
    assert (task.status, task.rounds_completed, task.productive_rounds) == (TaskStatus.FINALIZED, 2, 0)
    assert (task.bond_forfeited, task.keeper_paid, task.org_refunded) == (0, task.keeper_bond, task.pool)
    owed = hub.claimable(task_id, str(dev_wallet(config, "trainer7").address()))
    assert (owed.amount, owed.penalty) == (task.stake, 0)
