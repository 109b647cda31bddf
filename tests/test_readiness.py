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
        ({"participants": 3, "rounds_completed": 2, "status": "running"}, TRAINING + 120, KeeperAction.FINALIZE),
        ({"status": "proposed", "bonded": False}, NOW, KeeperAction.WAIT),  # no consent without a policy
        ({"status": "proposed", "bonded": False}, JOIN, KeeperAction.FINALIZE),  # never accepted: pool back
        ({"participants": 3, "status": "finalized", "rounds_completed": 5}, NOW, KeeperAction.WAIT),
        ({"participants": 0, "status": "cancelled"}, JOIN, KeeperAction.WAIT),
    ],
)
def test_readiness(overrides: dict, now: int, action: KeeperAction) -> None:
    assert readiness(task_record(**overrides), now) == action


def test_a_proposed_task_is_accepted_only_within_the_operators_bond_policy() -> None:
    proposed = task_record(status="proposed", bonded=False, keeper_bond=1_000)
    assert readiness(proposed, NOW, accept_bond_up_to=999) == KeeperAction.WAIT
    assert readiness(proposed, NOW, accept_bond_up_to=1_000) == KeeperAction.ACCEPT
