"""`fedchain demo`: the whole platform for real, on the embedded localnet, in a few minutes.

An organization funds a digits task; trainers stake and train on their own non-IID shards (one
never shows up, one poisons an update); the keeper aggregates with Flower, attests each round on
chain and slashes the poisoner; everyone claims; and the books are reconciled to the coin.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from cosmpy.aerial.wallet import LocalWallet
from rich.console import Console
from rich.live import Live
from rich.table import Table
from sklearn.datasets import load_digits

from chain_config import LocalnetConfig
from client_kit.builder import BuiltClient, ModelSpec, build_client
from client_kit.chain import ChainClient
from client_kit.data import dirichlet_partition, load_folder, write_npz
from client_kit.ipfs import MAX_CLIENT_BYTES, KuboStore, fetch_to_file, fetch_verified
from client_kit.keys import KeyStore
from client_kit.model_format import decode
from client_kit.settings import ClientSettings
from client_kit.task_hub import Scoring, Task, TaskHub, TaskStatus
from keepers.events import Published
from keepers.feed import WEB_APP_ORIGINS
from keepers.orchestration import (
    PublishedTask,
    ServedTask,
    TaskTerms,
    accept_task,
    join_task,
    publish_task,
    register_keeper,
)
from keepers.reconciliation import Reconciliation, reconcile
from keepers.runtime import start_trainer
from keepers.service import KeeperSettings
from keepers.web_server import WebError, WebServer, WebSettings, app_origins, ensure_build, start_web
from localnet.deploy import deploy
from localnet.network import Localnet
from localnet.processes import ManagedProcess, free_port, port_free

DIGITS_MLP = Path(__file__).resolve().parent / "examples" / "digits_mlp.py"
MODELS = {
    # model spec, hyperparameters (tuned for non-IID digits shards of ~250 examples each)
    "torch": (f"{DIGITS_MLP}:DigitsMLP", {"hidden": 64}, {"epochs": 5, "learning_rate": 0.1}),
    "sklearn": ("softmax", {}, {"epochs": 10, "learning_rate": 1.0}),
}
INPUT_SCALE = 16.0  # digits pixels are 0..16


@dataclass
class DemoOptions:
    trainers: int = 7  # four honest, a free-rider, a poisoner and a no-show
    rounds: int = 5
    validators: int = 1
    model: str = "torch"
    keep_running: bool = False
    adversaries: bool = True  # a no-show, a poisoner and (from 4 trainers) a free-rider; off for clean measurements
    federated_evaluation: bool = True  # trainers also evaluate each global model (one more round trip)
    stake: int = 5_000_000
    pool: int = 100_000_000
    seed: int = 7
    web_port: int | None = None  # serve the web app on this port while the demo runs (`--web`)


@dataclass(frozen=True)
class SettlementRow:
    """One trainer's outcome, as the settlement table shows it."""

    trainer: str
    role: str  # honest, no-show or poisoner
    stake: int
    weight: int
    reward: int
    penalty: int
    slashed: str  # the slash reason, empty when not slashed
    gas_fees: int
    balance_change: int


@dataclass
class DemoReport:
    task_id: int
    accuracies: list[float]
    held_out_accuracy: float
    rows: list[SettlementRow]
    organization_refund: int
    treasury_income: int  # the platform fee plus every forfeit
    reconciliation: Reconciliation
    events: list[Published] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        """Every coin accounted for: what is still held is the rounding dust of the reward shares,
        which the sweep sends to the treasury once the claim window closes (a few units at most)."""
        return self.reconciliation.balanced and 0 <= self.reconciliation.held < len(self.rows) + 1


@dataclass
class _Cast:
    """Who plays which part, and what each paid in gas along the way."""

    wallets: dict[str, LocalWallet]  # organization, treasury and each trainer, by name
    keeper: LocalWallet
    trainers: list[str]
    no_show: str | None
    poisoner: str | None
    free_rider: str | None  # sends the global model back, signed and well-formed, every round
    fees: dict[str, int]

    def role(self, name: str) -> str:
        roles = {self.no_show: "no-show", self.poisoner: "poisoner", self.free_rider: "free-rider"}
        return roles.get(name) or "honest"


def run_demo(options: DemoOptions, config: LocalnetConfig, console: Console) -> DemoReport:
    if options.trainers < 3:
        raise ValueError("the demo needs at least 3 trainers (one no-show, one poisoner, one honest)")
    if options.model not in MODELS:
        raise ValueError(f"model {options.model!r} is not available; use one of {sorted(MODELS)}")
    web = DemoWeb(options.web_port, console) if options.web_port else None  # built before anything starts
    net = Localnet(config)
    was_running = net.is_running()
    with console.status("starting the localnet and Kubo…"):
        console.print(net.up(options.validators))
    try:
        report = _run(options, config, console, web)
        if web and options.keep_running:
            web.serve_until_interrupted()
        return report
    finally:
        if web:
            web.stop()
        if not options.keep_running and not was_running:
            net.down()


def _run(options: DemoOptions, config: LocalnetConfig, console: Console, web: DemoWeb | None = None) -> DemoReport:
    with console.status("deploying task_hub…"):
        deployment, action = deploy(config)
    console.print(f"task_hub {action} at {deployment.contract}")
    chain = ChainClient(config.network())
    hub = TaskHub(chain, deployment.contract)
    kubo = KuboStore(config.kubo_api_url)
    keys = KeyStore(config.home / "keys", config.bech32_prefix)
    work = Path(tempfile.mkdtemp(prefix="fedchain-demo-", dir=config.home))
    names = [f"trainer{i + 1}" for i in range(options.trainers)]
    everyone = ("organization", "keeper", "treasury", *names)
    cast = _Cast(
        wallets={n: keys.wallet(n) for n in everyone},
        keeper=keys.wallet("keeper"),
        trainers=names,
        no_show=names[-1] if options.adversaries else None,
        poisoner=names[-2] if options.adversaries else None,
        free_rider=names[-3] if options.adversaries and options.trainers >= 4 else None,
        fees={n: 0 for n in everyone},
    )
    before = {n: chain.balance(str(w.address())) for n, w in cast.wallets.items()}

    # --- a keeper registers its endpoint; the organization builds client.py, pins it, funds a task ---
    digits = load_digits()
    held_out, shards = digits_split(options.trainers, options.seed)
    feed_port, link_port = free_port(), free_port()
    endpoint = f"127.0.0.1:{link_port}"
    cast.fees["keeper"] += register_keeper(hub, cast.keeper, endpoint, "Demo Keeper")
    built = build_demo_client(options.model, config, deployment.contract)
    # The organization's held-out digits: handed to the keeper, named on chain by fingerprint, and
    # what every contribution is measured on.
    validation = write_npz(work / "keeper" / "validation", digits.data[held_out], digits.target[held_out]).parent
    terms = TaskTerms(
        model_name=f"digits-{options.model}",
        description="handwritten digits, trained where the data lives",
        rounds=options.rounds,
        min_trainers=options.trainers - 1 if options.adversaries else options.trainers,
        max_trainers=options.trainers,
        stake=options.stake,
        pool=options.pool,
        scoring=Scoring.MEASURED,
        validation_sha256=load_folder(validation).sha256(),
    )
    needed = terms.join_window_s + terms.rounds * terms.round_timeout_s  # every round at its timeout
    terms = replace(terms, training_window_s=max(terms.training_window_s, needed))
    task = publish_task(hub, kubo, cast.wallets["organization"], str(cast.keeper.address()), built, terms)
    cast.fees["organization"] += task.gas_fees
    cast.fees["keeper"] += accept_task(hub, cast.keeper, task.task_id)
    console.print(
        f"[bold]task {task.task_id}[/] created: pool {options.pool:,} {config.denom}, {options.rounds} rounds, "
        f"stake {options.stake:,}; {options.model} model with {built.parameters:,} parameters; "
        f"client.py {task.client.cid}; the keeper accepted it, bonding {terms.bond:,}"
    )
    if web:
        web.start(config, deployment.contract, feed_port, work / "web.log", task.task_id)

    # --- trainers stake, fetch client.py (hash-checked) and keep their private shards on disk ----
    for name, rows in zip(names, shards, strict=True):
        wallet = cast.wallets[name]
        cast.fees[name] += hub.register(wallet, name, trainer=True).fee
        cast.fees[name] += join_task(hub, wallet, task.task_id, options.stake)
        fetch_to_file(kubo, task.client.cid, task.client.sha256, work / name / "client.py", MAX_CLIENT_BYTES)
        write_npz(work / name / "data", digits.data[rows], digits.target[rows])
        keys.key_file(name, work / name)
    if options.adversaries:
        riding = f", {cast.free_rider} sends the global model back every round" if cast.free_rider else ""
        console.print(
            f"{options.trainers} trainers joined; {cast.no_show} will not show up, {cast.poisoner} poisons round 2"
            + riding
        )
    else:
        console.print(f"{options.trainers} trainers joined, all honest")

    # --- the keeper serves the task; each trainer runs its verified client.py ---------------------
    settings = KeeperSettings(
        superlink_port=link_port,
        workdir=work / "keeper",
        keeper_key_file=keys.key_file("keeper", work / "keeper"),
        ipfs_api=config.kubo_api_url,
        feed_port=feed_port,
        connect_timeout=60.0,
        poll_seconds=1.0,
        validation_dir=validation,  # the organization's held-out digits
        federated_evaluation=options.federated_evaluation,
        feed_origins=web.origins if web else WEB_APP_ORIGINS,  # the web app's pages read the live feed
    )
    events = _train(console, chain, hub, cast, settings, task, options, work, config)
    finished = hub.task(task.task_id)
    if finished.status != TaskStatus.FINALIZED:
        raise RuntimeError(f"task {task.task_id} did not finish (status {finished.status}); logs in {work}")

    # --- everyone claims; the books must balance ----------------------------------------------------
    report = _settle(hub, chain, cast, task.task_id, before, events, options)
    final = hub.rounds(task.task_id)[-1]
    _, arrays, _ = decode(fetch_verified(kubo, final.model_cid, final.model_sha256))
    model = built.build_model()
    model.set_arrays(arrays)
    report.held_out_accuracy = model.evaluate(digits.data[held_out] / INPUT_SCALE, digits.target[held_out])[1]
    _print_settlement(console, report, hub.task(task.task_id), config.denom)
    if options.keep_running:
        console.print(
            "localnet and Kubo keep running: `fedchain localnet status`, `fedchain org status "
            f"{task.task_id}`; stop with `fedchain localnet down`"
        )
    return report


def _train(
    console: Console,
    chain: ChainClient,
    hub: TaskHub,
    cast: _Cast,
    settings: KeeperSettings,
    task: PublishedTask,
    options: DemoOptions,
    work: Path,
    config: LocalnetConfig,
) -> list[Published]:
    """Serve the task while every trainer but the no-show runs its client.py; show the rounds live."""
    trainers: list[ManagedProcess] = []
    with ServedTask(chain, hub, cast.keeper, settings, task.task_id) as served:
        try:
            for name in cast.trainers:
                if name == cast.no_show:
                    continue
                trainers.append(
                    start_trainer(
                        work / name / "client.py",
                        task.task_id,
                        work / name / "data",
                        work / name / f"{name}.mnemonic",
                        work / f"{name}.log",
                        network=config.network(),
                        contract=hub.contract,
                        fault={cast.poisoner: "scale@2", cast.free_rider: "freeride"}.get(name, ""),
                        claim=False,  # the demo claims for each trainer itself, to count every fee
                    )
                )
            table = served.follower.table
            with Live(table(options.rounds), console=console, refresh_per_second=4) as live:
                served.wait(3600, on_tick=lambda: live.update(table(options.rounds)))
            console.print()
            for trainer in trainers:  # each prints what it can claim once the task is finalized
                try:
                    trainer.process.wait(60)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            for trainer in trainers:
                trainer.stop()
    return served.follower.events


def _settle(
    hub: TaskHub,
    chain: ChainClient,
    cast: _Cast,
    task_id: int,
    before: dict[str, int],
    events: list[Published],
    options: DemoOptions,
) -> DemoReport:
    """Every trainer claims (organization, keeper and treasury were paid at finalization), and the
    books are reconciled."""
    for name in cast.trainers:
        cast.fees[name] += hub.claim(cast.wallets[name], task_id).fee
    task = hub.task(task_id)
    after = {n: chain.balance(str(w.address())) for n, w in cast.wallets.items()}
    participants = hub.participants(task_id)
    # The keeper's balance also pays the gas of every attestation its service sends, which the demo
    # does not count: its bond and fee are reconciled through the task's record, not its balance.
    addresses = {n: str(w.address()) for n, w in cast.wallets.items() if n != "keeper"}
    reconciliation = reconcile(task, participants, addresses, before, after, cast.fees)
    members = {p.trainer: p for p in participants}
    reasons = {s.trainer: f"{s.reason}: {s.detail}" for s in hub.slashes(task_id)}
    rows = []
    for name in cast.trainers:
        member = members[addresses[name]]
        payout = member.claimed_amount
        rows.append(
            SettlementRow(
                trainer=name,
                role=cast.role(name),
                stake=member.stake,
                weight=member.weight,
                reward=max(0, payout - member.stake),
                penalty=member.stake - min(member.stake, payout) if member.weight == 0 or member.slashed else 0,
                slashed=reasons.get(member.trainer, ""),
                gas_fees=cast.fees[name],
                balance_change=after[name] - before[name],
            )
        )
    return DemoReport(
        task_id=task_id,
        accuracies=[float(r.metrics.value) for r in hub.rounds(task_id)],
        held_out_accuracy=0.0,
        rows=rows,
        organization_refund=task.org_refunded,
        treasury_income=after["treasury"] - before["treasury"],
        reconciliation=reconciliation,
        events=events,
    )


def digits_split(trainers: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The demo's data: 360 held-out digits, the rest split non-IID (Dirichlet 0.5) across trainers."""
    labels = load_digits().target
    order = np.random.default_rng(seed).permutation(len(labels))
    held_out, pool = order[:360], order[360:]
    return held_out, [pool[shard] for shard in dirichlet_partition(labels[pool], trainers, alpha=0.5, seed=seed)]


def build_demo_client(model: str, config: LocalnetConfig, contract: str, spec: ModelSpec | None = None) -> BuiltClient:
    """The demo's client.py for `model` (a MODELS key), its module `spec` if given."""
    reference, model_args, training = MODELS[model]
    settings = ClientSettings.for_network(
        config.network(),
        contract,
        model_name=f"digits-{model}",
        input_shape=(64,),
        classes=10,
        input_scale=INPUT_SCALE,
        **training,  # type: ignore[arg-type]
    )
    return build_client(settings, spec or ModelSpec.parse(reference, model_args))


def _print_settlement(console: Console, report: DemoReport, task: Task, denom: str) -> None:
    table = Table(title=f"settlement of task {report.task_id} ({denom})")
    for column in ("trainer", "role", "stake", "weight", "reward", "penalty", "gas fees", "balance change"):
        table.add_column(column, justify="right" if column not in ("trainer", "role") else "left")
    for row in report.rows:
        table.add_row(
            row.trainer,
            row.role,
            f"{row.stake:,}",
            f"{row.weight:,}",
            f"{row.reward:,}",
            f"{row.penalty:,}",
            f"{row.gas_fees:,}",
            f"{row.balance_change:+,}",
        )
    console.print(table)
    console.print(
        f"pool {task.pool:,} · platform fee {task.fee:,} · forfeits to the treasury "
        f"{report.treasury_income - task.fee:,} · rewards {task.rewards_paid:,} · refunded to the organization "
        f"{report.organization_refund:,} · keeper bond back {task.keeper_paid - task.keeper_fee:,} of "
        f"{task.keeper_bond:,}"
    )
    books = report.reconciliation
    verdict = (
        "[bold green]reconciled to the coin ✓[/]"
        if report.reconciled
        else "[bold red]MISMATCH[/]: " + "; ".join(books.mismatches() or [f"{books.held:,} still held"])
    )
    dust = f" + {books.held:,} of rounding dust held until the sweep" if books.held else ""
    console.print(f"funds in {books.funds_in:,} = funds out {books.funds_out:,}{dust}: " + verdict)
    accuracies = " → ".join(f"{a:.3f}" for a in report.accuracies)
    console.print(
        f"held-out accuracy by round (the keeper's validation, recorded on chain): {accuracies}; "
        f"final model fetched from IPFS and re-checked: [bold]{report.held_out_accuracy:.3f}[/]"
    )


# --- `fedchain demo --web`: the web app follows the demo's chain and its keeper's live feed ---------


class DemoWeb:
    """The web app on 127.0.0.1:port while the demo runs, reading the demo's localnet and contract,
    with the demo keeper's live feed (which allows the app's origin)."""

    def __init__(self, port: int, console: Console) -> None:
        if not port_free("127.0.0.1", port):
            raise WebError(f"port {port} is in use: choose another with --web-port")
        self.port = port
        self.console = console
        self.app = ensure_build(report=lambda line: console.print(line, highlight=False))
        self.server: WebServer | None = None

    @property
    def origins(self) -> tuple[str, ...]:
        return app_origins(self.port)

    def start(self, config: LocalnetConfig, contract: str, feed_port: int, log: Path, task_id: int) -> str:
        settings = WebSettings.for_localnet(config, contract, feed=f"ws://127.0.0.1:{feed_port}")
        self.server = start_web(self.app, settings, self.port, log)
        url = f"{self.server.url}/tasks/{task_id}"
        self.console.print(f"[bold]watch it in a browser:[/] {url}", highlight=False)
        return url

    def serve_until_interrupted(self) -> None:
        if self.server is None:
            return
        self.console.print(f"the web app keeps serving at {self.server.url}: Ctrl-C stops it", highlight=False)
        try:
            while self.server.process.alive():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
