"""Reconciling a settled task: every account moved by exactly what the chain's records explain."""

from __future__ import annotations

from client_kit.task_hub import Participant
from keepers.reconciliation import reconcile
from tests.tasks import task_record

ADDRESSES = {
    "organization": "wasm1org",
    "keeper": "wasm1keeper",
    "treasury": "wasm1treasury",
    "alice": "wasm1alice",
    "bob": "wasm1bob",
}
BEFORE = {"organization": 50_000, "keeper": 7_000, "treasury": 0, "alice": 5_000, "bob": 5_000}
FEES = {"organization": 30, "keeper": 40, "alice": 20, "bob": 25}
# pool 10,000, bond 1,000, two stakes of 1,000: 13,000 in. The treasury takes the 200 fee and bob's
# no-show forfeit of 100; the keeper gets its bond back; alice takes 9,800 and her stake.
SETTLED = {
    "status": "finalized",
    "participants": 2,
    "treasury_paid": 300,
    "org_refunded": 0,
    "keeper_paid": 1_000,
    "held": 0,
}
AFTER = {
    "organization": 50_000 - 10_000 - 30,
    "keeper": 7_000 - 40,
    "treasury": 300,
    "alice": 5_000 + 9_800 - 20,
    "bob": 5_000 - 100 - 25,
}
PARTICIPANTS = [
    Participant("wasm1alice", 0, 1_000, 5, False, None, True, 10_800),
    Participant("wasm1bob", 0, 1_000, 0, False, None, True, 900),
]


def test_a_settlement_that_adds_up_is_balanced() -> None:
    books = reconcile(task_record(**SETTLED), PARTICIPANTS, ADDRESSES, BEFORE, AFTER, FEES)
    assert books.balanced and books.held == 0 and books.funds_in == books.funds_out == 13_000
    assert books.mismatches() == []


def test_a_coin_missing_anywhere_is_named() -> None:
    short = {**AFTER, "alice": AFTER["alice"] - 1}
    books = reconcile(task_record(**SETTLED), PARTICIPANTS, ADDRESSES, BEFORE, short, FEES)
    assert not books.balanced
    assert books.mismatches() == ["alice: balance moved +9,779, records explain +9,780"]
    still_held = task_record(**{**SETTLED, "held": 1_000})
    books = reconcile(still_held, PARTICIPANTS, ADDRESSES, BEFORE, AFTER, FEES)
    assert "funds in 13,000 != funds out 13,000 + held 1,000" in books.mismatches()
