"""Run benchmarks: `python -m bench` (all) or `python -m bench chain_cost ...`."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

BENCHMARKS = [
    "aggregation",
    "chain_cost",
    "round_latency",
    "e2e_overhead",
    "scale",
    "big_model",
    "keeper_memory",
    "many_trainers",
    "multihost",
    "incentives",
]
RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str]) -> int:
    chosen = argv or BENCHMARKS
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {BENCHMARKS}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        summary = importlib.import_module(f"bench.{name}").run(RESULTS)
        print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
