"""Many trainers: one round with 1,000 staked trainers on a ~10k-parameter model, attestation included.

The federation is the scale benchmark's (real localnet, Kubo, the keeper's TLS SuperLink and
ServerApp, measured scoring on the keeper's validation set) with 1,000 trainers: each its own
funded account that registers and stakes with its own signed transaction, its own Flower node key
bound to it, a TrainerNode speaking Flower's Fleet API over TLS and a SignerApp signing its update —
multiplexed as threads into eight host processes (`bench.trainer_hosts`) to fit the machine. Nodes
poll every 8 s (each request costs the SuperLink's one event loop about a millisecond, so 1,000
nodes polling faster would leave it little time for the round itself) and come online over a
minute, as a federation's nodes do, rather than in one burst of 1,000 TLS handshakes. Reported: the
round's wall time from its first train message to its attestation in a block, its phases, and every
process's peak memory.
The SubmitRound for 1,000 contributors is measured in `chain_cost` (one transaction).

Beside it, in the same run: plain Flower on the same transport (`bench.plain_runs`), one round of
Flower's FedAvg with 1,000 nodes of fedchain's trainer node multiplexed the same way (eight
processes, polling every 8 s, online over a minute), the same shards and model width, Flower's own
SuperLink (plain HTTP, no node authentication), no signing, verification, scoring or chain. Its
round is timed by Flower's clock in the ServerApp, from the moment all 1,000 nodes are connected.

Run: python -m bench many_trainers
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.plain_runs import PlainFederation, PlainHosts, run_plain_flower
from bench.report import write_results
from bench.scale import RoundShape, digits_shards, measure_round, phase_plot

# 75·133 + 10 = 9,985 parameters
MANY = RoundShape(trainers=1000, hidden=133, host_processes=8, poll_s=8.0, spread_s=60.0, epochs=1)
PLAIN_TIMEOUT_S = 900


def _plain_round(scratch: Path) -> dict[str, Any]:
    """The same round on plain Flower, same transport (see the module doc)."""
    held_out, shards = digits_shards(scratch, MANY.trainers)
    federation = PlainFederation(
        MANY.trainers, 1, "torch", 7, False, MANY.hidden, MANY.epochs, tuple(map(str, shards)), str(held_out)
    )
    hosts = PlainHosts(MANY.host_processes, MANY.poll_s, MANY.spread_s)
    row: dict[str, Any] = {"variant": "plain Flower, same transport", "trainers": MANY.trainers}
    started = time.monotonic()
    try:
        measured = run_plain_flower(scratch / "plain", federation, stock=False, hosts=hosts, timeout=PLAIN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {**row, "round_s": f"not finished in {PLAIN_TIMEOUT_S} s"}
    except RuntimeError as error:  # the run failed: what Flower said is the result
        return {**row, "round_s": f"failed after {time.monotonic() - started:.0f} s: {str(error)[:300]}"}
    return {
        **row,
        "round_s": round(measured.round_ends[0] - measured.started, 2),
        "held_out_accuracy": round(measured.held_out_accuracy, 4),
    }


def run(results_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fedchain-many-") as scratch:
        row = {"variant": "fedchain", **measure_round(Path(scratch), MANY, federated_evaluation=False)}
    with tempfile.TemporaryDirectory(prefix="fedchain-many-plain-") as scratch:
        plain = _plain_round(Path(scratch))
    summary = {
        "trainers": MANY.trainers,
        "accepted": row["accepted"],
        "parameters": row["parameters"],
        "round_s": row["round_s"],
        "target_round_s": 120,
        "plain_flower_same_transport_round_s": plain["round_s"],
        "train_wait_s": row["train_wait_s"],
        "score_s": row["score_s"],
        "peak_memory_mb_keeper": row["peak_mb_keeper"],
        "peak_memory_mb_trainers": row["peak_mb_trainers"],
        "trainer_processes": MANY.host_processes,
        "poll_interval_s": MANY.poll_s,
        "nodes_online_over_s": MANY.spread_s,
    }
    plot = phase_plot([row], "variant", f"where a {MANY.trainers}-trainer round goes")
    write_results(results_dir, "many_trainers", [row, plain], summary, columns=list(row), **plot)
    return summary
