"""Bring your own training: task-declared preprocessing, the organization's own train/evaluate pair,
and an organization's Flower ClientApp served unchanged (issue 17), in the real sandboxed worker.

The end-to-end runs of the three examples on the localnet are in test_examples_onchain.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from client_kit.builder import BuildError, BuiltClient, ModelSpec, build_client, build_flower_client
from client_kit.data import load_folder, write_npz
from client_kit.flower_bundle import AppError, read_app
from client_kit.metrics import Objective, TaskMetric
from client_kit.model_format import decode, encode
from client_kit.sandbox import bwrap
from client_kit.settings import ClientSettings, FlowerAppConfig, Standardization
from client_kit.worker import TaskWorker, WorkerError

SANDBOX = bwrap() is not None
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FLOWER_APP = EXAMPLES / "flower_digits"
DIABETES = EXAMPLES / "diabetes_regression" / "model.py"


def _settings(shape: tuple[int, ...], classes: int = 10, **fields: object) -> ClientSettings:
    base = ClientSettings("", "t", "fedchain-local-1", "wasm1contract", "wasm", shape, classes, 1.0, 5, 0.1, 32)
    return replace(base, **fields)  # type: ignore[arg-type]


def _fedavg(built: BuiltClient, folders: list[Path], test: Path, rounds: int) -> dict:
    """FedAvg by example counts over sandboxed workers running the rendered client.py: what the
    keeper's aggregation does, without the chain; the held-out evaluation after the last round."""
    workers = [TaskWorker(built.source, folder, sandbox=SANDBOX, timeout=120) for folder in folders]
    judge = TaskWorker(built.source, test, sandbox=SANDBOX, timeout=120)
    try:
        model = built.initial_model()
        for task_round in range(1, rounds + 1):
            answers = [worker.train(model, task_round) for worker in workers]
            counts = [answer["num_examples"] for answer, _ in answers]
            layers = [decode(update)[1] for _, update in answers]
            names = decode(model)[0]
            mean = [sum(n * u[i] for n, u in zip(counts, layers, strict=True)) / sum(counts) for i in range(len(names))]
            model = encode(names, [m.astype(np.float32) for m in mean])
        return judge.evaluate(model)
    finally:
        for worker in (*workers, judge):
            worker.close()


def _shards(x: np.ndarray, y: np.ndarray, folder: Path, trainers: int, held_out: int) -> tuple[list[Path], Path]:
    order = np.random.default_rng(0).permutation(len(y))
    test, train = order[:held_out], order[held_out:]
    write_npz(folder / "test", x[test], y[test])
    shards = []
    for i in range(trainers):
        write_npz(folder / f"trainer{i}", x[train[i::trainers]], y[train[i::trainers]])
        shards.append(folder / f"trainer{i}")
    return shards, folder / "test"


def test_tabular_features_the_task_standardizes_train_like_a_standardized_logistic_regression(tmp_path: Path) -> None:
    """Finding: breast_cancer's 30 raw features behind one input scale ended near 0.85 held-out
    (4 trainers, 3 rounds) where a standardized logistic regression reaches 0.975. The task now
    declares its per-feature standardization; trainers and the keeper apply the same numbers."""
    data = load_breast_cancer()
    shards, test = _shards(data.data, data.target, tmp_path, trainers=4, held_out=114)
    scaled = _settings((30,), classes=2, input_scale=1000.0)  # the best a single scale could do here
    plain = _fedavg(build_client(scaled, ModelSpec.parse("softmax")), shards, test, rounds=3)
    pooled = np.concatenate([load_folder(shard).x for shard in shards])  # the organization's own sample
    standardized = replace(_settings((30,), classes=2), standardize=Standardization.fit(pooled))
    built = build_client(standardized, ModelSpec.parse("softmax"))
    assert b'"standardize"' in built.source  # in client.py: covered by the hash trainers verify
    declared = _fedavg(built, shards, test, rounds=3)
    assert declared["metric"] >= 0.95, declared
    assert declared["metric"] > plain["metric"] + 0.03, (plain, declared)
    assert declared["loss"] < plain["loss"] / 2


def test_an_organizations_training_loop_and_metric_train_a_regression(tmp_path: Path) -> None:
    """Diabetes progression from 10 features: the organization's own train/evaluate (Adam, cosine
    schedule, squared error of the standardized target) embedded in client.py, the task's metric
    MSE in the target's units, features standardized as the task declares."""
    data = load_diabetes(scaled=False)
    shards, test = _shards(data.data, data.target, tmp_path, trainers=3, held_out=92)
    pooled = np.concatenate([load_folder(shard).x for shard in shards])
    settings = _settings(
        (10,),
        objective=Objective.REGRESSION,
        metric=TaskMetric.named("mse"),
        standardize=Standardization.fit(pooled),
        epochs=20,
        learning_rate=0.01,
    )
    built = build_client(settings, ModelSpec.parse(f"{DIABETES}:DiabetesRegressor", training=str(DIABETES)))
    assert built.source.count(b"def train(model") == 1  # the model file is embedded once, training and all
    before = _fedavg(built, shards, test, rounds=0)
    after = _fedavg(built, shards, test, rounds=3)
    mean_predictor = float(((data.target[: len(data.target)] - data.target.mean()) ** 2).mean())
    assert after["metric"] < 0.65 * mean_predictor, (after, mean_predictor)  # R² above 0.35
    assert after["metric"] < before["metric"] and after["num_examples"] == 92
    assert after["loss"] == pytest.approx(after["metric"] / 77.0**2, rel=1e-4)  # evaluate's own loss


def test_a_training_file_must_define_train_and_evaluate_and_a_metric_must_be_computable(tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    model.write_text(
        "from torch import nn\n\nclass Net(nn.Linear):\n    def __init__(self):\n        super().__init__(4, 2)\n"
    )
    only_train = tmp_path / "training.py"
    only_train.write_text("def train(model, x, y, config):\n    return 0.0\n")
    with pytest.raises(BuildError, match="evaluate"):
        build_client(_settings((4,), classes=2), ModelSpec.parse(f"{model}:Net", training=str(only_train)))
    with pytest.raises(BuildError, match="perplexity"):
        build_client(_settings((4,), classes=2, metric=TaskMetric.named("perplexity")), ModelSpec.parse(f"{model}:Net"))
    with pytest.raises(BuildError, match="not an existing .py file"):
        ModelSpec.parse(f"{model}:Net", training=str(tmp_path / "missing.py"))


def _flower_client(app: Path, factory: str = "digitsapp.task:Net", **config: object) -> BuiltClient:
    bundle = read_app(app)
    flower = FlowerAppConfig(bundle.app, bundle.run_config, {"lr": 0.1}, **config)  # type: ignore[arg-type]
    return build_flower_client(replace(_settings((8, 8)), flower=flower), bundle, factory)


def _digits(folder: Path, rows: slice) -> Path:
    digits = load_digits()
    write_npz(folder, digits.images[rows], digits.target[rows])
    return folder


def test_a_flower_app_is_served_unchanged_by_the_sandboxed_worker(tmp_path: Path) -> None:
    """The example app in Flower's Message-API style, never edited: its sources are embedded as they
    are, its ClientApp trains on the folder `context.node_config["data-path"]` names, and the
    per-layer ArrayRecord it returns comes back as the task's model."""
    built = _flower_client(FLOWER_APP)
    for source in (FLOWER_APP / "digitsapp").glob("*.py"):
        assert source.read_text().rstrip("\n").encode() in built.source, source.name
    assert built.names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] and built.build_model is None
    worker = TaskWorker(built.source, _digits(tmp_path / "data", slice(0, 400)), sandbox=SANDBOX, timeout=120)
    try:
        assert worker.description["examples"] == 400
        initial = built.initial_model()
        answer, update = worker.train(initial, 1)
        names, arrays, _ = decode(update)
        assert names == built.names and [a.shape for a in arrays] == [a.shape for a in built.arrays]
        assert 0 < answer["loss"] < 2.3 and answer["num_examples"] == 400
        untrained, trained = worker.evaluate(initial), worker.evaluate(update)
        assert trained["metric"] > 0.8 > untrained["metric"] and trained["loss"] < untrained["loss"]
        every_row, halves = worker.losses(update, [list(range(400))]), worker.losses(update, [[0, 1, 2], [399]])
        assert every_row[0] == pytest.approx(trained["loss"], rel=1e-5)  # a subset is read as the app reads its data
        assert len(halves) == 2 and halves[0] != halves[1]
    finally:
        worker.close()


def _variant(app: Path, original: str, replacement: str) -> Path:
    """The example app with one line of its client_app.py replaced."""
    (app / "digitsapp").mkdir(parents=True)
    (app / "pyproject.toml").write_text((FLOWER_APP / "pyproject.toml").read_text())
    for source in (FLOWER_APP / "digitsapp").glob("*.py"):
        text = source.read_text()
        if source.name == "client_app.py":
            assert original in text
            text = text.replace(original, replacement, 1)
        (app / "digitsapp" / source.name).write_text(text)
    return app


def test_the_trainers_node_config_reaches_the_app_but_never_moves_its_data_path(tmp_path: Path) -> None:
    """Trainer-local settings reach a Flower app the Flower way, context.node_config; the data path
    is always the trainer's own data folder, whatever else the node config says."""
    echo = "    eval_loss, eval_acc = test_fn(model, valloader, device)\n"
    told = echo + '    eval_acc = float(context.node_config["share"])\n'
    built = _flower_client(_variant(tmp_path / "app", echo, told))
    data = _digits(tmp_path / "data", slice(0, 50))
    node_config = {"share": 0.25, "data-path": str(tmp_path)}
    worker = TaskWorker(built.source, data, sandbox=SANDBOX, timeout=120, node_config=node_config)
    try:
        answer = worker.evaluate(built.initial_model())
        assert answer["metric"] == 0.25 and answer["num_examples"] == 50 and answer["loss"] > 0
    finally:
        worker.close()


RECORD = "model_record = ArrayRecord(model.state_dict())"
EXTRA_LAYER = 'model_record = ArrayRecord({**model.state_dict(), "x": torch.zeros(1)})'
FLOAT64 = "model_record = ArrayRecord({k: v.double() for k, v in model.state_dict().items()})"
LOAD = "    model = Net()\n    model.load_state_dict"
RAISE = "    raise RuntimeError('out of memory')\n    model.load_state_dict"
BROKEN_APPS = {  # (the app's line, what replaces it, what the worker answers)
    "an extra layer": (RECORD, EXTRA_LAYER, "other layers"),
    "another dtype": (RECORD, FLOAT64, "changed layer"),
    "no training loss": ('"train_loss": train_loss, ', "", "no metric 'train_loss'"),
    "a raised error": (LOAD, RAISE, "out of memory"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_APPS))
def test_the_wire_format_mod_refuses_a_reply_that_is_not_the_tasks_model(tmp_path: Path, broken: str) -> None:
    """Whatever the app returns is checked inside the worker before the trainer's signer sees it."""
    original, replacement, refusal = BROKEN_APPS[broken]
    built = _flower_client(_variant(tmp_path / "app", original, replacement))
    worker = TaskWorker(built.source, _digits(tmp_path / "data", slice(0, 60)), sandbox=SANDBOX, timeout=120)
    try:
        with pytest.raises(WorkerError, match=refusal):
            worker.train(built.initial_model(), 1)
    finally:
        worker.close()


def test_a_flower_app_that_cannot_be_embedded_or_built_is_refused_at_build_time(tmp_path: Path) -> None:
    with pytest.raises(AppError, match="no pyproject.toml"):
        read_app(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.flwr.app.components]\nclientapp = "gone.client_app:app"\n')
    with pytest.raises(AppError, match="no module gone.client_app"):
        read_app(tmp_path)
    with pytest.raises(BuildError, match="returned a str"):
        _flower_client(FLOWER_APP, factory="digitsapp.task:__doc__")
    with pytest.raises(BuildError, match="defines no 'Missing'"):
        _flower_client(FLOWER_APP, factory="digitsapp.task:Missing")
