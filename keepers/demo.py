"""`fedchain demo`: the whole platform for real, on the embedded localnet, in a few minutes.

An organization funds a digits task; trainers stake and train on their own non-IID shards (one
never shows up, one poisons an update); the keeper aggregates with Flower, attests each round on
chain and slashes the poisoner; everyone claims; and the books are reconciled to the coin.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sklearn.datasets import load_digits

from chain_config import LocalnetConfig
from client_kit.builder import BuiltClient, ModelSpec, build_client
from client_kit.data import dirichlet_partition, write_npz
from client_kit.ipfs import KuboStore, fetch_to_file, fetch_verified
from client_kit.keys import KeyStore
from client_kit.model_format import decode
from client_kit.runtime import ClientSettings
from keepers.chain import ChainClient
from keepers.feed import FeedFollower
from keepers.runtime import ManagedProcess, start_trainer
from keepers.service import KeeperService, KeeperSettings
from keepers.task_hub import TaskHub, TaskSpec
from localnet.deploy import deploy
from localnet.network import Localnet

DIGITS_MLP = Path(__file__).resolve().parent / "examples" / "digits_mlp.py"
MODELS = {
    # model spec, hyperparameters (tuned for non-IID digits shards of ~250 examples each)
    "torch": (f"{DIGITS_MLP}:DigitsMLP", {"hidden": 64}, {"epochs": 5, "learning_rate": 0.1}),
    "sklearn": ("softmax", {}, {"epochs": 10, "learning_rate": 1.0}),
}


@dataclass
class DemoOptions:
    trainers: int = 6
    rounds: int = 5
    validators: int = 1
    model: str = "torch"
    keep_running: bool = False
    adversaries: bool = True  # one no-show and one poisoner; off for clean measurements
    federated_evaluation: bool = True  # trainers also evaluate each global model (one more round trip)
    stake: int = 5_000_000
    pool: int = 100_000_000
    seed: int = 7


@dataclass
class DemoReport:
    task_id: int
    accuracies: list[float]
    held_out_accuracy: float
    rows: list[dict[str, object]]
    organization_refund: int
    treasury_fee: int
    reconciled: bool
    events: list[dict] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_demo(options: DemoOptions, config: LocalnetConfig, console: Console) -> DemoReport:
    if options.trainers < 3:
        raise ValueError("the demo needs at least 3 trainers (one no-show, one poisoner, one honest)")
    if options.model not in MODELS:
        raise ValueError(f"model {options.model!r} is not available; use one of {sorted(MODELS)}")
    net = Localnet(config)
    was_running = net.is_running()
    with console.status("starting the localnet and Kubo…"):
        console.print(net.up(options.validators))
    try:
        return _run(options, config, console, net)
    finally:
        if not options.keep_running and not was_running:
            net.down()


def _run(options: DemoOptions, config: LocalnetConfig, console: Console, net: Localnet) -> DemoReport:
    with console.status("deploying task_hub…"):
        deployment, action = deploy(config)
    console.print(f"task_hub {action} at {deployment.contract}")
    chain = ChainClient(config.network())
    hub = TaskHub(chain, deployment.contract)
    kubo = KuboStore(config.kubo_api_url)
    keys = KeyStore(config.home / "keys", config.bech32_prefix)
    work = Path(tempfile.mkdtemp(prefix="fedchain-demo-", dir=config.home))
    names = [f"trainer{i + 1}" for i in range(options.trainers)]
    no_show, poisoner = (names[-1], names[-2]) if options.adversaries else (None, None)
    org, keeper, treasury = keys.wallet("organization"), keys.wallet("keeper"), keys.wallet("treasury")
    everyone = {"organization": org, "treasury": treasury, **{n: keys.wallet(n) for n in names}}
    start_balance = {n: chain.balance(str(w.address())) for n, w in everyone.items()}
    fees = {n: 0 for n in everyone}

    # --- the organization builds client.py, pins it with the initial model, and funds a task -------
    digits = load_digits()
    held_out, shards = digits_split(options.trainers, options.seed)
    feed_port, link_port = free_port(), free_port()
    built = build_demo_client(options.model, config, deployment.contract, f"127.0.0.1:{link_port}")
    initial = kubo.add(built.initial_model(), "initial.safetensors")
    client = kubo.add(built.source, "client.py")
    fees["organization"] += hub.register(org, "Acme Health", organization=True).fee
    now = int(chain.block_time())
    spec = TaskSpec(
        model_name=f"digits-{options.model}",
        description="handwritten digits, trained where the data lives",
        client_cid=client.cid,
        client_sha256=client.sha256,
        initial_model_cid=initial.cid,
        initial_model_sha256=initial.sha256,
        rounds=options.rounds,
        min_trainers=options.trainers - 1 if options.adversaries else options.trainers,
        max_trainers=options.trainers,
        stake=options.stake,
        join_deadline=now + 300,
        training_deadline=now + 1800,
        keeper=str(keeper.address()),
        no_show_penalty_bps=1000,
        slash_bps=5000,
    )
    task_id, created = hub.create_task(org, spec, options.pool, config.denom)
    fees["organization"] += created.fee
    console.print(
        f"[bold]task {task_id}[/] created: pool {options.pool:,} {config.denom}, {options.rounds} rounds, "
        f"stake {options.stake:,}; {options.model} model with {built.parameters:,} parameters; client.py {client.cid}"
    )

    # --- trainers stake, fetch client.py (hash-checked) and keep their private shards on disk ----
    for name, rows in zip(names, shards, strict=True):
        wallet = everyone[name]
        fees[name] += hub.register(wallet, name, trainer=True).fee
        fees[name] += hub.join_task(wallet, task_id, options.stake, config.denom).fee
        fetch_to_file(kubo, client.cid, client.sha256, work / name / "client.py")
        write_npz(work / name / "data", digits.data[rows], digits.target[rows])
        keys.key_file(name, work / name)
    if options.adversaries:
        console.print(f"{options.trainers} trainers joined; {no_show} will not show up, {poisoner} poisons round 2")
    else:
        console.print(f"{options.trainers} trainers joined, all honest")

    # --- the keeper serves the task; each trainer runs its verified client.py ---------------------
    write_npz(work / "keeper" / "validation", digits.data[held_out], digits.target[held_out])
    settings = KeeperSettings(
        superlink_port=link_port,
        workdir=work / "keeper",
        keeper_key_file=keys.key_file("keeper", work / "keeper"),
        ipfs_api=config.kubo_api_url,
        feed_port=feed_port,
        connect_timeout=60.0,
        poll_seconds=1.0,
        validation_dir=work / "keeper" / "validation",  # the organization's held-out digits
        federated_evaluation=options.federated_evaluation,
        only_tasks=frozenset({task_id}),  # the dev keeper account may name tasks of earlier runs
    )
    service = KeeperService(chain, hub, keeper, settings, report=lambda line: None)
    follower = FeedFollower(feed_port, task_id)
    follower.start()
    trainers: list[ManagedProcess] = []
    stop = threading.Event()
    keeper_thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    try:
        keeper_thread.start()
        for name in names:
            if name == no_show:
                continue
            trainers.append(
                start_trainer(
                    work / name / "client.py",
                    task_id,
                    work / name / "data",
                    work / name / f"{name}.mnemonic",
                    work / f"{name}.log",
                    network=config.network(),
                    fault="scale@2" if name == poisoner else "",
                )
            )
        with Live(follower.table(options.rounds), console=console, refresh_per_second=4) as live:
            while not follower.finished.wait(0.5):
                live.update(follower.table(options.rounds))
                if not keeper_thread.is_alive():
                    break
            live.update(follower.table(options.rounds))
        console.print()
        for trainer in trainers:  # each prints what it can claim once the task is finalized
            try:
                trainer.process.wait(60)
            except subprocess.TimeoutExpired:
                pass
    finally:
        stop.set()
        keeper_thread.join(timeout=30)
        for trainer in trainers:
            trainer.stop()
    task = hub.task(task_id)
    if task.status != "finalized":
        raise RuntimeError(f"task {task_id} did not finish (status {task.status}); logs in {work}")

    # --- everyone claims; the books must balance ----------------------------------------------------
    for name in names:
        fees[name] += hub.claim(everyone[name], task_id).fee
    refund = hub.claimable(task_id, str(org.address()))
    if refund:
        fees["organization"] += hub.claim_refund(org, task_id).fee
    task = hub.task(task_id)
    end_balance = {n: chain.balance(str(w.address())) for n, w in everyone.items()}
    participants = {p.trainer: p for p in hub.participants(task_id)}
    rows = []
    for name in names:
        p = participants[str(everyone[name].address())]
        change = end_balance[name] - start_balance[name]
        payout = p.claimed_amount
        penalty = options.stake - min(options.stake, payout) if p.weight == 0 or p.slashed else 0
        rows.append(
            {
                "trainer": name,
                "role": "no-show" if name == no_show else "poisoner" if name == poisoner else "honest",
                "stake": p.stake,
                "weight": p.weight,
                "reward": max(0, payout - p.stake),
                "penalty": penalty,
                "slashed": p.slash_reason or "",
                "gas_fees": fees[name],
                "balance_change": change,
            }
        )
    fee_paid = end_balance["treasury"] - start_balance["treasury"]
    paid_trainers = sum(p.claimed_amount for p in participants.values())
    funds_in = task.pool + task.stake * task.participants
    funds_out = task.fee + paid_trainers + task.org_refunded
    org_change = end_balance["organization"] - start_balance["organization"]
    reconciled = (
        funds_in == funds_out
        and fee_paid == task.fee
        and all(
            r["balance_change"]
            == (participants[str(everyone[r["trainer"]].address())].claimed_amount - r["stake"] - r["gas_fees"])
            for r in rows
        )
        and org_change == -task.pool + task.org_refunded - fees["organization"]
    )
    final = hub.rounds(task_id)[-1]
    _, arrays, _ = decode(fetch_verified(kubo, final.model_cid, final.model_sha256))
    model = built.build_model()
    model.set_arrays(arrays)
    held_out_accuracy = model.evaluate(digits.data[held_out] / 16.0, digits.target[held_out])[1]
    report = DemoReport(
        task_id,
        [float(r.metrics.accuracy) for r in hub.rounds(task_id)],
        held_out_accuracy,
        rows,
        task.org_refunded,
        fee_paid,
        reconciled,
        follower.events,
    )
    _print_settlement(console, report, task, funds_in, funds_out, config.denom)
    if options.keep_running:
        console.print(
            "localnet and Kubo keep running: `fedchain localnet status`, `fedchain org status "
            f"{task_id}`; stop with `fedchain localnet down`"
        )
    return report


def digits_split(trainers: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The demo's data: 360 held-out digits, the rest split non-IID (Dirichlet 0.5) across trainers."""
    labels = load_digits().target
    order = np.random.default_rng(seed).permutation(len(labels))
    held_out, pool = order[:360], order[360:]
    return held_out, [pool[shard] for shard in dirichlet_partition(labels[pool], trainers, alpha=0.5, seed=seed)]


def build_demo_client(model: str, config: LocalnetConfig, contract: str, superlink: str) -> BuiltClient:
    reference, model_args, training = MODELS[model]
    settings = ClientSettings.for_network(
        config.network(),
        contract,
        superlink,
        model_name=f"digits-{model}",
        input_shape=(64,),
        classes=10,
        input_scale=16.0,
        **training,  # type: ignore[arg-type]
    )
    return build_client(settings, ModelSpec.parse(reference, model_args))


def _print_settlement(
    console: Console,
    report: DemoReport,
    task,
    funds_in: int,
    funds_out: int,  # noqa: ANN001
    denom: str,
) -> None:
    table = Table(title=f"settlement of task {report.task_id} ({denom})")
    for column in ("trainer", "role", "stake", "weight", "reward", "penalty", "gas fees", "balance change"):
        table.add_column(column, justify="right" if column not in ("trainer", "role") else "left")
    for row in report.rows:
        table.add_row(
            str(row["trainer"]),
            str(row["role"]),
            f"{row['stake']:,}",
            f"{row['weight']:,}",
            f"{row['reward']:,}",
            f"{row['penalty']:,}",
            f"{row['gas_fees']:,}",
            f"{row['balance_change']:+,}",
        )
    console.print(table)
    console.print(
        f"pool {task.pool:,} · treasury fee {report.treasury_fee:,} · forfeited stakes {task.forfeited:,} · "
        f"distributed {task.rewards_paid:,} · refunded to the organization {report.organization_refund:,}"
    )
    console.print(
        f"funds in {funds_in:,} = funds out {funds_out:,}: "
        + ("[bold green]reconciled to the coin ✓[/]" if report.reconciled else "[bold red]MISMATCH[/]")
    )
    accuracies = " → ".join(f"{a:.3f}" for a in report.accuracies)
    console.print(
        f"held-out accuracy by round (the keeper's validation, recorded on chain): {accuracies}; "
        f"final model fetched from IPFS and re-checked: [bold]{report.held_out_accuracy:.3f}[/]"
    )
