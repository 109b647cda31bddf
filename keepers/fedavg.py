"""Fast FedAvg: a weighted average accumulated in place, one client at a time.

Flower's `aggregate_arrayrecords` deserializes each reply (a copy), multiplies it by its weight (a
second temporary) and adds it. Here each client's arrays are read as zero-copy views and folded
into one accumulator per layer with BLAS axpy (acc += factor · x, one pass over memory), so the
extra memory is one model (O(P)), not one per client, and the arithmetic order matches Flower's
(normalized factors, same dtype) to float32 tolerance.

Only floating-point layers are averaged. Every other layer — integer counters such as BatchNorm's
`num_batches_tracked`, boolean masks — is taken from the base (the round's global model): an
average of counters is no counter, and a float where the model has an int would make every
honest trainer's next update look malformed. Each layer keeps its dtype.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy.linalg import blas

from client_kit.update_rules import averaged

_AXPY = {np.dtype(np.float32): blas.saxpy, np.dtype(np.float64): blas.daxpy}


def weighted_average(
    clients: Iterable[tuple[Sequence[np.ndarray], float]], total_weight: float, base: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """Average of the clients' float layers weighted by their weights (`total_weight` is their sum);
    the other layers are copies of `base`, the model the clients trained from.

    `clients` may be a generator, so replies can be decoded lazily and dropped after use.
    """
    if total_weight <= 0:
        raise ValueError("total weight must be positive")
    floating = [index for index, layer in enumerate(base) if averaged(layer)]
    accumulators: list[np.ndarray] | None = None
    for arrays, weight in clients:
        if len(arrays) != len(base):
            raise ValueError(f"client sent {len(arrays)} arrays, expected {len(base)}")
        factor = weight / total_weight
        if accumulators is None:
            for index in floating:
                _check_shape(arrays[index], base[index])
            accumulators = [np.multiply(arrays[i], factor, dtype=_accumulator_dtype(base[i])) for i in floating]
            continue
        for index, accumulator in zip(floating, accumulators, strict=True):
            _accumulate(accumulator, arrays[index], factor)
    if accumulators is None:
        raise ValueError("no client arrays to average")
    averages = dict(zip(floating, accumulators, strict=True))
    # Only the kept layers are copied: the averaged ones are their accumulators (no second model).
    return [
        averages[index].astype(layer.dtype, copy=False) if index in averages else layer.copy()
        for index, layer in enumerate(base)
    ]


def _accumulator_dtype(array: np.ndarray) -> np.dtype:
    """float32 and float64 accumulate in place with BLAS; narrower floats accumulate in float64."""
    return array.dtype if array.dtype in _AXPY else np.dtype(np.float64)


def _check_shape(array: np.ndarray, expected: np.ndarray) -> None:
    if array.shape != expected.shape:
        raise ValueError(f"shape {array.shape} does not match {expected.shape}")


def _accumulate(accumulator: np.ndarray, array: np.ndarray, factor: float) -> None:
    _check_shape(array, accumulator)
    axpy = _AXPY.get(accumulator.dtype)
    source = np.ascontiguousarray(array, dtype=accumulator.dtype)
    if axpy is not None and accumulator.flags.c_contiguous and accumulator.size:
        axpy(source.reshape(-1), accumulator.reshape(-1), a=factor)
    else:
        accumulator += source * factor
