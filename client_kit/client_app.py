"""The task's Flower ClientApp: train on private data, reply with the new model signed by the
staked key, and evaluate global models on the same data.

A rendered client.py builds one `TaskClient` around its settings and its model factory; the
trainer's command line (`client_kit.command`) attaches the trainer (key and data) after the
preflight checks and serves the app with `client_kit.node.TrainerNode`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from client_kit.data import DataError, LocalData
from client_kit.envelope import UpdateClaim, parameters_digest, sign_update
from client_kit.model_format import from_record, to_record
from client_kit.models import TrainableModel
from client_kit.protocol import (
    ARRAYS,
    CONFIG,
    ENVELOPE,
    EVAL_ACCURACY,
    EVAL_LOSS,
    METRICS,
    NUM_EXAMPLES,
    SERVER_ROUND,
    TRAIN_LOSS,
    TrainerTimings,
)
from client_kit.settings import ClientSettings

FAULTS = ("nan", "scale", "shape", "unsigned", "impostor")


class TrainerError(RuntimeError):
    """The trainer cannot (or must not) train: the message says why and what to do."""


@dataclass
class Trainer:
    """Who trains (the staked key, kept in memory only), on what, for which task."""

    wallet: LocalWallet
    task_id: int
    data: LocalData
    fault: str = ""


@dataclass
class RoundLog:
    """The trainer's own view of its rounds, for the live display."""

    rounds: dict[int, dict[str, float]] = field(default_factory=dict)
    sink: Callable[[int, dict[str, float]], None] | None = None  # where a node process reports them

    def note(self, task_round: int, **values: float) -> None:
        self.rounds.setdefault(task_round, {}).update(values)
        if self.sink is not None:
            self.sink(task_round, values)


class TaskClient:
    """The task's Flower ClientApp: local training on private data, replies signed with the staked key."""

    def __init__(self, settings: ClientSettings, build_model: Callable[[], TrainableModel]) -> None:
        self.settings = settings
        self.build_model = build_model
        self.trainer: Trainer | None = None
        self.log = RoundLog()
        self._model: TrainableModel | None = None
        self.app = ClientApp()

        @self.app.train()
        def train(message: Message, context: Context) -> Message:
            return self._train(message, context)

        @self.app.evaluate()
        def evaluate(message: Message, context: Context) -> Message:
            return self._evaluate(message)

    # --- set-up ------------------------------------------------------------------------------
    def attach(self, trainer: Trainer) -> None:
        """Bind key and data; refuses data the model cannot train on, before any round starts."""
        model = self.model()
        data = trainer.data
        shape = tuple(data.x.shape[1:])
        if int(np.prod(shape)) != int(np.prod(model.input_shape)):
            raise DataError(
                f"data in {data.source} has examples of shape {shape}, but the task's model expects "
                f"{tuple(model.input_shape)}"
            )
        if data.y.min() < 0 or data.y.max() >= model.classes:
            raise DataError(f"labels in {data.source} must lie in 0..{model.classes - 1}")
        kind = trainer.fault.partition("@")[0]
        if kind and kind not in FAULTS:
            raise TrainerError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        self.trainer = trainer
        x, y = self._features()
        model.fit(x[:2], y[:2], epochs=1, learning_rate=0.0, seed=0)  # warm up (PyTorch's first step is slow)

    def model(self) -> TrainableModel:
        if self._model is None:
            self._model = self.build_model()
        return self._model

    def _features(self) -> tuple[np.ndarray, np.ndarray]:
        if self.trainer is None:
            raise TrainerError("no trainer attached: run client.py through its command line")
        return self.features(self.trainer.data)

    def features(self, data: LocalData) -> tuple[np.ndarray, np.ndarray]:
        """Inputs as the model sees them (scaled by the task's input_scale), and labels."""
        return (data.x / np.float32(self.settings.input_scale)).astype(np.float32), data.y

    def evaluate_arrays(self, arrays: list[np.ndarray], data: LocalData) -> tuple[float, float]:
        """(loss, accuracy) of a global model on `data`: a keeper's validation set, for instance."""
        model = self.build_model()
        model.set_arrays(arrays)
        return model.evaluate(*self.features(data))

    # --- the ClientApp -----------------------------------------------------------------------
    def _train(self, message: Message, context: Context) -> Message:
        """Train on the local data and reply with the new model, signed; the reply's metrics also say
        how long the message took to arrive, training took, and encoding plus signing took (the
        keeper shows these in its round timing; nothing is paid on them)."""
        received = time.time()
        trainer = self.trainer
        if trainer is None:
            raise TrainerError("no trainer attached")
        names, arrays = from_record(message.content[ARRAYS])
        model = self.model()
        model.set_arrays(arrays)
        task_round = int(message.content[CONFIG][SERVER_ROUND])
        x, y = self._features()
        started = time.perf_counter()
        loss = model.fit(x, y, self.settings.epochs, self.settings.learning_rate, seed=task_round)
        trained = time.perf_counter()
        self.log.note(task_round, train_loss=loss, train_s=trained - started)
        fault = _active_fault(trainer.fault, task_round)
        arrays = _misbehave(fault, model.get_arrays())
        metrics = MetricRecord({NUM_EXAMPLES: len(y), TRAIN_LOSS: float(loss)})
        reply = RecordDict({ARRAYS: to_record(names, arrays), METRICS: metrics})
        if fault != "unsigned":
            key = PrivateKey() if fault == "impostor" else trainer.wallet.signer()
            claim = UpdateClaim(
                chain_id=self.settings.chain_id,
                contract=self.settings.contract,
                task_id=trainer.task_id,
                round=task_round,
                node_id=int(context.node_id),
                num_examples=len(y),
                digest=parameters_digest(arrays),
            )
            reply[ENVELOPE] = ConfigRecord(sign_update(key, claim, self.settings.prefix).to_record())
        timings = TrainerTimings(
            delivery_s=max(0.0, received - message.metadata.created_at),
            train_s=trained - started,
            sign_s=time.perf_counter() - trained,
        )
        for key_name, seconds in timings.to_metrics().items():
            metrics[key_name] = seconds
        return Message(content=reply, reply_to=message)

    def _evaluate(self, message: Message) -> Message:
        model = self.model()
        model.set_arrays(from_record(message.content[ARRAYS])[1])
        x, y = self._features()
        loss, accuracy = model.evaluate(x, y)
        self.log.note(int(message.content[CONFIG][SERVER_ROUND]), eval_loss=loss, eval_accuracy=accuracy)
        metrics = MetricRecord({NUM_EXAMPLES: len(y), EVAL_LOSS: loss, EVAL_ACCURACY: accuracy})
        return Message(content=RecordDict({METRICS: metrics}), reply_to=message)


def _active_fault(fault: str, task_round: int) -> str:
    """`kind` misbehaves every round, `kind@3` only in round 3 (demo and tests only)."""
    kind, _, only_round = fault.partition("@")
    return kind if kind and (not only_round or int(only_round) == task_round) else ""


def _misbehave(kind: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
    if kind == "nan":
        arrays = [a.copy() for a in arrays]
        arrays[0].flat[0] = np.nan
    elif kind == "scale":
        arrays = [a * 1000.0 for a in arrays]
    elif kind == "shape":
        arrays = [arrays[0][:-1], *arrays[1:]]
    return arrays
