"""The task-code worker: the one process that runs an organization's client.py, and its handle.

The worker process (`python -I -m client_kit.worker DATA_DIR`, normally inside the sandbox of
`client_kit.sandbox`) receives client.py's verified bytes over its stdin and runs them as a
module (never as `__main__`), opens the task it defines — a template's model behind a training
loop, or the organization's own Flower ClientApp (`client_kit.flower_host`) — loads the local
data, and then answers requests: train the model it is sent, evaluate it, or measure its loss on
subsets of the data. It holds no key and, sandboxed, has no
network: whatever it returns, the caller (a trainer's signer, a keeper's validator) checks before
using it. `TaskWorker` is the caller's side.

Frames on the pipes: 4-byte length + JSON header, then 8-byte length + a binary blob (model bytes).
The worker's own stdout is the protocol channel, so the organization's code prints to stderr.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import numpy as np

from client_kit.data import DataError, LocalData, load_folder
from client_kit.flower_host import FlowerAppTask
from client_kit.metrics import Objective
from client_kit.model_format import decode, encode
from client_kit.models import TrainableModel
from client_kit.sandbox import python_executable, sandboxed
from client_kit.settings import ClientSettings

MAX_HEADER = 1 << 20
MAX_BLOB = 4 << 30
CLIENT_MODULE = "fedchain_task_client"


class WorkerError(RuntimeError):
    """The task's code failed, or the worker broke the protocol; the message says which."""


# --- framing -------------------------------------------------------------------------------
def write_frame(stream: IO[bytes], header: dict[str, Any], blob: bytes = b"") -> None:
    text = json.dumps(header).encode()
    stream.write(len(text).to_bytes(4, "little") + text + len(blob).to_bytes(8, "little"))
    stream.write(blob)
    stream.flush()


def read_frame(stream: IO[bytes], max_blob: int = MAX_BLOB) -> tuple[dict[str, Any], bytes]:
    size = int.from_bytes(_exactly(stream, 4), "little")
    if size > MAX_HEADER:
        raise WorkerError(f"a frame header of {size} bytes")
    try:
        header = json.loads(_exactly(stream, size))
    except (ValueError, RecursionError):  # the task's code may write anything, nested deep
        raise WorkerError("a frame header that is not JSON") from None
    if not isinstance(header, dict):
        raise WorkerError("a frame header that is not a JSON object")
    blob_size = int.from_bytes(_exactly(stream, 8), "little")
    if blob_size > max_blob:
        raise WorkerError(f"a blob of {blob_size} bytes")
    return header, _exactly(stream, blob_size)


def _exactly(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise WorkerError("the worker's pipe closed mid-frame")
    return data


# --- the worker process ----------------------------------------------------------------------
class TemplateTask:
    """A task whose client.py builds a model (`build_model()`) for the runtime's training loop or the
    organization's own (the numpy and torch templates), on data preprocessed as the task declares."""

    def __init__(self, module: ModuleType, data: LocalData | None) -> None:
        self.settings: ClientSettings = module.SETTINGS
        self.model: TrainableModel = module.build_model()
        self.data = data

    def describe(self) -> dict[str, Any]:
        arrays = self.model.get_arrays()
        found = {"names": list(self.model.names), "parameters": int(sum(a.size for a in arrays))}
        if self.data is not None:
            self._check_fits(self.data)
            x, y = self._features(self.data)
            self.model.fit(x[:2], y[:2], epochs=1, learning_rate=0.0, seed=0)  # warm up (PyTorch's first step)
            found["examples"] = len(self.data)
        return found

    def _check_fits(self, data: LocalData) -> None:
        shape, expected = tuple(data.x.shape[1:]), tuple(self.settings.input_shape)
        if int(np.prod(shape)) != int(np.prod(expected)):
            raise DataError(
                f"data in {data.source} has examples of shape {shape}, but the task's model expects {expected}"
            )
        if self.settings.objective == Objective.CLASSIFICATION:
            if data.y.dtype.kind == "f":
                raise DataError(f"labels in {data.source} must be whole numbers (class indices)")
            if data.y.min() < 0 or data.y.max() >= self.settings.classes:
                raise DataError(f"labels in {data.source} must lie in 0..{self.settings.classes - 1}")

    def _features(self, data: LocalData) -> tuple[np.ndarray, np.ndarray]:
        """Inputs as the model sees them (scaled by the task's input_scale, then standardized if the
        task declares it: trainers and the keeper's validation apply the same numbers), and labels."""
        x = (data.x / np.float32(self.settings.input_scale)).astype(np.float32)
        if self.settings.standardize is not None:
            x = self.settings.standardize.apply(x)
        return x, data.y

    def _load(self, model: bytes) -> None:
        names, arrays, _ = decode(model)
        if names != list(self.model.names):
            raise WorkerError(f"the model sent has layers {names[:4]}…, the task's model {self.model.names[:4]}…")
        self.model.set_arrays(arrays)

    def train(self, header: dict[str, Any], model: bytes) -> tuple[dict[str, Any], bytes]:
        if self.data is None:
            raise WorkerError("this worker has no data to train on")
        self._load(model)
        x, y = self._features(self.data)
        loss = self.model.fit(x, y, self.settings.epochs, self.settings.learning_rate, seed=int(header["round"]))
        update = encode(self.model.names, self.model.get_arrays())
        return {"loss": float(loss), "num_examples": len(y)}, update

    def evaluate(self, model: bytes) -> dict[str, Any]:
        if self.data is None:
            raise WorkerError("this worker has no data to evaluate on")
        self._load(model)
        loss, value = self.model.evaluate(*self._features(self.data))
        return {"loss": float(loss), "metric": float(value), "num_examples": len(self.data)}

    def losses(self, row_sets: list[np.ndarray], model: bytes) -> list[float]:
        self._load(model)
        x, y = self._features(self.data)  # type: ignore[arg-type]
        return [float(self.model.evaluate(x[rows], y[rows])[0]) for rows in row_sets]


def load_task(
    source: bytes, data: LocalData | None, node_config: Mapping[str, Any] | None = None
) -> TemplateTask | FlowerAppTask:
    """Run client.py's bytes as a module (never as __main__) and open the task it defines: an
    organization's Flower app (with the trainer's `node_config`) when it defines `client_app()`,
    else a template's `build_model()`."""
    module = ModuleType(CLIENT_MODULE)
    module.__file__ = "<client.py, verified against the chain>"
    sys.modules[CLIENT_MODULE] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    if hasattr(module, "client_app"):
        return FlowerAppTask(module.client_app(), module.SETTINGS.flower, data, dict(node_config or {}))
    return TemplateTask(module, data)


def _row_sets(header: dict[str, Any], data: LocalData | None) -> list[np.ndarray]:
    """The row subsets a `losses` request names, checked against the data."""
    if data is None:
        raise WorkerError("this worker has no data to evaluate on")
    row_sets = header.get("row_sets")
    if not isinstance(row_sets, list) or not all(isinstance(rows, list) and rows for rows in row_sets):
        raise WorkerError("row_sets must be a list of non-empty lists of row indices")
    indexes = [np.asarray(rows, dtype=np.int64) for rows in row_sets]
    if any(index.min() < 0 or index.max() >= len(data) for index in indexes):
        raise WorkerError(f"row indices must lie in 0..{len(data) - 1}")
    return indexes


def serve(requests: IO[bytes], replies: IO[bytes], data_dir: Path | None) -> None:
    """Answer requests until the pipe closes: the first carries client.py's bytes."""
    header, source = read_frame(requests)
    try:
        data = load_folder(data_dir) if data_dir else None
        session = load_task(source, data, header.get("node_config") or {})
        write_frame(replies, {"ok": True, **session.describe()})
    except Exception as error:  # the organization's code or the data: say why, then stop
        write_frame(replies, {"ok": False, "error": f"{type(error).__name__}: {error}"[:2000]})
        return
    while True:
        try:
            header, blob = read_frame(requests)
        except WorkerError:
            return  # the caller went away
        ticket = {"id": header.get("id")}  # echoed, so a caller never takes a stale answer for a new one
        try:
            if header.get("op") == "train":
                started = time.perf_counter()
                answer, update = session.train(header, blob)
                answer["train_s"] = time.perf_counter() - started
                write_frame(replies, {"ok": True, **ticket, **answer}, update)
            elif header.get("op") == "evaluate":
                write_frame(replies, {"ok": True, **ticket, **session.evaluate(blob)})
            elif header.get("op") == "losses":
                losses = session.losses(_row_sets(header, data), blob)
                write_frame(replies, {"ok": True, **ticket, "losses": losses})
            else:
                write_frame(
                    replies, {"ok": False, **ticket, "error": f"unknown request {str(header.get('op'))[:40]!r}"}
                )
        except Exception as error:
            write_frame(replies, {"ok": False, **ticket, "error": f"{type(error).__name__}: {error}"[:2000]})


def main() -> None:
    """`python -I -m client_kit.worker [DATA_DIR]`: serve on stdin/stdout."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # the task's prints must not corrupt the protocol
    serve(sys.stdin.buffer, replies, Path(sys.argv[1]) if len(sys.argv) > 1 else None)


# --- the caller's handle ---------------------------------------------------------------------
class TaskWorker:
    """Starts a worker for verified client.py bytes and talks to it; one request at a time.

    The handle survives a fork: a trainer's node process that restarts keeps using the worker its
    parent started, and request ids let it skip an answer meant for its predecessor. With a
    `timeout`, a request the task's code does not answer in time kills the worker (which then
    refuses every later request): a hanging client.py must not hang its caller. An answer's model
    may be only slightly larger than the model sent, and an evaluation carries none."""

    def __init__(
        self,
        source: bytes,
        data_dir: Path | None,
        sandbox: bool = True,
        log: IO[bytes] | None = None,
        timeout: float | None = None,
        node_config: Mapping[str, str | int | float | bool] | None = None,
    ) -> None:
        self.timeout = timeout
        command = [python_executable() if sandbox else sys.executable, "-I", "-m", "client_kit.worker"]
        readable: list[Path] = []
        if data_dir is not None:
            data_dir = data_dir.resolve()
            command.append(str(data_dir))
            readable.append(data_dir)
        if sandbox:
            command = sandboxed(command, readable)
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._requests, self._replies = self._process.stdin, self._process.stdout
        try:
            self.description = self._ask({"op": "load", "node_config": dict(node_config or {})}, source)[0]
        except WorkerError:
            self.close()
            raise

    def _ask(self, header: dict[str, Any], blob: bytes = b"", max_blob: int = 0) -> tuple[dict[str, Any], bytes]:
        ticket = os.urandom(8).hex()
        watchdog = threading.Timer(self.timeout, self._process.kill) if self.timeout else None
        if watchdog is not None:
            watchdog.start()
        try:
            write_frame(self._requests, {**header, "id": ticket}, blob)
            while True:
                answer, reply_blob = read_frame(self._replies, max_blob)
                if answer.get("id") in (ticket, None):  # None: the answer to "load", which has no id
                    break
        except (OSError, ValueError, WorkerError) as error:
            if watchdog is not None and watchdog.finished.is_set():
                raise WorkerError(f"the task's code did not answer {header['op']} within {self.timeout:g} s") from None
            raise WorkerError(f"the task's worker stopped ({self._process.poll()}): {error}") from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if not answer.get("ok"):
            raise WorkerError(f"the task's code failed: {str(answer.get('error'))[:500]}")
        return answer, reply_blob

    def train(self, model: bytes, task_round: int) -> tuple[dict[str, Any], bytes]:
        """(loss, num_examples, train_s) and the trained model's bytes (unchecked: the caller checks)."""
        return self._ask({"op": "train", "round": task_round}, model, max_blob=len(model) + MAX_HEADER)

    def evaluate(self, model: bytes) -> dict[str, Any]:
        return self._ask({"op": "evaluate"}, model)[0]

    def losses(self, model: bytes, row_sets: Sequence[Sequence[int]]) -> list[float]:
        """The model's loss on each set of rows of the worker's data: numbers, possibly NaN or
        infinite (a candidate model can be broken; the caller decides what that is worth)."""
        answer = self._ask({"op": "losses", "row_sets": [[int(r) for r in rows] for rows in row_sets]}, model)[0]
        values = answer.get("losses")
        if not isinstance(values, list) or len(values) != len(row_sets):
            raise WorkerError(f"the task's code answered {len(row_sets)} row sets with {str(values)[:80]}")
        losses = [as_float(v) for v in values]
        if any(loss is None for loss in losses):
            raise WorkerError(f"the task's code answered losses {str(values)[:80]}, not numbers")
        return losses  # type: ignore[return-value]

    def close(self) -> None:
        for pipe in (self._requests, self._replies):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


def numbers(answer: dict[str, Any], *keys: str) -> Sequence[float]:
    """The named numbers of a worker's answer, refusing anything that is not a finite number."""
    values = []
    for key in keys:
        value = as_float(answer.get(key))
        if value is None or not np.isfinite(value):
            raise WorkerError(f"the task's code answered {key}={str(answer.get(key))[:40]}, not a finite number")
        values.append(value)
    return values


def as_float(value: object) -> float | None:
    """A JSON number as a float (an integer beyond float's range is inf), or None if not a number."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer of 400 digits: JSON allows it
        return math.inf if value > 0 else -math.inf


if __name__ == "__main__":
    main()
