"""End-to-end overhead: the same digits task as plain Flower FedAvg and as fedchain, in one run.

10 trainers, 5 rounds, the demo's PyTorch MLP, the same non-IID shards, initial weights,
hyperparameters and training loop, federated evaluation every round in all three:

- `fedchain`: the demo without adversaries: signed updates, verification, IPFS checkpoints, one
  attestation per round on the real localnet, trainers running their hash-verified client.py.
- `plain Flower, same transport`: Flower's own FedAvg ServerApp and a plain ClientApp, trainers on
  fedchain's trainer node (warm process, PyTorch warmed up before connecting, polling as often as
  fedchain's) and the keeper's brisk reply polling (`bench.plain_runs`). The difference to
  fedchain is what fedchain does beyond Flower: signing, verification, IPFS and the chain cost
  time; sending the model as one Array of safetensors bytes instead of Flower's Array per layer
  saves some (client_kit/model_format.py).
- `plain Flower, stock runtime`: the same apps on Flower's stock SuperNodes (a process per message,
  3 s idle polling), as an operator would deploy Flower today.

Training time runs from the first round's start to the last round's end (for fedchain, until its
attestation is in a block). Accuracy is the final global model's on the 360 held-out digits.

Run: python -m bench e2e_overhead
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import BENCH_PORT_OFFSET
from bench.plain_runs import PlainFederation, run_plain_flower
from bench.report import write_results
from chain_config import LocalnetConfig
from keepers.demo import DemoOptions, run_demo
from keepers.events import RoundAttested, RoundStarted

TRAINERS, ROUNDS, SEED = 10, 5, 7


def _fedchain(home: Path) -> dict[str, Any]:
    config = LocalnetConfig(home=home, port_offset=BENCH_PORT_OFFSET)
    options = DemoOptions(trainers=TRAINERS, rounds=ROUNDS, adversaries=False, model="torch", seed=SEED)
    report = run_demo(options, config, Console(file=io.StringIO(), width=200))
    starts: dict[int, float] = {}
    for published in report.events:
        if isinstance(published.event, RoundStarted):
            starts.setdefault(published.event.round, published.time)
    finished = max(p.time for p in report.events if isinstance(p.event, RoundAttested))
    ends = [starts[r + 1] for r in range(1, ROUNDS)] + [finished]
    return {
        "variant": "fedchain",
        "training_s": round(finished - starts[1], 2),
        "round_s": _durations(starts[1], ends),
        "held_out_accuracy": round(report.held_out_accuracy, 4),
        "reconciled": report.reconciled,
    }


def _durations(start: float, ends: list[float]) -> list[float]:
    """Each round's wall time, from the end of the one before it."""
    return [round(end - begin, 2) for begin, end in zip([start, *ends[:-1]], ends, strict=True)]


def _plain(folder: Path, stock: bool) -> dict[str, Any]:
    federation = PlainFederation(TRAINERS, ROUNDS, "torch", SEED, federated_evaluation=True)
    measured = run_plain_flower(folder, federation, stock)
    return {
        "variant": "plain Flower, stock runtime" if stock else "plain Flower, same transport",
        "training_s": round(measured.finished - measured.started, 2),
        "round_s": _durations(measured.started, measured.round_ends),
        "held_out_accuracy": round(measured.held_out_accuracy, 4),
    }


def run(results_dir: Path) -> dict[str, Any]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="fedchain-overhead-") as scratch:
        base = Path(scratch)
        rows.append(_fedchain(base / "fedchain"))
        rows.append(_plain(base / "same-transport", stock=False))
        rows.append(_plain(base / "stock", stock=True))
    fedchain, same, stock = rows
    for row in rows:
        steady = row["round_s"][1:]  # round 1 includes each trainer's first PyTorch run
        row["steady_round_s"] = round(sum(steady) / len(steady), 2)
        row["first_round_s"] = row["round_s"][0]

    def change(key: str, baseline: dict[str, Any]) -> str:
        return f"{(fedchain[key] / baseline[key] - 1) * 100:+.1f}%"

    summary = {
        "task": f"{TRAINERS} trainers x {ROUNDS} rounds, digits MLP (4,810 parameters), federated evaluation",
        "overhead_vs_same_transport_total": change("training_s", same),
        "overhead_vs_same_transport_steady_round": change("steady_round_s", same),
        "overhead_vs_stock_flower_total": change("training_s", stock),
        "accuracy_gap_points": round(abs(fedchain["held_out_accuracy"] - same["held_out_accuracy"]) * 100, 2),
        "target": "<= 10% wall-time overhead, accuracy within 1 point",
    }
    write_results(
        results_dir,
        "e2e_overhead",
        rows,
        summary,
        columns=["variant", "training_s", "first_round_s", "steady_round_s", "round_s", "held_out_accuracy"],
    )
    return summary
