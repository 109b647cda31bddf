"""FedAvg bound to the chain: only verified updates from staked trainers reach the average.

A subclass of Flower's own FedAvg: Flower's loop moves the messages; this strategy chooses who
gets them (only nodes bound to staked trainers, `keepers.binding`: nobody else can stall a
round), judges every training reply (`keepers.verification`; a reply can never stop the round),
measures what each accepted update is worth (`keepers.contribution`: which updates make the new
model, and what the round credits each trainer), averages the chosen ones in place
(`keepers.fedavg`), and counts only signed evaluations (`keepers.evaluation`). After each round
the `on_round` hook receives everything the keeper must attest (the new global model's bytes, the
round's credits and score table, rejections with reasons and evidence, metrics), and `on_event`
sees each decision as it happens, for the live feed.

The global model moves through Flower's loop as the exact bytes of its checkpoint
(`client_kit.model_format`: one Array of safetensors bytes): the bytes the keeper pins to IPFS,
whose sha256 goes on chain, are the bytes trainers receive and check against the chain.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common import MessageType
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from client_kit.metrics import ACCURACY, TaskMetric
from client_kit.model_format import WIRE_KEY, ModelFormatError, bytes_of, encode, from_record, record_of
from client_kit.protocol import (
    ARRAYS,
    CONFIG,
    ENVELOPE,
    EVAL_LOSS,
    EVAL_VALUE,
    NUM_EXAMPLES,
    SERVER_ROUND,
    TRAIN_LOSS,
    TrainerTimings,
)
from client_kit.task_hub import Standing
from keepers.binding import Bindings
from keepers.contribution.pipeline import ClaimedContribution, ContributionPipeline, RoundInput, RoundWeights
from keepers.contribution.updates import Flattener, UpdateRows
from keepers.evaluation import Evaluation, EvaluationContext, aggregate, one_per_trainer, read_evaluation
from keepers.events import FeedEvent, LastReply, RoundStarted, RoundTiming, UpdateAccepted, UpdateRejected
from keepers.fedavg import weighted_average
from keepers.replies import metric_records, release_arrays, typed
from keepers.verification import Accepted, Rejected, UpdateContext, settle_duplicates, verify_update


@dataclass
class RoundOutcome:
    round: int
    names: list[str]
    arrays: list[np.ndarray]
    model: bytes  # the new global model's checkpoint: pinned, recorded on chain, sent next round
    accepted: list[Accepted]
    rejected: list[Rejected]
    credits: list[tuple[str, int]] = field(default_factory=list)  # what the round records on chain
    scores: dict[str, Any] = field(default_factory=dict)  # the score table behind the credits
    train_loss: float | None = None
    eval_loss: float | None = None
    eval_value: float | None = None  # the task's metric, by the trainers' signed evaluations
    eval_examples: int = 0
    timing: RoundTiming | None = None  # the round's phases as far as the strategy sees them


class ChainFedAvg(FedAvg):
    def __init__(
        self,
        bindings: Bindings,
        context_for_round: Callable[[int, list[str], list[np.ndarray], str], UpdateContext],
        standing: Callable[[str], Standing],
        on_round: Callable[[RoundOutcome], None],
        on_event: Callable[[FeedEvent], None] = lambda event: None,
        task_id: int = 0,
        round_offset: int = 0,
        federated_evaluation: bool = True,
        idle_wait_s: float = 0.0,
        contribution: ContributionPipeline | None = None,
        metric: TaskMetric = ACCURACY,
    ) -> None:
        super().__init__(fraction_train=1.0, fraction_evaluate=1.0 if federated_evaluation else 0.0)
        self._bindings = bindings
        self._context_for_round = context_for_round
        self._standing = standing
        self._on_round = on_round
        self._on_event = on_event
        self.task_id = task_id
        self.round_offset = round_offset
        self.idle_wait_s = idle_wait_s  # how long a round with no bound node waits for one
        self.federated_evaluation = federated_evaluation
        self.contribution = contribution or ClaimedContribution()
        self.metric = metric  # what trainers' evaluations report
        self._global: tuple[list[str], list[np.ndarray], str] = ([], [], "")
        self._global_model = b""
        self._clock: dict[str, float] = {}
        self._slowest: LastReply | None = None
        self._pending: RoundOutcome | None = None

    def task_round(self, server_round: int) -> int:
        """Flower counts from 1 in every run; the chain counts across restarts."""
        return server_round + self.round_offset

    @staticmethod
    def _messages(arrays: ArrayRecord, config: ConfigRecord, kind: str, nodes: list[int]) -> list[Message]:
        """One message per node bound to a staked trainer; nodes nobody staked for get nothing."""
        content = RecordDict({ARRAYS: arrays, CONFIG: config})
        return [Message(content=content, dst_node_id=n, message_type=kind) for n in nodes]

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self._clock = {"round_start": time.perf_counter()}
        names, views = from_record(arrays)
        self._global_model = bytes_of(arrays)
        self._global = (names, views, hashlib.sha256(self._global_model).hexdigest())
        task_round = self.task_round(server_round)
        self.contribution.prepare(self._global_model, task_round)  # while the trainers train
        config[SERVER_ROUND] = task_round
        # A round nobody is bound for waits a while for a trainer (late, or restarting); if none
        # comes it is attested empty: it pays nobody and penalizes nobody, and the run goes on.
        nodes = self._bindings.nodes(grid) or self._bindings.wait(grid, 1, self.idle_wait_s)
        messages = self._messages(arrays, config, MessageType.TRAIN, nodes)
        for message in messages:
            self._on_event(RoundStarted(self.task_id, task_round, int(message.metadata.dst_node_id)))
        return messages

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        if not self.federated_evaluation:
            return []
        config[SERVER_ROUND] = self.task_round(server_round)
        return self._messages(arrays, config, MessageType.EVALUATE, self._bindings.nodes(grid))

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Judges each reply as it arrives (`keepers.brisk_grid` yields them one by one), spills an
        accepted update's change to the round's file and drops the reply: the keeper holds a few
        models, never one per trainer. Scoring and the new model are passes over that file."""
        task_round = self.task_round(server_round)
        names, global_arrays, global_sha256 = self._global
        context = self._context_for_round(task_round, names, global_arrays, global_sha256)
        flattener = Flattener(names, global_arrays)
        with UpdateRows(flattener.size) as rows:
            return self._aggregate(task_round, context, flattener, rows, replies)

    def _aggregate(
        self,
        task_round: int,
        context: UpdateContext,
        flattener: Flattener,
        rows: UpdateRows,
        replies: Iterable[Message],
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        verdicts: list[Accepted | Rejected] = []
        loss_by_node: dict[int, float | None] = {}
        latest: tuple[float, LastReply] | None = None  # the path of the last-made reply
        last_arrival = self._clock["round_start"]
        for reply in replies:
            last_arrival = time.perf_counter()
            loss_by_node[int(reply.metadata.src_node_id)] = _train_loss(reply)
            path = reply_path(reply, time.time())
            if path is not None and (latest is None or path[0] > latest[0]):
                latest = path
            verdict, change = self._judge(context, reply, flattener)
            release_arrays(reply)
            if isinstance(verdict, Accepted) and change is not None:
                # Outside the judging: the keeper's own failure to write is no verdict on a trainer.
                verdict = replace(verdict, row=rows.append(change))
            verdicts.append(verdict)
        self._clock["replies_in"] = last_arrival  # verification hid behind the wait until here
        self._slowest = latest[1] if latest is not None else None
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        losses: list[tuple[float, int]] = []
        for verdict in settle_duplicates(verdicts):
            if isinstance(verdict, Accepted):
                accepted.append(verdict)
                loss = loss_by_node.get(verdict.node_id)
                if loss is not None:
                    losses.append((loss, verdict.num_examples))
                self._on_event(
                    UpdateAccepted(self.task_id, task_round, verdict.address, verdict.node_id, verdict.weight)
                )
            else:
                rejected.append(verdict)
                self._on_event(
                    UpdateRejected(
                        self.task_id, task_round, verdict.address, verdict.node_id, verdict.reason, verdict.malicious
                    )
                )
        self._clock["verified"] = time.perf_counter()
        round_input = RoundInput(
            self.task_id, task_round, flattener.names, flattener.base, self._global_model, accepted, rows
        )
        weights = self.contribution.weigh(round_input)
        self._clock["scored"] = time.perf_counter()
        new_arrays = new_global_model(flattener, rows, accepted, weights)
        train_loss = sum(loss * n for loss, n in losses) / sum(n for _, n in losses) if losses else None
        model = encode(flattener.names, new_arrays, {"task_id": str(self.task_id), "round": str(task_round)})
        self._clock["aggregated"] = time.perf_counter()
        self._pending = RoundOutcome(
            task_round,
            flattener.names,
            new_arrays,
            model,
            accepted,
            rejected,
            weights.credits,
            weights.table,
            train_loss,
        )
        metrics = MetricRecord({"accepted": len(accepted), "rejected": len(rejected)})
        return record_of(model), metrics

    def _judge(
        self, context: UpdateContext, reply: Message, flattener: Flattener
    ) -> tuple[Accepted | Rejected, np.ndarray | None]:
        """The verdict on one reply, and an accepted update's change to the global model (to be
        spilled). Never raises: whatever a node sends, the worst it gets is a rejection with a
        reason (anything unforeseen is unreadable, and proves nothing)."""
        node_id = int(reply.metadata.src_node_id)
        try:
            return self._verdict(context, reply, node_id, flattener)
        except Exception as error:  # a crafted reply must not stop the round for everyone else
            return Rejected(f"unreadable reply ({type(error).__name__})", node_id, None), None

    def _verdict(
        self, context: UpdateContext, reply: Message, node_id: int, flattener: Flattener
    ) -> tuple[Accepted | Rejected, np.ndarray | None]:
        if reply.has_error():
            return Rejected(f"trainer reported an error: {str(reply.error.reason)[:200]}", node_id, None), None
        content = reply.content
        record = typed(content, ARRAYS, ArrayRecord)
        metrics = _metric_record(reply)
        if record is None or metrics is None:
            return Rejected("reply lacks an 'arrays' ArrayRecord or a MetricRecord", node_id, None), None
        try:
            names, arrays = from_record(record)
        except ModelFormatError as error:
            return Rejected(f"unreadable model: {error}", node_id, None), None
        envelope = typed(content, ENVELOPE, ConfigRecord)
        update = memoryview(record[WIRE_KEY].data)  # the wire bytes, copied only as an offense's evidence
        bound_to = self._bindings.by_node.get(node_id)
        verdict = verify_update(
            context, node_id, names, arrays, metrics.get(NUM_EXAMPLES), envelope, self._standing, bound_to, update
        )
        if isinstance(verdict, Accepted):
            return verdict, flattener.delta(arrays)
        return verdict, None

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        """Signed evaluations of this round's model by staked trainers, aggregated robustly (never
        Flower's own aggregation, which raises when one reply's metrics differ from the others')."""
        outcome = self._pending
        if outcome is None:
            return None
        task = self._context_for_round(outcome.round, *self._global)
        context = EvaluationContext(
            chain_id=task.chain_id,
            contract=task.contract,
            task_id=task.task_id,
            round=outcome.round,
            model_sha256=hashlib.sha256(outcome.model).hexdigest(),
            max_examples=task.max_examples_per_trainer,
            metric=self.metric,
            prefix=task.bech32_prefix,
        )
        readings = [read_evaluation(reply, context, self._standing, self._bindings.by_node) for reply in replies]
        summary = aggregate(one_per_trainer([r for r in readings if isinstance(r, Evaluation)]))
        if summary is not None:
            outcome.eval_loss, outcome.eval_value, outcome.eval_examples = (
                summary.loss,
                summary.value,
                summary.examples,
            )
        clock, now = self._clock, time.perf_counter()
        outcome.timing = RoundTiming(
            train_wait_s=clock["replies_in"] - clock["round_start"],
            verify_s=clock["verified"] - clock["replies_in"],
            score_s=clock["scored"] - clock["verified"],
            aggregate_s=clock["aggregated"] - clock["scored"],
            evaluate_wait_s=now - clock["aggregated"],
            last_reply=self._slowest,
        )
        self._pending = None
        self._on_round(outcome)
        if summary is None:
            return None
        return MetricRecord({EVAL_LOSS: summary.loss, EVAL_VALUE: summary.value, NUM_EXAMPLES: summary.examples})


def new_global_model(
    flattener: Flattener, rows: UpdateRows, accepted: Sequence[Accepted], weights: RoundWeights
) -> list[np.ndarray]:
    """The global model moved by the weighted average of the chosen updates' changes — a second
    pass over the round's file, one update at a time (`keepers.fedavg`); what the validation
    set cannot measure (`weights.frozen`) stays the global model's."""
    chosen = [(a.row, w) for a, w in zip(accepted, weights.aggregation, strict=True) if w > 0]
    if not chosen:
        return [a.copy() for a in flattener.base]  # nothing worth taking arrived: keep the model
    buffer = np.empty(flattener.size, dtype=np.float32)
    changes = (((rows.row(row, buffer),), weight) for row, weight in chosen)
    (step,) = weighted_average(changes, float(sum(w for _, w in chosen)), [buffer])
    if weights.frozen is not None:
        step[weights.frozen] = 0
    return flattener.arrays(step)


def reply_path(reply: Message, arrived: float) -> tuple[float, LastReply] | None:
    """When a reply was made, and where it spent its time: the train message's delivery to the
    trainer (push, the trainer's poll, pull), local training, encoding and signing (all three as the
    trainer reports them: for the timing display only), and its way back to the keeper (`arrived`
    − made). None for a reply that reports no timings."""
    if reply.has_error():
        return None
    metrics = _metric_record(reply)
    timings = TrainerTimings.from_metrics(metrics) if metrics is not None else None
    if timings is None:
        return None
    created = reply.metadata.created_at
    return created, LastReply(timings.delivery_s, timings.train_s, timings.sign_s, max(0.0, arrived - created))


def _metric_record(reply: Message) -> MetricRecord | None:
    records = metric_records(reply)
    return records[0] if records else None


def _train_loss(reply: Message) -> float | None:
    """The reply's training loss if it is a finite number (it is shown, never paid on)."""
    if reply.has_error():
        return None
    metrics = _metric_record(reply)
    value = metrics.get(TRAIN_LOSS) if metrics is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
