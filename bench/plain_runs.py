"""Plain Flower on the demo's digits task: the baseline the round benchmarks put fedchain beside.

The same shards, initial weights, model and hyperparameters as the demo (`keepers.demo`), trained
with Flower's own FedAvg ServerApp and a plain ClientApp (`bench/plain_flower`): no envelope, no
verification, no IPFS, no chain. Two ways to run the trainers:

- same transport: each trainer a warm process serving the ClientApp on fedchain's trainer node,
  polling as often as a fedchain trainer does (`client_kit.node.DEFAULT_POLL_S`), and the ServerApp
  on the keeper's brisk grid (`keepers.brisk_grid`): what differs from fedchain is only what
  fedchain does beyond Flower (signing, verification, IPFS, the chain) and its SuperLink, which
  here is Flower's stock `flower-superlink` over plain HTTP on loopback;
- stock runtime: Flower's stock SuperNodes (a process per message, 3 s idle polling), as an
  operator would deploy Flower today.
"""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import re
import signal
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.datasets import load_digits

from chain_config import LocalnetConfig
from client_kit.builder import ModelSpec
from client_kit.data import write_npz
from client_kit.node import DEFAULT_POLL_S, TrainerNode
from keepers.demo import MODELS, build_demo_client, digits_split
from keepers.runtime import flower_env, start_superlink, submit_run
from localnet.processes import ManagedProcess, free_port, spawn

PLAIN_APP = Path(__file__).resolve().parent / "plain_flower"


@dataclass(frozen=True)
class PlainFederation:
    """What the plain Flower run trains: `model` is a `keepers.demo.MODELS` key (`hidden` and
    `epochs`, if given, replace its width and local epochs); `shards` and `held_out` are the
    trainers' data folders and the held-out set's, the demo's split of the digits if not given."""

    trainers: int
    rounds: int
    model: str
    seed: int
    federated_evaluation: bool
    hidden: int | None = None
    epochs: int | None = None
    shards: tuple[str, ...] = ()
    held_out: str = ""


@dataclass(frozen=True)
class PlainHosts:
    """How the plain trainers run on fedchain's node: each in its own warm process, or (with
    `processes`) as threads multiplexed into that many processes; nodes come online over
    `spread_s` and poll every `poll_s`."""

    processes: int = 0
    poll_s: float = DEFAULT_POLL_S
    spread_s: float = 0.0


@dataclass(frozen=True)
class PlainRun:
    """When the run's rounds ended (Flower's clock in the ServerApp) and the final model's accuracy."""

    started: float
    finished: float
    round_ends: list[float]
    held_out_accuracy: float


def _prepare(folder: Path, federation: PlainFederation) -> tuple[list[str], str, Path]:
    """The trainers' data folders and the held-out set's (the demo's split unless the federation
    names them) and the initial model file, as the demo builds it."""
    folder.mkdir(parents=True, exist_ok=True)
    shards, held_out = list(federation.shards), federation.held_out
    if not shards:
        digits = load_digits()
        rows_held_out, split = digits_split(federation.trainers, federation.seed)
        held_out = str(write_npz(folder / "held-out", digits.data[rows_held_out], digits.target[rows_held_out]).parent)
        for index, rows in enumerate(split):
            shards.append(str(write_npz(folder / f"trainer{index + 1}", digits.data[rows], digits.target[rows]).parent))
    reference, model_args, _ = MODELS[federation.model]
    if federation.hidden is not None:
        model_args = {**model_args, "hidden": federation.hidden}
    built = build_demo_client(federation.model, LocalnetConfig(), "wasm1unused", ModelSpec.parse(reference, model_args))
    initial = folder / "initial.safetensors"
    initial.write_bytes(built.initial_model())
    return shards, held_out, initial


def _run_config(federation: PlainFederation) -> dict[str, Any]:
    """The plain app's run config for this federation, with the demo's hyperparameters."""
    _, model_args, training = MODELS[federation.model]
    defaults = tomllib.loads((PLAIN_APP / "pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"]
    return {
        **defaults,
        "model": "softmax" if federation.model == "sklearn" else "mlp",
        "hidden": federation.hidden if federation.hidden is not None else int(model_args.get("hidden", 0)),
        "epochs": federation.epochs if federation.epochs is not None else int(training["epochs"]),
        "learning-rate": float(training["learning_rate"]),
        "rounds": federation.rounds,
        "trainers": federation.trainers,
        "federated-evaluation": federation.federated_evaluation,
    }


def _nodes(superlink: str, data_dirs: list[str], config: dict[str, Any], hosts: PlainHosts) -> None:
    """A child process: fedchain's trainer node serving the plain ClientApp for each data folder,
    warmed up like fedchain's, a thread each, coming online evenly over `hosts.spread_s`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Flower's node signals its own process on a refusal
    spec = importlib.util.spec_from_file_location("plain_app", PLAIN_APP / "plain_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stop = threading.Event()
    for data_dir in data_dirs:
        module.warm_up(config, data_dir)
        node = TrainerNode(module.client_app, superlink, {"data-dir": data_dir}, hosts.poll_s, plaintext=True)
        threading.Thread(target=node.run, args=(stop, 600.0), daemon=True).start()
        stop.wait(hosts.spread_s / len(data_dirs))
    stop.wait()


def _run_error(log: Path) -> str:
    """Why Flower failed the run: the SuperLink's first and last errors on the ServerApp's own API
    (its runtime), else its last error, without colour codes."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in log.read_text(errors="replace").splitlines()]
    errors = [line.split(":", 1)[-1].strip() for line in lines if line.startswith("ERROR")]
    runtime = [error for error in errors if error.startswith("[/v1/runtime/")]
    if runtime:
        return " … then ".join(dict.fromkeys((runtime[0], runtime[-1])))
    return errors[-1] if errors else "no error logged"


def run_plain_flower(
    folder: Path, federation: PlainFederation, stock: bool, hosts: PlainHosts = PlainHosts(), timeout: float = 1800
) -> PlainRun:
    """Train `federation` with plain Flower on loopback, the trainers on fedchain's node (same
    transport, see `hosts`) or on Flower's stock SuperNodes. Raises RuntimeError if the run failed
    and subprocess.TimeoutExpired if it had not finished within `timeout`."""
    shards, held_out, initial = _prepare(folder, federation)
    port = free_port()
    results = folder / "results.json"
    config = _run_config(federation)
    link = start_superlink(port, folder / "link")
    nodes: list[Any] = []
    try:
        if stock:
            for index, data in enumerate(shards):
                command = [str(Path(sys.executable).parent / "flower-supernode"), "--insecure"]
                command += ["--superlink", f"127.0.0.1:{port}", "--port", str(free_port())]
                command += ["--node-config", f'data-dir="{data}"']
                nodes.append(spawn(f"supernode{index}", command, folder / f"node{index}.log", flower_env()))
        else:
            count = hosts.processes or len(shards)
            for part in range(count):
                # spawned, not forked: see bench.trainer_hosts
                process = multiprocessing.get_context("spawn").Process(
                    target=_nodes, args=(f"127.0.0.1:{port}", shards[part::count], config, hosts), daemon=True
                )
                process.start()
                nodes.append(process)
        run_config = {
            **config,
            "initial-model": str(initial),
            "held-out": held_out,
            "results": str(results),
            "brisk": not stock,
        }
        code = submit_run(port, folder / "link", "plain-flower", run_config, PLAIN_APP, timeout)
        if code != 0:
            raise RuntimeError(f"plain Flower run failed: {_run_error(folder / 'link' / 'superlink.log')}")
    finally:
        for node in nodes:
            node.stop() if isinstance(node, ManagedProcess) else node.terminate()
        link.stop()
    measured = json.loads(results.read_text())
    return PlainRun(
        measured["started"], measured["finished"], measured["round_ends"], float(measured["held_out_accuracy"])
    )
