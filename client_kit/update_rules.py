"""What an update is measured by, in one place for both sides of a round.

The keeper rejects (and slashes) an update whose distance from the global model exceeds the task's
`max_update_norm`; the trainer's signer refuses to sign such an update in the first place. Both
must measure it the same way, or an honest trainer could sign what the keeper then slashes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def averaged(array: np.ndarray) -> bool:
    """Whether a layer is averaged (floating point) or kept from the global model (anything else)."""
    return bool(np.issubdtype(array.dtype, np.floating))


def update_norm(arrays: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """L2 norm of (update − reference) over the averaged (float) layers, accumulated in float64.

    Counters and masks are excluded: they are never averaged, and a BatchNorm counter that grows
    by the number of batches would otherwise inflate an honest trainer's norm past the bound."""
    total = 0.0
    for array, base in zip(arrays, reference, strict=True):
        if not averaged(base):
            continue
        delta = np.subtract(array, base, dtype=np.float64)
        total += float(np.dot(delta.reshape(-1), delta.reshape(-1)))
    return math.sqrt(total)
