"""Fast FedAvg: a weighted average accumulated in place, one client at a time.

Flower's `aggregate_arrayrecords` deserializes each reply (a copy), multiplies it by its weight (a
second temporary) and adds it. Here each client's arrays are read as zero-copy views and folded
into one accumulator per layer with BLAS axpy (acc += factor · x, one pass over memory), so the
extra memory is one model (O(P)), not one per client, and the arithmetic order matches Flower's
(normalized factors, same dtype) to float32 tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.linalg import blas

_AXPY = {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}


def weighted_average(clients: Iterable[tuple[Sequence[np.ndarray], float]], total_weight: float) -> list[np.ndarray]:
    """Average of the clients' arrays weighted by their weights; `total_weight` is their sum.

    `clients` may be a generator, so replies can be decoded lazily and dropped after use.
    """
    if total_weight <= 0:
        raise ValueError("total weight must be positive")
    accumulators: list[np.ndarray] | None = None
    for arrays, weight in clients:
        factor = weight / total_weight
        if accumulators is None:
            accumulators = [np.multiply(a, factor, dtype=_accumulator_dtype(a)) for a in arrays]
            continue
        if len(arrays) != len(accumulators):
            raise ValueError(f"client sent {len(arrays)} arrays, expected {len(accumulators)}")
        for accumulator, array in zip(accumulators, arrays, strict=True):
            _accumulate(accumulator, array, factor)
    if accumulators is None:
        raise ValueError("no client arrays to average")
    return accumulators


def _accumulator_dtype(array: np.ndarray) -> np.dtype:
    return array.dtype if array.dtype in _AXPY else np.dtype(np.float64)


def _accumulate(accumulator: np.ndarray, array: np.ndarray, factor: float) -> None:
    if array.shape != accumulator.shape:
        raise ValueError(f"shape {array.shape} does not match {accumulator.shape}")
    axpy = _AXPY.get(accumulator.dtype)
    source = np.ascontiguousarray(array, dtype=accumulator.dtype)
    if axpy is not None and accumulator.flags.c_contiguous and accumulator.size:
        axpy(source.reshape(-1), accumulator.reshape(-1), a=factor)
    else:
        accumulator += source * factor
