"""Task records as the contract answers them, for unit tests of code that decides on a task."""

from __future__ import annotations

from typing import Any

from client_kit.task_hub import Task

NOW = 1_800_000_000
AMOUNTS = (
    "pool",
    "keeper_bond",
    "stake",
    "total_weight",
    "slashed_weight",
    "forfeited",
    "delivered_pool",
    "fee",
    "keeper_fee",
    "distributable",
    "slashed_reward",
    "no_show_penalty",
    "no_show_forfeits",
    "rewards_paid",
    "bond_forfeited",
    "org_compensation",
    "trainer_compensation",
    "treasury_paid",
    "org_refunded",
    "keeper_paid",
    "paid_out",
    "held",
)


def task_record(**overrides: Any) -> Task:
    """An open task as `Task.parse` reads it from the contract (amounts as strings); fields overridable."""
    data: dict[str, Any] = {name: "0" for name in AMOUNTS}
    data.update(
        {
            "id": 7,
            "organization": "wasm1org",
            "keeper": "wasm1keeper",
            "treasury": "wasm1treasury",
            "denom": "ufed",
            "pool": "10000",
            "keeper_bond": "1000",
            "bonded": True,
            "status": "open",
            "model_name": "digits",
            "description": "",
            "client_cid": "bafyclient",
            "client_sha256": "a" * 64,
            "initial_model_cid": "bafymodel",
            "initial_model_sha256": "b" * 64,
            "rounds": 5,
            "min_trainers": 2,
            "max_trainers": 4,
            "stake": "1000",
            "join_deadline": NOW + 600,
            "training_deadline": NOW + 3600,
            "no_show_penalty_bps": 1000,
            "slash_bps": 5000,
            "fee_bps": 200,
            "keeper_fee_bps": 0,
            "grace_period_secs": 120,
            "claim_window_secs": 3600,
            "max_examples_per_trainer": 1000,
            "max_update_norm": "50",
            "round_timeout_secs": 120,
            "created_at": NOW - 60,
            "participants": 0,
            "rounds_completed": 0,
            "productive_rounds": 0,
            "contributors_count": 0,
            "slashed_count": 0,
            "claimed_count": 0,
            "settled_at": None,
            "swept": False,
        }
    )
    data.update({k: str(v) if k in AMOUNTS else v for k, v in overrides.items()})
    return Task.parse(data)
