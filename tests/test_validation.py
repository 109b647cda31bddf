"""The keeper's validation runs the organization's code: whatever that code does, rounds go on.

The organization could ship a client.py that behaves for trainers but fails, answers out of
range, or hangs in the keeper's validator (which evaluates without ever training). Each used to
stop the run before any round was attested, so the keeper lost its bond to the organization. Now
the round is recorded with the trainers' figures instead. Real task workers, sandboxed.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from client_kit.metrics import ACCURACY
from client_kit.model_format import encode
from client_kit.sandbox import bwrap
from client_kit.worker import TaskWorker, WorkerError
from keepers.flower_server import TaskKeeper
from keepers.validation import Validator

SANDBOX = bwrap() is not None

MODEL = """
import numpy as np
from types import SimpleNamespace

SETTINGS = SimpleNamespace(
    input_scale=1.0,
    epochs=1,
    learning_rate=0.1,
    input_shape=(4,),
    classes=2,
    objective="classification",
    standardize=None,
)


class Model:
    names = ["w", "b"]
    input_shape = (4,)
    classes = 2

    def __init__(self):
        self.arrays = [np.zeros((4, 3), np.float32), np.zeros(3, np.float32)]
        self.trained = False  # a trainer trains before it evaluates; the keeper's validator never does

    def get_arrays(self):
        return self.arrays

    def set_arrays(self, arrays):
        self.arrays = list(arrays)

    def fit(self, x, y, epochs, learning_rate, seed):
        self.trained = self.trained or learning_rate > 0  # the worker's warm-up fit uses rate 0
        return 0.5

    def evaluate(self, x, y):
        return EVALUATE(self)


def build_model():
    return Model()
"""
OUT_OF_RANGE = "EVALUATE = lambda model: (0.5, 0.9) if model.trained else (0.5, 1.5)\n"
HANGS = "import time\nEVALUATE = lambda model: (0.5, 0.9) if model.trained else time.sleep(3600)\n"
GLOBAL = encode(["w", "b"], [np.zeros((4, 3), np.float32), np.zeros(3, np.float32)])


def _data(folder: Path) -> Path:
    folder.mkdir()
    np.savez(folder / "d.npz", x=np.zeros((6, 4), np.float32), y=np.array([0, 1, 0, 1, 0, 1]))
    return folder


def _keeper(validator: Validator) -> TaskKeeper:
    """Just the part of a TaskKeeper that validates (no chain, IPFS or feed is involved)."""
    keeper = TaskKeeper.__new__(TaskKeeper)
    keeper.task = SimpleNamespace(id=5)  # type: ignore[assignment]
    keeper._validator = validator
    return keeper


@pytest.mark.parametrize(("code", "timeout"), [(OUT_OF_RANGE, None), (HANGS, 3.0)])
def test_task_code_that_misbehaves_only_in_the_validator_does_not_stop_the_round(
    tmp_path: Path, code: str, timeout: float | None
) -> None:
    source = (code + MODEL).encode()
    validator = Validator(source, _data(tmp_path / "validation"), ACCURACY, sandbox=SANDBOX, timeout=timeout)
    try:
        with pytest.raises(WorkerError):  # what used to propagate out of the attestation
            validator.score(GLOBAL)
        started = time.monotonic()
        assert _keeper(validator).validate(GLOBAL) is None  # the trainers' figures are recorded instead
        assert time.monotonic() - started < 10
    finally:
        validator.close()


def test_a_worker_cannot_answer_with_a_model_far_larger_than_the_one_sent(tmp_path: Path) -> None:
    """The worker's answer was read up to 4 GiB whatever the model's size: the organization's code
    could exhaust a trainer's memory. An answer's model may now be only slightly larger."""
    bloat = (
        'import sys\n_session = sys.modules["__main__"].TemplateTask\n'
        "_session.train = lambda self, header, model: ({'loss': 0.1, 'num_examples': 6}, b'x' * (64 << 20))\n"
    )
    source = ("EVALUATE = lambda model: (0.5, 0.5)\n" + MODEL + bloat).encode()
    worker = TaskWorker(source, _data(tmp_path / "data"), sandbox=SANDBOX)
    try:
        with pytest.raises(WorkerError, match="a blob of"):
            worker.train(GLOBAL, 1)
    finally:
        worker.close()
