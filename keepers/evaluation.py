"""Trainers' evaluations of a global model: read each reply defensively, aggregate robustly.

An evaluate reply is untrusted input like any other: a missing or extra metric, a NaN, an
accuracy of 7 or a claim of 10^30 examples must neither stop the round nor move the figure that
goes on chain. Each reply is read on its own (a bad one is dropped with a reason), example counts
are capped by the task's cap, and the round's figure is the weighted median of what remains,
which a minority of liars cannot drag to where they want it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from flwr.app import Message

from client_kit.protocol import EVAL_ACCURACY, EVAL_LOSS, NUM_EXAMPLES
from keepers.verification import whole_number

MAX_LOSS = 1e6


@dataclass(frozen=True)
class Evaluation:
    node_id: int
    examples: int  # already capped
    loss: float
    accuracy: float


@dataclass(frozen=True)
class RoundEvaluation:
    loss: float
    accuracy: float
    examples: int


def read_evaluation(reply: Message, max_examples: int) -> Evaluation | str:
    """The reply's evaluation, or the reason it does not count."""
    if reply.has_error():
        return f"trainer reported an error: {str(reply.error.reason)[:200]}"
    records = reply.content.metric_records
    if len(records) != 1:
        return f"expected one MetricRecord, got {len(records)}"
    metrics = next(iter(records.values()))
    if set(metrics) != {NUM_EXAMPLES, EVAL_LOSS, EVAL_ACCURACY}:
        return f"metrics must be exactly {NUM_EXAMPLES}, {EVAL_LOSS}, {EVAL_ACCURACY}"
    examples = whole_number(metrics[NUM_EXAMPLES])
    loss, accuracy = metrics[EVAL_LOSS], metrics[EVAL_ACCURACY]
    if examples is None or examples < 1:
        return "num-examples must be a positive whole number"
    if not _finite_number(loss) or not 0 <= float(loss) <= MAX_LOSS:  # type: ignore[arg-type]
        return f"eval-loss must be a number from 0 to {MAX_LOSS:g}"
    if not _finite_number(accuracy) or not 0 <= float(accuracy) <= 1:  # type: ignore[arg-type]
        return "eval-acc must be a number from 0 to 1"
    return Evaluation(int(reply.metadata.src_node_id), min(examples, max_examples), float(loss), float(accuracy))  # type: ignore[arg-type]


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def weighted_median(values: Sequence[float], weights: Sequence[int]) -> float:
    """The smallest value at which the cumulative weight reaches half the total."""
    pairs = sorted(zip(values, weights, strict=True))
    half, running = sum(weights) / 2, 0
    for value, weight in pairs:
        running += weight
        if running >= half:
            return value
    raise ValueError("no values to take the median of")


def aggregate(evaluations: Sequence[Evaluation]) -> RoundEvaluation | None:
    """Weighted medians of loss and accuracy, and the (capped) examples they cover."""
    if not evaluations:
        return None
    weights = [e.examples for e in evaluations]
    return RoundEvaluation(
        loss=weighted_median([e.loss for e in evaluations], weights),
        accuracy=weighted_median([e.accuracy for e in evaluations], weights),
        examples=sum(weights),
    )
