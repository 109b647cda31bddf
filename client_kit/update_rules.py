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


NORM_CHUNK = 1 << 20  # elements per float64 chunk of the norm


def update_norm(arrays: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """L2 norm of (update − reference) over the averaged (float) layers, accumulated in float64.

    Counters and masks are excluded: they are never averaged, and a BatchNorm counter that grows
    by the number of batches would otherwise inflate an honest trainer's norm past the bound."""
    total = 0.0
    for array, base in zip(arrays, reference, strict=True):
        if not averaged(base):
            continue
        if np.shape(array) != np.shape(base):  # flattened, other shapes would pair wrong elements
            raise ValueError(f"an update layer of shape {np.shape(array)} against {np.shape(base)}")
        flat, flat_base = np.asarray(array).reshape(-1), np.asarray(base).reshape(-1)
        for start in range(0, flat.size, NORM_CHUNK):  # float64 a chunk at a time: O(1) memory
            delta = np.subtract(
                flat[start : start + NORM_CHUNK], flat_base[start : start + NORM_CHUNK], dtype=np.float64
            )
            total += float(np.dot(delta, delta))
    return math.sqrt(total)
