"""Keeper memory: peak resident memory of a round's aggregation against the number of trainers and
against the model's size, fedchain's strategy beside Flower's own FedAvg on the same updates.

Each point runs in a fresh process (so its peak, VmHWM, is the round's alone): the process builds
the round's signed replies — one staked trainer each, its own key, a real Flower Message with the
update in fedchain's wire format and a signed envelope — and hands them to the strategy the keeper
runs (`keepers.strategy.ChainFedAvg`, claimed-count pipeline: verification, median-direction
screen, near-duplicate test, the new model) one at a time, as `keepers.brisk_grid` yields them from
the SuperLink. Flower's FedAvg gets the same updates as Flower's grid returns them: all at once, as
a list. Reported: the process's peak RSS minus its RSS before the round (the imports and the global
model), in MiB and in models. This is the ServerApp's part of the keeper; the SuperLink holds only
replies not yet pulled, and the validation worker one model.

Run: python -m bench keeper_memory
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, Metadata, MetricRecord, RecordDict
from flwr.app.message import make_message
from flwr.serverapp.strategy import FedAvg

from bench.report import write_results
from client_kit.envelope import UpdateClaim, sign, update_digest
from client_kit.model_format import encode, record_of, to_record
from client_kit.task_hub import Standing
from keepers.binding import Bindings
from keepers.strategy import ChainFedAvg, RoundOutcome
from keepers.verification import UpdateContext

WIDTH = 1000  # the model: one (parameters / WIDTH, WIDTH) float32 layer and a WIDTH bias
TRAINERS = (10, 30, 100, 300, 1000)
SWEEP = 1_000_000  # the trainers sweep: a 1M-parameter model (3.8 MiB), so updates dominate
SIZES = (1_000_000, 4_000_000, 11_000_000)  # parameters, for the model-size sweep (10 trainers)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


class _Round:
    """One round's federation in this process: the global model, staked wallets, their bindings."""

    def __init__(self, trainers: int, parameters: int) -> None:
        rows = max(1, parameters // WIDTH - 1)
        self.names = ["w", "b"]
        self.global_arrays = [np.zeros((rows, WIDTH), np.float32), np.zeros(WIDTH, np.float32)]
        self.model = encode(self.names, self.global_arrays)
        sha = hashlib.sha256(self.model).hexdigest()
        chain = ("fedchain-local-1", "wasm1hub", 1, 1)
        self.context = UpdateContext(*chain, self.names, self.global_arrays, sha, 1e9, 10**6)
        keys = [hashlib.sha256(b"trainer%d" % i).digest() for i in range(trainers)]
        self.wallets = [LocalWallet(PrivateKey(key), "wasm") for key in keys]

    def change(self, index: int) -> list[np.ndarray]:
        rng = np.random.default_rng(index)
        return [rng.normal(0, 0.01, a.shape).astype(np.float32) for a in self.global_arrays]

    def fedchain_replies(self) -> Iterator[Message]:
        for index, wallet in enumerate(self.wallets):
            arrays = self.change(index)
            claim = UpdateClaim(
                self.context.chain_id, self.context.contract, 1, 1, 100, update_digest(self.names, arrays),
                self.context.global_sha256,
            )  # fmt: skip
            content = RecordDict(
                {
                    "arrays": to_record(self.names, arrays),
                    "metrics": MetricRecord({"num-examples": 100, "train-loss": 0.5}),
                    "envelope": ConfigRecord(sign(wallet.signer(), claim).to_record()),
                }
            )
            yield _message(content, 100 + index)

    def flower_replies(self) -> list[Message]:
        replies = []
        for index in range(len(self.wallets)):
            arrays = ArrayRecord({n: Array(a) for n, a in zip(self.names, self.change(index), strict=True)})
            content = RecordDict({"arrays": arrays, "metrics": MetricRecord({"num-examples": 100})})
            replies.append(_message(content, 100 + index))
        return replies


def _message(content: RecordDict, node: int) -> Message:
    metadata = Metadata(1, "", node, 0, "instruction", "1", time.time(), 600, "train")
    return make_message(metadata=metadata, content=content)


class _NoNodes:
    def get_node_ids(self) -> list[int]:
        return []


def _measure(kind: str, trainers: int, parameters: int, out: Any) -> None:
    """In a fresh process: one round's aggregation; sends (baseline KiB, peak KiB, seconds, accepted)."""
    federation = _Round(trainers, parameters)
    if kind == "fedchain":
        staked = {str(w.address()) for w in federation.wallets}

        def standing(address: str) -> Standing:
            return Standing.ACTIVE if address in staked else Standing.ABSENT

        bindings = Bindings("fedchain-local-1", "wasm1hub", 1, standing)
        bindings.by_node.update({100 + i: str(w.address()) for i, w in enumerate(federation.wallets)})
        outcomes: list[RoundOutcome] = []
        strategy = ChainFedAvg(bindings, lambda *_: federation.context, standing, outcomes.append, task_id=1)
        strategy.configure_train(1, record_of(federation.model), ConfigRecord(), _NoNodes())  # type: ignore[arg-type]
        baseline = _status_kb("VmRSS:")
        started = time.perf_counter()
        strategy.aggregate_train(1, federation.fedchain_replies())
        strategy.aggregate_evaluate(1, [])
        accepted = len(outcomes[0].accepted)
    else:
        baseline = _status_kb("VmRSS:")
        started = time.perf_counter()
        replies = federation.flower_replies()  # Flower's grid returns the phase's replies at once
        FedAvg().aggregate_train(1, replies)
        accepted = len(replies)
    out.send((baseline, _status_kb("VmHWM:"), time.perf_counter() - started, accepted))


def measure(kind: str, trainers: int, parameters: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_measure, args=(kind, trainers, parameters, send))
    process.start()
    baseline, peak, seconds, accepted = receive.recv()
    process.join()
    model_mib = parameters * 4 / 2**20
    extra = max(0, peak - baseline) / 1024
    return {
        "strategy": kind,
        "trainers": trainers,
        "parameters": parameters,
        "model_mib": round(model_mib, 2),
        "accepted": accepted,
        "round_s": round(seconds, 2),
        "baseline_mib": round(baseline / 1024, 1),
        "peak_mib": round(peak / 1024, 1),
        "round_mib": round(extra, 1),
        "round_models": round(extra / model_mib, 1),
    }


def run(results_dir: Path) -> dict[str, Any]:
    by_trainers = [measure(kind, n, SWEEP) for n in TRAINERS for kind in ("fedchain", "flower")]
    by_size = [measure(kind, 10, p) for p in SIZES for kind in ("fedchain", "flower")]
    columns = list(by_trainers[0])
    fedchain = [r for r in by_trainers if r["strategy"] == "fedchain"]
    big = [r for r in by_size if r["strategy"] == "fedchain"]
    summary = {
        "fedchain_round_mib_10_to_1000_trainers": [r["round_mib"] for r in fedchain],
        "flower_round_mib_10_to_1000_trainers": [r["round_mib"] for r in by_trainers if r["strategy"] == "flower"],
        "fedchain_round_models_by_size": {r["parameters"]: r["round_models"] for r in big},
        "flower_round_models_by_size": {r["parameters"]: r["round_models"] for r in by_size if r not in big},
        "target": "under ~4 models plus a constant, whatever the number of trainers",
    }
    write_results(
        results_dir, "keeper_memory_trainers", by_trainers, summary, columns,
        plot={
            "title": "Keeper round memory vs trainers (1M-parameter model)", "x": "trainers", "y": "round_mib",
            "series": "strategy", "series_values": ["fedchain", "flower"], "logx": True,
            "xlabel": "trainers", "ylabel": "peak RSS above baseline (MiB)",
        },
    )  # fmt: skip
    write_results(
        results_dir, "keeper_memory_model_size", by_size, summary, columns,
        plot={
            "title": "Keeper round memory vs model size (10 trainers)", "x": "model_mib", "y": "round_mib",
            "series": "strategy", "series_values": ["fedchain", "flower"],
            "xlabel": "model (MiB of float32)", "ylabel": "peak RSS above baseline (MiB)",
        },
    )  # fmt: skip
    return summary
