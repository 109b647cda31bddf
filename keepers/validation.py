"""The keeper's own check of each global model: its validation set, scored by the task's code, apart.

The score goes on chain, so it must be computed the way the task defines it: by the task's own
client.py (fetched by CID, checked against its sha256 on chain). That code is the organization's,
so it runs in the sandboxed task worker (`client_kit.worker`): the keeper's key, which attests
and slashes for every task naming this keeper, is never in reach of it, and neither is the network.
Only numbers come back, and they are checked: finite, in range, and counting exactly the
examples the keeper holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from client_kit.data import DataError, load_folder
from client_kit.metrics import TaskMetric
from client_kit.task_hub import MAX_LOSS
from client_kit.worker import TaskWorker, WorkerError, numbers


@dataclass(frozen=True)
class Score:
    loss: float
    value: float  # the task's metric
    examples: int


class Validator:
    """Scores global models on the keeper's labelled data with the task's code, in its worker; for a
    task that pays for measured contribution it is also the pipeline's `ValidationOracle`."""

    def __init__(
        self,
        client_source: bytes,
        folder: Path,
        metric: TaskMetric,
        sandbox: bool = True,
        timeout: float | None = None,
    ) -> None:
        self.metric = metric
        data = load_folder(folder)
        self.examples = len(data)  # the keeper's count, to hold the task's code to it
        self.sha256 = data.sha256()  # what a task that pays for measured contribution names on chain
        self._worker = TaskWorker(client_source, folder, sandbox=sandbox, timeout=timeout)

    def score(self, model: bytes) -> Score:
        answer = self._worker.evaluate(model)
        loss, value = numbers(answer, "loss", "metric")
        if not 0 <= loss <= MAX_LOSS or not self.metric.allows(value):
            raise WorkerError(f"the task's code scored loss {loss} and {self.metric.name} {value}: out of range")
        if answer.get("num_examples") != self.examples:
            raise WorkerError(f"the task's code scored {answer.get('num_examples')} examples, not {self.examples}")
        return Score(loss, value, self.examples)

    def root_update(self, model: bytes, task_round: int) -> bytes:
        """The task's own training step from `model` on the validation set: the trust reference."""
        return self._worker.train(model, task_round)[1]

    def losses(self, model: bytes, row_sets: Sequence[Sequence[int]]) -> list[float]:
        """`model`'s loss on each set of validation rows. A model the task's code cannot score —
        NaN, infinite or beyond MAX_LOSS, say a BatchNorm variance gone negative — scores MAX_LOSS:
        the worst there is, never a failure of the scoring (which one update could then force)."""
        losses = [loss if math.isfinite(loss) else MAX_LOSS for loss in self._worker.losses(model, row_sets)]
        if any(loss < 0 for loss in losses):
            raise WorkerError(f"the task's code scored losses {losses[:4]}: a loss is never negative")
        return [min(loss, MAX_LOSS) for loss in losses]

    def close(self) -> None:
        self._worker.close()


def find_validation_set(folder: Path | None, sha256: str) -> Path | None:
    """The data folder under the keeper's `folder` (the folder itself or one of its sub-folders)
    whose data has this fingerprint: a task that pays for measured contribution names its
    validation set by sha256, and the organization hands the keeper the set itself."""
    if folder is None or not folder.is_dir():
        return None
    for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        try:
            if load_folder(candidate).sha256() == sha256:
                return candidate
        except DataError:
            continue
    return None
