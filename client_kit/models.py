"""Trainable models behind one small protocol, so the runtime trains whatever a task's client.py builds.

Two families, one per client template:
- `SoftmaxRegression`: multinomial logistic regression in NumPy (the NumPy/scikit-learn template):
  tiny, deterministic, CPU-only.
- `TorchClassifier`: any PyTorch `nn.Module` classifier (the PyTorch template); its parameters
  travel as the module's `state_dict`, in order, as NumPy arrays.

Every model sees inputs already scaled by the task's `input_scale` and shaped `input_shape`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from torch import nn


class TrainableModel(Protocol):
    names: list[str]
    input_shape: tuple[int, ...]
    classes: int

    def get_arrays(self) -> list[np.ndarray]: ...

    def set_arrays(self, arrays: list[np.ndarray]) -> None: ...

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float, seed: int) -> float: ...

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]: ...


@dataclass
class SoftmaxRegression:
    """p(y|x) = softmax(x·W + b), trained with mini-batch SGD on cross-entropy."""

    features: int
    classes: int
    batch_size: int = 32

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
        """(mean cross-entropy, accuracy)."""
        if len(x) == 0:
            return 0.0, 0.0
        probabilities = self._probabilities(x)
        loss = float(-np.log(probabilities[np.arange(len(y)), y] + 1e-12).mean())
        accuracy = float((probabilities.argmax(axis=1) == y).mean())
        return loss, accuracy


class TorchClassifier:
    """A PyTorch classifier module trained with SGD (momentum 0.9) on cross-entropy, on the CPU."""

    def __init__(
        self, module: nn.Module, input_shape: tuple[int, ...], classes: int, batch_size: int = 32, threads: int = 1
    ) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self._torch = torch
        self.module = module.to("cpu")
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.batch_size = batch_size
        self.names = list(self.module.state_dict().keys())

    def get_arrays(self) -> list[np.ndarray]:
        return [tensor.detach().cpu().numpy().copy() for tensor in self.module.state_dict().values()]

    def set_arrays(self, arrays: list[np.ndarray]) -> None:
        state = {name: self._torch.from_numpy(np.array(a)) for name, a in zip(self.names, arrays, strict=True)}
        self.module.load_state_dict(state, strict=True)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        features = self._torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).reshape(len(x), *self.input_shape))
        return features, self._torch.from_numpy(np.asarray(y, dtype=np.int64))

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float, seed: int) -> float:
        torch = self._torch
        generator = torch.Generator().manual_seed(seed)
        features, labels = self._tensors(x, y)
        optimizer = torch.optim.SGD(self.module.parameters(), lr=learning_rate, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        self.module.train()
        for _ in range(epochs):
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(labels), self.batch_size):
                batch = order[start : start + self.batch_size]
                optimizer.zero_grad()
                loss = loss_fn(self.module(features[batch]), labels[batch])
                loss.backward()
                optimizer.step()
        return self.evaluate(x, y)[0]

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """(mean cross-entropy, accuracy)."""
        if len(x) == 0:
            return 0.0, 0.0
        torch = self._torch
        features, labels = self._tensors(x, y)
        self.module.eval()
        with torch.no_grad():
            logits = self.module(features)
            loss = float(torch.nn.functional.cross_entropy(logits, labels))
            accuracy = float((logits.argmax(dim=1) == labels).float().mean())
        return loss, accuracy


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
