"""Trainable models behind one small protocol, so the runtime trains whatever a task's client.py builds.

Two families, one per client template:
- `SoftmaxRegression`: multinomial logistic regression in NumPy (the NumPy/scikit-learn template):
  tiny, deterministic, CPU-only.
- `TorchModel`: any PyTorch `nn.Module` (the PyTorch template); its parameters travel as the
  module's `state_dict`, in order, as NumPy arrays. The runtime's own loop trains it (SGD with
  momentum on cross-entropy for a classifier, on squared error for a regression), or the
  organization's own `train`/`evaluate` pair does (`TrainingFunctions`: its optimizer, loss,
  schedule, augmentation and metric).

Every model sees inputs already preprocessed as the task declares (scaled by `input_scale`,
standardized if the task says so) and shaped `input_shape`; `evaluate` returns the loss and the
task's metric (`client_kit.metrics`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from client_kit.metrics import KNOWN, MetricError, Objective, compute

if TYPE_CHECKING:
    from torch import nn


class TrainableModel(Protocol):
    names: list[str]

    def get_arrays(self) -> list[np.ndarray]: ...

    def set_arrays(self, arrays: list[np.ndarray]) -> None: ...

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float, seed: int) -> float: ...

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean loss, the task's metric) on these examples."""
        ...


@dataclass(frozen=True)
class TrainingFunctions:
    """An organization's own training loop for its module, embedded in client.py:

    `train(model, x, y, config) -> float` trains `model` in place on tensors x and y (config holds
    epochs, learning_rate, batch_size and seed) and returns its mean training loss;
    `evaluate(model, x, y) -> (loss, metric)` returns the mean loss and the task's metric. The loss
    is what the keeper's contribution scoring compares, so it must be a mean over examples."""

    train: Callable[..., float]
    evaluate: Callable[..., tuple[float, float]]


@dataclass
class SoftmaxRegression:
    """p(y|x) = softmax(x·W + b), trained with mini-batch SGD on cross-entropy."""

    features: int
    classes: int
    batch_size: int = 32
    metric: str = "accuracy"

    def __post_init__(self) -> None:
        self.names = ["weight", "bias"]
        self.input_shape = (self.features,)
        self.weight = np.zeros((self.features, self.classes), np.float32)
        self.bias = np.zeros(self.classes, np.float32)

    def get_arrays(self) -> list[np.ndarray]:
        return [self.weight.copy(), self.bias.copy()]

    def set_arrays(self, arrays: list[np.ndarray]) -> None:
        weight, bias = arrays
        self.weight = np.array(weight, dtype=np.float32).reshape(self.features, self.classes)
        self.bias = np.array(bias, dtype=np.float32).reshape(self.classes)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = x.reshape(len(x), -1) @ self.weight + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float, seed: int) -> float:
        rng = np.random.default_rng(seed)
        x = x.reshape(len(x), -1)
        onehot = np.eye(self.classes, dtype=np.float32)[y]
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), self.batch_size):
                batch = order[start : start + self.batch_size]
                error = self._probabilities(x[batch]) - onehot[batch]
                self.weight -= learning_rate * (x[batch].T @ error / len(batch)).astype(np.float32)
                self.bias -= learning_rate * error.mean(axis=0).astype(np.float32)
        return self.evaluate(x, y)[0]

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean cross-entropy, the task's metric)."""
        if len(x) == 0:
            return 0.0, 0.0
        probabilities = self._probabilities(x)
        loss = float(-np.log(probabilities[np.arange(len(y)), y] + 1e-12).mean())
        return loss, compute(self.metric, probabilities, y)


class TorchModel:
    """A PyTorch module on the CPU, trained by the runtime's loop or by the organization's own."""

    def __init__(
        self,
        module: nn.Module,
        input_shape: tuple[int, ...],
        objective: Objective = Objective.CLASSIFICATION,
        metric: str = "accuracy",
        batch_size: int = 32,
        threads: int = 1,
        functions: TrainingFunctions | None = None,
    ) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self._torch = torch
        self.module = module.to("cpu")
        self.input_shape = tuple(input_shape)
        self.objective = objective
        self.metric = metric
        self.batch_size = batch_size
        self.functions = functions
        self.names = list(self.module.state_dict().keys())
        if functions is None and metric not in KNOWN:
            raise MetricError(f"the runtime's own loop computes {', '.join(KNOWN)}; {metric!r} needs --training")

    def get_arrays(self) -> list[np.ndarray]:
        return [tensor.detach().cpu().numpy().copy() for tensor in self.module.state_dict().values()]

    def set_arrays(self, arrays: list[np.ndarray]) -> None:
        state = {name: self._torch.from_numpy(np.array(a)) for name, a in zip(self.names, arrays, strict=True)}
        self.module.load_state_dict(state, strict=True)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """Inputs shaped for the module; class indices (int64) or regression targets (float32, one per example)."""
        features = self._torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), *self.input_shape))
        kind = np.int64 if self.objective == Objective.CLASSIFICATION else np.float32
        return features, self._torch.from_numpy(np.ascontiguousarray(y, dtype=kind))

    def _loss(self, outputs: Any, targets: Any) -> Any:
        functional = self._torch.nn.functional
        if self.objective == Objective.CLASSIFICATION:
            return functional.cross_entropy(outputs, targets)
        return functional.mse_loss(outputs.reshape(targets.shape), targets)

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float, seed: int) -> float:
        torch = self._torch
        torch.manual_seed(seed)  # dropout and augmentation draw from the global generator
        features, targets = self._tensors(x, y)
        self.module.train()
        if self.functions is not None:
            config = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": self.batch_size, "seed": seed}
            return float(self.functions.train(self.module, features, targets, config))
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.SGD(self.module.parameters(), lr=learning_rate, momentum=0.9)
        for _ in range(epochs):
            order = torch.randperm(len(targets), generator=generator)
            for start in range(0, len(targets), self.batch_size):
                batch = order[start : start + self.batch_size]
                optimizer.zero_grad()
                loss = self._loss(self.module(features[batch]), targets[batch])
                loss.backward()
                optimizer.step()
        return self.evaluate(x, y)[0]

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean loss, the task's metric)."""
        if len(x) == 0:
            return 0.0, 0.0
        torch = self._torch
        features, targets = self._tensors(x, y)
        self.module.eval()
        with torch.no_grad():
            if self.functions is not None:
                loss, value = self.functions.evaluate(self.module, features, targets)
                return float(loss), float(value)
            outputs = self.module(features)
            loss = float(self._loss(outputs, targets))
        return loss, compute(self.metric, outputs.numpy(), np.asarray(y))


def load_embedded_module(name: str, source: str) -> ModuleType:
    """Run model source embedded in client.py as a module of its own (never as __main__), so the
    organization's model class is defined by bytes the on-chain hash covers."""
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__fedchain_source__", None) == source:
        return loaded  # each build_model() call needs the class, not a fresh copy of its module
    module = ModuleType(name)
    module.__file__ = f"<embedded in client.py: {name}>"
    module.__fedchain_source__ = source  # type: ignore[attr-defined]
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module
