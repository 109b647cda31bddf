"""`fedchain org ...`, `fedchain tasks ...` and `fedchain trainer ...` (chain side)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from client_kit.builder import ModelSpec, build_client, parse_model_args
from client_kit.ipfs import fetch_to_file, sha256_hex
from client_kit.runtime import ClientSettings
from keepers.cli.common import CliFailure, console, emit_json
from keepers.cli.context import Target, pass_target
from keepers.task_hub import Task
from keepers.task_request import TaskRequest, TaskRequestError, resolve

KEY_OPTION_HELP = "Key name (see `fedchain keys list`)."
JOIN_GAS_ESTIMATE = 320_000  # JoinTask used 224k gas (bench/results/chain_cost.md), times the 1.4 gas margin


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _task_or_fail(target: Target, task_id: int) -> Task:
    try:
        return target.hub.task(task_id)
    except Exception as error:  # noqa: BLE001 - the contract's not-found becomes one plain line
        if "not found" in str(error).lower():
            raise CliFailure(f"task {task_id} does not exist on {target.network.chain_id}") from None
        raise


def _tasks_table(tasks: list[Task], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "model", "status", "pool", "stake", "trainers", "rounds", "join by", "keeper"):
        table.add_column(column)
    for task in tasks:
        table.add_row(
            str(task.id),
            task.model_name,
            task.status,
            f"{task.pool:,} {task.denom}",
            f"{task.stake:,}",
            f"{task.participants}/{task.max_trainers} (min {task.min_trainers})",
            f"{task.rounds_completed}/{task.rounds}",
            _when(task.join_deadline),
            task.keeper,
        )
    return table


# --- organization ---------------------------------------------------------------------------
@click.group()
def org() -> None:
    """Organizations: register, fund training tasks, follow and cancel them."""


@org.command("register")
@click.option("--key", default="organization", show_default=True, help=KEY_OPTION_HELP)
@click.option("--name", required=True, help="Display name.")
@pass_target
def org_register(target: Target, key: str, name: str) -> None:
    """Register the key's address as an organization.

    \b
    Example:
      fedchain org register --key organization --name "Acme Health"
    """
    result = target.hub.register(target.keys.wallet(key), name, organization=True)
    console.print(f"registered organization {name!r} (tx {result.hash})")


@org.command("create-task")
@click.option("--key", default="organization", show_default=True, help=KEY_OPTION_HELP)
@click.option("--file", "task_file", type=click.Path(path_type=Path), help="YAML task file.")
@click.option("--model-name")
@click.option("--client", "client_file", type=click.Path(path_type=Path), help="client.py to pin.")
@click.option("--initial-model", type=click.Path(path_type=Path), help="Initial model file to pin.")
@click.option("--rounds", type=int)
@click.option("--min-trainers", type=int)
@click.option("--max-trainers", type=int)
@click.option("--stake", type=int, help="Stake per trainer (in the base denom).")
@click.option("--pool", type=int, help="Reward pool (in the base denom).")
@click.option("--join-deadline", help="e.g. 10m, 2h, unix seconds or ISO-8601.")
@click.option("--training-deadline")
@click.option("--keeper", "keeper_name", help="Keeper key name or address.")
@click.option("--json", "as_json", is_flag=True)
@pass_target
def org_create_task(target: Target, key: str, task_file: Path | None, as_json: bool, **flags: object) -> None:
    """Pin client.py and the initial model, check everything, then fund and create a task.

    \b
    Example:
      fedchain org create-task --file task.yaml
      fedchain org create-task --model-name digits --client client.py --initial-model m.safetensors \\
        --rounds 5 --min-trainers 3 --max-trainers 6 --stake 1000000 --pool 50000000 \\
        --join-deadline 2m --training-deadline 30m --keeper keeper
    """
    names = {"client_file": "client", "keeper_name": "keeper"}
    given = {names.get(k, k): (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
    try:
        base = TaskRequest.from_yaml(task_file).__dict__ if task_file else {}
        request = TaskRequest.from_mapping({k: v for k, v in {**base, **given}.items() if v is not None})
        keeper = request.keeper
        keeper_address = (
            keeper if keeper.startswith(target.network.bech32_prefix + "1") else (target.keys.info(keeper).address)
        )
        wallet = target.keys.wallet(key)
        spec = resolve(request, keeper_address, target.chain.block_time(), target.ipfs)
    except TaskRequestError as error:
        raise CliFailure(str(error)) from None
    available = target.chain.balance(str(wallet.address()))
    if available < request.pool:
        raise CliFailure(
            f"insufficient funds: the pool needs {request.pool:,} {target.network.denom} plus fees, "
            f"{wallet.address()} has {available:,}"
        )
    task_id, result = target.hub.create_task(wallet, spec, request.pool, target.network.denom)
    if as_json:
        emit_json(
            {
                "task_id": task_id,
                "tx": result.hash,
                "client_cid": spec.client_cid,
                "initial_model_cid": spec.initial_model_cid,
            }
        )
    else:
        console.print(f"created task {task_id} (tx {result.hash}); client.py {spec.client_cid}")


@org.command("build-client")
@click.option(
    "--model",
    "model_spec",
    required=True,
    help="softmax (NumPy template), or a PyTorch nn.Module: path/to/model.py:Class or package.module:Class.",
)
@click.option("--model-args", help="JSON constructor arguments of the model class, e.g. '{\"hidden\": 64}'.")
@click.option("--model-name", help="Name trainers see (default: the class name, or softmax).")
@click.option("--input-shape", default="64", show_default=True, help="Shape of one example, e.g. 64 or 1,28,28.")
@click.option("--classes", default=10, show_default=True, type=click.IntRange(2, 100_000))
@click.option("--input-scale", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(1, 1000), help="Local epochs per round.")
@click.option("--learning-rate", default=0.05, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--superlink", default="127.0.0.1:9092", show_default=True, help="The keeper's SuperLink address.")
@click.option("--seed", default=0, show_default=True, help="Seed of the initial model's weights.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("client.py"), show_default=True)
@click.option(
    "--initial-model-out",
    type=click.Path(path_type=Path),
    default=Path("initial_model.safetensors"),
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True)
@pass_target
def org_build_client(
    target: Target,
    model_spec: str,
    model_args: str | None,
    model_name: str | None,
    input_shape: str,
    out: Path,
    initial_model_out: Path,
    superlink: str,
    seed: int,
    as_json: bool,
    **training: Any,
) -> None:
    """Render the task's client.py from a template, plus the initial model it builds.

    A model file's source is embedded in client.py, so the sha256 registered on chain covers every
    line of task code trainers run. Hand both files to `org create-task`.

    \b
    Example:
      fedchain org build-client --model softmax --input-scale 16 --learning-rate 1.0
      fedchain org build-client --model digits_mlp.py:DigitsMLP --model-args '{"hidden": 64}' \\
        --input-shape 64 --classes 10 --input-scale 16 --superlink 127.0.0.1:9092
    """
    if not target.contract:
        raise CliFailure("no task_hub contract known: pass --contract, or deploy one with `fedchain localnet deploy`")
    try:
        shape = tuple(int(part) for part in input_shape.split(","))
    except ValueError:
        raise CliFailure(
            f"--input-shape must be sizes separated by commas, e.g. 1,28,28; got {input_shape!r}"
        ) from None
    if not shape or min(shape) < 1:
        raise CliFailure(f"--input-shape sizes must be positive, got {input_shape!r}")
    spec = ModelSpec.parse(model_spec, parse_model_args(model_args))
    settings = ClientSettings.for_network(
        target.network,
        target.contract,
        superlink,
        model_name=model_name or (spec.class_name if spec.template == "torch" else "softmax"),
        input_shape=shape,
        classes=training["classes"],
        input_scale=training["input_scale"],
        epochs=training["epochs"],
        learning_rate=training["learning_rate"],
        batch_size=training["batch_size"],
    )
    built = build_client(settings, spec, seed=seed)
    out.write_bytes(built.source)
    initial = built.initial_model()
    initial_model_out.write_bytes(initial)
    summary = {
        "client": str(out),
        "client_sha256": sha256_hex(built.source),
        "initial_model": str(initial_model_out),
        "initial_model_sha256": sha256_hex(initial),
        "template": spec.template,
        "model": spec.reference,
        "parameters": built.parameters,
        "layers": {name: list(array.shape) for name, array in zip(built.names, built.arrays, strict=True)},
    }
    if as_json:
        emit_json(summary)
        return
    table = Table("layer", "shape", title=f"{spec.template} client for {settings.model_name}")
    for name, shape_ in summary["layers"].items():
        table.add_row(name, "×".join(map(str, shape_)))
    console.print(table)
    console.print(
        f"{out} (sha256 {summary['client_sha256'][:16]}…) and {initial_model_out} ({built.parameters:,} parameters)"
        f"\nnext: fedchain org create-task --client {out} --initial-model {initial_model_out} ..."
    )


@org.command("tasks")
@click.option("--key", default="organization", show_default=True, help=KEY_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True)
@pass_target
def org_tasks(target: Target, key: str, as_json: bool) -> None:
    """Tasks created by this organization.

    \b
    Example:
      fedchain org tasks
    """
    tasks = target.hub.tasks(organization=target.keys.info(key).address, limit=100)
    if as_json:
        emit_json([t.raw for t in tasks])
    else:
        console.print(_tasks_table(tasks, "your tasks"))


@org.command("cancel")
@click.argument("task_id", type=int)
@click.option("--key", default="organization", show_default=True, help=KEY_OPTION_HELP)
@pass_target
def org_cancel(target: Target, task_id: int, key: str) -> None:
    """Cancel a task nobody joined yet; the pool comes back in full.

    \b
    Example:
      fedchain org cancel 3
    """
    _task_or_fail(target, task_id)
    result = target.hub.cancel_task(target.keys.wallet(key), task_id)
    console.print(f"task {task_id} cancelled, pool refunded (tx {result.hash})")


@org.command("status")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_target
def org_status(target: Target, task_id: int, as_json: bool) -> None:
    """Rounds with metrics and model CIDs, trainers with weights, and where the funds are.

    \b
    Example:
      fedchain org status 1
    """
    task = _task_or_fail(target, task_id)
    rounds = target.hub.rounds(task_id)
    participants = target.hub.participants(task_id)
    if as_json:
        emit_json(
            {"task": task.raw, "rounds": [r.raw for r in rounds], "participants": [p.__dict__ for p in participants]}
        )
        return
    console.print(_tasks_table([task], f"task {task_id}"))
    table = Table("round", "accuracy", "loss", "examples", "contributors", "model CID", title="rounds")
    for record in rounds:
        table.add_row(
            str(record.round),
            f"{record.metrics.accuracy:.4f}",
            f"{record.metrics.loss:.4f}",
            str(record.metrics.examples),
            str(record.contributors_count),
            record.model_cid,
        )
    console.print(table)
    people = Table("trainer", "stake", "weight", "slashed", "claimed", title="trainers")
    for person in participants:
        people.add_row(
            person.trainer,
            f"{person.stake:,}",
            f"{person.weight:,}",
            person.slash_reason or ("yes" if person.slashed else ""),
            "yes" if person.claimed else "",
        )
    console.print(people)
    console.print(
        f"pool {task.pool:,}  fee {task.fee:,}  forfeited {task.forfeited:,}  distributable {task.distributable:,}  "
        f"paid out {task.paid_out:,}  refunded to org {task.org_refunded:,} ({task.denom})"
    )


# --- everyone ------------------------------------------------------------------------------
@click.group()
def tasks() -> None:
    """Browse training tasks."""


@tasks.command("list")
@click.option("--status", type=click.Choice(["open", "running", "finalized", "cancelled"]))
@click.option("--json", "as_json", is_flag=True)
@pass_target
def tasks_list(target: Target, status: str | None, as_json: bool) -> None:
    """Tasks with reward, stake, deadline and trainers joined.

    \b
    Example:
      fedchain tasks list --status open
    """
    found = target.hub.tasks(status=status, limit=100)
    if as_json:
        emit_json([t.raw for t in found])
    else:
        console.print(_tasks_table(found, f"tasks on {target.network.chain_id}"))


@tasks.command("show")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_target
def tasks_show(target: Target, task_id: int, as_json: bool) -> None:
    """Everything about one task.

    \b
    Example:
      fedchain tasks show 1
    """
    task = _task_or_fail(target, task_id)
    if as_json:
        emit_json(task.raw)
        return
    console.print(_tasks_table([task], f"task {task_id}: {task.model_name}"))
    console.print(
        f"{task.description}\nclient.py: {task.client_cid} (sha256 {task.client_sha256})\n"
        f"training deadline: {_when(task.training_deadline)}  no-show penalty {task.no_show_penalty_bps} bps"
        f"  slash {task.slash_bps} bps"
    )


# --- trainer -------------------------------------------------------------------------------
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
    """Stake to join a task, then download client.py and verify it against the chain.

    \b
    Example:
      fedchain trainer join 1 --key trainer1
    """
    task = _task_or_fail(target, task_id)
    wallet = target.keys.wallet(key)
    now = target.chain.block_time()
    if task.status != "open":
        raise CliFailure(f"task {task_id} is {task.status}: it no longer takes trainers")
    if now >= task.join_deadline:
        raise CliFailure(f"the join deadline of task {task_id} passed at {_when(task.join_deadline)}")
    if task.participants >= task.max_trainers:
        raise CliFailure(f"task {task_id} is full ({task.participants}/{task.max_trainers} trainers)")
    available = target.chain.balance(str(wallet.address()), task.denom)
    fee = int(JOIN_GAS_ESTIMATE * target.network.gas_price) + 1  # the stake must leave room for the fee
    if available < task.stake + fee:
        raise CliFailure(
            f"not enough balance: the stake is {task.stake:,} {task.denom} plus about {fee:,} in fees, "
            f"{wallet.address()} has {available:,}"
        )
    result = target.hub.join_task(wallet, task_id, task.stake, task.denom)
    destination = out or Path(f"task-{task_id}") / "client.py"
    fetch_to_file(target.ipfs, task.client_cid, task.client_sha256, destination)
    console.print(f"joined task {task_id} with stake {task.stake:,} {task.denom} (tx {result.hash})")
    console.print(f"client.py verified against the chain (sha256 {task.client_sha256[:16]}…) -> {destination}")


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
@click.option("--superlink", help="Keeper endpoint, if it differs from the one client.py names.")
@pass_target
def trainer_train(
    target: Target, task_id: int, key: str, data_dir: Path, client_file: Path | None, superlink: str | None
) -> None:
    """Run the task's client.py on your data: it trains, signs, and tells you what you can claim.

    client.py is checked against the sha256 on chain before it runs (and checks itself again).

    \b
    Example:
      fedchain trainer train 1 --key trainer1 --data ./my-digits
    """
    task = _task_or_fail(target, task_id)
    path = client_file or Path(f"task-{task_id}") / "client.py"
    if not path.is_file():
        if client_file is not None:
            raise CliFailure(f"client file {path} does not exist")
        fetch_to_file(target.ipfs, task.client_cid, task.client_sha256, path)
    if sha256_hex(path.read_bytes()) != task.client_sha256:
        raise CliFailure(
            f"{path} does not match the client.py registered for task {task_id} (sha256 {task.client_sha256[:16]}…): "
            f"refusing to run it; delete it and run this command again to fetch the right one"
        )
    if not data_dir.is_dir():
        raise CliFailure(f"data folder {data_dir} does not exist")
    command = [sys.executable, str(path), "--task", str(task_id), "--data", str(data_dir), "--key", key]
    command += ["--keys-dir", str(target.keys.folder), "--node", target.network.grpc_url]
    command += ["--rpc", target.network.rpc_url]
    if superlink:
        command += ["--superlink", superlink]
    code = subprocess.call(command)
    if code != 0:
        raise SystemExit(code)  # client.py already printed its one-line reason


@trainer.command("claim")
@click.argument("task_id", type=int)
@click.option("--key", required=True, help=KEY_OPTION_HELP)
@pass_target
def trainer_claim(target: Target, task_id: int, key: str) -> None:
    """Claim reward and stake back from a finalized task.

    \b
    Example:
      fedchain trainer claim 1 --key trainer1
    """
    task = _task_or_fail(target, task_id)
    wallet = target.keys.wallet(key)
    amount = target.hub.claimable(task_id, str(wallet.address()))
    if task.status != "finalized":
        raise CliFailure(f"task {task_id} is {task.status}: claims open after finalization")
    result = target.hub.claim(wallet, task_id)
    console.print(f"claimed {amount:,} {task.denom} from task {task_id} (tx {result.hash})")
