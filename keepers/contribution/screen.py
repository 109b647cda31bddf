"""Screen: which verified updates may be scored at all.

An update that survives the keeper's verification (signed, staked, right shape, finite, norm within
the bound) can still be worthless or hostile: the global model sent back (no change at all), noise
dressed up as work, last round's model, a sign-flipped or label-flipped update. The screen keeps an
update only if its direction agrees with a reference direction by more than chance:
- `TrustScreen` (FLTrust, Cao et al., NDSS 2021): the reference is an update the keeper computes
  itself on the organization's validation set from the same global model; trust = ReLU(cos).
- `MedianDirectionScreen`, for a task without a validation set: the reference is the coordinate-wise
  median of the round's updates, which a minority cannot move far.
Either way, an update pointing the same way as an earlier-arrived one from another address (sybils
sharing one update, scaled or not) is dropped: the copy gains nothing, the first keeps its place.
The public trajectory of the global models (the last round's step, which anyone can repeat without
data) counts as the first arrival of all: an update that only repeats it is dropped too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from keepers.contribution.updates import Candidate, UpdateRows, chance_cosine

DUPLICATE_COSINE = 0.99  # updates this aligned are one update sent twice (scaling changes nothing)
PUBLIC = -1  # `duplicate_of` for an update that repeats the public trajectory


@dataclass
class ScreenResult:
    trust: list[float]  # per candidate: ReLU(cos) with the reference, 0 when dropped
    dropped: dict[int, str] = field(default_factory=dict)  # candidate index → why
    duplicate_of: dict[int, int] = field(default_factory=dict)  # copy → the original it repeats
    floor: float = 0.0  # the chance level of cos in this many dimensions

    @property
    def kept(self) -> list[int]:
        return [index for index in range(len(self.trust)) if index not in self.dropped]


def screen_by_direction(
    candidates: Sequence[Candidate],
    rows: UpdateRows,
    reference: np.ndarray | None,
    what: str,
    public: int | None = None,
) -> ScreenResult:
    """Keep updates that change the model and whose cos with `reference` beats chance (every
    update that changes the model, with no reference), then drop near-duplicates. `public` is the
    row of the public trajectory, if any. Every cosine comes from one Gram matrix of the reference
    and the rows, built block by block over the round's file."""
    floor = 0.0 if reference is None else chance_cosine(reference.size)
    extra = [] if reference is None else [reference]
    indices = [c.row for c in candidates] + ([] if public is None else [public])
    cosines, changes = _cosines(rows.gram(indices, extra))
    first = len(extra)  # the candidates' positions in the Gram matrix start here
    result = ScreenResult(trust=[], floor=floor)
    for index in range(len(candidates)):
        trust = 1.0 if reference is None else max(0.0, float(cosines[0, first + index]))
        if not changes[first + index]:
            result.dropped[index] = "no change to the global model"
            trust = 0.0
        elif trust <= floor:
            result.dropped[index] = f"direction no better than chance against {what} (cos {trust:.3f} ≤ {floor:.3f})"
            trust = 0.0
        result.trust.append(trust)
    at = {index: first + index for index in result.kept if changes[first + index]}
    public_at = first + len(candidates) if public is not None and changes[first + len(candidates)] else None
    for copy, original in near_duplicates(cosines, at, public_at).items():
        if original == PUBLIC:
            result.dropped[copy] = "repeats the public trajectory of the global models (no data needed)"
        else:
            result.dropped[copy] = f"near-duplicate of {candidates[original].address}'s update"
        result.duplicate_of[copy] = original
        result.trust[copy] = 0.0
    return result


def _cosines(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair's cosine from a Gram matrix (0 with a zero vector: no direction at all), and
    which vectors are not zero."""
    norms = np.sqrt(np.maximum(np.diag(gram), 0.0))
    changes = norms > 0
    scale = np.where(changes, norms, 1.0)
    return gram / np.outer(scale, scale), changes


def near_duplicates(cosines: np.ndarray, at: dict[int, int], public_at: int | None = None) -> dict[int, int]:
    """Later copies → the earliest update they point the same way as. `at` maps each candidate
    (in arrival order) to its position in `cosines`; the public trajectory, which anyone can
    extrapolate, arrived before all of them (PUBLIC, at `public_at`)."""
    order = ([(PUBLIC, public_at)] if public_at is not None else []) + list(at.items())
    copies: dict[int, int] = {}
    for later in range(1, len(order)):
        for earlier in range(later):
            original, position = order[earlier]
            if original not in copies and cosines[order[later][1], position] >= DUPLICATE_COSINE:
                copies[order[later][0]] = original
                break
    return copies


class TrustScreen:
    """FLTrust: the reference is the keeper's own update on the validation set."""

    name = "fltrust"

    def __call__(
        self,
        candidates: Sequence[Candidate],
        rows: UpdateRows,
        root_delta: np.ndarray | None,
        public: int | None = None,
    ) -> ScreenResult:
        if root_delta is None:
            raise ValueError("the trust screen needs the keeper's update on the validation set")
        return screen_by_direction(candidates, rows, root_delta, "the keeper's update on the validation set", public)


class MedianDirectionScreen:
    """No validation set: the reference is the coordinate-wise median of the round's updates."""

    name = "median-direction"

    def __call__(
        self,
        candidates: Sequence[Candidate],
        rows: UpdateRows,
        root_delta: np.ndarray | None = None,
        public: int | None = None,
    ) -> ScreenResult:
        if not candidates:
            return ScreenResult(trust=[])
        if len(candidates) < 3:  # a median of one or two is their own mean: nothing to test against
            return screen_by_direction(candidates, rows, None, "", public)
        median = rows.median([c.row for c in candidates])
        return screen_by_direction(candidates, rows, median, "the median update", public)
