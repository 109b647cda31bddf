"""Round latency: where a round's wall time goes with 10 trainers and a tiny model, chain included.

Runs the real stack (localnet, Kubo, SuperLink, 10 trainer client.py processes, the keeper) through
the demo without adversaries, with the keeper scoring each model on its validation set instead of
a federated evaluation round trip. Each round's critical path comes from the keeper's live feed:
waiting for training replies (message transfer through the SuperLink and local training),
verification, aggregation, validation, pinning to IPFS and broadcasting the attestation. The
attestation's block inclusion (`inclusion_s`) overlaps the next round's training. `wall_s` is
from one round's start to the next one's; the target (mean ≤ 1.0 s) is over the 20 steady rounds of
a 22-round task (round 1 includes first contact, the last one waits for its block).

The wait for training replies is broken down along the round's last reply, from the times its
trainer reported: the train message's delivery (push to the SuperLink, the trainer's poll, pulling
its objects), local training, encoding and signing the reply, and the reply's return (push,
the keeper's poll, pulling its objects). Trainers run as warm processes (no runtime start-up per
ClientApp, which cost Flower's stock runtime about 10 s per phase here).

Beside it, in the same run, plain Flower on the same transport (`bench.plain_runs`): the same
trainers, shards, initial model and training, Flower's FedAvg with train-only rounds, trainers on
fedchain's node polling as often, the ServerApp on the keeper's brisk grid; no signing,
verification, IPFS or chain. Its rounds are timed by Flower's own clock in the ServerApp, steady
rounds chosen the same way.

Run: python -m bench round_latency
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import fields
from pathlib import Path

from rich.console import Console

from bench import BENCH_PORT_OFFSET
from bench.plain_runs import PlainFederation, run_plain_flower
from bench.report import write_results
from chain_config import LocalnetConfig
from keepers.demo import DemoOptions, run_demo
from keepers.events import LastReply, RoundAttested, RoundStarted, RoundTiming

TRAINERS = 10
PLAIN = "plain Flower, same transport"
PHASES = tuple(f.name for f in fields(RoundTiming) if f.name not in ("last_reply", "inclusion_s"))
LAST_REPLY = tuple(f.name for f in fields(LastReply))  # train_wait_s along the last reply


def _one_run(rounds: int, run: int) -> tuple[list[dict], bool]:
    with tempfile.TemporaryDirectory(prefix="fedchain-bench-") as home:
        config = LocalnetConfig(home=Path(home), port_offset=BENCH_PORT_OFFSET)
        options = DemoOptions(
            trainers=TRAINERS, rounds=rounds, adversaries=False, model="sklearn", federated_evaluation=False
        )
        report = run_demo(options, config, Console(file=io.StringIO(), width=200))
    starts: dict[int, float] = {}
    for published in report.events:
        if isinstance(published.event, RoundStarted):
            starts.setdefault(published.event.round, published.time)
    rows = []
    for published in report.events:
        event = published.event
        if not isinstance(event, RoundAttested):
            continue
        timing, number = event.timing.to_json(), event.round
        end = starts.get(number + 1, published.time)  # the last round ends when its block is in
        rows.append(
            {
                "variant": "fedchain",
                "run": run,
                "round": number,
                **{p: timing[p] for p in PHASES},
                **{p: timing.get(p) for p in LAST_REPLY},
                "inclusion_s": timing["inclusion_s"],
                "wall_s": round(end - starts[number], 3),
                "accuracy": event.value,
            }
        )
    return rows, report.reconciled


def _plain_rounds(rounds: int, run: int) -> list[dict]:
    """The same federation's rounds on plain Flower, same transport (see the module doc)."""
    federation = PlainFederation(TRAINERS, rounds, "sklearn", DemoOptions().seed, federated_evaluation=False)
    with tempfile.TemporaryDirectory(prefix="fedchain-plain-") as folder:
        measured = run_plain_flower(Path(folder), federation, stock=False)
    begins = [measured.started, *measured.round_ends[:-1]]
    return [
        {
            "variant": PLAIN,
            "run": run,
            "round": number,
            "wall_s": round(end - begin, 3),
            "accuracy": round(measured.held_out_accuracy, 4) if number == rounds else "",
        }
        for number, (begin, end) in enumerate(zip(begins, measured.round_ends, strict=True), start=1)
    ]


def run(results_dir: Path, rounds: int = 22, runs: int = 1) -> dict:
    rows: list[dict] = []
    steady: list[dict] = []
    steady_plain: list[dict] = []
    reconciled = True
    for number in range(1, runs + 1):
        measured, balanced = _one_run(rounds, number)
        rows += measured
        steady += measured[1:-1]  # round 1 includes first contact, the last one waits for its block
        reconciled &= balanced
        baseline = _plain_rounds(rounds, number)
        rows += baseline
        steady_plain += baseline[1:-1]
    mean = {
        p: round(sum(r[p] for r in steady) / len(steady), 3) for p in (*PHASES, *LAST_REPLY, "inclusion_s", "wall_s")
    }
    plain_wall = round(sum(r["wall_s"] for r in steady_plain) / len(steady_plain), 3)
    per_run = {
        number: round(sum(r["wall_s"] for r in steady if r["run"] == number) / (rounds - 2), 3)
        for number in range(1, runs + 1)
    }
    summary = {
        "trainers": TRAINERS,
        "model": "softmax 64x10 (650 parameters)",
        "evaluation": "keeper-side validation set (federated evaluation off)",
        "mean_steady_round": mean,
        "mean_wall_s_per_run": per_run,
        "steady_rounds": len(steady),
        "plain_flower_same_transport_mean_wall_s": plain_wall,
        "fedchain_over_plain_flower": f"{(mean['wall_s'] / plain_wall - 1) * 100:+.1f}%",
        "target_wall_s": 1.0,
        "reconciled": reconciled,
    }
    stacked = (*LAST_REPLY, "verify_s", "score_s", "aggregate_s", "validate_s", "ipfs_s", "tx_s")  # the critical path
    plot_rows = [
        {"round": r["round"], "seconds": r[p] or 0.0, "phase": p}
        for r in rows
        if r["run"] == 1 and r["variant"] == "fedchain"
        for p in stacked
    ]
    write_results(
        results_dir,
        "round_latency",
        rows,
        summary,
        columns=["variant", "run", "round", *PHASES, *LAST_REPLY, "inclusion_s", "wall_s", "accuracy"],
        plot={
            "x": "round",
            "y": "seconds",
            "series": "phase",
            "series_values": list(stacked),
            "stacked": True,
            "title": "where a round goes (run 1), 10 trainers, tiny model",
        },
        plot_rows=plot_rows,
    )
    return summary
