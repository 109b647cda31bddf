"""Score: each screened update's marginal value on the validation set.

The value of a set S of updates, U(S), is how much their weighted average (weights: the capped
example counts, as FedAvg would) lowers the validation loss from the global model's, on a batch of
the validation set drawn after the updates are in, so nobody could tune an update to it. U is
measured separately on the batch's two halves: an update counts as helping only if it helps on
both, so a value inside the batch's noise is worth nothing.

From U, per update:
- leave-one-out, U(N) − U(N∖i): always (n + 1 evaluations);
- Shapley values where the evaluation budget allows: exactly over all 2ⁿ subsets for small n, else
  GTG-Shapley (Liu et al., 2022) — permutation sampling, each update led off equally often, a
  permutation truncated once its prefix is within 1 % of U(N) (the rest add nothing measurable).
Shapley values credit updates that are individually redundant but jointly useful, which
leave-one-out misses (two similar honest updates each look unnecessary when the other is there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from client_kit.task_hub import MAX_LOSS
from client_kit.worker import WorkerError
from keepers.contribution.updates import Candidate, Flattener, UpdateRows

HALVES = 2
TRUNCATION = 0.01  # a permutation prefix within 1 % of U(N) leaves nothing measurable to the rest
BUDGET_PARAMETERS = 1_000_000  # models up to this many float parameters get the scorer's whole budget


class Utility:
    """U(S) for subsets of the candidates, per batch half, cached; counts its evaluations."""

    def __init__(
        self,
        flattener: Flattener,
        rows: UpdateRows,
        candidates: Sequence[Candidate],
        losses: Callable[[bytes], list[float]],
    ) -> None:
        self._flattener = flattener
        self._rows = rows
        self._candidates = list(candidates)
        self._losses = losses
        self._priors = np.array([c.prior for c in candidates], dtype=np.float64)
        self._total = rows.weighted_sum([c.row for c in candidates], self._priors.tolist())
        self._buffer = np.empty(flattener.size, dtype=np.float32)  # one row read back at a time
        self.base = np.array(losses(flattener.model(np.zeros(flattener.size, dtype=np.float32))))
        if not (self.base < MAX_LOSS).all():  # the round's own global model: nothing to measure against
            raise WorkerError(f"the task's code cannot score the global model (losses {self.base.tolist()})")
        self.evaluations = 1
        self._cache: dict[frozenset[int], np.ndarray] = {frozenset(): np.zeros(HALVES)}

    @property
    def players(self) -> int:
        return len(self._candidates)

    @property
    def parameters(self) -> int:
        """How many float parameters each evaluated model has (what an evaluation costs)."""
        return self._flattener.size

    def __call__(self, members: frozenset[int]) -> np.ndarray:
        cached = self._cache.get(members)
        if cached is not None:
            return cached
        weight = float(self._priors[list(members)].sum())
        if len(members) > self.players / 2:  # fewer rows read: the total minus the complement
            summed, sign, terms = self._total.copy(), -1.0, set(range(self.players)) - members
        else:
            summed, sign, terms = np.zeros(self._flattener.size), 1.0, set(members)
        for index in sorted(terms):
            candidate = self._candidates[index]
            summed += (sign * candidate.prior) * self._rows.row(candidate.row, self._buffer)
        value = np.zeros(HALVES)
        if weight > 0:
            summed /= weight
            model = self._flattener.model(summed.astype(np.float32))
            value = self.base - np.array(self._losses(model))
            self.evaluations += 1
        self._cache[members] = value
        return value


@dataclass(frozen=True)
class Scores:
    method: str  # "exact-shapley", "gtg-shapley" or "leave-one-out": what `values` holds
    values: np.ndarray  # players × halves: marginal value, in loss units
    leave_one_out: np.ndarray  # players × halves
    full: np.ndarray  # U(N) per half
    evaluations: int

    @property
    def worth(self) -> np.ndarray:
        """What an update is paid on: its value on the worse half, never below 0."""
        if not len(self.values):
            return np.zeros(0)
        return np.maximum(0.0, self.values.min(axis=1))

    @property
    def harmful(self) -> np.ndarray:
        """Updates that make the loss worse on both halves by both measures — their Shapley value
        and their removal from everyone's average (leave-one-out): left out of the new model. Both,
        for an update from a skewed shard can look bad in most coalitions yet complete the others
        (negative Shapley, positive leave-one-out), and a weaker honest update can be worth keeping
        though the average would do slightly better without it (the reverse)."""
        if not len(self.leave_one_out):
            return np.zeros(0, dtype=bool)
        return (self.values.max(axis=1) < 0) & (self.leave_one_out.max(axis=1) < 0)


@dataclass(frozen=True)
class ShapleyScorer:
    """Leave-one-out always; Shapley values within the round's evaluation budget: `budget` model
    evaluations for a model of up to BUDGET_PARAMETERS float parameters, proportionally fewer for a
    bigger one — an evaluation costs what a forward pass over the batch costs, so scoring takes about
    as long for an 11M-parameter model (14 evaluations: leave-one-out of a dozen updates) as for a
    1M one (160: Shapley values of ten)."""

    budget: int = 160
    seed: int | None = None  # fixed only in tests: the permutations are the keeper's own draw

    def evaluations_for(self, parameters: int) -> int:
        return max(1, self.budget * BUDGET_PARAMETERS // max(parameters, BUDGET_PARAMETERS))

    def __call__(self, utility: Utility) -> Scores:
        n = utility.players
        budget = self.evaluations_for(utility.parameters)
        everyone = frozenset(range(n))
        full = utility(everyone)
        loo = np.array([full - utility(everyone - {i}) for i in range(n)]).reshape(n, HALVES)
        if n == 0:
            return Scores("leave-one-out", loo, loo, full, utility.evaluations)
        if 2**n - 1 <= budget:
            return Scores("exact-shapley", exact_shapley(utility), loo, full, utility.evaluations)
        if budget - utility.evaluations >= 2 * n:
            values = gtg_shapley(utility, budget, np.random.default_rng(self.seed))
            return Scores("gtg-shapley", values, loo, full, utility.evaluations)
        return Scores("leave-one-out", loo, loo, full, utility.evaluations)


def exact_shapley(utility: Utility) -> np.ndarray:
    """φᵢ = Σ over S ⊆ N∖i of |S|!(n−|S|−1)!/n! · (U(S ∪ i) − U(S))."""
    n = utility.players
    values = np.zeros((n, HALVES))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            factor = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                members = frozenset(subset)
                values[i] += factor * (utility(members | {i}) - utility(members))
    return values


def gtg_shapley(utility: Utility, budget: int, rng: np.random.Generator) -> np.ndarray:
    """Monte-Carlo Shapley over permutations, led off by each update in turn, truncated."""
    n = utility.players
    everyone = frozenset(range(n))
    full = utility(everyone)
    scale = max(abs(float(full.mean())), 1e-12)
    totals = np.zeros((n, HALVES))
    permutations = 0
    while utility.evaluations < budget and permutations < budget:  # cached prefixes cost nothing
        lead = permutations % n
        order = [lead, *rng.permutation([j for j in range(n) if j != lead])]
        prefix: frozenset[int] = frozenset()
        before = utility(prefix)
        for player in order:
            if abs(float((full - before).mean())) <= TRUNCATION * scale:
                break  # the prefix already does what everyone does: the rest add nothing measurable
            prefix = prefix | {player}
            after = utility(prefix)
            totals[player] += after - before
            before = after
        permutations += 1
    return totals / max(1, permutations)
