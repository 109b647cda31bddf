"""Round latency: where a round's wall time goes with 10 trainers and a tiny model, chain included.

Runs the real stack (localnet, Kubo, SuperLink, 10 trainer client.py processes, the keeper) through the demo
without adversaries, and reads each round's phase timings from the keeper's live feed: waiting for
training replies (polling and local training), verification,
aggregation, waiting for evaluation replies, pinning to IPFS, and the SubmitRound transaction.

Run: python -m bench round_latency
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from rich.console import Console

from bench.report import write_results
from chain_config import LocalnetConfig
from keepers.demo import DemoOptions, run_demo

PHASES = ("train_wait_s", "verify_s", "aggregate_s", "evaluate_wait_s", "ipfs_s", "tx_s")


def run(results_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="fedchain-bench-") as home:
        config = LocalnetConfig(home=Path(home), port_offset=7000)
        report = run_demo(
            DemoOptions(trainers=10, rounds=4, adversaries=False, model="sklearn"),
            config,
            Console(file=io.StringIO(), width=200),
        )
    attested = [e for e in report.events if e["event"] == "round_attested"]
    rows = []
    for event in attested:
        timing = event["timing"]
        rows.append(
            {
                "round": event["round"],
                **{p: timing[p] for p in PHASES},
                "total_s": round(sum(timing[p] for p in PHASES), 3),
                "accuracy": event["accuracy"],
            }
        )
    steady = rows[1:] or rows  # round 1 includes first-contact costs
    mean = {p: round(sum(r[p] for r in steady) / len(steady), 3) for p in (*PHASES, "total_s")}
    summary = {
        "trainers": 10,
        "model": "softmax 64x10 (650 parameters)",
        "mean_steady_round": mean,
        "target_total_s": 3.0,
        "reconciled": report.reconciled,
    }
    plot_rows = [{"round": r["round"], "seconds": r[p], "phase": p} for r in rows for p in PHASES]
    write_results(
        results_dir,
        "round_latency",
        rows,
        summary,
        columns=["round", *PHASES, "total_s", "accuracy"],
        plot={
            "x": "round",
            "y": "seconds",
            "series": "phase",
            "series_values": list(PHASES),
            "title": "round phases, 10 trainers, tiny model",
        },
        plot_rows=plot_rows,
    )
    return summary
