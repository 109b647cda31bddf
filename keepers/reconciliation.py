"""Does a settled task's money add up? Every coin that went in came out to the right account.

A pure function of the task's record on chain, its participants, and each account's balance
before and after (with the gas fees it paid), so it can be checked anywhere: the demo prints it,
its test asserts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from client_kit.task_hub import Participant, Task


@dataclass(frozen=True)
class AccountFlow:
    """One account's part in the task: its balance change and what the chain's records explain."""

    name: str
    balance_change: int
    expected_change: int

    @property
    def balanced(self) -> bool:
        return self.balance_change == self.expected_change


@dataclass(frozen=True)
class Reconciliation:
    funds_in: int  # pool, the keeper's bond and the stakes escrowed
    funds_out: int  # to the treasury, the organization, the keeper and the trainers, from the records
    held: int  # still in the contract for this task, by the contract's own bookkeeping
    accounts: list[AccountFlow] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        """Nothing created or lost, and every account moved by exactly what the records say."""
        return self.funds_in == self.funds_out + self.held and all(a.balanced for a in self.accounts)

    def mismatches(self) -> list[str]:
        found = [
            f"{a.name}: balance moved {a.balance_change:+,}, records explain {a.expected_change:+,}"
            for a in self.accounts
            if not a.balanced
        ]
        if self.funds_in != self.funds_out + self.held:
            found.append(f"funds in {self.funds_in:,} != funds out {self.funds_out:,} + held {self.held:,}")
        return found


def reconcile(
    task: Task,
    participants: list[Participant],
    addresses: Mapping[str, str],
    before: Mapping[str, int],
    after: Mapping[str, int],
    gas_fees: Mapping[str, int],
) -> Reconciliation:
    """`addresses`, `before`, `after` and `gas_fees` are keyed by account name; `addresses` names
    the organization as "organization", the keeper as "keeper", the treasury as "treasury", and
    the task's trainers (who joined and stayed)."""
    by_address = {p.trainer: p for p in participants}
    bond = task.keeper_bond if task.bonded else 0
    funds_in = task.pool + bond + task.stake * task.participants
    claimed = sum(p.claimed_amount for p in participants)
    funds_out = task.treasury_paid + task.org_refunded + task.keeper_paid + claimed
    expected_by_role = {
        "organization": -task.pool + task.org_refunded,
        "keeper": -bond + task.keeper_paid,
        "treasury": task.treasury_paid,
    }
    flows = []
    for name, address in addresses.items():
        if name in expected_by_role:
            expected = expected_by_role[name]
        elif address in by_address:
            member = by_address[address]
            expected = member.claimed_amount - member.stake
        else:
            continue
        flows.append(AccountFlow(name, after[name] - before[name], expected - gas_fees.get(name, 0)))
    return Reconciliation(funds_in, funds_out, task.held, flows)
