"""Aggregation: fedchain's FedAvg vs Flower's own, on identical inputs, against the memory bound.

Both start from N replies as they reach the server, with the same float32 arrays (P parameters in
three layers) and example counts. Flower's path gets them in Flower's message layout (an ArrayRecord
with one Array per layer) and runs `aggregate_arrayrecords` (deserialize each array, multiply into
a temporary, add). The keeper's path gets them as fedchain trainers send them (one Array holding the
model's safetensors bytes), reads each layer as a zero-copy view of those bytes and folds it into
one accumulator with BLAS axpy. The bound is `np.copyto` of the same bytes (read once, write once):
no averaging can move the data faster. Peak extra memory is measured with tracemalloc.

Run: python -m bench aggregation
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords
from rich.progress import Progress

from bench.report import write_results
from client_kit.model_format import from_record, to_record
from keepers.fedavg import weighted_average

CLIENTS = (10, 50, 100)
PARAMETERS = (100_000, 1_000_000, 10_000_000)
REPEATS = 3


def _replies(clients: int, parameters: int, packed: bool, seed: int = 0) -> list[RecordDict]:
    """The same N replies (same seed), in the keeper's layout (`packed`) or in Flower's."""
    rng = np.random.default_rng(seed)
    layers = [parameters // 2, parameters // 4, parameters - parameters // 2 - parameters // 4]
    names = [f"layer{i}" for i in range(len(layers))]
    replies = []
    for _ in range(clients):
        arrays = [rng.standard_normal(size, dtype=np.float32) for size in layers]
        record = to_record(names, arrays) if packed else ArrayRecord(dict(zip(names, map(Array, arrays), strict=True)))
        metrics = MetricRecord({"num-examples": int(rng.integers(50, 500))})
        replies.append(RecordDict({"arrays": record, "metrics": metrics}))
    return replies


def ours(replies: list[RecordDict]) -> list[np.ndarray]:
    weights = [float(r["metrics"]["num-examples"]) for r in replies]
    base = from_record(replies[0]["arrays"])[1]  # the layout every client shares (all layers are floats)
    clients = ((from_record(r["arrays"])[1], w) for r, w in zip(replies, weights, strict=True))
    return weighted_average(clients, sum(weights), base)


def flowers(replies: list[RecordDict]) -> list[np.ndarray]:
    return [a.numpy() for a in aggregate_arrayrecords(replies, "num-examples").values()]


def bound(replies: list[RecordDict]) -> None:
    views = [from_record(r["arrays"])[1] for r in replies]
    targets = [np.empty_like(a) for a in views[0]]
    for arrays in views:
        for target, array in zip(targets, arrays, strict=True):
            np.copyto(target, array)


def _measure(function, replies: list[RecordDict]) -> tuple[float, int]:
    """Best of REPEATS wall times, and the peak extra memory of one call."""
    times = []
    for _ in range(REPEATS):
        gc.collect()
        started = time.perf_counter()
        function(replies)
        times.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    function(replies)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return min(times), peak


def run(results_dir: Path) -> dict:
    rows = []
    with Progress() as progress:
        job = progress.add_task("aggregation N × P", total=len(CLIENTS) * len(PARAMETERS))
        for parameters in PARAMETERS:
            for clients in CLIENTS:
                replies = _replies(clients, parameters, packed=False)
                theirs = flowers(replies)
                t_flower, m_flower = _measure(flowers, replies)
                del replies  # one layout in memory at a time (100 x 10M parameters is 4 GB)
                replies = _replies(clients, parameters, packed=True)
                mine = ours(replies)
                error = max(float(np.max(np.abs(a - b))) for a, b in zip(mine, theirs, strict=True))
                t_ours, m_ours = _measure(ours, replies)
                t_bound, _ = _measure(bound, replies)
                model_bytes = parameters * 4
                rows.append(
                    {
                        "clients": clients,
                        "parameters": parameters,
                        "ours_s": round(t_ours, 4),
                        "flower_s": round(t_flower, 4),
                        "copy_bound_s": round(t_bound, 4),
                        "speedup_vs_flower": round(t_flower / t_ours, 2),
                        "fraction_of_bound": round(t_bound / t_ours, 2),
                        "ours_peak_extra_model_sizes": round(m_ours / model_bytes, 2),
                        "flower_peak_extra_model_sizes": round(m_flower / model_bytes, 2),
                        "max_abs_diff": error,
                    }
                )
                del replies
                progress.advance(job)
    key = next(r for r in rows if r["clients"] == 50 and r["parameters"] == 1_000_000)
    summary = {
        "at_50x1M": {
            k: key[k]
            for k in (
                "ours_s",
                "flower_s",
                "copy_bound_s",
                "speedup_vs_flower",
                "fraction_of_bound",
                "ours_peak_extra_model_sizes",
            )
        },
        "targets": {"speedup_vs_flower": ">= 2.4", "fraction_of_bound": ">= 0.85", "peak_extra": "O(P)"},
        "max_abs_diff_overall": max(r["max_abs_diff"] for r in rows),
    }
    plot_rows = [
        {"clients": r["clients"], "parameters": r["parameters"], "seconds": r[k], "path": name}
        for r in rows
        if r["clients"] == 50
        for k, name in (
            ("ours_s", "fedchain"),
            ("flower_s", "flower aggregate_arrayrecords"),
            ("copy_bound_s", "copy bound"),
        )
    ]
    write_results(
        results_dir,
        "aggregation",
        rows,
        summary,
        columns=[
            "clients",
            "parameters",
            "ours_s",
            "flower_s",
            "copy_bound_s",
            "speedup_vs_flower",
            "fraction_of_bound",
            "ours_peak_extra_model_sizes",
            "flower_peak_extra_model_sizes",
            "max_abs_diff",
        ],
        plot={
            "x": "parameters",
            "y": "seconds",
            "series": "path",
            "logx": True,
            "logy": True,
            "series_values": ["fedchain", "flower aggregate_arrayrecords", "copy bound"],
            "title": "FedAvg of 50 clients: wall time vs parameters",
        },
        plot_rows=plot_rows,
    )
    return summary
