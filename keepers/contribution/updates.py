"""The updates a round's contribution is measured on: each accepted update as its change to the
global model, flattened, spilled to the round's file as it arrives (`UpdateRows`), and the way back
from a combination of changes to a model's bytes.

Only floating-point layers change (`client_kit.update_rules.averaged`); counters and masks are the
global model's, exactly as `keepers.fedavg` aggregates them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from client_kit.model_format import encode
from client_kit.update_rules import averaged

BLOCK_BYTES = 8 * 2**20  # one read across every row of the round: a block of coordinates (float64)

FLOAT = np.dtype(np.float32)


class UpdateRows:
    """The round's updates as float32 rows — update − global over the float layers, flattened — in
    one unnamed file: each is written once, as it arrives, and read back a row or a block of
    coordinates at a time (explicit reads into buffers, never a mapping that would keep every page
    it touched resident). So the keeper holds a few models' worth of memory whatever the number of
    trainers: the screen's Gram matrix, the median and the weighted sums are block-wise passes over
    the file, each block at most BLOCK_BYTES across all rows."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        self.mask: np.ndarray | None = None  # coordinates reads return as 0 (`masked`)
        self._file = tempfile.TemporaryFile(prefix="fedchain-round-")  # in TMPDIR
        self._fd = self._file.fileno()

    def __enter__(self) -> UpdateRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    @contextmanager
    def masked(self, mask: np.ndarray) -> Iterator[None]:
        """Reads return the `mask`ed coordinates as 0 within this block (what scoring cannot see)."""
        self.mask = mask
        try:
            yield
        finally:
            self.mask = None

    def append(self, delta: np.ndarray) -> int:
        """Writes one row; returns its index."""
        row = np.ascontiguousarray(delta, dtype=FLOAT)
        if row.shape != (self.size,):
            raise ValueError(f"a row of {row.shape} where the round's rows have ({self.size},)")
        self._write(memoryview(row).cast("B"), self.count * self.size * FLOAT.itemsize)
        self.count += 1
        return self.count - 1

    def row(self, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """Row `index` (into `out` when given: a reused buffer), masked coordinates 0."""
        out = np.empty(self.size, dtype=FLOAT) if out is None else out
        self._read(out, index, 0)
        if self.mask is not None:
            out[self.mask] = 0
        return out

    def spans(self, rows: int) -> Iterator[tuple[int, int]]:
        """Coordinate ranges such that a block across `rows` rows stays within BLOCK_BYTES."""
        width = max(1, BLOCK_BYTES // (8 * max(1, rows)))  # blocks are widened to float64 to multiply
        for start in range(0, self.size, width):
            yield start, min(start + width, self.size)

    def block(self, indices: Sequence[int], start: int, stop: int) -> np.ndarray:
        """Coordinates start:stop of the rows `indices`, one row each, masked coordinates 0."""
        out = np.empty((len(indices), stop - start), dtype=FLOAT)
        for position, index in enumerate(indices):
            self._read(out[position], index, start)
        if self.mask is not None:
            out[:, self.mask[start:stop]] = 0
        return out

    def gram(self, indices: Sequence[int], extra: Sequence[np.ndarray] = ()) -> np.ndarray:
        """The float64 Gram matrix of [*extra, *rows]: every pair's dot product (norms on the
        diagonal), accumulated block by block — the screen's cosines from one pass over the file."""
        size = len(extra) + len(indices)
        gram = np.zeros((size, size))
        for start, stop in self.spans(size):
            block = np.empty((size, stop - start))
            for position, vector in enumerate(extra):
                block[position] = vector[start:stop]
            block[len(extra) :] = self.block(indices, start, stop)
            gram += block @ block.T
        return gram

    def median(self, indices: Sequence[int]) -> np.ndarray:
        """The coordinate-wise median of the rows, block by block."""
        median = np.empty(self.size, dtype=FLOAT)
        for start, stop in self.spans(len(indices)):
            median[start:stop] = np.median(self.block(indices, start, stop), axis=0)
        return median

    def weighted_sum(self, indices: Sequence[int], weights: Sequence[float]) -> np.ndarray:
        """Σ weightᵢ · rowᵢ in float64, one row at a time."""
        total = np.zeros(self.size)
        buffer = np.empty(self.size, dtype=FLOAT)
        for index, weight in zip(indices, weights, strict=True):
            total += weight * self.row(index, buffer)
        return total

    def _write(self, data: memoryview, offset: int) -> None:
        while data:
            written = os.pwrite(self._fd, data, offset)
            data, offset = data[written:], offset + written

    def _read(self, out: np.ndarray, index: int, start: int) -> None:
        if not 0 <= index < self.count:
            raise IndexError(f"row {index} of {self.count}")
        view = memoryview(out).cast("B")
        offset = (index * self.size + start) * FLOAT.itemsize
        while view:
            read = os.preadv(self._fd, [view], offset)
            if read == 0:
                raise OSError("the round's update file ended early")
            view, offset = view[read:], offset + read


@dataclass(frozen=True)
class Candidate:
    """One verified update from a staked trainer, as the pipeline sees it."""

    address: str
    prior: float  # min(claimed examples, the task's cap): the claimed count's only say in anything
    row: int  # its change to the global model: this row of the round's UpdateRows


class Flattener:
    """Float layers of a model ↔ one flat vector, relative to the round's global model."""

    def __init__(self, names: Sequence[str], base: Sequence[np.ndarray]) -> None:
        self.names = list(names)
        self.base = list(base)
        self._floating = [index for index, layer in enumerate(self.base) if averaged(layer)]
        self.size = int(sum(self.base[index].size for index in self._floating))

    def delta(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """The update's change to the global model, flattened, in float32."""
        change = np.empty(self.size, dtype=np.float32)
        offset = 0
        for index in self._floating:
            layer = self.base[index]
            out = change[offset : offset + layer.size].reshape(layer.shape)
            if layer.dtype == np.float32:
                np.subtract(arrays[index], layer, out=out)
            else:  # subtracted in the wider type, then rounded once: a float64 layer's small change
                # survives (cast to float32 first, 1000.00002 − 1000 would be 0)
                out[...] = np.subtract(arrays[index], layer, dtype=np.result_type(layer.dtype, np.float32))
            offset += layer.size
        return change

    def arrays(self, delta: np.ndarray) -> list[np.ndarray]:
        """The global model moved by `delta`, each layer in its own dtype. The caller gives `delta`
        up: float32 layers are summed into its memory (one model fewer at the keeper's peak)."""
        floating = set(self._floating)
        arrays = [layer if index in floating else layer.copy() for index, layer in enumerate(self.base)]
        offset = 0
        for index in self._floating:
            layer = self.base[index]
            step = delta[offset : offset + layer.size].reshape(layer.shape)
            if layer.dtype == np.float32 and step.dtype == np.float32:
                arrays[index] = np.add(layer, step, out=step)
            else:  # in the wider of the layer's type and float32, then rounded once to the layer's
                wide = np.result_type(layer.dtype, np.float32)
                arrays[index] = np.add(layer, step, dtype=wide).astype(layer.dtype, copy=False)
            offset += layer.size
        return arrays

    def model(self, delta: np.ndarray) -> bytes:
        """The checkpoint of the global model moved by `delta` (what the task's code evaluates)."""
        return encode(self.names, self.arrays(delta))


def chance_cosine(dimensions: int) -> float:
    """Three standard deviations of the cosine between a fixed direction and a random one in this
    many dimensions (≈ 1/√d each): an update less aligned than this is indistinguishable from noise."""
    return 3.0 / max(1.0, float(dimensions)) ** 0.5
