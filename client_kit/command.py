"""The command line of a rendered client.py: verify, then serve the task's rounds with a live table,
and say what can be claimed once the chain shows the task finished.

    python client.py --task N --data DIR --key NAME

`trainer_command` builds exactly this command line for programs that start trainers (the
`fedchain trainer train` command, the demo), so the options have one spelling.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from chain_config import Network
from client_kit.chain import ChainClient, ChainError
from client_kit.client_app import TaskClient, Trainer, TrainerError
from client_kit.data import DataError, load_folder
from client_kit.keys import KeysError
from client_kit.preflight import KeySource, check_client, check_membership
from client_kit.supervisor import NodeSupervisor
from client_kit.task_hub import TaskHub, TaskStatus

TASK_POLL_S = 2.0  # the chain is asked only whether the task is done


@dataclass(frozen=True)
class RunRequest:
    task_id: int
    data_dir: Path
    keys: KeySource
    superlink: str | None = None
    grpc_url: str | None = None
    rpc_url: str | None = None
    fault: str = ""
    connect_timeout: float = 600.0
    poll_interval: float = 0.5


def trainer_command(
    client_file: Path,
    task_id: int,
    data_dir: Path,
    keys: KeySource,
    network: Network | None = None,
    superlink: str | None = None,
    fault: str = "",
) -> list[str]:
    """The command that runs `client_file` for a task, as a trainer would type it."""
    command = [sys.executable, str(client_file), "--task", str(task_id), "--data", str(data_dir)]
    if keys.key_file is not None:
        command += ["--key-file", str(keys.key_file)]
    if keys.key:
        command += ["--key", keys.key]
    if keys.keys_dir is not None:
        command += ["--keys-dir", str(keys.keys_dir)]
    if network is not None:
        command += ["--node", network.grpc_url, "--rpc", network.rpc_url]
    if superlink:
        command += ["--superlink", superlink]
    if fault:
        command += ["--fault", fault]
    return command


def run_task(client: TaskClient, client_file: Path, request: RunRequest, console: Console) -> int:
    """Verify, then serve the task's rounds until the chain shows it finished; returns the claimable amount."""
    settings = client.settings
    hub = TaskHub(ChainClient(settings.network(request.grpc_url, request.rpc_url)), settings.contract)
    task, own = check_client(hub, request.task_id, client_file)
    wallet = request.keys.wallet(settings.prefix, allow_dev_accounts=settings.chain_id.startswith("fedchain-local"))
    address = str(wallet.address())
    check_membership(hub, task, address)
    data = load_folder(request.data_dir)
    client.attach(Trainer(wallet, task.id, data, request.fault))
    superlink = request.superlink or settings.superlink
    console.print(
        f"client.py verified against task {task.id} (sha256 {own[:16]}…); training as {address} on "
        f"{len(data)} local examples; keeper {superlink}"
    )
    supervisor = NodeSupervisor(client, superlink, request.connect_timeout, request.poll_interval)
    return _serve(client, hub, task.id, task.rounds, address, supervisor, console)


def _serve(
    client: TaskClient,
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
        with Live(_progress(client, supervisor, rounds, 0), console=console, refresh_per_second=1) as live:
            while not done:
                supervisor.check()
                task = hub.task(task_id)
                done = task.status.settled or task.rounds_completed >= task.rounds
                live.update(_progress(client, supervisor, rounds, task.rounds_completed))
                if not done:
                    time.sleep(TASK_POLL_S)
        if not console.is_terminal:
            console.line()  # a log file gets the table's last frame without its line end
    finally:
        supervisor.stop()
    deadline = time.monotonic() + 60
    while hub.task(task_id).status != TaskStatus.FINALIZED and time.monotonic() < deadline:
        time.sleep(1.0)  # the keeper finalizes right after the last attestation
    claimable = hub.claimable(task_id, address)
    console.print(
        f"task {task_id} finished: you can claim {claimable:,} {hub.chain.network.denom} "
        f"with `fedchain trainer claim {task_id} --key <your key>`"
    )
    return claimable


def _progress(client: TaskClient, supervisor: NodeSupervisor, rounds: int, attested: int) -> Table:
    connected = f"node {supervisor.node_id}" if supervisor.node_id is not None else "connecting…"
    table = Table(title=f"training ({connected}; {attested}/{rounds} rounds attested on chain)")
    for column in ("round", "local loss", "train s", "eval accuracy (local)"):
        table.add_column(column, justify="right")
    for number, values in sorted(client.log.rounds.items()):
        table.add_row(
            str(number),
            f"{values['train_loss']:.4f}" if "train_loss" in values else "",
            f"{values['train_s']:.2f}" if "train_s" in values else "",
            f"{values['eval_accuracy']:.3f}" if "eval_accuracy" in values else "",
        )
    return table


def main(client: TaskClient, client_file: str) -> None:
    """The command line of a rendered client.py."""
    _command(client, Path(client_file).resolve())(standalone_mode=True)


def _command(client: TaskClient, client_file: Path) -> click.Command:
    settings = client.settings

    @click.command(help=f"Train task model '{settings.model_name}' on your own data and be paid for it.")
    @click.option("--task", "task_id", type=int, required=True, help="Task id on chain.")
    @click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Your data folder.")
    @click.option("--key", help="Key name (in --keys-dir or the OS keyring).")
    @click.option("--key-file", type=click.Path(path_type=Path), help="File holding your mnemonic (mode 0600).")
    @click.option("--keys-dir", type=click.Path(path_type=Path), help="Folder of named keys.")
    @click.option("--superlink", help=f"Keeper endpoint (default {settings.superlink}).")
    @click.option("--node", "grpc_url", help=f"Chain gRPC endpoint (default {settings.grpc_url}).")
    @click.option("--rpc", "rpc_url", help=f"Chain RPC endpoint (default {settings.rpc_url}).")
    @click.option("--connect-timeout", default=600.0, show_default=True, help="Seconds to wait for the keeper.")
    @click.option(
        "--poll-interval",
        default=0.5,
        show_default=True,
        type=click.FloatRange(0.05, 30),
        help="Seconds between asks for work; raise it when hundreds of trainers share one keeper.",
    )
    @click.option("--fault", default="", hidden=True, help="Misbehave on purpose (demo and tests only).")
    def command(key: str | None, key_file: Path | None, keys_dir: Path | None, **options: Any) -> None:
        console = Console()
        request = RunRequest(keys=KeySource(key, key_file, keys_dir), **options)
        try:
            run_task(client, client_file, request, console)
        except (TrainerError, DataError, KeysError, ChainError) as error:
            console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)  # may quote chain text
            raise SystemExit(1) from None

    return command
