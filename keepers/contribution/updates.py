"""The updates a round's contribution is measured on: each accepted update as its change to the
global model, flattened, and the way back from a combination of changes to a model's bytes.

Only floating-point layers change (`client_kit.update_rules.averaged`); counters and masks are the
global model's, exactly as `keepers.fedavg` aggregates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from client_kit.model_format import encode
from client_kit.update_rules import averaged


@dataclass(frozen=True)
class Candidate:
    """One verified update from a staked trainer, as the pipeline sees it."""

    address: str
    prior: float  # min(claimed examples, the task's cap): the claimed count's only say in anything
    delta: np.ndarray  # update − global over the float layers, flattened (float32)


class Flattener:
    """Float layers of a model ↔ one flat vector, relative to the round's global model."""

    def __init__(self, names: Sequence[str], base: Sequence[np.ndarray]) -> None:
        self.names = list(names)
        self.base = list(base)
        self._floating = [index for index, layer in enumerate(self.base) if averaged(layer)]
        self.size = int(sum(self.base[index].size for index in self._floating))

    def delta(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """The update's change to the global model, flattened, in float32."""
        if not self._floating:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(
            [np.subtract(arrays[i], self.base[i], dtype=np.float32).reshape(-1) for i in self._floating]
        )

    def arrays(self, delta: np.ndarray) -> list[np.ndarray]:
        """The global model moved by `delta`, each layer in its own dtype."""
        arrays = [layer.copy() for layer in self.base]
        offset = 0
        for index in self._floating:
            layer = self.base[index]
            step = delta[offset : offset + layer.size].reshape(layer.shape)
            # In the wider of the layer's float type and float32: each sum is then rounded once to
            # the layer's type exactly as through float64, at a quarter of the memory traffic.
            wide = np.result_type(layer.dtype, np.float32)
            arrays[index] = np.add(layer, step, dtype=wide).astype(layer.dtype, copy=False)
            offset += layer.size
        return arrays

    def keep_base(self, arrays: Sequence[np.ndarray], frozen: np.ndarray) -> list[np.ndarray]:
        """`arrays` with the `frozen` float coordinates (a flat mask) set back to the global model's."""
        kept = [np.array(a) for a in arrays]
        offset = 0
        for index in self._floating:
            layer = self.base[index]
            mask = frozen[offset : offset + layer.size].reshape(layer.shape)
            kept[index][mask] = layer[mask]
            offset += layer.size
        return kept

    def model(self, delta: np.ndarray) -> bytes:
        """The checkpoint of the global model moved by `delta` (what the task's code evaluates)."""
        return encode(self.names, self.arrays(delta))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b), accumulated in float64; 0 when either is the zero vector (no direction at all)."""
    norm = float(np.linalg.norm(a.astype(np.float64))) * float(np.linalg.norm(b.astype(np.float64)))
    if norm == 0.0:
        return 0.0
    return float(np.dot(a.astype(np.float64), b.astype(np.float64)) / norm)


def chance_cosine(dimensions: int) -> float:
    """Three standard deviations of the cosine between a fixed direction and a random one in this
    many dimensions (≈ 1/√d each): an update less aligned than this is indistinguishable from noise."""
    return 3.0 / max(1.0, float(dimensions)) ** 0.5
