"""Plain Flower FedAvg for the digits task: the baseline fedchain's round benchmarks are measured against.

The same model as the demo's client.py (`model`: the MLP of keepers/examples/digits_mlp.py or the
NumPy softmax regression), initial weights, shards, hyperparameters and training loop, with
Flower's own FedAvg and nothing else: no envelope, no verification, no IPFS, no chain. Federated
evaluation runs every round unless `federated-evaluation` is false. The ServerApp writes its
timing and the final model's held-out accuracy to the `results` file of the run config.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from client_kit.data import load_folder
from client_kit.model_format import decode
from client_kit.models import SoftmaxRegression, TorchModel, TrainableModel
from keepers.brisk_grid import BriskGrid
from keepers.examples.digits_mlp import DigitsMLP

server_app = ServerApp()
client_app = ClientApp()


def _model(config: dict) -> TrainableModel:
    if config["model"] == "softmax":
        return SoftmaxRegression(64, 10, batch_size=int(config["batch-size"]))
    return TorchModel(DigitsMLP(int(config["hidden"])), (64,), batch_size=int(config["batch-size"]), threads=1)


def _features(folder: str, config: dict) -> tuple[np.ndarray, np.ndarray]:
    data = load_folder(Path(folder))
    return (data.x / np.float32(config["input-scale"])).astype(np.float32), data.y


def warm_up(config: dict, data_dir: str) -> None:
    """PyTorch's first training step is slow (seconds, with ten trainers on two cores); fedchain's
    trainer takes it before connecting, and so does this baseline's node, so that round 1 compares
    the two systems rather than PyTorch start-up."""
    x, y = _features(data_dir, config)
    _model(config).fit(x[:2], y[:2], epochs=1, learning_rate=0.0, seed=0)


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    config = dict(context.run_config)
    if config["brisk"]:
        grid = BriskGrid(grid)
    trainers = int(config["trainers"])
    names, arrays, _ = decode(Path(str(config["initial-model"])).read_bytes())
    while len(list(grid.get_node_ids())) < trainers:
        time.sleep(0.1)
    strategy = FedAvg(
        fraction_evaluate=1.0 if config["federated-evaluation"] else 0.0,
        min_train_nodes=trainers,
        min_evaluate_nodes=trainers,
        min_available_nodes=trainers,
    )
    round_ends: list[float] = []

    def end_of_round(server_round: int, arrays: ArrayRecord) -> None:
        round_ends.append(time.time())  # Flower calls this at the end of each round

    started = time.time()
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord({n: Array(a) for n, a in zip(names, arrays, strict=True)}),
        num_rounds=int(config["rounds"]),
        evaluate_fn=end_of_round,
    )
    finished = time.time()
    model = _model(config)
    model.set_arrays([result.arrays[n].numpy() for n in names])
    accuracy = model.evaluate(*_features(str(config["held-out"]), config))[1]
    rounds = {r: float(m["eval-acc"]) for r, m in result.evaluate_metrics_clientapp.items()}
    Path(str(config["results"])).write_text(
        json.dumps(
            {
                "started": started,
                "finished": finished,
                "round_ends": round_ends[1:],  # the first call evaluates the initial model
                "held_out_accuracy": accuracy,
                "federated": rounds,
            }
        )
    )


@client_app.train()
def train(message: Message, context: Context) -> Message:
    config = dict(context.run_config)
    record = message.content["arrays"]
    model = _model(config)
    model.set_arrays([record[n].numpy() for n in record.keys()])
    x, y = _features(str(context.node_config["data-dir"]), config)
    server_round = int(message.content["config"]["server-round"])
    loss = model.fit(x, y, int(config["epochs"]), float(config["learning-rate"]), seed=server_round)
    arrays = ArrayRecord({n: Array(a) for n, a in zip(record.keys(), model.get_arrays(), strict=True)})
    metrics = MetricRecord({"num-examples": len(y), "train-loss": loss})
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=message)


@client_app.evaluate()
def evaluate(message: Message, context: Context) -> Message:
    config = dict(context.run_config)
    record = message.content["arrays"]
    model = _model(config)
    model.set_arrays([record[n].numpy() for n in record.keys()])
    x, y = _features(str(context.node_config["data-dir"]), config)
    loss, accuracy = model.evaluate(x, y)
    metrics = MetricRecord({"num-examples": len(y), "eval-loss": loss, "eval-acc": accuracy})
    return Message(RecordDict({"metrics": metrics}), reply_to=message)
