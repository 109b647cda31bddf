"""`fedchain org ...`: organizations register, build a task's client.py, fund tasks, follow and cancel them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.markup import escape
from rich.table import Table

from client_kit.builder import ModelSpec, build_client, build_flower_client, parse_model_args
from client_kit.data import DataError, load_folder
from client_kit.flower_bundle import AppError, read_app
from client_kit.ipfs import fetch_to_file, sha256_hex
from client_kit.metrics import MetricError, Objective, TaskMetric
from client_kit.settings import ClientSettings, FlowerAppConfig, SettingsError, Standardization
from client_kit.task_hub import TaskStatus
from keepers.cli.common import CliFailure, console, emit_json
from keepers.cli.context import Target, pass_target
from keepers.cli.views import KEY_OPTION_HELP, tasks_table
from keepers.task_request import TaskRequest, TaskRequestError, resolve


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
@click.option("--keeper", "keeper_name", help="Keeper key name or address (a registered keeper).")
@click.option("--keeper-bond", type=int, help="What the keeper bonds to accept (default: a tenth of the pool).")
@click.option("--max-examples-per-trainer", type=int, help="Cap on one update's example count (default 1000).")
@click.option("--round-timeout-secs", type=int, help="How long the keeper waits for a round's replies (default 120).")
@click.option(
    "--scoring",
    type=click.Choice(["claimed-examples", "measured"]),
    help="How trainers are paid: by their claimed example counts (capped; the default), or for the measured "
    "contribution of each update on your validation set (needs --validation).",
)
@click.option(
    "--validation",
    type=click.Path(path_type=Path, file_okay=False),
    help="Your validation set's data folder: its sha256 goes on chain, and you hand the folder to the keeper.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_target
def org_create_task(target: Target, key: str, task_file: Path | None, as_json: bool, **flags: object) -> None:
    """Pin client.py and the initial model, check everything, then fund and create a task.

    \b
    Example:
      fedchain org create-task --file task.yaml
      fedchain org create-task --model-name digits --client client.py --initial-model m.safetensors \\
        --rounds 5 --min-trainers 3 --max-trainers 6 --stake 1000000 --pool 50000000 \\
        --join-deadline 2m --training-deadline 30m --keeper keeper --scoring measured --validation ./held-out
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
        profile = target.hub.profile(keeper_address)
        if profile is None or profile.keeper is None:
            raise TaskRequestError(
                f"{keeper_address} is not a registered keeper: it registers with `fedchain keeper register`"
            )
        spec = resolve(request, keeper_address, profile.keeper.fee_bps, target.chain.block_time(), target.ipfs)
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
        console.print(
            f"created task {task_id} (tx {result.hash}); client.py {spec.client_cid}; waiting for keeper "
            f"{spec.keeper} to accept it and bond {spec.keeper_bond:,} {target.network.denom}"
        )


@org.command("build-client")
@click.option(
    "--model",
    "model_spec",
    required=True,
    help="softmax (NumPy template), or a PyTorch nn.Module: path/to/model.py:Class or package.module:Class; "
    "with --flower-app, the app's model factory, e.g. digitsapp.task:Net.",
)
@click.option(
    "--training",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your own train(model, x, y, config) and evaluate(model, x, y) in a .py file (PyTorch models): "
    "your optimizer, loss, schedule, augmentation and metric.",
)
@click.option(
    "--objective",
    type=click.Choice([o.value for o in Objective]),
    default=Objective.CLASSIFICATION.value,
    show_default=True,
    help="What the runtime's own loop minimizes: cross-entropy, or squared error (labels are targets).",
)
@click.option(
    "--metric",
    help="The metric rounds report: accuracy, f1, mse, mae, or a name your --training or Flower app reports "
    "(default: accuracy, or mse for a regression).",
)
@click.option(
    "--standardize",
    type=click.Path(path_type=Path, file_okay=False),
    help="A data folder of yours: each feature is standardized with its mean and std there, by trainers "
    "and the keeper alike (the numbers go in client.py).",
)
@click.option(
    "--flower-app",
    type=click.Path(path_type=Path),
    help="Your Flower app (a folder with pyproject.toml naming its ClientApp, or a module defining `app`), "
    "served unchanged; it reads its data from context.node_config['data-path'].",
)
@click.option("--flower-run-config", help="JSON overriding the app's [tool.flwr.app.config] (context.run_config).")
@click.option("--flower-train-config", help="JSON sent in every train message's config record, e.g. '{\"lr\": 0.1}'.")
@click.option(
    "--flower-metric-key",
    default="eval_acc",
    show_default=True,
    help="The evaluate reply's metric holding the task's metric.",
)
@click.option("--flower-train-loss-key", default="train_loss", show_default=True)
@click.option("--flower-eval-loss-key", default="eval_loss", show_default=True)
@click.option("--model-args", help="JSON constructor arguments of the model class, e.g. '{\"hidden\": 64}'.")
@click.option("--model-name", help="Name trainers see (default: the class name, or softmax).")
@click.option("--input-shape", default="64", show_default=True, help="Shape of one example, e.g. 64 or 1,28,28.")
@click.option("--classes", default=10, show_default=True, type=click.IntRange(2, 100_000))
@click.option("--input-scale", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--epochs", default=5, show_default=True, type=click.IntRange(1, 1000), help="Local epochs per round.")
@click.option("--learning-rate", default=0.05, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 100_000))
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
    seed: int,
    as_json: bool,
    **training: Any,
) -> None:
    """Render the task's client.py from a template, plus the initial model it builds.

    A model file's, training file's or Flower app's source is embedded in client.py, so the sha256
    registered on chain covers every line of task code trainers run. Hand both files to
    `org create-task`.

    \b
    Example:
      fedchain org build-client --model softmax --input-scale 16 --learning-rate 1.0
      fedchain org build-client --model digits_mlp.py:DigitsMLP --model-args '{"hidden": 64}' \\
        --input-shape 64 --classes 10 --input-scale 16
      fedchain org build-client --model model.py:DiabetesRegressor --training model.py \\
        --objective regression --metric mse --input-shape 10 --standardize ./my-sample
      fedchain org build-client --flower-app ./my-flower-app --model myapp.task:Net \\
        --flower-train-config '{"lr": 0.1}' --input-shape 64
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
    objective = Objective(training["objective"])
    try:
        metric = TaskMetric.named(training["metric"] or ("accuracy" if objective == "classification" else "mse"))
        settings = replace(
            ClientSettings.for_network(
                target.network,
                target.contract,
                model_name=model_name or model_spec.rpartition(":")[2] or "softmax",
                input_shape=shape,
                classes=training["classes"],
                input_scale=training["input_scale"],
                epochs=training["epochs"],
                learning_rate=training["learning_rate"],
                batch_size=training["batch_size"],
            ),
            objective=objective,
            metric=metric,
            standardize=_standardization(training["standardize"], training["input_scale"], shape),
        )
        if training["flower_app"] is not None:
            bundle = read_app(training["flower_app"])
            flower = FlowerAppConfig(
                app=bundle.app,
                run_config={**bundle.run_config, **_json_object("--flower-run-config", training["flower_run_config"])},
                train_config=_json_object("--flower-train-config", training["flower_train_config"]),
                train_loss_key=training["flower_train_loss_key"],
                eval_loss_key=training["flower_eval_loss_key"],
                metric_key=training["flower_metric_key"],
            )
            spec_template, spec_reference = "flower", model_spec
            built = build_flower_client(replace(settings, flower=flower), bundle, model_spec, seed=seed)
        else:
            training_file = str(training["training"]) if training["training"] else None
            spec = ModelSpec.parse(model_spec, parse_model_args(model_args), training_file)
            spec_template, spec_reference = spec.template, spec.reference
            built = build_client(settings, spec, seed=seed)
    except (AppError, MetricError, SettingsError, DataError) as error:
        raise CliFailure(str(error)) from None
    out.write_bytes(built.source)
    initial = built.initial_model()
    initial_model_out.write_bytes(initial)
    summary = {
        "client": str(out),
        "client_sha256": sha256_hex(built.source),
        "initial_model": str(initial_model_out),
        "initial_model_sha256": sha256_hex(initial),
        "template": spec_template,
        "model": spec_reference,
        "metric": metric.describe(),
        "parameters": built.parameters,
        "layers": {name: list(array.shape) for name, array in zip(built.names, built.arrays, strict=True)},
    }
    if as_json:
        emit_json(summary)
        return
    table = Table("layer", "shape", title=f"{spec_template} client for {settings.model_name}, reporting {metric.name}")
    for name, shape_ in summary["layers"].items():
        table.add_row(name, "×".join(map(str, shape_)))
    console.print(table)
    console.print(
        f"{out} (sha256 {summary['client_sha256'][:16]}…) and {initial_model_out} ({built.parameters:,} parameters)"
        f"\nnext: fedchain org create-task --client {out} --initial-model {initial_model_out} ..."
    )


def _standardization(folder: Path | None, input_scale: float, shape: tuple[int, ...]) -> Standardization | None:
    """Per-feature mean and std of the organization's data folder, after the task's input scale."""
    if folder is None:
        return None
    data = load_folder(folder)
    if int(np.prod(data.x.shape[1:])) != int(np.prod(shape)):
        raise DataError(f"--standardize data in {folder} has examples of shape {data.x.shape[1:]}, not {shape}")
    return Standardization.fit(data.x / np.float32(input_scale))


def _json_object(option: str, text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{option} must be a JSON object: {error}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float | bool) for v in value.values()):
        raise SettingsError(f"{option} must be a JSON object of strings, numbers and booleans (a Flower config)")
    return value


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
    tasks = list(target.hub.tasks(organization=target.keys.info(key).address))
    if as_json:
        emit_json([t.raw for t in tasks])
    else:
        console.print(tasks_table(tasks, "your tasks"))


@org.command("cancel")
@click.argument("task_id", type=int)
@click.option("--key", default="organization", show_default=True, help=KEY_OPTION_HELP)
@pass_target
def org_cancel(target: Target, task_id: int, key: str) -> None:
    """Cancel a task until its first round is attested: the pool comes back in full, the keeper's
    bond goes back to the keeper, and every joined trainer can claim its full stake.

    \b
    Example:
      fedchain org cancel 3
    """
    task = target.task(task_id)
    if task.status not in (TaskStatus.PROPOSED, TaskStatus.OPEN):
        raise CliFailure(f"task {task_id} is {task.status}: a task can be cancelled only before its first round")
    result = target.hub.cancel_task(target.keys.wallet(key), task_id)
    console.print(
        f"task {task_id} cancelled, pool of {task.pool:,} {task.denom} refunded (tx {result.hash}); "
        f"its {task.participants} trainer(s) can claim their stakes back"
    )


@org.command("fetch-model")
@click.argument("task_id", type=int)
@click.option("--round", "round_number", type=int, help="Which round's model (default: the last attested).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Where to write it.")
@pass_target
def org_fetch_model(target: Target, task_id: int, round_number: int | None, out: Path) -> None:
    """Download a round's global model from IPFS, checked against the sha256 the chain recorded.

    Streamed to the file while it is hashed (a large model is never held in memory); a model that
    does not match the chain's record is refused and never lands at --out.

    \b
    Example:
      fedchain org fetch-model 1 --out final.safetensors
    """
    rounds = target.hub.rounds(task_id)
    if not rounds:
        raise CliFailure(f"task {task_id} has no attested round yet")
    chosen = rounds[-1] if round_number is None else next((r for r in rounds if r.round == round_number), None)
    if chosen is None:
        raise CliFailure(f"task {task_id} has no attested round {round_number} (rounds 1..{rounds[-1].round})")
    fetch_to_file(target.ipfs, chosen.model_cid, chosen.model_sha256, out)
    console.print(
        f"round {chosen.round} model of task {task_id}: {out} ({out.stat().st_size:,} bytes, sha256 "
        f"{chosen.model_sha256[:16]}… as on chain); {chosen.metrics.metric} {chosen.metrics.value}"
    )


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
    task = target.task(task_id)
    rounds = target.hub.rounds(task_id)
    participants = target.hub.participants(task_id)
    slashes = {s.trainer: s for s in target.hub.slashes(task_id)}
    if as_json:
        emit_json(
            {
                "task": task.raw,
                "rounds": [r.raw for r in rounds],
                "participants": [p.__dict__ for p in participants],
                "slashes": [{**s.__dict__, "claim": s.claim.wire()} for s in slashes.values()],
            },
        )
        return
    console.print(tasks_table([task], f"task {task_id}"))
    table = Table(
        "round", task.metric.name, "loss", "examples", "credited", "model CID", "score table CID", title="rounds"
    )
    for record in rounds:
        table.add_row(
            str(record.round),
            f"{record.metrics.value:.4f}",
            f"{record.metrics.loss:.4f}",
            str(record.metrics.examples),
            str(record.contributors_count),
            record.model_cid,
            record.scores_cid or "",
        )
    console.print(table)
    people = Table("trainer", "stake", "weight", "slashed (reason, evidence)", "claimed", title="trainers")
    for person in participants:
        slash = slashes.get(person.trainer)
        people.add_row(
            person.trainer,
            f"{person.stake:,}",
            f"{person.weight:,}",
            escape(f"round {slash.round}: {slash.reason} {slash.detail}; {slash.update_cid}") if slash else "",
            f"{person.claimed_amount:,}" if person.claimed else "",
        )
    console.print(people)
    console.print(
        f"pool {task.pool:,}  delivered {task.delivered_pool:,}  fee {task.fee:,}  keeper fee {task.keeper_fee:,}  "
        f"distributable {task.distributable:,}  to the treasury {task.treasury_paid:,}  refunded to the organization "
        f"{task.org_refunded:,}  keeper bond {task.keeper_bond:,} (forfeited {task.bond_forfeited:,})  "
        f"still held {task.held:,} ({task.denom})"
    )
