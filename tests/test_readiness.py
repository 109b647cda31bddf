"""What the keeper service does with each of its tasks, decided from the task's record and chain time."""

from __future__ import annotations

import pytest

from keepers.service import KeeperAction, readiness
from tests.tasks import NOW, task_record

JOIN, TRAINING = NOW + 600, NOW + 3600


@pytest.mark.parametrize(
    ("overrides", "now", "action"),
    [
        ({"participants": 2}, NOW, KeeperAction.WAIT),  # joins still open, not full
        ({"participants": 4}, NOW, KeeperAction.SERVE),  # full: no reason to wait for the deadline
        ({"participants": 2}, JOIN, KeeperAction.SERVE),  # joins closed with enough trainers
        ({"participants": 1}, JOIN, KeeperAction.FINALIZE),  # never started: the refund path
        ({"participants": 2, "rounds_completed": 1, "status": "running"}, JOIN, KeeperAction.SERVE),  # resumes
        ({"participants": 3, "rounds_completed": 2, "status": "running"}, NOW + 900, KeeperAction.SERVE),
        ({"participants": 3, "rounds_completed": 5, "status": "running"}, NOW + 900, KeeperAction.FINALIZE),
        ({"participants": 3, "rounds_completed": 2, "status": "running"}, TRAINING, KeeperAction.WAIT),
        ({"participants": 3, "status": "finalized", "rounds_completed": 5}, NOW, KeeperAction.WAIT),
        ({"participants": 0, "status": "cancelled"}, JOIN, KeeperAction.WAIT),
    ],
)
def test_readiness(overrides: dict, now: int, action: KeeperAction) -> None:
    assert readiness(task_record(**overrides), now) == action
