"""The keeper's own check of each global model: its validation set, scored by the task's code, apart.

The score goes on chain, so it must be computed the way the task defines it: by the task's own
client.py (fetched by CID, checked against its sha256 on chain). That code is the organization's,
so it runs in the sandboxed task worker (`client_kit.worker`): the keeper's key, which attests
and slashes for every task naming this keeper, is never in reach of it, and neither is the network.
Only three numbers come back, and they are checked: finite, in range, and counting exactly the
examples the keeper holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from client_kit.data import load_folder
from client_kit.task_hub import MAX_LOSS
from client_kit.worker import TaskWorker, WorkerError, numbers


@dataclass(frozen=True)
class Score:
    loss: float
    accuracy: float
    examples: int


class Validator:
    """Scores global models on the keeper's labelled data with the task's code, in its worker."""

    def __init__(self, client_source: bytes, folder: Path, sandbox: bool = True, timeout: float | None = None) -> None:
        self.examples = len(load_folder(folder))  # the keeper's count, to hold the task's code to it
        self._worker = TaskWorker(client_source, folder, sandbox=sandbox, timeout=timeout)

    def score(self, model: bytes) -> Score:
        answer = self._worker.evaluate(model)
        loss, accuracy = numbers(answer, "loss", "accuracy")
        if not 0 <= loss <= MAX_LOSS or not 0 <= accuracy <= 1:
            raise WorkerError(f"the task's code scored loss {loss} and accuracy {accuracy}: out of range")
        if answer.get("num_examples") != self.examples:
            raise WorkerError(f"the task's code scored {answer.get('num_examples')} examples, not {self.examples}")
        return Score(loss, accuracy, self.examples)

    def close(self) -> None:
        self._worker.close()
