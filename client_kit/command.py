"""The trainer's command line: verify a task's client.py, then serve its rounds without ever
running its code in the process that holds the key.

    fedchain trainer train N --key NAME --data DIR     (runs the line below with your configuration)
    python -I -m client_kit.command client.py --task N --data DIR --key NAME \
        --node GRPC --rpc RPC --chain-id ID --contract ADDRESS

Never `python client.py`: that file is the organization's code, and run directly it would run
with your keys, your home folder and the network.

The file is read once. Those bytes are checked against the sha256 the task registered on chain,
its settings are read from its text without running it (and must agree with the trainer's own
chain, contract and address prefix, which alone decide where it connects and what it signs),
and only then do the same bytes go to
the task worker (`client_kit.worker`), sandboxed: the organization's code runs there, with the
trainer's data but no key and no network. This process holds the key, speaks to the keeper
(`client_kit.node`) and signs only what `client_kit.signer_app` checked. Python runs in isolated
mode (`-I`), so nothing planted beside client.py or in the environment is imported.

`trainer_command` builds this command line for programs that start trainers (`fedchain trainer
train`, the demo), so the options have one spelling.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from cosmpy.aerial.wallet import LocalWallet
from flwr.common.config import parse_config_args
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from chain_config import LocalnetConfig, Network
from client_kit.chain import ChainClient, ChainError
from client_kit.data import DataError, load_folder
from client_kit.endpoint import EndpointError, KeeperEndpoint
from client_kit.keys import KeysError
from client_kit.node import DEFAULT_POLL_S
from client_kit.node_identity import encode_public_key, node_private_key, prove
from client_kit.preflight import KeySource, check_chain, check_client, check_membership, keeper_endpoint
from client_kit.sandbox import SandboxError
from client_kit.settings import SettingsError, settings_from_source
from client_kit.signer_app import SignerApp, TrainerError
from client_kit.supervisor import NodeSupervisor
from client_kit.task_hub import Task, TaskHub, TaskStatus
from client_kit.worker import TaskWorker, WorkerError

TASK_POLL_S = 2.0  # the chain is asked only whether the task is done
FINALIZE_WAIT_S = 60.0  # how long the keeper gets to finalize a finished task before the trainer does
DEFAULTS = LocalnetConfig().network()  # fedchain's own denomination, prefix and gas price


@dataclass(frozen=True)
class RunRequest:
    task_id: int
    data_dir: Path
    keys: KeySource
    network: Network  # the trainer's own: where it connects, what it signs for, the gas it pays
    contract: str  # the contract the trainer joined with; client.py must name it
    superlink: str | None = None  # default: the endpoint the task's keeper registered on chain (its certificate always)
    fault: str = ""
    connect_timeout: float = 600.0
    poll_interval: float = DEFAULT_POLL_S
    sandbox: bool = True
    claim: bool = True  # claim the payout as soon as the task is settled (the claim window may be short)
    state_dir: Path | None = None  # where the signer keeps what it signed (default: the user's state folder)
    node_config: str | None = None  # a Flower app's context.node_config, as Flower writes it ("k=v k2=v2")


def journal_folder(request: RunRequest, contract: str, task: Task, address: str) -> Path:
    """Where the signer keeps the updates and evaluations it signed for this task: one folder per
    chain, contract, task (its creation time too: a fresh localnet reuses ids) and address."""
    base = request.state_dir or Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "fedchain"
    return base / "signed" / contract / f"task-{task.id}-{task.created_at}" / address


def trainer_command(
    client_file: Path,
    task_id: int,
    data_dir: Path,
    keys: KeySource,
    network: Network,
    contract: str,
    superlink: str | None = None,
    fault: str = "",
    claim: bool = True,
) -> list[str]:
    """The command that runs `client_file` for a task with the trainer's own network and contract."""
    command = [sys.executable, "-I", "-m", "client_kit.command", str(client_file)]
    command += ["--task", str(task_id), "--data", str(data_dir)]
    if keys.key_file is not None:
        command += ["--key-file", str(keys.key_file)]
    if keys.key:
        command += ["--key", keys.key]
    if keys.keys_dir is not None:
        command += ["--keys-dir", str(keys.keys_dir)]
    command += ["--node", network.grpc_url, "--rpc", network.rpc_url, "--chain-id", network.chain_id]
    command += ["--denom", network.denom, "--prefix", network.bech32_prefix, "--gas-price", str(network.gas_price)]
    command += ["--contract", contract]
    if superlink:
        command += ["--superlink", superlink]
    if not claim:
        command.append("--no-claim")
    if fault:
        command += ["--fault", fault]
    return command


def node_config(text: str | None) -> dict[str, str | int | float | bool]:
    """The trainer's settings for a Flower app, parsed as Flower parses `--node-config`."""
    if not text:
        return {}
    try:
        parsed = parse_config_args([text])
    except (ValueError, TypeError, click.ClickException) as error:
        raise TrainerError(f"--node-config {text!r} is not key=value pairs as Flower takes them: {error}") from None
    if not parsed:
        raise TrainerError(f"--node-config {text!r} holds no key=value pair")
    if not all(isinstance(v, str | int | float | bool) for v in parsed.values()):
        raise TrainerError(f"--node-config {text!r} holds values that are not strings, numbers or booleans")
    return dict(parsed)


def run_task(client_file: Path, request: RunRequest, console: Console) -> int:
    """Verify, then serve the task's rounds until the chain shows it finished; returns the claimable amount."""
    source = client_file.read_bytes()  # read once: these bytes are checked, and these bytes run
    settings = settings_from_source(source)
    network = request.network
    hub = TaskHub(ChainClient(network), request.contract)
    check_chain(hub, settings)
    task = check_client(hub, request.task_id, hashlib.sha256(source).hexdigest(), client_file.name)
    on_localnet = network.chain_id.startswith("fedchain-local")
    wallet = request.keys.wallet(network.bech32_prefix, allow_dev_accounts=on_localnet)
    address = str(wallet.address())
    member = check_membership(hub, task, address)
    node_key = node_private_key(wallet, network.chain_id, request.contract, task.id)
    if member.node_public_key != encode_public_key(node_key.public_key()):  # e.g. joined from the web app
        result = hub.set_node_key(wallet, task.id, prove(node_key, request.contract, task.id, address))
        console.print(f"named this node's key for task {task.id} on chain (tx {result.hash})", highlight=False)
    examples = len(load_folder(request.data_dir))  # counted here: the count signed is never the task code's word
    # A round's reply is useless after the round's timeout: the task's code gets no longer (at least
    # a minute, for loading), so code that hangs cannot hold the trainer indefinitely.
    timeout = max(60.0, float(task.round_timeout_secs))
    worker = TaskWorker(
        source,
        request.data_dir,
        sandbox=request.sandbox,
        log=sys.stderr.buffer,
        timeout=timeout,
        node_config=node_config(request.node_config),
    )
    try:
        journal = journal_folder(request, request.contract, task, address)
        signer = SignerApp(settings, wallet, task, worker, hub, journal, examples, request.fault)
        endpoint = _certified_endpoint(hub, task, request, console)
        confinement = "sandboxed, no key, no network" if request.sandbox else "NOT sandboxed (--no-sandbox)"
        console.print(
            f"client.py verified against task {task.id} (sha256 {task.client_sha256[:16]}…); its code runs apart "
            f"({confinement}) on {examples} local examples; signing as {address}; "
            f"keeper {endpoint.address} (TLS certificate {endpoint.tls_cert_sha256[:16]}… from chain)",
            highlight=False,
        )
        supervisor = NodeSupervisor(
            signer,
            lambda: keeper_endpoint(hub, task, request.superlink),
            node_key,
            request.connect_timeout,
            request.poll_interval,
        )
        claimable = _serve(signer, hub, task.id, task.rounds, address, supervisor, console)
    finally:
        worker.close()
    if request.claim and claimable > 0:
        return _claim(hub, wallet, task.id, console)
    console.print(
        f"task {task.id} finished: you can claim {claimable:,} {hub.chain.network.denom} "
        f"with `fedchain trainer claim {task.id} --key <your key>`"
    )
    return claimable


def _certified_endpoint(hub: TaskHub, task: Task, request: RunRequest, console: Console) -> KeeperEndpoint:
    """The keeper's endpoint once its certificate is on chain and its server presents it. A keeper
    publishes its certificate when its service starts, so a trainer that starts first waits (at
    most its connect timeout). A server presenting another certificate is refused, and asked again
    until the timeout (an impostor that forged one handshake must not end the trainer's task)."""
    deadline = time.monotonic() + request.connect_timeout
    said = ""
    while True:
        endpoint = keeper_endpoint(hub, task, request.superlink)
        try:
            endpoint.pinned_certificate()
            return endpoint
        except EndpointError as error:
            problem = (
                f"to present its certificate ({error})"
                if endpoint.tls_cert_sha256
                else "to publish its TLS certificate on chain"
            )
        except OSError:
            problem = "to listen"
        if time.monotonic() >= deadline:
            raise TrainerError(f"waited {request.connect_timeout:.0f}s for the keeper at {endpoint.address} {problem}")
        if problem != said:
            console.print(f"waiting for the keeper at {endpoint.address} {problem}…", highlight=False)
            said = problem
        time.sleep(TASK_POLL_S)


def _claim(hub: TaskHub, wallet: LocalWallet, task_id: int, console: Console) -> int:
    """Claim the payout now: a claim window can be short, and after it the payout goes to the treasury."""
    try:
        result = hub.claim(wallet, task_id)
    except ChainError as error:
        console.print(
            f"could not claim yet ({escape(str(error))}); run `fedchain trainer claim {task_id} --key <your key>`"
        )
        return 0
    claimed = hub.participant(task_id, str(wallet.address()))
    amount = claimed.claimed_amount if claimed is not None else 0
    console.print(f"task {task_id} finished: claimed {amount:,} {hub.chain.network.denom} (tx {result.hash})")
    return amount


def _serve(
    signer: SignerApp,
    hub: TaskHub,
    task_id: int,
    rounds: int,
    address: str,
    supervisor: NodeSupervisor,
    console: Console,
) -> int:
    supervisor.start()
    done = False
    try:
        with Live(_progress(signer, supervisor, rounds, 0), console=console, refresh_per_second=1) as live:
            while not done:
                supervisor.check()
                task = hub.task(task_id)
                done = task.status.settled or task.rounds_completed >= task.rounds
                live.update(_progress(signer, supervisor, rounds, task.rounds_completed))
                if not done:
                    time.sleep(TASK_POLL_S)
        if not console.is_terminal:
            console.line()  # a log file gets the table's last frame without its line end
    finally:
        supervisor.stop()
    deadline = time.monotonic() + FINALIZE_WAIT_S
    while hub.task(task_id).status != TaskStatus.FINALIZED and time.monotonic() < deadline:
        time.sleep(1.0)  # the keeper finalizes right after the last attestation
    task = hub.task(task_id)
    if task.status.live and task.rounds_completed >= task.rounds:
        try:  # anyone may finalize a finished task: a keeper holding it back cannot delay the payout
            result = hub.finalize_task(signer.wallet, task_id)
            console.print(f"task {task_id}: the keeper had not finalized it; finalized it (tx {result.hash})")
        except ChainError as error:  # finalized meanwhile by someone else, most likely
            console.print(f"task {task_id} not finalized by this trainer: {escape(str(error))}")
    return hub.claimable(task_id, address).amount


def _progress(signer: SignerApp, supervisor: NodeSupervisor, rounds: int, attested: int) -> Table:
    connected = f"node {supervisor.node_id}" if supervisor.node_id is not None else "connecting…"
    table = Table(title=f"training ({connected}; {attested}/{rounds} rounds attested on chain)")
    for column in ("round", "local loss", "train s", f"eval {signer.metric.name} (local)"):
        table.add_column(column, justify="right")
    for number, values in sorted(signer.log.rounds.items()):
        table.add_row(
            str(number),
            f"{values['train_loss']:.4f}" if "train_loss" in values else "",
            f"{values['train_s']:.2f}" if "train_s" in values else "",
            f"{values['eval_value']:.4g}" if "eval_value" in values else "",
        )
    return table


@click.command(help="Train a fedchain task on your own data with its client.py, and be paid for it.")
@click.argument("client_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--task", "task_id", type=int, required=True, help="Task id on chain.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Your data folder.")
@click.option("--key", help="Key name (in --keys-dir or the OS keyring).")
@click.option("--key-file", type=click.Path(path_type=Path), help="File holding your mnemonic (mode 0600).")
@click.option("--keys-dir", type=click.Path(path_type=Path), help="Folder of named keys.")
@click.option("--superlink", help="Keeper endpoint (default: the one the task's keeper registered on chain).")
@click.option("--node", "grpc_url", required=True, help="Your chain gRPC endpoint, e.g. grpc+http://127.0.0.1:9090.")
@click.option("--rpc", "rpc_url", required=True, help="Your chain RPC endpoint, e.g. http://127.0.0.1:26657.")
@click.option("--chain-id", required=True, help="The chain you joined on (your node must serve it).")
@click.option("--contract", required=True, help="The task_hub contract you joined with.")
@click.option("--denom", default=DEFAULTS.denom, show_default=True, help="Fee denomination.")
@click.option("--prefix", default=DEFAULTS.bech32_prefix, show_default=True, help="Address prefix.")
@click.option("--gas-price", default=str(DEFAULTS.gas_price), show_default=True, help="Gas price you pay.")
@click.option("--connect-timeout", default=600.0, show_default=True, help="Seconds to wait for the keeper.")
@click.option(
    "--poll-interval",
    default=DEFAULT_POLL_S,
    show_default=True,
    type=click.FloatRange(0.05, 30),
    help="Seconds between asks for work; raise it when hundreds of trainers share one keeper.",
)
@click.option(
    "--sandbox/--no-sandbox",
    default=True,
    show_default=True,
    help="Run the task's code confined with bubblewrap (no key, no network); --no-sandbox only where it is missing.",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to keep what was signed (default $XDG_STATE_HOME/fedchain or ~/.local/state/fedchain).",
)
@click.option(
    "--claim/--no-claim",
    default=True,
    show_default=True,
    help="Claim the payout as soon as the task is settled (else claim it yourself within the claim window).",
)
@click.option("--node-config", help="A Flower app's context.node_config, e.g. \"device='cpu' threads=2\".")
@click.option("--fault", default="", hidden=True, help="Misbehave on purpose (demo and tests only).")
def main(
    client_file: Path,
    key: str | None,
    key_file: Path | None,
    keys_dir: Path | None,
    grpc_url: str,
    rpc_url: str,
    chain_id: str,
    denom: str,
    prefix: str,
    gas_price: str,
    **options: Any,
) -> None:
    console = Console()
    try:
        price = Decimal(gas_price)
    except InvalidOperation:
        raise click.BadParameter(f"{gas_price!r} is not a number", param_hint="--gas-price") from None
    network = Network(chain_id, grpc_url, rpc_url, denom, price, prefix)
    request = RunRequest(keys=KeySource(key, key_file, keys_dir), network=network, **options)
    try:
        run_task(client_file.resolve(), request, console)
    except (TrainerError, DataError, KeysError, ChainError, WorkerError, SandboxError, SettingsError) as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)  # may quote chain text
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
