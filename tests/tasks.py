"""Task records as the contract answers them, for unit tests of code that decides on a task."""

from __future__ import annotations

from typing import Any

from client_kit.task_hub import Task

NOW = 1_800_000_000


def task_record(**overrides: Any) -> Task:
    """A running-size task as `Task.parse` reads it from the contract; fields overridable."""
    data: dict[str, Any] = {
        "id": 7,
        "organization": "wasm1org",
        "keeper": "wasm1keeper",
        "denom": "ufed",
        "pool": "10000",
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
        "participants": 0,
        "rounds_completed": 0,
        "total_weight": "0",
        "contributors_count": 0,
        "slashed_count": 0,
        "claimed_count": 0,
        "forfeited": "0",
        "fee": "0",
        "distributable": "0",
        "paid_out": "0",
        "rewards_paid": "0",
        "org_refunded": "0",
        "settlement": None,
    }
    data.update({k: str(v) if isinstance(v, int) and k in ("pool", "stake") else v for k, v in overrides.items()})
    return Task.parse(data)
