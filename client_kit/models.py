"""Trainable models behind one small protocol, so a client trains whatever the task names.

`softmax` is multinomial logistic regression in NumPy (the scikit-learn/NumPy template): tiny,
deterministic, CPU-only — the default for the digits demo. A PyTorch template plugs in through
the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class TrainableModel(Protocol):
    names: list[str]

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
        self.weight = np.zeros((self.features, self.classes), np.float32)
        self.bias = np.zeros(self.classes, np.float32)

    def get_arrays(self) -> list[np.ndarray]:
        return [self.weight.copy(), self.bias.copy()]

    def set_arrays(self, arrays: list[np.ndarray]) -> None:
        weight, bias = arrays
        self.weight = np.array(weight, dtype=np.float32).reshape(self.features, self.classes)
        self.bias = np.array(bias, dtype=np.float32).reshape(self.classes)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        logits = x @ self.weight + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def fit(self, x: np.ndarray, y: np.ndarray, epochs: int, learning_rate: float, seed: int) -> float:
        rng = np.random.default_rng(seed)
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


def build_model(spec: str, features: int, classes: int) -> TrainableModel:
    """The task's model by name; unknown names are refused before any training starts."""
    if spec in ("softmax", "sklearn"):
        return SoftmaxRegression(features, classes)
    raise ValueError(f"unknown model {spec!r}: available: softmax")


def digits_features(x: np.ndarray) -> np.ndarray:
    """scikit-learn's digits pixels are 0..16: scale to 0..1 so SGD is well conditioned."""
    return (np.asarray(x, dtype=np.float32).reshape(len(x), -1) / 16.0).astype(np.float32)
