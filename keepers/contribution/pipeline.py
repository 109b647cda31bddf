"""The contribution pipeline: screen → score → record, run by the keeper on each round's accepted
updates; it decides which updates make the new model and what each trainer's round is worth.

`MeasuredContribution` (a task that pays for measured contribution): the trust screen against the
keeper's own update on the organization's validation set, Shapley/leave-one-out scoring on a batch
of that set drawn fresh each round, smoothed shares split the round's budget. `ClaimedContribution`
(a task that pays by claimed example counts): the median-direction screen, then the capped counts.
Either way the round's score table — every number behind every weight — is returned for pinning,
so anyone holding the validation set and the round's models can check it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from logging import WARNING
from typing import Any, Protocol

import numpy as np
from flwr.common.logger import log

from client_kit.model_format import ModelFormatError, decode_views
from client_kit.worker import WorkerError
from keepers.contribution.ledger import Ledger, budget_split
from keepers.contribution.score import HALVES, Scores, ShapleyScorer, Utility
from keepers.contribution.screen import MedianDirectionScreen, ScreenResult, TrustScreen
from keepers.contribution.updates import Candidate, Flattener, UpdateRows
from keepers.verification import Accepted

MAX_BATCH = 512  # validation examples scored per round (two halves)


@dataclass(frozen=True)
class RoundInput:
    """What the pipeline judges: the round's global model and its accepted updates, in arrival
    order, each as its row of the round's spilled changes (`Accepted.row` in `rows`)."""

    task_id: int
    round: int
    names: Sequence[str]
    global_arrays: Sequence[np.ndarray]
    global_model: bytes
    accepted: Sequence[Accepted]
    rows: UpdateRows


@dataclass(frozen=True)
class RoundWeights:
    aggregation: list[float]  # per accepted update, in order: its weight in the new model (0: left out)
    credits: list[tuple[str, int]]  # what the round records on chain: (trainer, weight ≥ 1)
    table: dict[str, Any] = field(default_factory=dict)  # the score table, pinned for anyone to check
    frozen: np.ndarray | None = None  # float coordinates the new model keeps from the global one


class ContributionPipeline(Protocol):
    """What the strategy asks of a round: to get ready as it starts, and to weigh its updates."""

    def prepare(self, global_model: bytes, task_round: int) -> None: ...

    def weigh(self, round_input: RoundInput) -> RoundWeights: ...

    def close(self) -> None: ...


class ValidationOracle(Protocol):
    """The organization's validation set behind the task's own code, in its sandboxed worker."""

    examples: int

    def root_update(self, model: bytes, task_round: int) -> bytes: ...

    def losses(self, model: bytes, row_sets: Sequence[Sequence[int]]) -> list[float]: ...


def candidates_of(accepted: Sequence[Accepted]) -> list[Candidate]:
    return [Candidate(a.address, float(a.weight), a.row) for a in accepted]


def _rows(accepted: Sequence[Accepted], screen: ScreenResult) -> list[dict[str, Any]]:
    """The score table's line per update, before scoring adds its numbers."""
    return [
        {
            "address": update.address,
            "update_digest": update.envelope.claim.digest,  # what the trainer signed
            "claimed_examples": update.num_examples,
            "prior": update.weight,
            "trust": round(screen.trust[index], 6),
            "dropped": screen.dropped.get(index),
        }
        for index, update in enumerate(accepted)
    ]


def _header(method: str, round_input: RoundInput, screen_name: str) -> dict[str, Any]:
    return {
        "format": "fedchain-scores/1",
        "task_id": round_input.task_id,
        "round": round_input.round,
        "scoring": method,
        "screen": screen_name,
        "global_model_sha256": hashlib.sha256(round_input.global_model).hexdigest(),
    }


class ClaimedContribution:
    """Pays by the capped example counts of the updates that pass the median-direction screen."""

    def __init__(self, screen: MedianDirectionScreen | None = None) -> None:
        self.screen = screen or MedianDirectionScreen()

    def prepare(self, global_model: bytes, task_round: int) -> None:
        """Nothing to compute before the updates are in."""

    def close(self) -> None:
        """Nothing runs in the background."""

    def weigh(self, round_input: RoundInput) -> RoundWeights:
        candidates = candidates_of(round_input.accepted)
        screen = self.screen(candidates, round_input.rows)
        aggregation = [0.0 if i in screen.dropped else c.prior for i, c in enumerate(candidates)]
        credits: dict[str, int] = {}
        for weight, candidate in zip(aggregation, candidates, strict=True):
            if weight > 0:
                credits[candidate.address] = int(weight)
        table = _header("claimed_examples", round_input, self.screen.name)
        table["trainers"] = [
            {**row, "credit": credits.get(row["address"], 0)} for row in _rows(round_input.accepted, screen)
        ]
        return RoundWeights(aggregation, sorted(credits.items()), table)


class MeasuredContribution:
    """Screens against the keeper's own update on the validation set, scores each survivor's
    marginal value on a fresh batch of it, and splits the round's budget by smoothed shares."""

    def __init__(
        self,
        oracle: ValidationOracle,
        validation_sha256: str,
        ledger: Ledger | None = None,
        scorer: ShapleyScorer | None = None,
        screen: TrustScreen | None = None,
        fallback: ClaimedContribution | None = None,
        previous_model: bytes | None = None,
    ) -> None:
        self.oracle = oracle
        self.validation_sha256 = validation_sha256
        self.ledger = ledger or Ledger()
        self.scorer = scorer or ShapleyScorer()
        self.screen = screen or TrustScreen()
        self.fallback = fallback or ClaimedContribution()
        # The global model of the round before: the step from it to this round's is public, and
        # anyone can repeat it without data (None in round 1, or after a restart's first round).
        self._previous = [np.array(a) for a in decode_views(previous_model)[1]] if previous_model else None
        # The keeper's own update depends only on the round's global model: it is computed while
        # the trainers train (`prepare`), in the validation worker, which nothing else uses then.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="root-update")
        self._root: tuple[str, Future[bytes]] | None = None

    def prepare(self, global_model: bytes, task_round: int) -> None:
        """Starts the keeper's own update from this round's global model (see `_root_update`)."""
        self._settle_root()
        digest = hashlib.sha256(global_model).hexdigest()
        self._root = (digest, self._executor.submit(self.oracle.root_update, global_model, task_round))

    def close(self) -> None:
        """Waits for a prepared update still running (a round that failed before `weigh`), so
        the validation worker can be closed; then stops the thread."""
        self._settle_root()
        self._executor.shutdown()

    def _settle_root(self) -> tuple[str, Future[bytes]] | None:
        """Waits for a prepared update, so the worker is free for what follows (never two
        requests on its one pipe at once); returns it, and forgets it."""
        root, self._root = self._root, None
        if root is not None:
            wait([root[1]])
        return root

    def _root_update(self, round_input: RoundInput) -> bytes:
        """The keeper's own update from this round's global model: the one `prepare` started if it
        was for these very bytes, else computed now. A failure of the task's code raises here."""
        prepared = self._settle_root()
        if prepared is not None and prepared[0] == hashlib.sha256(round_input.global_model).hexdigest():
            return prepared[1].result()
        return self.oracle.root_update(round_input.global_model, round_input.round)

    def draw_batch(self) -> tuple[int, list[list[int]]]:
        """Two disjoint halves of a batch of the validation set, drawn now — after the updates are
        in — from a fresh seed, which the table records so anyone can redraw the same rows."""
        seed = int.from_bytes(os.urandom(8), "little")
        size = min(self.oracle.examples, MAX_BATCH)
        rows = np.random.default_rng(seed).choice(self.oracle.examples, size=size, replace=False)
        if size < HALVES:  # one example cannot be split: both halves are it
            return seed, [[int(r) for r in rows]] * HALVES
        half = size // HALVES
        return seed, [sorted(int(r) for r in rows[k * half : (k + 1) * half]) for k in range(HALVES)]

    def weigh(self, round_input: RoundInput) -> RoundWeights:
        trajectory = self._public_trajectory(round_input)
        if not round_input.accepted:
            self._settle_root()
            return RoundWeights([], [], {**self._header(round_input), "trainers": []})
        try:
            return self._measure(round_input, trajectory)
        except (WorkerError, ModelFormatError, ValueError) as error:
            # The organization's code failed to score: the round still moves on, paid by the capped
            # counts of screened updates within the round's budget — never paying nobody, which
            # would hand the round's share of the pool back to whoever wrote the failing code.
            log(WARNING, "task %s round %s: scoring failed (%s)", round_input.task_id, round_input.round, error)
            claimed = self.fallback.weigh(round_input)
            table = {**claimed.table, **self._header(round_input), "failure": str(error)[:500]}
            return RoundWeights(claimed.aggregation, budget_split(claimed.credits), table)

    def _header(self, round_input: RoundInput) -> dict[str, Any]:
        return {**_header("measured", round_input, self.screen.name), "validation_sha256": self.validation_sha256}

    def _public_trajectory(self, round_input: RoundInput) -> np.ndarray | None:
        """The last step of the global models (this round's minus the round before's), flattened;
        remembers this round's for the next."""
        flattener = Flattener(round_input.names, round_input.global_arrays)
        previous, self._previous = self._previous, [np.array(a) for a in round_input.global_arrays]
        if previous is None or [a.shape for a in previous] != [a.shape for a in round_input.global_arrays]:
            return None
        return -flattener.delta(previous)

    def _measure(self, round_input: RoundInput, trajectory: np.ndarray | None) -> RoundWeights:
        flattener = Flattener(round_input.names, round_input.global_arrays)
        root_names, root_arrays, _ = decode_views(self._root_update(round_input))
        if root_names != list(round_input.names):
            raise ValueError("the keeper's own update has other layers than the global model")
        root = flattener.delta(root_arrays)
        # What the validation set cannot measure, it does not accept: coordinates the keeper's own
        # training leaves exactly unchanged (weights of inputs that are always zero in the set, say)
        # stay the global model's, so nothing can be hidden there (a backdoor on dead pixels).
        frozen = root == 0
        if frozen.all():  # the task's code did not train on the set: nothing could be measured
            raise ValueError("the task's code left every parameter unchanged on the validation set")
        with round_input.rows.masked(frozen):  # every read of the updates while scoring
            return self._score(round_input, flattener, root, frozen, trajectory)

    def _score(
        self,
        round_input: RoundInput,
        flattener: Flattener,
        root: np.ndarray,
        frozen: np.ndarray,
        trajectory: np.ndarray | None,
    ) -> RoundWeights:
        rows = round_input.rows
        candidates = candidates_of(round_input.accepted)
        public = None
        if trajectory is not None and np.where(frozen, np.float32(0), trajectory).any():
            public = rows.append(trajectory)
        screen = self.screen(candidates, rows, root, public)
        kept = screen.kept
        seed, halves = self.draw_batch()
        # The public trajectory plays too (never paid, never in the model): an update is worth only
        # what it adds beyond what anyone could extrapolate without data.
        players = [candidates[i] for i in kept]
        lead = 1 if public is not None and players else 0
        if lead:
            players.insert(0, Candidate("", float(np.median([c.prior for c in players])), public))
        utility = Utility(flattener, rows, players, lambda model: self.oracle.losses(model, halves))
        scores = self.scorer(utility)
        worth = dict.fromkeys((c.address for c in candidates), 0.0)
        aggregation = [0.0] * len(candidates)
        for position, index in enumerate(kept, start=lead):
            worth[candidates[index].address] = float(scores.worth[position])
            if not scores.harmful[position]:
                aggregation[index] = candidates[index].prior
        # Paid this round: updates past the screen that did not make the loss worse on both halves
        # (an update that harms earns nothing in its round, whatever the trainer's history).
        eligible = [candidates[i].address for i in kept if aggregation[i] > 0]
        credits = self.ledger.credit(worth, eligible)
        if not credits and any(aggregation):
            # The model moves, yet no update measurably helped (early, or code that scores every
            # model alike): the updates in the model are paid by their capped counts, so a model
            # never advances for free and the round's pool never returns to the organization.
            in_model = [(c.address, w) for c, w in zip(candidates, aggregation, strict=True) if w > 0]
            credits = budget_split(in_model)
        table = self._table(round_input, screen, scores, lead, seed, halves, credits)
        table["frozen_coordinates"] = int(frozen.sum())
        return RoundWeights(aggregation, credits, table, frozen if frozen.any() else None)

    def _table(
        self,
        round_input: RoundInput,
        screen: ScreenResult,
        scores: Scores,
        lead: int,
        seed: int,
        halves: list[list[int]],
        credits: list[tuple[str, int]],
    ) -> dict[str, Any]:
        credited = dict(credits)
        position = {index: p for p, index in enumerate(screen.kept, start=lead)}
        rows = _rows(round_input.accepted, screen)
        for index, row in enumerate(rows):
            at = position.get(index)
            row.update(
                {
                    "value": None if at is None else [round(float(v), 8) for v in scores.values[at]],
                    "leave_one_out": None if at is None else [round(float(v), 8) for v in scores.leave_one_out[at]],
                    "worth": 0.0 if at is None else round(float(scores.worth[at]), 8),
                    "smoothed_share": round(self.ledger.shares.get(row["address"], 0.0), 8),
                    "credit": credited.get(row["address"], 0),
                }
            )
        return {
            **self._header(round_input),
            "method": scores.method,
            "evaluations": scores.evaluations,
            "batch": {"seed": seed, "halves": [len(h) for h in halves], "max_batch": MAX_BATCH},
            "chance_cosine": round(screen.floor, 6),
            "value_of_all": [round(float(v), 8) for v in scores.full],
            "public_trajectory_value": [round(float(v), 8) for v in scores.values[0]] if lead else None,
            "smoothing": self.ledger.smoothing,
            "trainers": rows,
        }
