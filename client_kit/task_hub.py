"""Typed Python binding of the task_hub contract; everything else talks to the contract through it.

Message and field names mirror `cosmwasm_contracts/contracts/task_hub/schema/`. Amounts are ints
here and decimal strings on the wire; times are unix seconds; metrics decimals are strings on the
wire (the contract has no floats).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cosmpy.aerial.contract.cosmwasm import create_cosmwasm_execute_msg
from cosmpy.aerial.wallet import LocalWallet

from client_kit.chain import ChainClient, ChainError, ChainErrorKind, TxResult


class TaskStatus(StrEnum):
    """Where a task is in its life, as the contract names it."""

    OPEN = "open"
    RUNNING = "running"
    FINALIZED = "finalized"
    CANCELLED = "cancelled"

    @property
    def live(self) -> bool:
        """Still taking rounds (open or running): not yet settled."""
        return self in (TaskStatus.OPEN, TaskStatus.RUNNING)

    @property
    def settled(self) -> bool:
        return self in (TaskStatus.FINALIZED, TaskStatus.CANCELLED)


class Standing(StrEnum):
    """Where an address stands in one task: joined and in good standing, slashed, or not a member."""

    ACTIVE = "active"
    SLASHED = "slashed"
    ABSENT = "absent"


class Settlement(StrEnum):
    """How a finalized task settled."""

    NORMAL = "normal"
    NO_CONTRIBUTORS = "no_contributors"
    REFUND = "refund"


class TaskNotFound(ChainError):
    """The contract holds no task with this id."""

    def __init__(self, task_id: int) -> None:
        super().__init__(ChainErrorKind.NOT_FOUND, f"task {task_id} does not exist")
        self.task_id = task_id


@dataclass(frozen=True)
class Limits:
    max_trainers_per_task: int
    max_rounds: int
    grace_period_secs: int
    max_string_len: int
    max_cid_len: int


@dataclass(frozen=True)
class HubConfig:
    admin: str
    treasury: str
    fee_bps: int
    limits: Limits
    next_task_id: int


@dataclass(frozen=True)
class TaskSpec:
    """What an organization asks for; validated again by the contract."""

    model_name: str
    description: str
    client_cid: str
    client_sha256: str
    initial_model_cid: str
    initial_model_sha256: str
    rounds: int
    min_trainers: int
    max_trainers: int
    stake: int
    join_deadline: int
    training_deadline: int
    keeper: str
    no_show_penalty_bps: int
    slash_bps: int

    def message(self) -> dict[str, Any]:
        body = dict(self.__dict__)
        body["stake"] = str(self.stake)
        return {"create_task": body}


@dataclass(frozen=True)
class Task:
    id: int
    organization: str
    keeper: str
    denom: str
    pool: int
    status: TaskStatus
    model_name: str
    description: str
    client_cid: str
    client_sha256: str
    initial_model_cid: str
    initial_model_sha256: str
    rounds: int
    min_trainers: int
    max_trainers: int
    stake: int
    join_deadline: int
    training_deadline: int
    no_show_penalty_bps: int
    slash_bps: int
    fee_bps: int
    participants: int
    rounds_completed: int
    total_weight: int
    contributors_count: int
    slashed_count: int
    claimed_count: int
    forfeited: int
    fee: int
    distributable: int
    paid_out: int
    rewards_paid: int
    org_refunded: int
    settlement: Settlement | None
    raw: dict[str, Any]

    @staticmethod
    def parse(data: dict[str, Any]) -> Task:
        amount = (
            "pool",
            "stake",
            "total_weight",
            "forfeited",
            "fee",
            "distributable",
            "paid_out",
            "rewards_paid",
            "org_refunded",
        )
        fields = {name: data.get(name) for name in Task.__dataclass_fields__ if name != "raw"}
        for name in amount:
            fields[name] = int(fields[name] or 0)
        fields["id"] = int(data["id"])
        fields["status"] = TaskStatus(data["status"])
        fields["settlement"] = Settlement(data["settlement"]) if data.get("settlement") else None
        return Task(**fields, raw=data)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Participant:
    trainer: str
    joined_at: int
    stake: int
    weight: int
    slashed: bool
    slash_reason: str | None
    claimed: bool
    claimed_amount: int

    @property
    def standing(self) -> Standing:
        return Standing.SLASHED if self.slashed else Standing.ACTIVE

    @staticmethod
    def parse(data: dict[str, Any]) -> Participant:
        return Participant(
            trainer=data["trainer"],
            joined_at=int(data["joined_at"]),
            stake=int(data["stake"]),
            weight=int(data["weight"]),
            slashed=bool(data["slashed"]),
            slash_reason=data.get("slash_reason"),
            claimed=bool(data["claimed"]),
            claimed_amount=int(data.get("claimed_amount", 0)),
        )


@dataclass(frozen=True)
class RoundMetrics:
    loss: Decimal
    accuracy: Decimal
    examples: int

    def wire(self) -> dict[str, Any]:
        return {"loss": _decimal(self.loss), "accuracy": _decimal(self.accuracy), "examples": self.examples}


@dataclass(frozen=True)
class RoundRecord:
    round: int
    model_cid: str
    model_sha256: str
    metrics: RoundMetrics
    contributors_count: int
    total_weight: int
    raw: dict[str, Any]

    @staticmethod
    def parse(data: dict[str, Any]) -> RoundRecord:
        metrics = data["metrics"]
        return RoundRecord(
            round=int(data["round"]),
            model_cid=data["model_cid"],
            model_sha256=data["model_sha256"],
            metrics=RoundMetrics(Decimal(metrics["loss"]), Decimal(metrics["accuracy"]), int(metrics["examples"])),
            contributors_count=int(data["contributors_count"]),
            total_weight=int(data["total_weight"]),
            raw=data,
        )


def _decimal(value: Decimal | float) -> str:
    """cosmwasm Decimal: non-negative, at most 18 fractional digits, no exponent."""
    quantized = Decimal(str(value)).quantize(Decimal("0.000001"))
    return format(max(quantized, Decimal(0)), "f")


class TaskHub:
    """One deployed task_hub contract on one chain."""

    def __init__(self, chain: ChainClient, contract: str) -> None:
        self.chain = chain
        self.contract = contract

    # --- execute -------------------------------------------------------------------------
    def _execute(self, wallet: LocalWallet, message: dict[str, Any], funds: str | None = None) -> TxResult:
        return self.chain.execute(wallet, self.contract, message, funds)

    def message(self, sender: str, body: dict[str, Any], funds: str | None = None) -> Any:
        """An unsigned MsgExecuteContract, for batching several into one transaction."""
        return create_cosmwasm_execute_msg(sender, self.contract, body, funds)

    @staticmethod
    def register_body(name: str, organization: bool = False, trainer: bool = False) -> dict[str, Any]:
        return {"register": {"name": name, "organization": organization, "trainer": trainer}}

    def register(self, wallet: LocalWallet, name: str, organization: bool = False, trainer: bool = False) -> TxResult:
        return self._execute(wallet, self.register_body(name, organization, trainer))

    def create_task(self, wallet: LocalWallet, spec: TaskSpec, pool: int, denom: str) -> tuple[int, TxResult]:
        result = self._execute(wallet, spec.message(), f"{pool}{denom}")
        return int(_wasm_attribute(result, "task_id")), result

    def cancel_task(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"cancel_task": {"task_id": task_id}})

    @staticmethod
    def join_body(task_id: int) -> dict[str, Any]:
        return {"join_task": {"task_id": task_id}}

    def join_task(self, wallet: LocalWallet, task_id: int, stake: int, denom: str) -> TxResult:
        return self._execute(wallet, self.join_body(task_id), f"{stake}{denom}")

    @staticmethod
    def submit_round_body(
        task_id: int,
        round_number: int,
        model_cid: str,
        model_sha256: str,
        metrics: RoundMetrics,
        contributors: list[tuple[str, int]],
    ) -> dict[str, Any]:
        return {
            "submit_round": {
                "task_id": task_id,
                "round": round_number,
                "model_cid": model_cid,
                "model_sha256": model_sha256,
                "metrics": metrics.wire(),
                "contributors": [{"trainer": t, "weight": str(w)} for t, w in contributors],
            }
        }

    def submit_round(
        self,
        wallet: LocalWallet,
        task_id: int,
        round_number: int,
        model_cid: str,
        model_sha256: str,
        metrics: RoundMetrics,
        contributors: list[tuple[str, int]],
    ) -> TxResult:
        body = self.submit_round_body(task_id, round_number, model_cid, model_sha256, metrics, contributors)
        return self._execute(wallet, body)

    @staticmethod
    def slash_body(task_id: int, trainer: str, reason: str) -> dict[str, Any]:
        return {"slash": {"task_id": task_id, "trainer": trainer, "reason": reason}}

    def slash(self, wallet: LocalWallet, task_id: int, trainer: str, reason: str) -> TxResult:
        return self._execute(wallet, self.slash_body(task_id, trainer, reason))

    def finalize_task(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"finalize_task": {"task_id": task_id}})

    def claim(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"claim": {"task_id": task_id}})

    def claim_refund(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"claim_refund": {"task_id": task_id}})

    def update_config(
        self,
        admin: LocalWallet,
        treasury: str | None = None,
        fee_bps: int | None = None,
        limits: Limits | None = None,
        new_admin: str | None = None,
    ) -> TxResult:
        """The platform admin's settings; a field left None stays as it is."""
        body = {
            "treasury": treasury,
            "fee_bps": fee_bps,
            "limits": None if limits is None else {k: int(v) for k, v in limits.__dict__.items()},
            "admin": new_admin,
        }
        return self._execute(admin, {"update_config": body})

    # --- query ---------------------------------------------------------------------------
    def _query(self, message: dict[str, Any]) -> Any:
        return self.chain.query_contract(self.contract, message)

    def config(self) -> HubConfig:
        data = self._query({"config": {}})
        return HubConfig(
            admin=data["admin"],
            treasury=data["treasury"],
            fee_bps=int(data["fee_bps"]),
            limits=Limits(**{k: int(v) for k, v in data["limits"].items()}),
            next_task_id=int(data["next_task_id"]),
        )

    def task(self, task_id: int) -> Task:
        """The task; raises TaskNotFound for an id the contract never issued."""
        try:
            return Task.parse(self._query({"task": {"task_id": task_id}}))
        except ChainError as error:
            if error.kind == ChainErrorKind.CONTRACT and "not found" in str(error).lower():
                raise TaskNotFound(task_id) from None
            raise

    def tasks(
        self,
        status: TaskStatus | None = None,
        organization: str | None = None,
        keeper: str | None = None,
        start_after: int | None = None,
        limit: int | None = None,
    ) -> list[Task]:
        query = {
            "status": status,
            "organization": organization,
            "keeper": keeper,
            "start_after": start_after,
            "limit": limit,
        }
        data = self._query({"tasks": {k: v for k, v in query.items() if v is not None}})
        return [Task.parse(t) for t in data["tasks"]]

    def participant(self, task_id: int, trainer: str) -> Participant | None:
        data = self._query({"participant": {"task_id": task_id, "trainer": trainer}})
        return Participant.parse(data) if data else None

    def participants(self, task_id: int) -> list[Participant]:
        """All participants, following the pagination to the end."""
        found: list[Participant] = []
        start_after: str | None = None
        while True:
            query: dict[str, Any] = {"task_id": task_id, "limit": 100}
            if start_after:
                query["start_after"] = start_after
            page = [Participant.parse(p) for p in self._query({"participants": query})["participants"]]
            found.extend(page)
            if len(page) < 100:
                return found
            start_after = page[-1].trainer

    def rounds(self, task_id: int) -> list[RoundRecord]:
        found: list[RoundRecord] = []
        start_after: int | None = None
        while True:
            query: dict[str, Any] = {"task_id": task_id, "limit": 100}
            if start_after is not None:
                query["start_after"] = start_after
            page = [RoundRecord.parse(r) for r in self._query({"rounds": query})["rounds"]]
            found.extend(page)
            if len(page) < 100:
                return found
            start_after = page[-1].round

    def claimable(self, task_id: int, address: str) -> int:
        return int(self._query({"claimable": {"task_id": task_id, "address": address}})["amount"])

    def profile(self, address: str) -> dict[str, Any] | None:
        return self._query({"profile": {"address": address}})


def _wasm_attribute(result: TxResult, key: str) -> str:
    for attributes in result.wasm_attributes():
        if key in attributes:
            return attributes[key]
    raise KeyError(f"contract emitted no {key!r} attribute in tx {result.hash}")
