"""The vocabulary of the Flower messages between a keeper and a trainer, in one place.

A train message carries the global model (`ARRAYS`) and a config record whose `SERVER_ROUND` is
the task's round on chain. A train reply carries the trained model, a metric record (example
count, training loss and the trainer's own timings) and the signed envelope (`ENVELOPE`). An
evaluate reply carries metrics (example count, loss and the value of the task's metric) and its
signed envelope. Both sides spell these names through this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

ARRAYS = "arrays"  # the record holding the model (client_kit.model_format's one-Array wire form)
METRICS = "metrics"
CONFIG = "config"
ENVELOPE = "envelope"  # the ConfigRecord holding the signed update claim

SERVER_ROUND = "server-round"  # config: the task's round number, counted across keeper restarts
NUM_EXAMPLES = "num-examples"  # the key Flower's FedAvg weights by
TRAIN_LOSS = "train-loss"
EVAL_LOSS = "eval-loss"
EVAL_VALUE = "eval-value"  # the task's metric (client_kit.metrics.TaskMetric names it)


@dataclass(frozen=True)
class TrainerTimings:
    """How long a train message took on the trainer's side, as the trainer reports it.

    Shown in the keeper's round timing only: never verified, never paid on.
    """

    delivery_s: float  # from the keeper creating the message to the trainer holding it
    train_s: float  # local training
    sign_s: float  # encoding the reply and signing it

    KEYS = ("delivery-s", "train-s", "sign-s")  # their metric names in the reply, in field order

    def to_metrics(self) -> dict[str, float]:
        return dict(zip(self.KEYS, (self.delivery_s, self.train_s, self.sign_s), strict=True))

    @staticmethod
    def from_metrics(metrics: Mapping[str, object]) -> TrainerTimings | None:
        """The timings in a reply's metrics, or None when any is missing, not a number, negative or
        not finite (they are shown live: a NaN would make the feed's JSON unreadable)."""
        values = [metrics.get(key) for key in TrainerTimings.KEYS]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < math.inf for v in values):
            return None
        return TrainerTimings(*(float(v) for v in values))  # type: ignore[arg-type]
