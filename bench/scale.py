"""Scale: 100 trainers in one task, one round of a ~115k-parameter PyTorch model, on this machine.

Everything is real: the localnet, Kubo, the keeper's SuperLink and ServerApp, 100 funded accounts
that each register and stake with their own signed transaction, and 100 trainer nodes speaking
Flower's Fleet API, each binding itself to its staked address, checking the global model against
the chain and signing its update. To fit 100 trainers on 2 cores they run as threads in four
processes (each trainer a SignerApp and a TrainerNode; the task's code runs in the same process
through `bench.trainer_hosts.InProcessWorker` instead of one sandboxed worker process per trainer,
which 100 PyTorch processes would not fit in memory: the benchmark measures the protocol),
polling every 2 s: each request costs the SuperLink's single event loop 3-5 ms, so 100
idle nodes polling every 0.5 s would take most of it (polling every 1 s gave the same round time).
The task pays for measured contribution, so the round includes screening and scoring 100 updates
on the validation set (leave-one-out at this size). Reported: the round's wall time (first train
message to its attestation in a block), where it went (scoring's share of it among the rest), and
the peak memory of every process involved.

Run: python -m bench scale
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from sklearn.datasets import load_digits

from bench import BENCH_PORT_OFFSET
from bench.accounts import derive_wallets, fund, register_and_join
from bench.report import write_results
from bench.trainer_hosts import HostedTrainer, host_trainers, published_endpoint
from chain_config import LocalnetConfig
from client_kit.builder import ModelSpec, build_client
from client_kit.chain import ChainClient
from client_kit.data import load_folder, write_npz
from client_kit.ipfs import KuboStore
from client_kit.keys import KeyStore
from client_kit.settings import ClientSettings
from client_kit.task_hub import Scoring, TaskHub
from keepers.demo import DIGITS_MLP
from keepers.events import LastReply, RoundAttested, RoundStarted, TrainerConnected
from keepers.orchestration import ServedTask, TaskTerms, accept_task, publish_task, register_keeper
from keepers.service import KeeperSettings
from keepers.task_request import DEFAULT_MAX_UPDATE_NORM
from localnet.deploy import deploy
from localnet.network import Localnet
from localnet.processes import descendants, free_port

STAKE = 1_000


@dataclass(frozen=True)
class RoundShape:
    """One benchmark round's federation: how many trainers in how many host processes, how often
    their nodes poll and over how long they come online, the digits MLP's width (64·h + h + 10·h +
    10 parameters), local epochs, and the task's update bound."""

    trainers: int = 100
    hidden: int = 1536
    host_processes: int = 4
    poll_s: float = 2.0
    spread_s: float = 0.0
    epochs: int = 5
    max_update_norm: Decimal = DEFAULT_MAX_UPDATE_NORM


SCALE = RoundShape()


def _peak_rss_mb(pids: list[int]) -> float:
    """Sum of each process's peak resident memory (VmHWM), in MiB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def digits_shards(home: Path, trainers: int) -> tuple[Path, list[Path]]:
    """The keeper's validation set (360 digits) and each trainer's shard of the rest, as folders."""
    digits = load_digits()
    order = np.random.default_rng(0).permutation(len(digits.target))
    validation = write_npz(home / "validation", digits.data[order[:360]], digits.target[order[:360]]).parent
    shards = []
    for index, rows in enumerate(np.array_split(order[360:], trainers)):
        shards.append(write_npz(home / "trainers" / f"t{index}", digits.data[rows], digits.target[rows]).parent)
    return validation, shards


def run(results_dir: Path) -> dict[str, Any]:
    rows = []
    for federated in (False, True):
        with tempfile.TemporaryDirectory(prefix="fedchain-scale-") as scratch:
            rows.append(measure_round(Path(scratch), SCALE, federated))
    fastest = rows[0]
    summary = {
        "round_s_keeper_validation": rows[0]["round_s"],
        "round_s_with_federated_evaluation": rows[1]["round_s"],
        "score_s": rows[0]["score_s"],
        "score_share_of_round": rows[0]["score_share_of_round"],
        "target_score_share": 0.2,
        "target_round_s": 60,
        "accepted_updates": fastest["accepted"],
        "peak_memory_mb_total": fastest["peak_memory_mb_total"],
        "trainer_processes": SCALE.host_processes,
        "poll_interval_s": SCALE.poll_s,
    }
    plot = phase_plot(rows, "evaluation", f"where a {SCALE.trainers}-trainer round goes")
    write_results(results_dir, "scale", rows, summary, columns=list(rows[0]), **plot)
    return summary


LAST_REPLY = tuple(f.name for f in fields(LastReply))  # the round's last reply, as its trainer saw it
AFTER_REPLIES = ("verify_s", "score_s", "validate_s", "ipfs_s", "tx_s", "inclusion_s")
PHASES = (*LAST_REPLY, "other_wait_s", *AFTER_REPLIES)


def phase_plot(rows: list[dict[str, Any]], label: str, title: str) -> dict[str, Any]:
    """`write_results` arguments for a stacked bar per measured round (`measure_round`'s rows;
    others, such as a plain Flower row, are left out), labelled by the row's `label` column: the
    last reply's way (its train message's delivery, training, signing, its return), the rest of
    the wait for replies, then the keeper's work after them and the attestation's inclusion."""
    plot_rows = []
    for row in rows:
        if not all(isinstance(row.get(p), int | float) for p in (*LAST_REPLY, *AFTER_REPLIES, "train_wait_s")):
            continue
        parts = {p: float(row[p]) for p in LAST_REPLY}
        parts["other_wait_s"] = max(0.0, row["train_wait_s"] - sum(parts.values()))
        parts.update({p: float(row[p]) for p in AFTER_REPLIES})
        plot_rows += [{"round": str(row[label]), "seconds": seconds, "phase": p} for p, seconds in parts.items()]
    spec = {"x": "round", "y": "seconds", "series": "phase", "series_values": list(PHASES), "stacked": True}
    return {"plot": {**spec, "title": title}, "plot_rows": plot_rows}


def measure_round(home: Path, shape: RoundShape, federated_evaluation: bool) -> dict[str, Any]:
    """One round of a task paying for measured contribution, from its first train message to its
    attestation in a block, with where the time went and every process's peak memory."""
    config = LocalnetConfig(home=home / "net", port_offset=BENCH_PORT_OFFSET)
    net = Localnet(config)
    net.up(1)
    workers: list[Any] = []
    try:
        deployment, _ = deploy(config)
        chain, kubo = ChainClient(config.network()), KuboStore(config.kubo_api_url)
        hub = TaskHub(chain, deployment.contract)
        keys = KeyStore(config.home / "keys", config.bech32_prefix)
        org, keeper = keys.wallet("organization"), keys.wallet("keeper")
        link_port, feed_port = free_port(), free_port()
        settings = ClientSettings.for_network(
            config.network(), deployment.contract, "digits-wide", (64,), 10, 16.0, shape.epochs, 0.1
        )
        built = build_client(settings, ModelSpec.parse(f"{DIGITS_MLP}:DigitsMLP", {"hidden": shape.hidden}))
        trainers = derive_wallets(shape.trainers, "scale")
        validation, shards = digits_shards(home, shape.trainers)
        with Progress() as progress:
            fund(chain, org, trainers, 1_000_000)
            terms = TaskTerms(
                "digits-wide", "scale benchmark", 1, shape.trainers, shape.trainers, STAKE, 10_000_000, 900, 3600,
                scoring=Scoring.MEASURED, validation_sha256=load_folder(validation).sha256(),
                max_update_norm=shape.max_update_norm, round_timeout_s=600,
            )  # fmt: skip
            register_keeper(hub, keeper, f"127.0.0.1:{link_port}")
            task_id = publish_task(hub, kubo, org, str(keeper.address()), built, terms, "Scale Org").task_id
            accept_task(hub, keeper, task_id)
            register_and_join(chain, hub, trainers, task_id, STAKE, progress)

        assignments = []
        for index, folder in enumerate(shards):
            assignments.append(HostedTrainer(trainers[index].signer().private_key_hex, str(folder)))
        keeper_settings = KeeperSettings(
            superlink_port=link_port,
            workdir=home / "keeper",
            keeper_key_file=keys.key_file("keeper", home / "keeper"),
            ipfs_api=config.kubo_api_url,
            feed_port=feed_port,
            connect_timeout=600.0,
            poll_seconds=1.0,
            validation_dir=validation,
            federated_evaluation=federated_evaluation,
        )
        with ServedTask(chain, hub, keeper, keeper_settings, task_id) as served:
            endpoint = published_endpoint(hub, hub.task(task_id))
            workers += host_trainers(
                built.source,
                endpoint,
                task_id,
                assignments,
                config.network(),
                home / "journal",
                shape.host_processes,
                shape.poll_s,
                shape.spread_s,
            )
            with Console(file=io.StringIO()).status(f"one round with {shape.trainers} trainers"):
                served.wait(900)
            link_pid = served.service.superlink_pid
            link_pids = [link_pid] if link_pid else []
            pids = {
                "trainers": [w.pid for w in workers],
                "keeper": link_pids + [p for pid in link_pids for p in descendants(pid)],
                "chain and IPFS": [int(p.read_text()) for p in (config.home / "pids").glob("*.pid")],
            }
            memory = {name: _peak_rss_mb(group) for name, group in pids.items()}
            task = hub.task(task_id)
    finally:
        for process in workers:
            process.terminate()
        net.down()
    events = served.follower.events
    starts = [p.time for p in events if isinstance(p.event, RoundStarted)]
    if not starts:
        bound = sum(isinstance(p.event, TrainerConnected) for p in events)
        raise RuntimeError(f"no round started within the wait: {bound} of {shape.trainers} trainers bound")
    started = min(starts)
    attested_at, attested = next((p.time, p.event) for p in events if isinstance(p.event, RoundAttested))
    timing = attested.timing.to_json()
    return {
        "evaluation": "federated + keeper validation" if federated_evaluation else "keeper validation",
        "trainers": shape.trainers,
        "parameters": built.parameters,
        "model_mb": round(len(built.initial_model()) / 2**20, 1),
        "accepted": attested.accepted,
        "round_s": round(attested_at - started, 2),
        **{k: v for k, v in timing.items() if k != "aggregate_s"},
        "score_share_of_round": round(timing["score_s"] / (attested_at - started), 3),
        "held_out_accuracy": round(attested.value, 4),
        "status": str(task.status),
        "peak_memory_mb_total": round(sum(memory.values()), 1),
        **{f"peak_mb_{k.replace(' ', '_')}": v for k, v in memory.items()},
    }
