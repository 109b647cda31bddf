"""Record: from this round's measured worth to the weights the round credits on chain.

One noisy round should decide little, so what a trainer is paid follows its smoothed share of
the measured worth: sᵢ ← α·(worthᵢ / Σ worth) + (1 − α)·sᵢ. Each round's credits then split the
contract's fixed round budget among the trainers whose update this round passed the screen, in
proportion to sᵢ: an update that was dropped (or made the loss worse) earns nothing in its round
whatever its history, and a trainer whose updates never added anything has sᵢ = 0 in every round,
earns nothing, and counts as a no-show for penalties. The smoothed shares travel in each round's
score table, so a restarted keeper continues from the chain's record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from client_kit.task_hub import ROUND_WEIGHT

SMOOTHING = 0.5


def budget_split(weights: Sequence[tuple[str, float]]) -> list[tuple[str, int]]:
    """The round's budget split in proportion to `weights` (rounded down; credits ≥ 1 only)."""
    total = sum(weight for _, weight in weights)
    credits = [(address, int(ROUND_WEIGHT * weight / total)) for address, weight in weights] if total > 0 else []
    return sorted(((a, w) for a, w in credits if w >= 1), key=lambda pair: (-pair[1], pair[0]))


@dataclass
class Ledger:
    smoothing: float = SMOOTHING
    shares: dict[str, float] = field(default_factory=dict)  # address → smoothed share of worth

    def credit(self, worth: Mapping[str, float], eligible: Sequence[str]) -> list[tuple[str, int]]:
        """Fold this round's worth into the shares; the round's credits, largest first, each ≥ 1,
        together at most ROUND_WEIGHT (every division rounds down)."""
        total = sum(value for value in worth.values() if value > 0)
        for address in set(self.shares) | set(worth):
            share = max(0.0, worth.get(address, 0.0)) / total if total > 0 else 0.0
            self.shares[address] = self.smoothing * share + (1 - self.smoothing) * self.shares.get(address, 0.0)
        return budget_split([(address, self.shares.get(address, 0.0)) for address in eligible])

    @classmethod
    def restored(cls, table: Mapping[str, object] | None) -> Ledger:
        """The ledger as the last round's score table left it (empty when there is none or it is
        unreadable: a trainer then starts from 0, which only delays its smoothed share)."""
        ledger = cls()
        rows = table.get("trainers") if isinstance(table, Mapping) else None
        if not isinstance(rows, list):
            return ledger
        for row in rows:
            if isinstance(row, Mapping) and isinstance(row.get("address"), str):
                share = row.get("smoothed_share")
                if isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 1:
                    ledger.shares[str(row["address"])] = float(share)
        return ledger
