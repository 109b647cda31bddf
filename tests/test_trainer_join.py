"""`fedchain trainer join` refuses before signing anything when the join could not succeed."""

from __future__ import annotations

from keepers.cli.trainer_cmds import join_refusal
from tests.tasks import NOW, task_record


def test_an_open_task_with_room_and_funds_can_be_joined() -> None:
    assert join_refusal(task_record(participants=3), NOW, balance=2_000, fee=500) is None


def test_each_reason_to_refuse_is_named() -> None:
    cases = [
        (task_record(status="running"), NOW, 10_000, "task 7 is running: it no longer takes trainers"),
        (task_record(), NOW + 600, 10_000, "the join deadline of task 7 passed"),
        (task_record(participants=4), NOW, 10_000, "task 7 is full (4/4 trainers)"),
        (task_record(), NOW, 1_400, "not enough balance: the stake is 1,000 ufed plus about 500 in fees"),
    ]
    for task, now, balance, reason in cases:
        refusal = join_refusal(task, now, balance, fee=500)
        assert refusal is not None and refusal.startswith(reason), refusal
