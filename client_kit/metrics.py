"""What a task's rounds measure besides the loss: its metric, named by the task.

A classifier reports accuracy (or macro F1), a regression its mean squared or absolute error, a
language model its perplexity. The task names the metric once (`TaskMetric`, on chain and in
client.py's settings); every evaluation, round record and chart then says what its number means
and which way is better. The runtime's own training loops compute the known metrics here;
organization-supplied evaluate functions and Flower apps report theirs under the task's name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import numpy as np

_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")  # the contract's rule for a metric name


class MetricError(ValueError):
    """A metric the contract would refuse, or one the runtime cannot compute."""


class Objective(StrEnum):
    """What the runtime's own training loop minimizes: cross-entropy over classes, or squared error."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


@dataclass(frozen=True)
class TaskMetric:
    """The contract's `TaskMetric`: a name, its direction and, if it has one, its upper bound."""

    name: str = "accuracy"
    higher_is_better: bool = True
    at_most: float | None = 1.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise MetricError(f"a metric name is 1-32 lowercase letters, digits, '_' or '-', got {self.name!r}")
        if self.at_most is not None and not (math.isfinite(self.at_most) and self.at_most > 0):
            raise MetricError(f"a metric's upper bound must be a positive number, got {self.at_most}")

    @staticmethod
    def named(name: str) -> TaskMetric:
        """A known metric by name (its direction and bound are known), or an unbounded one the task's
        own code computes, taken as higher-is-better only when its name says so (…acc…, …f1…, …score…)."""
        if name in KNOWN:
            return KNOWN[name]
        higher = any(word in name for word in ("acc", "f1", "score", "auc", "precision", "recall"))
        return TaskMetric(name, higher, None)

    def allows(self, value: float) -> bool:
        """Whether the contract would record this value (finite, non-negative, within the bound)."""
        return math.isfinite(value) and value >= 0 and (self.at_most is None or value <= self.at_most)

    def clamped(self, value: float) -> float:
        """The nearest value the contract records: a wild figure must not make an attestation fail."""
        if not math.isfinite(value):
            return 0.0 if self.higher_is_better else (self.at_most or 0.0)
        value = max(value, 0.0)
        return value if self.at_most is None else min(value, self.at_most)

    def wire(self) -> dict[str, Any]:
        at_most = None if self.at_most is None else _decimal_text(self.at_most)
        return {"name": self.name, "higher_is_better": self.higher_is_better, "at_most": at_most}

    @staticmethod
    def parse(data: dict[str, Any] | None) -> TaskMetric:
        """From the chain's JSON (or client.py's settings); accuracy when absent (older tasks)."""
        if not data:
            return TaskMetric()
        bound = data.get("at_most")
        return TaskMetric(str(data["name"]), bool(data["higher_is_better"]), None if bound is None else float(bound))

    def describe(self) -> str:
        return f"{self.name} ({'higher' if self.higher_is_better else 'lower'} is better)"


KNOWN = {
    "accuracy": TaskMetric("accuracy", True, 1.0),
    "f1": TaskMetric("f1", True, 1.0),  # macro-averaged over classes
    "mse": TaskMetric("mse", False, None),
    "mae": TaskMetric("mae", False, None),
}
ACCURACY = KNOWN["accuracy"]  # what a task that names no metric reports


def compute(name: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    """A known metric of model outputs (class scores, or predictions) against targets."""
    if len(targets) == 0:
        return 0.0
    if name == "accuracy":
        return float((outputs.argmax(axis=1) == targets).mean())
    if name == "f1":
        predicted = outputs.argmax(axis=1)
        scores = []
        for cls in np.union1d(predicted, targets):
            true_positive = float(((predicted == cls) & (targets == cls)).sum())
            denominator = float((predicted == cls).sum() + (targets == cls).sum())
            scores.append(2 * true_positive / denominator if denominator else 0.0)
        return float(np.mean(scores))
    error = outputs.reshape(targets.shape).astype(np.float64) - targets
    if name == "mse":
        return float((error**2).mean())
    if name == "mae":
        return float(np.abs(error).mean())
    raise MetricError(f"the runtime computes {', '.join(KNOWN)}; {name!r} needs the task's own evaluate function")


def _decimal_text(value: float) -> str:
    return format(Decimal(repr(value)).normalize(), "f")
