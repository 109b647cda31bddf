"""Incentives: who gets paid when a task pays for measured contribution.

A scripted federation on the real runtime and keeper (localnet, Kubo, the keeper service with its
TLS SuperLink, trainers speaking Flower's Fleet API with signed updates; see
`bench.trainer_hosts`): twelve trainers, six rounds, the task paying for measured contribution on
the organization's validation set.
- seven honest trainers with different amounts of data, two of them with noisy labels;
- three free-riders, each signing a well-formed update within the norm bound that adds nothing: the
  global model sent back, the global model plus Gaussian noise as large as an honest update, and
  last round's model;
- two poisoners: one trains on flipped labels (9 − y), one sends its update sign-flipped and
  stretched to 95 % of the norm bound.
Reported per class: the share of the pool paid, the stake lost, and the final model's accuracy on a
test set nobody trains or validates on, against (a) the same run with only the honest trainers and
(b) plain FedAvg with everyone (weights by example count, no screening; simulated in-process with
the same task code). The honest trainers' true value is their exact Shapley value (over all 128
coalitions, each a six-round FedAvg simulated in-process, utility = test accuracy); payouts should
rank like it.

Run: python -m bench incentives
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from scipy.stats import spearmanr
from sklearn.datasets import load_digits

from bench import BENCH_PORT_OFFSET
from bench.accounts import derive_wallets, fund, register_and_join
from bench.report import write_results
from bench.trainer_hosts import HostedTrainer, host_trainers, published_endpoint
from chain_config import LocalnetConfig
from client_kit.chain import ChainClient
from client_kit.data import load_folder, write_npz
from client_kit.ipfs import KuboStore
from client_kit.keys import KeyStore
from client_kit.model_format import decode, encode
from client_kit.settings import settings_from_source
from client_kit.signer_app import disguise
from client_kit.task_hub import Scoring, TaskHub
from client_kit.worker import load_task
from keepers.demo import build_demo_client
from keepers.events import RoundAttested
from keepers.fedavg import weighted_average
from keepers.orchestration import ServedTask, TaskTerms, accept_task, publish_task, register_keeper
from keepers.service import KeeperSettings
from keepers.task_request import DEFAULT_MAX_UPDATE_NORM
from localnet.deploy import deploy
from localnet.network import Localnet
from localnet.processes import free_port

ROUNDS, STAKE, POOL, HOSTS, POLL_S = 6, 1_000_000, 30_000_000, 2, 0.5
HELD_OUT = 300  # test set, and as many again for the organization's validation set


@dataclass(frozen=True)
class Member:
    name: str
    kind: str  # "honest", "free-rider" or "poisoner"
    examples: int
    label_noise: float = 0.0
    fault: str = ""  # client_kit.signer_app.FAULTS
    flipped_labels: bool = False


CAST = [
    Member("honest-300", "honest", 300),
    Member("honest-200", "honest", 200),
    Member("honest-120", "honest", 120),
    Member("honest-60", "honest", 60),
    Member("honest-40", "honest", 40),
    Member("honest-200-noise30", "honest", 200, label_noise=0.3),
    Member("honest-200-noise60", "honest", 200, label_noise=0.6),
    Member("returns-global", "free-rider", 100, fault="freeride"),
    Member("adds-noise", "free-rider", 100, fault="noise"),
    Member("sends-last-round", "free-rider", 100, fault="stale"),
    Member("label-flipper", "poisoner", 200, flipped_labels=True),
    Member("sign-flipper", "poisoner", 100, fault="flip"),
]


def write_data(home: Path, cast: Sequence[Member]) -> tuple[Path, Path, dict[str, Path]]:
    """Test set, validation set, and each member's folder (honest shards disjoint; the others'
    data comes from the same pool, since what they send does not depend on it)."""
    digits = load_digits()
    order = np.random.default_rng(11).permutation(len(digits.target))
    x, y = digits.data.astype(np.float32), digits.target
    test, validation, pool = order[:HELD_OUT], order[HELD_OUT : 2 * HELD_OUT], order[2 * HELD_OUT :]
    write_npz(home / "test", x[test], y[test])
    write_npz(home / "validation", x[validation], y[validation])
    folders, start = {}, 0
    rng = np.random.default_rng(12)
    for member in cast:
        if member.kind == "honest":
            rows, start = pool[start : start + member.examples], start + member.examples
        else:
            rows = rng.choice(pool, member.examples, replace=False)
        labels = y[rows].copy()
        noisy = rng.random(len(rows)) < member.label_noise
        labels[noisy] = rng.integers(0, 10, int(noisy.sum()))
        if member.flipped_labels:
            labels = 9 - labels
        folders[member.name] = home / "trainers" / member.name
        write_npz(folders[member.name], x[rows], labels)
    return home / "test", home / "validation", folders


def run(results_dir: Path) -> dict[str, Any]:
    console = Console()
    honest = [m for m in CAST if m.kind == "honest"]
    with tempfile.TemporaryDirectory(prefix="fedchain-incentives-") as scratch:
        home = Path(scratch)
        test_dir, validation_dir, folders = write_data(home, CAST)
        console.print("[bold]run 1[/]: everyone, paid for measured contribution")
        everyone = federate(home / "everyone", CAST, folders, validation_dir, test_dir)
        console.print("[bold]run 2[/]: only the honest trainers")
        honest_only = federate(home / "honest", honest, folders, validation_dir, test_dir)
        source = everyone["source"]
        console.print("plain FedAvg with everyone, and the honest trainers' exact Shapley values (simulated)")
        simulation = Simulation(source, everyone["initial_model"], folders, test_dir)
        plain_accuracy = simulation.accuracy(CAST)
        truth = simulation.shapley(honest)
    rows = []
    for member in CAST:
        paid = everyone["payouts"][member.name]
        rows.append(
            {
                "trainer": member.name,
                "class": member.kind,
                "examples": member.examples,
                "label_noise": member.label_noise,
                "reward": paid["reward"],
                "share_of_pool_pct": round(100 * paid["reward"] / POOL, 3),
                "stake_lost": paid["penalty"],
                "rounds_credited": paid["rounds_credited"],
                "true_shapley_accuracy": round(truth[member.name], 5) if member.name in truth else "",
            }
        )
    by_class = {
        kind: {
            "share_of_pool_pct": round(sum(r["share_of_pool_pct"] for r in rows if r["class"] == kind), 3),
            "stake_lost": sum(r["stake_lost"] for r in rows if r["class"] == kind),
            "stake": STAKE * sum(1 for r in rows if r["class"] == kind),
        }
        for kind in ("honest", "free-rider", "poisoner")
    }
    paid_honest = [everyone["payouts"][m.name]["reward"] for m in honest]
    rho = float(spearmanr(paid_honest, [truth[m.name] for m in honest]).statistic)
    summary = {
        "by_class": by_class,
        "spearman_honest_payout_vs_shapley": round(rho, 3),
        "accuracy": {
            "everyone_measured": everyone["accuracy"],
            "honest_only_measured": honest_only["accuracy"],
            "plain_fedavg_everyone": plain_accuracy,
        },
        "accuracy_gap_to_honest_only_points": round(100 * (honest_only["accuracy"] - everyone["accuracy"]), 2),
        "score_s_mean": everyone["score_s_mean"],
        "round_s_mean": everyone["round_s_mean"],
        "targets": {
            "free_riders_share_of_pool_pct": "<= 1",
            "poisoners_paid": 0,
            "spearman": ">= 0.8",
            "accuracy_gap_points": "<= 1",
        },
        "met": {
            "free_riders": by_class["free-rider"]["share_of_pool_pct"] <= 1.0,
            "poisoners": by_class["poisoner"]["share_of_pool_pct"] == 0,
            "spearman": rho >= 0.8,
            "accuracy": honest_only["accuracy"] - everyone["accuracy"] <= 0.01,
        },
    }
    write_results(results_dir, "incentives", rows, summary, columns=list(rows[0]))
    plot(results_dir / "incentives.png", rows, by_class)
    with open(results_dir / "incentives.md", "a") as report:
        report.write("![Payout share by class; payout vs true value](incentives.png)\n")
    return summary


def federate(
    home: Path, cast: Sequence[Member], folders: dict[str, Path], validation_dir: Path, test_dir: Path
) -> dict[str, Any]:
    """One real task: localnet, the keeper service, the cast as staked trainers; settled, unclaimed."""
    config = LocalnetConfig(home=home / "net", port_offset=BENCH_PORT_OFFSET)
    net = Localnet(config)
    net.up(1)
    hosts: list[Any] = []
    try:
        deployment, _ = deploy(config)
        chain, kubo = ChainClient(config.network()), KuboStore(config.kubo_api_url)
        hub = TaskHub(chain, deployment.contract)
        keys = KeyStore(config.home / "keys", config.bech32_prefix)
        org, keeper = keys.wallet("organization"), keys.wallet("keeper")
        link_port, feed_port = free_port(), free_port()
        built = build_demo_client("torch", config, deployment.contract)
        wallets = derive_wallets(len(cast), f"incentives {len(cast)}")
        terms = TaskTerms(
            "digits", "incentives benchmark", ROUNDS, len(cast), len(cast), STAKE, POOL,
            training_window_s=3600, round_timeout_s=60,
            scoring=Scoring.MEASURED, validation_sha256=load_folder(validation_dir).sha256(),
        )  # fmt: skip
        with Progress(console=Console(stderr=True)) as progress:
            fund(chain, org, wallets, 2 * STAKE)
            register_keeper(hub, keeper, f"127.0.0.1:{link_port}")
            task_id = publish_task(hub, kubo, org, str(keeper.address()), built, terms, "Bench Org").task_id
            accept_task(hub, keeper, task_id)
            register_and_join(chain, hub, wallets, task_id, STAKE, progress)
        trainers = [
            HostedTrainer(w.signer().private_key_hex, str(folders[m.name]), m.fault)
            for w, m in zip(wallets, cast, strict=True)
        ]
        settings = KeeperSettings(
            superlink_port=link_port,
            workdir=home / "keeper",
            keeper_key_file=keys.key_file("keeper", home / "keeper"),
            ipfs_api=config.kubo_api_url,
            feed_port=feed_port,
            connect_timeout=300.0,
            poll_seconds=0.5,
            validation_dir=validation_dir,
            federated_evaluation=False,
        )
        with ServedTask(chain, hub, keeper, settings, task_id) as served:
            endpoint = published_endpoint(hub, hub.task(task_id))
            hosts += host_trainers(
                built.source, endpoint, task_id, trainers, config.network(), home / "j", HOSTS, POLL_S
            )
            with Console(stderr=True).status(f"{ROUNDS} rounds with {len(cast)} trainers"):
                if not served.wait(1200):
                    raise RuntimeError("the task did not finish within 20 minutes")
        records = hub.rounds(task_id)
        final = kubo.cat(records[-1].model_cid)
        credited: dict[str, int] = {}
        for record in records:
            table = json.loads(kubo.cat(record.scores_cid)) if record.scores_cid else {"trainers": []}
            for row in table["trainers"]:
                if row.get("credit"):
                    credited[row["address"]] = credited.get(row["address"], 0) + 1
        payouts = {}
        for wallet, member in zip(wallets, cast, strict=True):
            claimable = hub.claimable(task_id, str(wallet.address()))
            payouts[member.name] = {
                "reward": claimable.reward,
                "penalty": claimable.penalty,
                "rounds_credited": credited.get(str(wallet.address()), 0),
            }
        attested = [p for p in served.follower.events if isinstance(p.event, RoundAttested)]
        timings = [p.event.timing for p in attested]
        gaps = np.diff([p.time for p in attested])
        return {
            "source": built.source,
            "initial_model": built.initial_model(),
            "payouts": payouts,
            "accuracy": round(test_accuracy(built.source, final, test_dir), 4),
            "score_s_mean": round(float(np.mean([t.score_s for t in timings])), 3) if timings else None,
            "round_s_mean": round(float(np.mean(gaps)), 3) if len(gaps) else None,
        }
    finally:
        for process in hosts:
            process.terminate()
        net.down()


def test_accuracy(source: bytes, model: bytes, test_dir: Path) -> float:
    return float(load_task(source, load_folder(test_dir)).evaluate(model)["metric"])


class Simulation:
    """FedAvg in this process with the task's own code: each member trains exactly as its node
    would (same code, same seeds), free-riders and the sign-flipper bend their updates the way
    their signers do, and the average weighs claimed example counts with no screening."""

    def __init__(self, source: bytes, initial_model: bytes, folders: dict[str, Path], test_dir: Path) -> None:
        self.source, self.initial = source, initial_model
        self.sessions = {name: load_task(source, load_folder(folder)) for name, folder in folders.items()}
        self.test = load_task(source, load_folder(test_dir))
        self.bound = float(DEFAULT_MAX_UPDATE_NORM)
        self.settings = settings_from_source(source)
        self._cache: dict[frozenset[str], float] = {}

    def final_model(self, cast: Sequence[Member]) -> bytes:
        model, previous = self.initial, None
        for task_round in range(1, ROUNDS + 1):
            names, base, _ = decode(model)
            updates = []
            for member in cast:
                session = self.sessions[member.name]
                answer, update = session.train({"round": task_round}, model)
                arrays = decode(update)[1]
                if member.fault:
                    arrays = disguise(member.fault, arrays, model, previous, self.bound, task_round)
                updates.append((arrays, float(answer["num_examples"])))
            previous = model
            if updates:
                total = sum(weight for _, weight in updates)
                model = encode(names, weighted_average(iter(updates), total, base))
        return model

    def accuracy(self, cast: Sequence[Member]) -> float:
        key = frozenset(m.name for m in cast)
        if key not in self._cache:
            self._cache[key] = float(self.test.evaluate(self.final_model(cast))["metric"])
        return self._cache[key]

    def shapley(self, players: Sequence[Member]) -> dict[str, float]:
        """Exact Shapley values of final test accuracy over every coalition of `players`."""
        n = len(players)
        values = dict.fromkeys((p.name for p in players), 0.0)
        with Progress(console=Console(stderr=True)) as progress:
            job = progress.add_task(f"  {2**n} coalitions", total=2**n)
            for size in range(n + 1):
                for coalition in combinations(players, size):
                    self.accuracy(coalition)
                    progress.advance(job)
        for i, player in enumerate(players):
            others = [p for j, p in enumerate(players) if j != i]
            for size in range(n):
                factor = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                for coalition in combinations(others, size):
                    values[player.name] += factor * (self.accuracy([*coalition, player]) - self.accuracy(coalition))
        return values


def plot(path: Path, rows: list[dict[str, Any]], by_class: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    kinds = list(by_class)
    left.bar(kinds, [by_class[k]["share_of_pool_pct"] for k in kinds], color=["#2a9d8f", "#e9c46a", "#e76f51"])
    left.set_ylabel("share of the pool paid (%)")
    left.set_title("Payout by trainer class")
    for index, kind in enumerate(kinds):
        left.annotate(f"{by_class[kind]['share_of_pool_pct']:.2f} %", (index, by_class[kind]["share_of_pool_pct"]),
                      ha="center", va="bottom")  # fmt: skip
    honest = [r for r in rows if r["class"] == "honest"]
    right.scatter([r["true_shapley_accuracy"] for r in honest], [r["share_of_pool_pct"] for r in honest])
    for r in honest:
        right.annotate(r["trainer"].removeprefix("honest-"), (r["true_shapley_accuracy"], r["share_of_pool_pct"]),
                       fontsize=8, xytext=(4, 2), textcoords="offset points")  # fmt: skip
    right.set_xlabel("true value: exact Shapley value of test accuracy")
    right.set_ylabel("share of the pool paid (%)")
    right.set_title("Honest trainers: payout vs true value")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
