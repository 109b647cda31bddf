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
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

import numpy as np

_NAME = re.compile(r"[a-z0-9_-]{1,32}")  # the contract's rule for a metric name (matched whole)
PLACES = Decimal("0.000001")  # a round records its figures to 6 decimal places
MAX_BOUND = 1e15  # the largest upper bound a task may name (a recorded value stays within the contract's Decimal)


def floor_places(value: float | Decimal) -> Decimal:
    """`value` to 6 decimal places, rounded down (exact for a float: its shortest repr)."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return exact.quantize(PLACES, rounding=ROUND_DOWN)


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
    at_most: float | None = 1.0  # at most 6 decimal places: what a round records is floored to them

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise MetricError(f"a metric name is 1-32 lowercase letters, digits, '_' or '-', got {self.name!r}")
        if self.at_most is None:
            return
        try:
            bound = float(self.at_most)
        except (TypeError, ValueError, OverflowError):
            raise MetricError(f"a metric's upper bound must be a number, got {str(self.at_most)[:40]}") from None
        # 0 only as the chain's bound of under a millionth, floored (the contract refuses 0 itself)
        if not (math.isfinite(bound) and 0 <= bound <= MAX_BOUND) or floor_places(bound) != Decimal(repr(bound)):
            raise MetricError(
                f"a metric's upper bound is a positive number up to {MAX_BOUND:g} with at most 6 decimal places, "
                f"got {self.at_most}"
            )
        object.__setattr__(self, "at_most", bound)

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

    def recorded(self, value: float) -> Decimal:
        """The value as a round records it, one the contract always accepts: clamped to [0, bound]
        (not a number: the metric's worst), floored to 6 places (never rounded up past the bound),
        never negative zero. A wild figure must not make an attestation fail."""
        if not math.isfinite(value):
            value = 0.0 if self.higher_is_better else (self.at_most or MAX_BOUND)
        value = min(max(value, 0.0), self.at_most if self.at_most is not None else MAX_BOUND)
        return abs(floor_places(value))

    def wire(self) -> dict[str, Any]:
        at_most = None if self.at_most is None else _decimal_text(self.at_most)
        return {"name": self.name, "higher_is_better": self.higher_is_better, "at_most": at_most}

    @staticmethod
    def parse(data: dict[str, Any] | None) -> TaskMetric:
        """From the chain's JSON (or client.py's settings); accuracy when absent (older tasks)."""
        if not data:
            return TaskMetric()
        bound = data.get("at_most")
        if bound is not None:  # the chain may hold more places than a round records: the bound is what is recordable
            bound = float(min(floor_places(Decimal(str(bound))), Decimal(repr(MAX_BOUND))))
        return TaskMetric(str(data["name"]), bool(data["higher_is_better"]), bound)

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
