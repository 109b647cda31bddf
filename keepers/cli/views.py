"""How the command line shows tasks: one table layout and one time format for every command."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.markup import escape
from rich.table import Table

from client_kit.task_hub import Task

KEY_OPTION_HELP = "Key name (see `fedchain keys list`)."


def when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def tasks_table(tasks: list[Task], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "model", "status", "pool", "stake", "trainers", "rounds", "join by", "keeper"):
        table.add_column(column)
    for task in tasks:
        table.add_row(
            str(task.id),
            escape(task.model_name),  # the organization's text, shown as text
            task.status,
            f"{task.pool:,} {task.denom}",
            f"{task.stake:,}",
            f"{task.participants}/{task.max_trainers} (min {task.min_trainers})",
            f"{task.rounds_completed}/{task.rounds}",
            when(task.join_deadline),
            task.keeper,
        )
    return table
