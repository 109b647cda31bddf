"""The three bring-your-own-training examples, each end to end on the localnet (issue 17).

Real localnet, Kubo, the keeper's TLS SuperLink and ServerApp with its own validation set, and
three trainers started as `fedchain trainer train` starts them (sandboxed task workers):
1. a small CNN on image folders (digits rendered as PNGs), the runtime's own loop, accuracy;
2. a tabular regression (scikit-learn's diabetes) with the organization's own train/evaluate,
   declared standardization and MSE as the task's metric, paid for measured contribution;
3. a Flower app in the standard Message-API style, its ClientApp served without edits, paid for
   measured contribution (the keeper scores it by running the app on subsets of its set).
Each task's metric is named on chain, every round records it, and every trainer is paid.

(Named to run after test_client_kit.py, whose checks expect the dev keeper to have published no
TLS certificate yet; the keeper here publishes one.)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits

from client_kit.builder import BuiltClient, ModelSpec, build_client, build_flower_client
from client_kit.chain import ChainClient
from client_kit.data import load_folder, write_images, write_npz
from client_kit.flower_bundle import read_app
from client_kit.ipfs import KuboStore
from client_kit.metrics import Objective, TaskMetric
from client_kit.model_format import decode
from client_kit.settings import ClientSettings, FlowerAppConfig, Standardization
from client_kit.task_hub import Scoring, TaskHub, TaskStatus
from localnet.deploy import Deployment
from localnet.network import Localnet
from localnet.processes import ManagedProcess, free_port
from tests.conftest import dev_wallet
from tests.trainers import KeeperUnderTest, create_task, keeper_run_config, key_file, start_trainers

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ["trainer1", "trainer2", "trainer3"]


def _split(labels: np.ndarray, held_out: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Each trainer's rows and the keeper's validation rows, disjoint."""
    order = np.random.default_rng(3).permutation(len(labels))
    validation, rest = order[:held_out], order[held_out:]
    return [rest[i :: len(NAMES)] for i in range(len(NAMES))], validation


def _train_task(
    localnet: Localnet,
    chain: ChainClient,
    deployment: Deployment,
    kubo: KuboStore,
    folder: Path,
    built: BuiltClient,
    scoring: Scoring,
) -> int:
    """Create the task, run it to the end with three trainers and the keeper, return its id. The
    trainers' data is under folder/NAME/data, the keeper's validation set under folder/validation."""
    config, hub = localnet.config, TaskHub(chain, deployment.contract)
    client_file = folder / "client.py"
    client_file.write_bytes(built.source)
    fingerprint = load_folder(folder / "validation" / "set").sha256()
    task_id = create_task(
        chain, hub, kubo, config, built, NAMES, rounds=2, scoring=scoring,
        validation_sha256=fingerprint if scoring == Scoring.MEASURED else None,
    )  # fmt: skip
    for name in NAMES:
        key_file(config, name, folder / name)
    run = keeper_run_config(config, deployment.contract, task_id, key_file(config, "keeper", folder))
    # A measured task's keeper finds its set by fingerprint under its folder; another scores on the folder.
    validation = folder / "validation" if scoring == Scoring.MEASURED else folder / "validation" / "set"
    run = replace(run, validation_dir=validation)
    processes: list[ManagedProcess] = []
    try:
        with KeeperUnderTest(chain, hub, config, task_id, folder / "keeper", free_port()) as keeper:
            processes += start_trainers(config, client_file, deployment.contract, task_id, NAMES, folder)
            code = keeper.submit(run)
            logs = "\n".join((folder / f"{n}.log").read_text()[-1500:] for n in NAMES if (folder / f"{n}.log").exists())
            assert code == 0, (folder / "keeper" / "runs.log").read_text()[-4000:] + logs
    finally:
        for process in processes:
            process.stop()
    task = hub.task(task_id)
    assert task.status == TaskStatus.FINALIZED and task.rounds_completed == 2
    for name in NAMES:  # every trainer contributed, and is paid its stake back plus a reward
        address = str(dev_wallet(config, name).address())
        member = next(p for p in hub.participants(task_id) if p.trainer == address)
        assert member.weight > 0 and not member.slashed, name
    return task_id


def _settings(localnet: Localnet, deployment: Deployment, shape: tuple[int, ...], **fields: object) -> ClientSettings:
    base = ClientSettings.for_network(localnet.config.network(), deployment.contract, "example", shape, 10)
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_cnn_trains_on_image_folders(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    digits = load_digits()
    images = digits.images / 16.0
    shards, validation = _split(digits.target, held_out=300)
    for name, rows in zip(NAMES, shards, strict=True):
        write_images(tmp_path / name / "data", images[rows], digits.target[rows])
    write_images(tmp_path / "validation" / "set", images[validation], digits.target[validation])
    assert len(list((tmp_path / "trainer1" / "data" / "class-03").glob("*.png"))) > 20  # PNG files, one folder a class
    settings = _settings(localnet, deployment, (1, 8, 8), epochs=5, learning_rate=0.05)
    built = build_client(settings, ModelSpec.parse(f"{EXAMPLES / 'image_cnn' / 'model.py'}:DigitsCNN"))
    assert "layers.1.num_batches_tracked" in built.names  # an integer buffer rides along
    task_id = _train_task(localnet, chain, deployment, kubo, tmp_path, built, Scoring.CLAIMED_EXAMPLES)
    hub = TaskHub(chain, deployment.contract)
    assert hub.task(task_id).metric == TaskMetric.named("accuracy")
    rounds = hub.rounds(task_id)
    assert [r.metrics.metric for r in rounds] == ["accuracy", "accuracy"]
    assert float(rounds[-1].metrics.value) >= 0.8, [r.metrics for r in rounds]  # the keeper's validation
    assert rounds[-1].metrics.examples == 300
    # The organization downloads its model, streamed and checked against the chain's record.
    env = dict(
        os.environ, FEDCHAIN_HOME=str(localnet.config.home), FEDCHAIN_PORT_OFFSET=str(localnet.config.port_offset)
    )
    out = tmp_path / "final.safetensors"
    fetched = subprocess.run(
        [sys.executable, "-m", "keepers.cli", "org", "fetch-model", str(task_id), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == rounds[-1].model_sha256
    assert decode(out.read_bytes())[0] == built.names


@pytest.mark.slow
def test_a_regression_with_its_own_training_loop_reports_mse(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    data = load_diabetes(scaled=False)
    shards, validation = _split(data.target, held_out=92)
    for name, rows in zip(NAMES, shards, strict=True):
        write_npz(tmp_path / name / "data", data.data[rows], data.target[rows])
    write_npz(tmp_path / "validation" / "set", data.data[validation], data.target[validation])
    sample = load_folder(tmp_path / "trainer1" / "data").x  # the organization's own sample of the features
    model = EXAMPLES / "diabetes_regression" / "model.py"
    settings = _settings(
        localnet,
        deployment,
        (10,),
        objective=Objective.REGRESSION,
        metric=TaskMetric.named("mse"),
        standardize=Standardization.fit(sample),
        epochs=20,
        learning_rate=0.01,
    )
    built = build_client(settings, ModelSpec.parse(f"{model}:DiabetesRegressor", training=str(model)))
    task_id = _train_task(localnet, chain, deployment, kubo, tmp_path, built, Scoring.MEASURED)
    hub = TaskHub(chain, deployment.contract)
    task = hub.task(task_id)
    assert task.metric == TaskMetric("mse", higher_is_better=False, at_most=None)
    rounds = hub.rounds(task_id)
    mse = [float(r.metrics.value) for r in rounds]
    variance = float(data.target[validation].var())
    assert [r.metrics.metric for r in rounds] == ["mse", "mse"] and mse[-1] < 0.7 * variance, (mse, variance)
    assert all(r.scores_cid for r in rounds)  # scored on the keeper's set with the organization's loss


@pytest.mark.slow
def test_a_flower_app_runs_unchanged_and_is_paid_for_measured_contribution(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    digits = load_digits()
    shards, validation = _split(digits.target, held_out=300)
    for name, rows in zip(NAMES, shards, strict=True):
        write_npz(tmp_path / name / "data", digits.images[rows], digits.target[rows])
    write_npz(tmp_path / "validation" / "set", digits.images[validation], digits.target[validation])
    bundle = read_app(EXAMPLES / "flower_digits")
    flower = FlowerAppConfig(bundle.app, bundle.run_config, train_config={"lr": 0.1})
    settings = _settings(localnet, deployment, (8, 8), flower=flower)
    built = build_flower_client(settings, bundle, "digitsapp.task:Net")
    task_id = _train_task(localnet, chain, deployment, kubo, tmp_path, built, Scoring.MEASURED)
    hub = TaskHub(chain, deployment.contract)
    rounds = hub.rounds(task_id)
    assert [r.metrics.metric for r in rounds] == ["accuracy", "accuracy"]
    assert float(rounds[-1].metrics.value) >= 0.85, [r.metrics for r in rounds]
    assert all(r.scores_cid for r in rounds) and rounds[-1].metrics.examples == 300
