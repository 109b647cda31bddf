"""Trainers' evaluations of a global model: only signed ones count, aggregated robustly.

An evaluate reply is untrusted input like any other: a missing or extra metric, a NaN, an
accuracy of 7 (any value the task's metric cannot take) or a claim of 10^30 examples must
neither stop the round nor move the figure that goes on chain. A reply counts only if it carries
an evaluation claim signed by a staked, unslashed trainer of the task for exactly this model and
round (one per trainer), its numbers are in range, its example count is capped by the task's
cap, and the round's figure is the weighted median of what remains, which a minority of liars
cannot drag to where they want it.
The keeper's own validation, when it has one, outranks all of this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flwr.app import ConfigRecord, Message

from client_kit.envelope import EnvelopeError, EvaluationClaim, SignedEnvelope, verify_envelope
from client_kit.metrics import ACCURACY, TaskMetric
from client_kit.protocol import ENVELOPE, EVAL_LOSS, EVAL_VALUE, NUM_EXAMPLES
from client_kit.task_hub import MAX_LOSS, Standing
from keepers.replies import metric_records, release_arrays, typed
from keepers.verification import whole_number


@dataclass(frozen=True)
class Evaluation:
    node_id: int
    address: str
    examples: int  # already capped
    loss: float
    value: float  # the task's metric


@dataclass(frozen=True)
class EvaluationContext:
    """What an evaluation must be of: this task and round, the model with this sha256."""

    chain_id: str
    contract: str
    task_id: int
    round: int
    model_sha256: str
    max_examples: int
    metric: TaskMetric = ACCURACY
    prefix: str = "wasm"


@dataclass(frozen=True)
class RoundEvaluation:
    loss: float
    value: float
    examples: int


def read_evaluation(
    reply: Message, context: EvaluationContext, standing: Callable[[str], Standing], bound: Mapping[int, str]
) -> Evaluation | str:
    """The reply's evaluation, or the reason it does not count; `bound` maps nodes to the staked
    addresses they answer for. Never raises."""
    try:
        return _read(reply, context, standing, bound)
    except Exception as error:  # a crafted reply is dropped, never raised
        return f"unreadable evaluation ({type(error).__name__})"


def _read(
    reply: Message, context: EvaluationContext, standing: Callable[[str], Standing], bound: Mapping[int, str]
) -> Evaluation | str:
    if reply.has_error():
        return f"trainer reported an error: {str(reply.error.reason)[:200]}"
    release_arrays(reply)  # an evaluation carries no arrays: whatever was attached goes now
    records = metric_records(reply)
    if len(records) != 1:
        return f"expected one MetricRecord, got {len(records)}"
    (metrics,) = records
    if set(metrics) != {NUM_EXAMPLES, EVAL_LOSS, EVAL_VALUE}:
        return f"metrics must be exactly {NUM_EXAMPLES}, {EVAL_LOSS}, {EVAL_VALUE}"
    examples = whole_number(metrics[NUM_EXAMPLES])
    loss, value = metrics[EVAL_LOSS], metrics[EVAL_VALUE]
    if examples is None or examples < 1:
        return "num-examples must be a positive whole number"
    if not _finite_number(loss) or not 0 <= float(loss) <= MAX_LOSS:  # type: ignore[arg-type]
        return f"eval-loss must be a number from 0 to {MAX_LOSS:g}"
    if not _finite_number(value) or not context.metric.allows(float(value)):  # type: ignore[arg-type]
        return f"{EVAL_VALUE} must be a value {context.metric.name} can take"
    signed = typed(reply.content, ENVELOPE, ConfigRecord)
    if signed is None:
        return "unsigned evaluation"
    node = int(reply.metadata.src_node_id)
    expected = EvaluationClaim(
        chain_id=context.chain_id,
        contract=context.contract,
        task_id=context.task_id,
        round=context.round,
        model=context.model_sha256,
        num_examples=examples,
        loss=f"{float(loss):.6f}",  # type: ignore[arg-type]
        metric=context.metric.name,
        value=f"{float(value):.6f}",  # type: ignore[arg-type]
    )
    try:
        envelope = SignedEnvelope.from_record(signed, EvaluationClaim)
        address = verify_envelope(envelope, expected, context.prefix)
    except EnvelopeError as error:
        return f"bad evaluation signature: {error}"
    if bound.get(node) != address:
        return f"node {node} does not answer for {address}"
    if standing(address) != Standing.ACTIVE:
        return f"{address} is not a staked, unslashed trainer of task {context.task_id}"
    return Evaluation(node, address, min(examples, context.max_examples), float(loss), float(value))  # type: ignore[arg-type]


def one_per_trainer(evaluations: Sequence[Evaluation]) -> list[Evaluation]:
    """A trainer's first evaluation counts; any other it sends for the round does not."""
    seen: set[str] = set()
    kept = []
    for evaluation in evaluations:
        if evaluation.address not in seen:
            seen.add(evaluation.address)
            kept.append(evaluation)
    return kept


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
    """Weighted medians of the loss and the metric, and the (capped) examples they cover."""
    if not evaluations:
        return None
    weights = [e.examples for e in evaluations]
    return RoundEvaluation(
        loss=weighted_median([e.loss for e in evaluations], weights),
        value=weighted_median([e.value for e in evaluations], weights),
        examples=sum(weights),
    )
