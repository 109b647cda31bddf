"""The trainer's signer: the Flower ClientApp in the process that holds the staked key.

It never runs the organization's code. Each train message's global model goes to the task worker
(`client_kit.worker`, sandboxed), and what comes back is checked before anything is signed:
- the global model the keeper sent must be the chain's record of the previous round (its sha256;
  the initial model's for round 1), checked while the worker trains, so a keeper or anyone on the
  way cannot swap it and blame the trainer for the difference;
- the update must be a readable model with exactly the global model's layers, dtypes and shapes,
  finite floats, and within the task's `max_update_norm` of the global model (measured as the
  keeper measures it): the trainer never signs what would get it slashed;
- the example count it signs is the trainer's own count of its data, never the task code's word
  (which could claim 0 and make the trainer a no-show, or more than the cap);
- one signed update per round: asked again for a round (a keeper that restarted, a node that
  reconnected, a trainer that restarted), the signer sends the same signed update, never a
  second, different one (which would be equivocation). What it signed is kept on disk, in the
  journal folder, so this holds across processes and restarts.
The signed claim covers the whole update and the global model it was trained from. Evaluations
are signed the same way. Which staked address this node answers for, the keeper knows from the node
key it authenticates with (`keepers.binding`): no message asks.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from client_kit.envelope import EvaluationClaim, UpdateClaim, sign, update_digest
from client_kit.model_format import ModelFormatError, bytes_of, decode_views, encode, record_of
from client_kit.protocol import (
    ARRAYS,
    CONFIG,
    ENVELOPE,
    EVAL_LOSS,
    EVAL_VALUE,
    METRICS,
    NUM_EXAMPLES,
    SERVER_ROUND,
    TRAIN_LOSS,
    TrainerTimings,
)
from client_kit.settings import ClientSettings
from client_kit.task_hub import Task, TaskHub
from client_kit.update_rules import update_norm
from client_kit.worker import TaskWorker, WorkerError, numbers

# Misbehaviour on purpose, demo, benchmarks and tests only. The first five break a rule the keeper
# checks (and slashes for); the last four are signed, well-formed and within the norm bound, and
# only measuring their contribution exposes them: free-riders (the global model back, global plus
# noise as large as an honest update, last round's model) and a poisoner (its update sign-flipped
# and stretched to just inside the bound).
FAULTS = ("nan", "scale", "shape", "unsigned", "impostor", "freeride", "noise", "stale", "flip")
DISGUISES = ("freeride", "noise", "stale", "flip")
BASE_WAIT_S = 60.0  # how long to wait for the chain to show the previous round (its block may lag)
BASE_POLL_S = 0.05  # between asks for that block (due within a block time, 0.5 s here): the wait gates the round


class TrainerError(RuntimeError):
    """The trainer cannot (or must not) train or sign: the message says why and what to do."""


@dataclass
class RoundLog:
    """The trainer's own view of its rounds, for the live display."""

    rounds: dict[int, dict[str, float]] = field(default_factory=dict)
    sink: object = None  # a callable(task_round, values) where a node process reports them

    def note(self, task_round: int, **values: float) -> None:
        self.rounds.setdefault(task_round, {}).update(values)
        if callable(self.sink):
            self.sink(task_round, values)


class SignerApp:
    """Serves a task's rounds for one staked trainer; `app` is the Flower ClientApp."""

    def __init__(
        self,
        settings: ClientSettings,
        wallet: LocalWallet,
        task: Task,
        worker: TaskWorker,
        hub: TaskHub,
        journal: Path,
        examples: int,
        fault: str = "",
    ) -> None:
        kind = fault.partition("@")[0]
        if kind and kind not in FAULTS:
            raise TrainerError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        self.settings = settings
        self.wallet = wallet
        self.task_id = task.id
        self.max_update_norm = float(task.max_update_norm)
        self.metric = task.metric  # what evaluations report, and its range
        self.examples = examples  # counted by this process from the trainer's data, not by the task's code
        self.worker = worker
        self.hub = hub
        self.fault = fault
        self.log = RoundLog()
        self.journal = journal  # (kind, round) -> the reply signed for it, on disk
        self._previous_global: bytes | None = None  # the model of the round before (a "stale" fault)
        self._chain = ThreadPoolExecutor(max_workers=1, thread_name_prefix="base-check")
        self.app = ClientApp()

        @self.app.train()
        def train(message: Message, context: Context) -> Message:
            return Message(content=self._train(message), reply_to=message)

        @self.app.evaluate()
        def evaluate(message: Message, context: Context) -> Message:
            return Message(content=self._evaluate(message), reply_to=message)

    # --- training ------------------------------------------------------------------------------
    def _train(self, message: Message) -> RecordDict:
        received = time.time()
        task_round = int(message.content[CONFIG][SERVER_ROUND])
        model = bytes_of(message.content[ARRAYS])
        base = hashlib.sha256(model).hexdigest()
        signed = self._recall("train", task_round)
        if signed is not None:  # asked again: the very same signed update, never a second one
            return signed
        expected: Future[str] = self._chain.submit(self.expected_base, task_round)
        started = time.perf_counter()
        try:
            answer, update = self.worker.train(model, task_round)
            (loss,) = numbers(answer, "loss")
        except WorkerError as error:
            raise TrainerError(str(error)) from None
        trained = time.perf_counter()
        names, arrays = checked_update(update, model, self.max_update_norm)
        self.log.note(task_round, train_loss=loss, train_s=trained - started)
        fault = _active_fault(self.fault, task_round)
        if fault in ("nan", "scale", "shape"):
            arrays = _misbehave(fault, arrays)
            update = encode(names, arrays)
        elif fault in DISGUISES:
            arrays = disguise(fault, arrays, model, self._previous_global, self.max_update_norm, task_round)
            update = encode(names, arrays)
        self._previous_global = model
        if expected.result() != base:
            raise TrainerError(
                f"the keeper sent a round-{task_round} model (sha256 {base[:16]}…) that is not the one the chain "
                f"records ({expected.result()[:16]}…): refusing to sign an update trained from it"
            )
        examples = self.examples
        content = RecordDict(
            {ARRAYS: record_of(update), METRICS: MetricRecord({NUM_EXAMPLES: examples, TRAIN_LOSS: loss})}
        )
        if fault != "unsigned":
            key = PrivateKey() if fault == "impostor" else self.wallet.signer()
            claim = UpdateClaim(
                chain_id=self.settings.chain_id,
                contract=self.settings.contract,
                task_id=self.task_id,
                round=task_round,
                num_examples=examples,
                digest=update_digest(names, arrays),
                base=base,
            )
            content[ENVELOPE] = ConfigRecord(sign(key, claim, self.settings.prefix).to_record())
        timings = TrainerTimings(
            delivery_s=max(0.0, received - message.metadata.created_at),
            train_s=trained - started,
            sign_s=time.perf_counter() - trained,
        )
        metrics = content.metric_records[METRICS]
        for key_name, seconds in timings.to_metrics().items():
            metrics[key_name] = seconds
        self._remember("train", task_round, content)
        return content

    def expected_base(self, task_round: int) -> str:
        """The sha256 of the model round `task_round` trains from: the chain's record of the round
        before (waiting briefly for its block), or the task's initial model."""
        if task_round <= 1:
            return self.hub.task(self.task_id).initial_model_sha256
        deadline = time.monotonic() + BASE_WAIT_S
        while True:
            record = self.hub.round(self.task_id, task_round - 1)
            if record is not None:
                return record.model_sha256
            if time.monotonic() >= deadline:
                raise TrainerError(f"the chain shows no round {task_round - 1} of task {self.task_id}: not signing")
            time.sleep(BASE_POLL_S)

    # --- evaluation ----------------------------------------------------------------------------
    def _evaluate(self, message: Message) -> RecordDict:
        task_round = int(message.content[CONFIG][SERVER_ROUND])
        signed = self._recall("evaluate", task_round)
        if signed is not None:
            return signed
        model = bytes_of(message.content[ARRAYS])
        try:
            answer = self.worker.evaluate(model)
            loss, value = numbers(answer, "loss", "metric")
        except WorkerError as error:
            raise TrainerError(str(error)) from None
        if not (loss >= 0 and self.metric.allows(value)):
            raise TrainerError(f"the task's code reported loss {loss} and {self.metric.name} {value}: not signing that")
        examples = self.examples
        self.log.note(task_round, eval_loss=loss, eval_value=value)
        claim = EvaluationClaim(
            chain_id=self.settings.chain_id,
            contract=self.settings.contract,
            task_id=self.task_id,
            round=task_round,
            model=hashlib.sha256(model).hexdigest(),
            num_examples=examples,
            loss=f"{loss:.6f}",
            metric=self.metric.name,
            value=f"{value:.6f}",
        )
        metrics = MetricRecord({NUM_EXAMPLES: examples, EVAL_LOSS: loss, EVAL_VALUE: value})
        envelope = sign(self.wallet.signer(), claim, self.settings.prefix)
        content = RecordDict({METRICS: metrics, ENVELOPE: ConfigRecord(envelope.to_record())})
        self._remember("evaluate", task_round, content)
        return content

    # --- the journal of what was signed ------------------------------------------------------------
    def _entry(self, kind: str, task_round: int) -> Path:
        return self.journal / f"round-{task_round}.{kind}"

    def _recall(self, kind: str, task_round: int) -> RecordDict | None:
        """The reply signed earlier for this round, if any (in this process or an earlier one)."""
        entry = self._entry(kind, task_round)
        if not (entry / "reply.json").exists():
            return None
        saved = json.loads((entry / "reply.json").read_text())
        content = RecordDict({METRICS: MetricRecord(saved["metrics"]), ENVELOPE: ConfigRecord(saved["envelope"])})
        if (entry / "update.safetensors").exists():
            content[ARRAYS] = record_of((entry / "update.safetensors").read_bytes())
        return content

    def _remember(self, kind: str, task_round: int, content: RecordDict) -> None:
        """Keep what was just signed before it is sent (written whole, then renamed into place)."""
        if ENVELOPE not in content.config_records:
            return  # nothing signed (a deliberately unsigned reply, in tests): nothing to keep
        entry = self._entry(kind, task_round)
        partial = entry.with_name(entry.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True, mode=0o700)
        if ARRAYS in content.array_records:
            (partial / "update.safetensors").write_bytes(bytes_of(content[ARRAYS]))
        reply = {"metrics": dict(content[METRICS]), "envelope": dict(content[ENVELOPE])}
        (partial / "reply.json").write_text(json.dumps(reply))
        partial.rename(entry)


def checked_update(update: bytes, model: bytes, max_norm: float) -> tuple[list[str], list[np.ndarray]]:
    """The worker's update, if it is the global model's shape exactly, finite, and within `max_norm`
    of it; else TrainerError.

    The signer checks what it signs: nothing slashable leaves this trainer under its signature."""
    try:
        names, arrays, _ = decode_views(update)
        base_names, base_arrays, _ = decode_views(model)
    except ModelFormatError as error:
        raise TrainerError(f"the task's code returned an unreadable model: {error}") from None
    if names != base_names:
        raise TrainerError(f"the task's code returned layers {names[:4]}…, the global model has {base_names[:4]}…")
    for name, array, base in zip(names, arrays, base_arrays, strict=True):
        if array.shape != base.shape or array.dtype != base.dtype:
            raise TrainerError(f"the task's code changed layer {name!r} from {base.dtype}{base.shape}")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise TrainerError(f"the task's code produced NaN or infinite values in layer {name!r}: not signing")
    norm = update_norm(arrays, base_arrays)
    if norm > max_norm:
        raise TrainerError(
            f"the task's code moved the model by {norm:.3f}, beyond the task's bound of {max_norm:g}: not signing"
        )
    return names, list(arrays)


def _active_fault(fault: str, task_round: int) -> str:
    """`kind` misbehaves every round, `kind@3` only in round 3 (demo and tests only)."""
    kind, _, only_round = fault.partition("@")
    return kind if kind and (not only_round or int(only_round) == task_round) else ""


def disguise(
    kind: str, trained: list[np.ndarray], model: bytes, previous: bytes | None, bound: float, seed: int
) -> list[np.ndarray]:
    """A signed update that passes every check but adds nothing, or harms (see DISGUISES)."""
    base = decode_views(model)[1]
    if kind == "freeride":
        return [np.array(a) for a in base]
    if kind == "stale":
        return [np.array(a) for a in decode_views(previous or model)[1]]
    floating = [np.issubdtype(b.dtype, np.floating) for b in base]
    steps = [
        np.subtract(t, b, dtype=np.float64) if f else None for t, b, f in zip(trained, base, floating, strict=True)
    ]
    honest_norm = update_norm(trained, base)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        steps = [rng.normal(size=b.shape) if f else None for b, f in zip(base, floating, strict=True)]
        factor = honest_norm / max(1e-12, float(np.sqrt(sum(float((s**2).sum()) for s in steps if s is not None))))
    else:  # flip: the honest step reversed, stretched to 95 % of the bound
        factor = -0.95 * bound / max(1e-12, honest_norm)
    return [
        (b.astype(np.float64) + factor * step).astype(b.dtype) if step is not None else np.array(b)
        for b, step in zip(base, steps, strict=True)
    ]


def _misbehave(kind: str, arrays: list[np.ndarray]) -> list[np.ndarray]:
    arrays = [np.array(a) for a in arrays]
    if kind == "nan":
        arrays[0].flat[0] = np.nan
    elif kind == "scale":
        arrays = [a * 1000.0 if np.issubdtype(a.dtype, np.floating) else a for a in arrays]
    elif kind == "shape":
        arrays = [arrays[0][:-1], *arrays[1:]]
    return arrays
