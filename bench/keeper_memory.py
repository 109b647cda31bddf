"""Keeper memory: peak resident memory of a round's aggregation against the number of trainers and
against the model's size, fedchain's strategy beside Flower's own FedAvg on the same updates.

Each point runs the keeper's side in a fresh process (so its peak, VmHWM, is the round's alone),
fed over a pipe by a second process playing the trainers: one staked trainer each, its own key, its
update in fedchain's wire format with a signed envelope. The keeper's process wraps each update's
bytes in a Flower Message as it is received and hands it to the strategy the keeper runs
(`keepers.strategy.ChainFedAvg`, claimed-count pipeline: verification, median-direction screen,
near-duplicate test, the new model) one at a time, as `keepers.brisk_grid` yields replies from the
SuperLink. Flower's FedAvg gets the same updates as per-layer Arrays, all at once in a list, as
Flower's grid returns them. Reported: the process's peak RSS minus its RSS before the round (the imports and the global
model), in MiB and in models. This is the ServerApp's part of the keeper; the SuperLink holds only
replies not yet pulled, and the validation worker one model.

Run: python -m bench keeper_memory
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import astuple
from multiprocessing.connection import Connection
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
from client_kit.model_format import encode, record_of
from client_kit.task_hub import Standing
from keepers.binding import Bindings
from keepers.strategy import ChainFedAvg, RoundOutcome
from keepers.verification import UpdateContext

WIDTH = 1000  # the model: one (parameters / WIDTH, WIDTH) float32 layer and a WIDTH bias
TRAINERS = (10, 30, 100, 300, 1000)
SWEEP = 100_000  # the trainers sweep: a 100k-parameter model (0.4 MiB; 1,000 updates are 400 MiB)
SIZES = (1_000_000, 4_000_000, 11_000_000)  # parameters, for the model-size sweep (10 trainers)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


class _Round:
    """One round's federation: the global model, staked wallets; `WIDTH`-wide float32 layers."""

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


def _trainers(kind: str, trainers: int, parameters: int, link: Connection) -> None:
    """The trainers' side, in its own process (as the SuperLink is): each update as it goes over
    the wire — fedchain's checkpoint bytes and signed envelope, or Flower's per-layer arrays."""
    federation = _Round(trainers, parameters)
    for index, wallet in enumerate(federation.wallets):
        arrays = federation.change(index)
        if kind == "fedchain":
            digest = update_digest(federation.names, arrays)
            claim = UpdateClaim(*astuple(federation.context)[:4], 100, digest, federation.context.global_sha256)
            link.send(sign(wallet.signer(), claim).to_record())
            link.send_bytes(encode(federation.names, arrays))
        else:
            for array in arrays:
                link.send_bytes(Array(array).data)
        del arrays
    link.close()


def _replies(kind: str, federation: _Round, link: Connection) -> Iterator[Message]:
    """The replies as the keeper's ServerApp pulls them: one Message per trainer, built around the
    bytes received (Flower deserializes an Array's data the same way: bytes, not arrays)."""
    for index in range(len(federation.wallets)):
        if kind == "fedchain":
            envelope = link.recv()
            content = RecordDict(
                {
                    "arrays": record_of(link.recv_bytes()),
                    "metrics": MetricRecord({"num-examples": 100, "train-loss": 0.5}),
                    "envelope": ConfigRecord(envelope),
                }
            )
        else:
            layers = {
                name: Array(dtype="float32", shape=base.shape, stype="numpy.ndarray", data=link.recv_bytes())
                for name, base in zip(federation.names, federation.global_arrays, strict=True)
            }
            content = RecordDict({"arrays": ArrayRecord(layers), "metrics": MetricRecord({"num-examples": 100})})
        yield _message(content, 100 + index)


def _message(content: RecordDict, node: int) -> Message:
    metadata = Metadata(1, "", node, 0, "instruction", "1", time.time(), 600, "train")
    return make_message(metadata=metadata, content=content)


class _NoNodes:
    def get_node_ids(self) -> list[int]:
        return []


def _keeper(kind: str, trainers: int, parameters: int, link: Connection, out: Connection) -> None:
    """The keeper's side, in a fresh process: one round's aggregation as the replies come in;
    sends (baseline KiB, peak KiB, seconds, accepted)."""
    federation = _Round(trainers, parameters)
    if kind == "fedchain":
        staked = {str(w.address()) for w in federation.wallets}

        def standing(address: str) -> Standing:
            return Standing.ACTIVE if address in staked else Standing.ABSENT

        bindings = Bindings(dict, dict, standing)  # every node is bound already
        bindings.by_node.update({100 + i: str(w.address()) for i, w in enumerate(federation.wallets)})
        outcomes: list[RoundOutcome] = []
        strategy = ChainFedAvg(bindings, lambda *_: federation.context, standing, outcomes.append, task_id=1)
        strategy.configure_train(1, record_of(federation.model), ConfigRecord(), _NoNodes())  # type: ignore[arg-type]
        baseline = _status_kb("VmRSS:")
        started = time.perf_counter()
        strategy.aggregate_train(1, _replies(kind, federation, link))  # one at a time (keepers.brisk_grid)
        strategy.aggregate_evaluate(1, [])
        accepted = len(outcomes[0].accepted)
    else:
        baseline = _status_kb("VmRSS:")
        started = time.perf_counter()
        replies = list(_replies(kind, federation, link))  # Flower's grid returns a phase's replies at once
        FedAvg().aggregate_train(1, replies)
        accepted = len(replies)
    out.send((baseline, _status_kb("VmHWM:"), time.perf_counter() - started, accepted))


def measure(kind: str, trainers: int, parameters: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    inbound, outbound = context.Pipe(duplex=False)
    keeper = context.Process(target=_keeper, args=(kind, trainers, parameters, inbound, send))
    sender = context.Process(target=_trainers, args=(kind, trainers, parameters, outbound))
    keeper.start()
    sender.start()
    while not receive.poll(1.0):
        if not keeper.is_alive():
            sender.terminate()
            raise RuntimeError(f"the keeper's process for {kind}, {trainers} trainers failed ({keeper.exitcode})")
    baseline, peak, seconds, accepted = receive.recv()
    keeper.join()
    sender.join()
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
            "title": "Keeper round memory vs trainers (100k-parameter model)", "x": "trainers", "y": "round_mib",
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
