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

from keepers.contribution.updates import Candidate, chance_cosine, cosine

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
    candidates: Sequence[Candidate], reference: np.ndarray | None, what: str, public: np.ndarray | None = None
) -> ScreenResult:
    """Keep updates that change the model and whose cos with `reference` beats chance (every
    update that changes the model, with no reference), then drop near-duplicates."""
    floor = 0.0 if reference is None else chance_cosine(reference.size)
    result = ScreenResult(trust=[], floor=floor)
    for index, candidate in enumerate(candidates):
        trust = 1.0 if reference is None else max(0.0, cosine(candidate.delta, reference))
        if not candidate.delta.any():
            result.dropped[index] = "no change to the global model"
            trust = 0.0
        elif trust <= floor:
            result.dropped[index] = f"direction no better than chance against {what} (cos {trust:.3f} ≤ {floor:.3f})"
            trust = 0.0
        result.trust.append(trust)
    for copy, original in near_duplicates(candidates, result.kept, public).items():
        if original == PUBLIC:
            result.dropped[copy] = "repeats the public trajectory of the global models (no data needed)"
        else:
            result.dropped[copy] = f"near-duplicate of {candidates[original].address}'s update"
        result.duplicate_of[copy] = original
        result.trust[copy] = 0.0
    return result


def near_duplicates(
    candidates: Sequence[Candidate], among: Sequence[int], public: np.ndarray | None = None
) -> dict[int, int]:
    """Later copies → the earliest update they point the same way as (candidates are in arrival
    order; `public`, the trajectory anyone can extrapolate, arrived before all of them: PUBLIC).
    All the pairs' cosines come from one Gram matrix (one BLAS product, not a loop over pairs)."""
    rows = [(i, candidates[i].delta) for i in among if candidates[i].delta.any()]
    if public is not None and public.any():
        rows.insert(0, (PUBLIC, public))
    if len(rows) < 2:
        return {}
    stacked = np.stack([delta for _, delta in rows]).astype(np.float64)
    unit = stacked / np.linalg.norm(stacked, axis=1, keepdims=True)
    cosines = unit @ unit.T
    copies: dict[int, int] = {}
    for later in range(1, len(rows)):
        for earlier in range(later):
            if rows[earlier][0] not in copies and cosines[later, earlier] >= DUPLICATE_COSINE:
                copies[rows[later][0]] = rows[earlier][0]
                break
    return copies


class TrustScreen:
    """FLTrust: the reference is the keeper's own update on the validation set."""

    name = "fltrust"

    def __call__(
        self, candidates: Sequence[Candidate], root_delta: np.ndarray | None, public: np.ndarray | None = None
    ) -> ScreenResult:
        if root_delta is None:
            raise ValueError("the trust screen needs the keeper's update on the validation set")
        return screen_by_direction(candidates, root_delta, "the keeper's update on the validation set", public)


class MedianDirectionScreen:
    """No validation set: the reference is the coordinate-wise median of the round's updates."""

    name = "median-direction"

    def __call__(
        self, candidates: Sequence[Candidate], root_delta: np.ndarray | None = None, public: np.ndarray | None = None
    ) -> ScreenResult:
        if not candidates:
            return ScreenResult(trust=[])
        if len(candidates) < 3:  # a median of one or two is their own mean: nothing to test against
            return screen_by_direction(candidates, None, "", public)
        median = np.median(np.stack([c.delta for c in candidates]), axis=0)
        return screen_by_direction(candidates, median, "the median update", public)
