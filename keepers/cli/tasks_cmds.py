"""`fedchain tasks ...`: anyone browses the training tasks on chain."""

from __future__ import annotations

import click

from client_kit.task_hub import Scoring, TaskStatus
from keepers.cli.common import console, emit_json
from keepers.cli.context import Target, pass_target
from keepers.cli.views import tasks_table, when


@click.group()
def tasks() -> None:
    """Browse training tasks."""


@tasks.command("list")
@click.option("--status", type=click.Choice([s.value for s in TaskStatus]))
@click.option("--json", "as_json", is_flag=True)
@pass_target
def tasks_list(target: Target, status: str | None, as_json: bool) -> None:
    """Tasks with reward, stake, deadline and trainers joined.

    \b
    Example:
      fedchain tasks list --status open
    """
    found = list(target.hub.tasks(status=TaskStatus(status) if status else None))
    if as_json:
        emit_json([t.raw for t in found])
    else:
        console.print(tasks_table(found, f"tasks on {target.network.chain_id}"))


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
    task = target.task(task_id)
    if as_json:
        emit_json(task.raw)
        return
    console.print(tasks_table([task], f"task {task_id}"))
    console.print(task.description, markup=False, highlight=False)
    console.print(
        f"client.py: {task.client_cid} (sha256 {task.client_sha256})\n"
        f"training deadline: {when(task.training_deadline)} (then {task.grace_period_secs} s of grace)\n"
        f"stake {task.stake:,} {task.denom}: a no-show loses {task.no_show_penalty_bps / 100:g} % of it (scaled by "
        f"the rounds actually run), a slashed trainer {task.slash_bps / 100:g} %\n"
        f"keeper bond {task.keeper_bond:,} ({'bonded' if task.bonded else 'not yet accepted'}), keeper fee "
        f"{task.keeper_fee_bps / 100:g} %, platform fee {task.fee_bps / 100:g} %; examples capped at "
        f"{task.max_examples_per_trainer:,} per update; {task.round_timeout_secs} s per round for replies\n"
        + (
            f"paid for measured contribution on the validation set with sha256 {task.validation_sha256} "
            "(each round's score table is on IPFS: `fedchain org status`)"
            if task.scoring == Scoring.MEASURED
            else "paid by claimed example counts (capped)"
        )
        + f"; rounds report {task.metric.describe()}",
        highlight=False,
    )
