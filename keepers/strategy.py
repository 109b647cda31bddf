"""FedAvg bound to the chain: only verified updates from staked trainers reach the average.

A subclass of Flower's own FedAvg: sampling, messaging and evaluation stay Flower's; training
replies go through `keepers.verification` one by one, and the accepted ones are averaged in place
by `keepers.fedavg`. After each round's evaluation the `on_round` hook receives everything the
keeper must attest (new global arrays, accepted contributors with weights, rejections with
reasons, metrics), and `on_event` sees each decision as it happens, for the live feed. The global
model moves through Flower's loop in the wire format trainers get (`client_kit.model_format`: one
Array of safetensors bytes), so it is encoded once per round and read without copies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from client_kit.model_format import ModelFormatError, from_record, to_record
from keepers.fedavg import weighted_average
from keepers.verification import Accepted, Rejected, UpdateContext, verify_update


@dataclass
class RoundOutcome:
    round: int
    names: list[str]
    arrays: list[np.ndarray]
    accepted: list[Accepted]
    rejected: list[Rejected]
    train_loss: float | None = None
    eval_loss: float | None = None
    eval_accuracy: float | None = None
    eval_examples: int = 0
    timing: dict[str, float] = field(default_factory=dict)  # seconds per phase of the round


class ChainFedAvg(FedAvg):
    def __init__(
        self,
        trainers: int,
        context_for_round: Callable[[int, list[str], list[np.ndarray]], UpdateContext],
        standing: Callable[[str], str],
        on_round: Callable[[RoundOutcome], None],
        on_event: Callable[..., None] = lambda kind, **fields: None,
        round_offset: int = 0,
        federated_evaluation: bool = True,
    ) -> None:
        # Fraction sampling is taken before nodes arrive: wait for exactly the task's trainers.
        super().__init__(
            fraction_train=1.0,
            fraction_evaluate=1.0 if federated_evaluation else 0.0,
            min_train_nodes=trainers,
            min_evaluate_nodes=trainers,
            min_available_nodes=trainers,
        )
        self._context_for_round = context_for_round
        self._standing = standing
        self._on_round = on_round
        self._on_event = on_event
        self.round_offset = round_offset
        self._global: tuple[list[str], list[np.ndarray]] = ([], [])
        self._clock: dict[str, float] = {}
        self._slowest: dict[str, float] = {}
        self._pending: RoundOutcome | None = None

    def task_round(self, server_round: int) -> int:
        """Flower counts from 1 in every run; the chain counts across restarts."""
        return server_round + self.round_offset

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self._clock = {"round_start": time.perf_counter()}
        self._global = from_record(arrays)
        config["server-round"] = self.task_round(server_round)
        messages = list(super().configure_train(server_round, arrays, config, grid))
        for message in messages:
            message.content["config"]["server-round"] = self.task_round(server_round)
            self._on_event("round_started", round=self.task_round(server_round), node_id=message.metadata.dst_node_id)
        return messages

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        messages = list(super().configure_evaluate(server_round, arrays, config, grid))
        for message in messages:
            message.content["config"]["server-round"] = self.task_round(server_round)
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        task_round = self.task_round(server_round)
        replies = list(replies)
        self._clock["replies_in"] = time.perf_counter()
        self._slowest = slowest_reply_path(replies, time.time())
        names, global_arrays = self._global
        context = self._context_for_round(task_round, names, global_arrays)
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        losses: list[tuple[float, int]] = []
        for reply in replies:
            verdict = self._judge(context, reply)
            if isinstance(verdict, Accepted):
                accepted.append(verdict)
                metrics = _metric_record(reply)
                if metrics is not None and "train-loss" in metrics:
                    losses.append((float(metrics["train-loss"]), verdict.num_examples))
                self._on_event(
                    "update_accepted",
                    round=task_round,
                    trainer=verdict.address,
                    node_id=verdict.node_id,
                    weight=verdict.weight,
                )
            else:
                rejected.append(verdict)
                self._on_event(
                    "update_rejected",
                    round=task_round,
                    trainer=verdict.address,
                    node_id=verdict.node_id,
                    reason=verdict.reason,
                    malicious=verdict.malicious,
                )
        self._clock["verified"] = time.perf_counter()
        if accepted:
            total = float(sum(a.weight for a in accepted))
            new_arrays = weighted_average(((a.arrays, float(a.weight)) for a in accepted), total)
        else:
            new_arrays = [a.copy() for a in global_arrays]  # nothing trustworthy arrived: keep the model
        train_loss = sum(loss * n for loss, n in losses) / sum(n for _, n in losses) if losses else None
        self._clock["aggregated"] = time.perf_counter()
        self._pending = RoundOutcome(task_round, names, new_arrays, accepted, rejected, train_loss=train_loss)
        metrics = MetricRecord({"accepted": len(accepted), "rejected": len(rejected)})
        return to_record(names, new_arrays), metrics

    def _judge(self, context: UpdateContext, reply: Message) -> Accepted | Rejected:
        node_id = int(reply.metadata.src_node_id)
        if reply.has_error():
            return Rejected(f"trainer reported an error: {reply.error.reason}", node_id, None, malicious=False)
        content = reply.content
        record = content.array_records.get("arrays") if "arrays" in content.array_records else None
        metrics = _metric_record(reply)
        if record is None or metrics is None:
            return Rejected("reply lacks an 'arrays' ArrayRecord or a MetricRecord", node_id, None, malicious=False)
        try:
            names, arrays = from_record(record)
        except ModelFormatError as error:
            return Rejected(f"unreadable model: {error}", node_id, None, malicious=False)
        envelope = content.config_records.get("envelope") if "envelope" in content.config_records else None
        return verify_update(
            context, node_id, names, arrays, metrics.get(self.weighted_by_key), envelope, self._standing
        )

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        replies = list(replies)
        aggregated = super().aggregate_evaluate(server_round, replies)
        outcome = self._pending
        if outcome is None:
            return aggregated
        if aggregated is not None:
            outcome.eval_loss = _float(aggregated.get("eval-loss"))
            outcome.eval_accuracy = _float(aggregated.get("eval-acc"))
        clock, now = self._clock, time.perf_counter()
        outcome.timing = {
            "train_wait_s": clock["replies_in"] - clock["round_start"],
            "verify_s": clock["verified"] - clock["replies_in"],
            "aggregate_s": clock["aggregated"] - clock["verified"],
            "evaluate_wait_s": now - clock["aggregated"],
            **self._slowest,
        }
        outcome.eval_examples = sum(
            int(m["num-examples"])
            for r in replies
            if not r.has_error() and (m := _metric_record(r)) is not None and "num-examples" in m
        )
        self._pending = None
        self._on_round(outcome)
        return aggregated


TRAINER_TIMES = ("delivery-s", "train-s", "sign-s")  # what a trainer's reply reports of its part


def slowest_reply_path(replies: list[Message], arrived: float) -> dict[str, float]:
    """Where the round's last reply spent its time: the train message's delivery to the trainer
    (push, the trainer's poll, pull), local training, encoding and signing (all three as the trainer
    reports them: for the timing display only), and the reply's way back to the keeper."""
    timed = [
        (reply.metadata.created_at, metrics)
        for reply in replies
        if not reply.has_error()
        and (metrics := _metric_record(reply)) is not None
        and all(isinstance(metrics.get(key), int | float) for key in TRAINER_TIMES)
    ]
    if not timed:
        return {}
    created, metrics = max(timed, key=lambda pair: pair[0])
    return {
        "delivery_s": float(metrics["delivery-s"]),
        "local_train_s": float(metrics["train-s"]),
        "sign_s": float(metrics["sign-s"]),
        "return_s": max(0.0, arrived - created),
    }


def _metric_record(reply: Message) -> MetricRecord | None:
    records = reply.content.metric_records
    return next(iter(records.values())) if len(records) else None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
