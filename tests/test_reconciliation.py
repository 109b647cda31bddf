"""Reconciling a settled task: every account moved by exactly what the chain's records explain."""

from __future__ import annotations

from client_kit.task_hub import Participant
from keepers.reconciliation import reconcile
from tests.tasks import task_record

ADDRESSES = {"organization": "wasm1org", "treasury": "wasm1treasury", "alice": "wasm1alice", "bob": "wasm1bob"}
BEFORE = {"organization": 50_000, "treasury": 0, "alice": 5_000, "bob": 5_000}
FEES = {"organization": 30, "alice": 20, "bob": 25}


def _settled():
    # pool 10,000, fee 200; bob no-show loses 100; alice takes 9,800 + 100 and her stake back
    task = task_record(
        status="finalized", participants=2, fee=200, paid_out=12_000, org_refunded=0, settlement="normal"
    )
    participants = [
        Participant("wasm1alice", 0, 1_000, 5, False, None, True, 10_900),
        Participant("wasm1bob", 0, 1_000, 0, False, None, True, 900),
    ]
    return task, participants


def test_a_settlement_that_adds_up_is_balanced() -> None:
    task, participants = _settled()
    after = {
        "organization": 50_000 - 10_000 - 30,
        "treasury": 200,
        "alice": 5_000 + 9_900 - 20,
        "bob": 5_000 - 100 - 25,
    }
    books = reconcile(task, participants, ADDRESSES, BEFORE, after, FEES)
    assert books.balanced and books.held == 0 and books.funds_in == books.funds_out == 12_000
    assert books.mismatches() == []


def test_a_coin_missing_anywhere_is_named() -> None:
    task, participants = _settled()
    after = {"organization": 50_000 - 10_000 - 30, "treasury": 200, "alice": 5_000 + 9_900 - 21, "bob": 4_875}
    books = reconcile(task, participants, ADDRESSES, BEFORE, after, FEES)
    assert not books.balanced
    assert books.mismatches() == ["alice: balance moved +9,879, records explain +9,880"]
    unpaid = task_record(status="finalized", participants=2, fee=200, paid_out=11_000, settlement="normal")
    books = reconcile(unpaid, participants, ADDRESSES, BEFORE, after, FEES)
    assert "funds in 12,000 != funds out 12,000 + held 1,000" in books.mismatches()
