"""Big model: one round of an 11M-parameter model (~45 MB of float32, ResNet-18 class) with 10
trainers, side by side with the transfer bound — a plain loopback HTTP transfer of the same bytes.

The federation is the scale benchmark's (real localnet, Kubo, the keeper's TLS SuperLink and
ServerApp, staked trainers signing updates, measured scoring on the keeper's validation set), with
the digits MLP widened to 11M parameters and one local epoch: the round moves 2 × 10 models
through the keeper (down to each trainer, back from each). The bound sends the same bytes (20
transfers of the model's size) over a loopback HTTP connection, one after another, as fast as this
machine moves them. Reported: the round's wall time and phases, bytes per second through the
keeper against the bound, and every process's peak memory.

Run: python -m bench big_model
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.report import write_results
from bench.scale import RoundShape, measure_round, phase_plot

BIG = RoundShape(
    trainers=10, hidden=146_666, host_processes=2, poll_s=0.5, epochs=1, max_update_norm=Decimal(10_000)
)  # 64·h + h + 10·h + 10 = 11,000,000 parameters


def run(results_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fedchain-big-") as scratch:
        row = measure_round(Path(scratch), BIG, federated_evaluation=False)
    moved = 2 * BIG.trainers * row["model_mb"] * 2**20  # each trainer: the model down, its update up
    bound = loopback_bytes_per_s(int(row["model_mb"] * 2**20), transfers=2 * BIG.trainers)
    row["bytes_moved_mb"] = round(moved / 2**20, 1)
    row["keeper_mb_per_s"] = round(moved / row["train_wait_s"] / 2**20, 1)
    row["loopback_http_mb_per_s"] = round(bound / 2**20, 1)
    summary = {
        "round_s": row["round_s"],
        "target_round_s": 30,
        "parameters": row["parameters"],
        "model_mb": row["model_mb"],
        "train_wait_s": row["train_wait_s"],
        "keeper_mb_per_s": row["keeper_mb_per_s"],
        "loopback_http_mb_per_s": row["loopback_http_mb_per_s"],
        "share_of_transfer_bound": round(row["keeper_mb_per_s"] / row["loopback_http_mb_per_s"], 3),
        "peak_memory_mb_keeper": row["peak_mb_keeper"],
    }
    plot = phase_plot([row], "parameters", f"where a round of {BIG.trainers} trainers, 11M parameters goes")
    write_results(results_dir, "big_model", [row], summary, columns=list(row), **plot)
    return summary


def loopback_bytes_per_s(size: int, transfers: int) -> float:
    """Bytes per second of `transfers` HTTP transfers of `size` bytes over loopback, half of them
    downloads and half uploads, one after another (a keeper sends and receives each model once)."""
    payload = os.urandom(size)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:  # noqa: N802
            remaining = int(self.headers["Content-Length"])
            while remaining:
                remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with httpx.Client(timeout=120) as client:
            started = time.perf_counter()
            for index in range(transfers):
                if index % 2:
                    client.post(url, content=payload)
                else:
                    client.get(url).read()
            elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    return size * transfers / elapsed
