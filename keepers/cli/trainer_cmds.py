"""`fedchain trainer ...`: trainers register, stake to join a task, train on their data, claim."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from client_kit.command import trainer_command
from client_kit.ipfs import MAX_CLIENT_BYTES, fetch_to_file, sha256_hex
from client_kit.node_identity import claim_for
from client_kit.preflight import KeySource
from client_kit.task_hub import Claimable, Task, TaskHub, TaskStatus
from keepers.cli.common import CliFailure, console, emit_json
from keepers.cli.context import Target, pass_target
from keepers.cli.views import KEY_OPTION_HELP, when

JOIN_GAS_ESTIMATE = 320_000  # JoinTask used 224k gas (bench/results/chain_cost.md), times the 1.4 gas margin


def join_refusal(task: Task, now: float, balance: int, fee: int) -> str | None:
    """Why `task` cannot be joined right now by an account holding `balance` (the stake plus about
    `fee` of gas is needed), or None when it can; checked before anything is signed."""
    if task.status == TaskStatus.PROPOSED:
        return f"task {task.id} takes no trainers yet: its keeper has not accepted it"
    if task.status != TaskStatus.OPEN:
        return f"task {task.id} is {task.status}: it no longer takes trainers"
    if now >= task.join_deadline:
        return f"the join deadline of task {task.id} passed at {when(task.join_deadline)}"
    if task.participants >= task.max_trainers:
        return f"task {task.id} is full ({task.participants}/{task.max_trainers} trainers)"
    if balance < task.stake + fee:
        return (
            f"not enough balance: the stake is {task.stake:,} {task.denom} plus about {fee:,} in fees, "
            f"the account has {balance:,}"
        )
    return None


@click.group()
def trainer() -> None:
    """Trainers: register, stake to join a task, train, claim rewards."""


@trainer.command("register")
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@click.option("--name", required=True, help="Display name.")
@pass_target
def trainer_register(target: Target, key: str, name: str) -> None:
    """Register the key's address as a trainer.

    \b
    Example:
      fedchain trainer register --key trainer1 --name alice
    """
    result = target.hub.register(target.keys.wallet(key), name, trainer=True)
    console.print(f"registered trainer {name!r} (tx {result.hash})")


@trainer.command("join")
@click.argument("task_id", type=int)
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Where to save client.py.")
@pass_target
def trainer_join(target: Target, task_id: int, key: str, out: Path | None) -> None:
    """Download the task's client.py and verify it against the chain, then stake to join.

    \b
    Example:
      fedchain trainer join 1 --key trainer1
    """
    task = target.task(task_id)
    wallet = target.keys.wallet(key)
    balance = target.chain.balance(str(wallet.address()), task.denom)
    fee = int(JOIN_GAS_ESTIMATE * target.network.gas_price) + 1  # the stake must leave room for the fee
    refusal = join_refusal(task, target.chain.block_time(), balance, fee)
    if refusal is not None:
        raise CliFailure(refusal)
    destination = out or Path(f"task-{task_id}") / "client.py"
    fetch_to_file(target.ipfs, task.client_cid, task.client_sha256, destination, MAX_CLIENT_BYTES)  # before staking
    console.print(f"client.py verified against the chain (sha256 {task.client_sha256[:16]}…) -> {destination}")
    node_key = claim_for(wallet, target.network.chain_id, target.hub.contract, task_id)
    result = target.hub.join_task(wallet, task_id, task.stake, task.denom, node_key)
    console.print(f"joined task {task_id} with stake {task.stake:,} {task.denom} (tx {result.hash})")


@trainer.command("train")
@click.argument("task_id", type=int)
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True, help="Your private data folder.")
@click.option(
    "--client",
    "client_file",
    type=click.Path(path_type=Path),
    default=None,
    help="client.py to run (default task-ID/client.py; fetched and verified when missing).",
)
@click.option("--superlink", help="Keeper endpoint, if it differs from the one the keeper registered on chain.")
@click.option(
    "--connect-timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds to wait for the keeper: to publish its certificate, to listen, to present the certificate on chain.",
)
@click.option(
    "--claim/--no-claim",
    default=True,
    show_default=True,
    help="Claim the payout as soon as the task is settled (else claim it yourself within the claim window).",
)
@click.option(
    "--node-config",
    help="Settings for a task whose client.py serves a Flower app, as Flower takes them: \"device='cpu' "
    'threads=2" (the app reads them from context.node_config; data-path is always your --data).',
)
@pass_target
def trainer_train(
    target: Target,
    task_id: int,
    key: str,
    data_dir: Path,
    client_file: Path | None,
    superlink: str | None,
    connect_timeout: float,
    claim: bool,
    node_config: str | None,
) -> None:
    """Run the task's client.py on your data: it trains, signs, and tells you what you can claim.

    client.py is checked against the sha256 on chain before it runs (and checks itself again).

    \b
    Example:
      fedchain trainer train 1 --key trainer1 --data ./my-digits
    """
    task = target.task(task_id)
    path = client_file or Path(f"task-{task_id}") / "client.py"
    if not path.is_file():
        if client_file is not None:
            raise CliFailure(f"client file {path} does not exist")
        fetch_to_file(target.ipfs, task.client_cid, task.client_sha256, path, MAX_CLIENT_BYTES)
    if sha256_hex(path.read_bytes()) != task.client_sha256:
        raise CliFailure(
            f"{path} does not match the client.py registered for task {task_id} (sha256 {task.client_sha256[:16]}…): "
            f"refusing to run it; delete it and run this command again to fetch the right one"
        )
    if not data_dir.is_dir():
        raise CliFailure(f"data folder {data_dir} does not exist")
    keys = KeySource(key=key, keys_dir=target.keys.folder)
    command = trainer_command(
        path, task_id, data_dir, keys, target.network, target.hub.contract, superlink, claim=claim
    )
    command += ["--connect-timeout", str(connect_timeout)]
    if node_config:
        command += ["--node-config", node_config]
    code = subprocess.call(command)
    if code != 0:
        raise SystemExit(code)  # client.py already printed its one-line reason


@trainer.command("leave")
@click.argument("task_id", type=int)
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@pass_target
def trainer_leave(target: Target, task_id: int, key: str) -> None:
    """Leave a task before its first round and take the whole stake back.

    \b
    Example:
      fedchain trainer leave 1 --key trainer1
    """
    task = target.task(task_id)
    wallet = target.keys.wallet(key)
    if task.status != TaskStatus.OPEN:
        raise CliFailure(f"task {task_id} is {task.status}: trainers can leave only before its first round")
    if target.hub.participant(task_id, str(wallet.address())) is None:
        raise CliFailure(f"{wallet.address()} has not joined task {task_id}")
    result = target.hub.leave_task(wallet, task_id)
    console.print(f"left task {task_id}; stake of {task.stake:,} {task.denom} returned (tx {result.hash})")


@trainer.command("claim")
@click.argument("task_id", type=int)
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@pass_target
def trainer_claim(target: Target, task_id: int, key: str) -> None:
    """Claim stake and reward from a settled task, and see what was earned or lost and why.

    \b
    Example:
      fedchain trainer claim 1 --key trainer1
    """
    task = target.task(task_id)
    wallet = target.keys.wallet(key)
    if not task.status.settled:
        raise CliFailure(f"task {task_id} is {task.status}: claims open once it is finalized or cancelled")
    owed = target.hub.claimable(task_id, str(wallet.address()))
    if owed.amount == 0:
        raise CliFailure(f"nothing to claim from task {task_id} for {wallet.address()}")
    result = target.hub.claim(wallet, task_id)
    console.print(f"claimed {owed.amount:,} {task.denom} from task {task_id} (tx {result.hash}): {_why(owed)}")


@trainer.command("status")
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True)
@pass_target
def trainer_status(target: Target, key: str, as_json: bool) -> None:
    """Every task this key joined: its standing, rounds contributed, and what it can claim and why.

    \b
    Example:
      fedchain trainer status --key trainer1
    """
    address = target.keys.info(key).address
    rows = [status_row(target.hub, task, address) for task in target.hub.tasks()]
    rows = [row for row in rows if row is not None]
    if as_json:
        emit_json(rows)
        return
    table = Table("task", "model", "status", "standing", "weight", "claimable", "why", title=f"tasks of {address}")
    for row in rows:
        table.add_row(
            str(row["task_id"]),
            escape(row["model"]),
            row["status"],
            row["standing"],
            f"{row['weight']:,}",
            f"{row['claimable']:,} {row['denom']}",
            row["why"],
        )
    console.print(table)


def status_row(hub: TaskHub, task: Task, address: str) -> dict[str, object] | None:
    """One task as its trainer sees it, or None when the address never joined it."""
    member = hub.participant(task.id, address)
    if member is None:
        return None
    owed = hub.claimable(task.id, address)
    standing = "slashed" if member.slashed else "contributor" if member.weight else "no updates accepted yet"
    if member.claimed:
        why = f"claimed {member.claimed_amount:,}"
    elif not task.status.settled:
        why = f"{task.rounds_completed}/{task.rounds} rounds attested; stake {member.stake:,} held"
    else:
        why = _why(owed)
    return {
        "task_id": task.id,
        "model": task.model_name,
        "status": str(task.status),
        "standing": standing,
        "weight": member.weight,
        "claimable": owed.amount,
        "denom": task.denom,
        "why": why,
    }


def _why(owed: Claimable) -> str:
    parts = [f"stake back {owed.stake_back:,}"]
    if owed.penalty:
        parts.append(f"penalty {owed.penalty:,}")
    if owed.reward:
        parts.append(f"reward {owed.reward:,}")
    if owed.compensation:
        parts.append(f"keeper's bond compensation {owed.compensation:,}")
    return ", ".join(parts)
