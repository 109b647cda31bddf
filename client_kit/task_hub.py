"""Typed Python binding of the task_hub contract; everything else talks to the contract through it.

Message and field names mirror `cosmwasm_contracts/contracts/task_hub/schema/` (a test checks them
against the schema). Amounts are ints here and decimal strings on the wire; times are unix
seconds; metric decimals are strings on the wire (the contract has no floats); binary fields are
base64 on the wire.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from cosmpy.aerial.contract.cosmwasm import create_cosmwasm_execute_msg
from cosmpy.aerial.wallet import LocalWallet

from client_kit.chain import ChainClient, ChainError, ChainErrorKind, TxResult
from client_kit.envelope import SignedEnvelope
from client_kit.metrics import TaskMetric, floor_places
from client_kit.node_identity import NodeKeyClaim

PAGE = 100  # the contract's largest page
MAX_LOSS = 1e6  # the largest loss a round records; no real model's loss comes near it
ROUND_WEIGHT = 1_000_000  # the contract's budget for one round's weights when scoring is measured
MAX_U64 = 2**64 - 1  # the contract's integers (an example count beyond it would not even parse)


class TaskStatus(StrEnum):
    """Where a task is in its life, as the contract names it."""

    PROPOSED = "proposed"  # funded, waiting for its keeper to accept and bond
    OPEN = "open"  # bonded: trainers join and may leave
    RUNNING = "running"  # at least one round attested
    FINALIZED = "finalized"
    CANCELLED = "cancelled"

    @property
    def live(self) -> bool:
        """Accepted and not settled: the keeper may attest rounds."""
        return self in (TaskStatus.OPEN, TaskStatus.RUNNING)

    @property
    def settled(self) -> bool:
        return self in (TaskStatus.FINALIZED, TaskStatus.CANCELLED)


class Standing(StrEnum):
    """Where an address stands in one task: joined and in good standing, slashed, or not a member."""

    ACTIVE = "active"
    SLASHED = "slashed"
    ABSENT = "absent"


class SlashReason(StrEnum):
    """Why a keeper slashed a trainer; each needs the trainer's own signed claim as evidence."""

    NON_FINITE = "non_finite"
    WRONG_SHAPE = "wrong_shape"
    NORM_EXCEEDED = "norm_exceeded"
    EQUIVOCATION = "equivocation"  # two different signed claims for one round
    INVALID_UPDATE = "invalid_update"


class Scoring(StrEnum):
    """How a task's keeper weighs accepted updates (the contract's `Scoring`)."""

    CLAIMED_EXAMPLES = "claimed_examples"  # the example count the trainer claims, capped
    MEASURED = "measured"  # measured value on the organization's validation set (keepers.contribution)


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
    claim_window_secs: int
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
    keeper_bond: int
    max_keeper_fee_bps: int  # the most the organization agrees the keeper takes (its fee now)
    no_show_penalty_bps: int
    slash_bps: int
    max_examples_per_trainer: int
    max_update_norm: Decimal  # the largest L2 distance of an update from the global model
    round_timeout_secs: int
    scoring: Scoring = Scoring.CLAIMED_EXAMPLES
    validation_sha256: str | None = None  # the organization's validation set (LocalData.sha256)
    metric: TaskMetric = field(default_factory=TaskMetric)  # what the rounds report (client.py's settings)

    def message(self) -> dict[str, Any]:
        body = dict(self.__dict__)
        body["scoring"] = str(self.scoring)
        body["metric"] = self.metric.wire()
        body["stake"] = str(self.stake)
        body["keeper_bond"] = str(self.keeper_bond)
        body["max_update_norm"] = _decimal(self.max_update_norm)
        return {"create_task": body}


_TASK_AMOUNTS = (
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


@dataclass(frozen=True)
class Task:
    """A task as the contract records it (its `TaskResponse`)."""

    id: int
    organization: str
    keeper: str
    treasury: str
    denom: str
    pool: int
    keeper_bond: int
    bonded: bool
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
    keeper_fee_bps: int
    grace_period_secs: int
    claim_window_secs: int
    max_examples_per_trainer: int
    max_update_norm: Decimal
    round_timeout_secs: int
    scoring: Scoring
    validation_sha256: str | None
    metric: TaskMetric
    created_at: int
    participants: int
    rounds_completed: int
    productive_rounds: int
    total_weight: int
    slashed_weight: int
    contributors_count: int
    slashed_count: int
    claimed_count: int
    forfeited: int  # stake slashed so far (to the treasury at settlement)
    delivered_pool: int
    fee: int
    keeper_fee: int
    distributable: int
    slashed_reward: int
    no_show_penalty: int  # per no-show
    no_show_forfeits: int  # all no-shows' penalties together
    rewards_paid: int
    bond_forfeited: int
    org_compensation: int
    trainer_compensation: int  # per contributor in good standing
    treasury_paid: int
    org_refunded: int
    keeper_paid: int
    paid_out: int
    settled_at: int | None
    swept: bool
    held: int  # what the contract holds for this task right now
    raw: dict[str, Any]

    @staticmethod
    def parse(data: dict[str, Any]) -> Task:
        values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(Task) if f.name != "raw"}
        for name in _TASK_AMOUNTS:
            values[name] = int(values[name] or 0)
        values["status"] = TaskStatus(data["status"])
        values["max_update_norm"] = Decimal(str(data["max_update_norm"]))
        values["scoring"] = Scoring(data.get("scoring") or Scoring.CLAIMED_EXAMPLES)
        values["metric"] = TaskMetric.parse(data.get("metric"))
        return Task(**values, raw=data)

    @property
    def no_shows(self) -> int:
        """Trainers who joined, were not slashed, and never had an accepted update."""
        return self.participants - self.contributors_count - self.slashed_count


@dataclass(frozen=True)
class Participant:
    trainer: str
    joined_at: int
    stake: int
    weight: int
    slashed: bool
    node_public_key: str | None
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
            node_public_key=data.get("node_public_key"),
            claimed=bool(data["claimed"]),
            claimed_amount=int(data["claimed_amount"]),
        )


@dataclass(frozen=True)
class RoundMetrics:
    loss: Decimal
    metric: str  # the task's metric name
    value: Decimal  # the task's metric of the round's global model
    examples: int

    @staticmethod
    def bounded(loss: float, metric: TaskMetric, value: float, examples: int) -> RoundMetrics:
        """Metrics the contract always accepts, whatever produced the numbers: a loss that is not
        a finite number or is beyond MAX_LOSS is recorded as MAX_LOSS, the metric's value is
        recorded as the task's metric allows (`TaskMetric.recorded`), the example count to a u64.
        Figures are floored to 6 places and never negative zero (the contract cannot parse
        "-0.000000"). A wild figure must not make an attestation fail."""
        loss = MAX_LOSS if not math.isfinite(loss) else min(max(loss, 0.0), MAX_LOSS)
        return RoundMetrics(
            abs(floor_places(loss)), metric.name, metric.recorded(value), min(max(examples, 0), MAX_U64)
        )

    def wire(self) -> dict[str, Any]:
        return {
            "loss": _decimal(self.loss),
            "metric": self.metric,
            "value": _decimal(self.value),
            "examples": self.examples,
        }


@dataclass(frozen=True)
class RoundRecord:
    round: int
    model_cid: str
    model_sha256: str
    metrics: RoundMetrics
    contributors_count: int
    total_weight: int
    scores_cid: str | None  # the keeper's score table for the round, on IPFS
    submitted_at: int
    height: int
    raw: dict[str, Any]

    @staticmethod
    def parse(data: dict[str, Any]) -> RoundRecord:
        metrics = data["metrics"]
        return RoundRecord(
            round=int(data["round"]),
            model_cid=data["model_cid"],
            model_sha256=data["model_sha256"],
            metrics=RoundMetrics(
                Decimal(metrics["loss"]), metrics["metric"], Decimal(metrics["value"]), int(metrics["examples"])
            ),
            contributors_count=int(data["contributors_count"]),
            total_weight=int(data["total_weight"]),
            scores_cid=data.get("scores_cid"),
            submitted_at=int(data["submitted_at"]),
            height=int(data["height"]),
            raw=data,
        )


@dataclass(frozen=True)
class SignedClaim:
    """A trainer's own signature over one claim: the evidence a slash must carry."""

    payload: bytes  # the exact bytes signed (canonical JSON of the claim)
    pub_key: bytes  # 33-byte compressed secp256k1 key
    signature: bytes  # 64-byte r||s over the ADR-036 sign doc of `payload`

    @staticmethod
    def of(envelope: SignedEnvelope) -> SignedClaim:
        return SignedClaim(
            envelope.payload(), base64.b64decode(envelope.public_key), base64.b64decode(envelope.signature)
        )

    def wire(self) -> dict[str, str]:
        return {name: base64.b64encode(getattr(self, name)).decode() for name in ("payload", "pub_key", "signature")}

    @staticmethod
    def parse(data: dict[str, Any]) -> SignedClaim:
        return SignedClaim(*(base64.b64decode(data[name]) for name in ("payload", "pub_key", "signature")))


@dataclass(frozen=True)
class SlashEvidence:
    claim: SignedClaim
    update_cid: str  # the offending update pinned to IPFS
    conflicting_claim: SignedClaim | None = None  # equivocation only

    def wire(self) -> dict[str, Any]:
        return {
            "claim": self.claim.wire(),
            "conflicting_claim": self.conflicting_claim.wire() if self.conflicting_claim else None,
            "update_cid": self.update_cid,
        }


@dataclass(frozen=True)
class SlashRecord:
    trainer: str
    round: int
    reason: SlashReason
    detail: str
    update_cid: str
    claim: SignedClaim
    conflicting_claim: SignedClaim | None
    forfeit: int
    height: int

    @staticmethod
    def parse(data: dict[str, Any]) -> SlashRecord:
        conflicting = data.get("conflicting_claim")
        return SlashRecord(
            trainer=data["trainer"],
            round=int(data["round"]),
            reason=SlashReason(data["reason"]),
            detail=data["detail"],
            update_cid=data["update_cid"],
            claim=SignedClaim.parse(data["claim"]),
            conflicting_claim=SignedClaim.parse(conflicting) if conflicting else None,
            forfeit=int(data["forfeit"]),
            height=int(data["height"]),
        )


@dataclass(frozen=True)
class Claimable:
    """What `claim` would pay an address now, and why."""

    amount: int
    denom: str
    stake_back: int
    penalty: int
    reward: int
    compensation: int

    @staticmethod
    def parse(data: dict[str, Any]) -> Claimable:
        return Claimable(
            amount=int(data["amount"]),
            denom=data["denom"],
            stake_back=int(data["stake_back"]),
            penalty=int(data["penalty"]),
            reward=int(data["reward"]),
            compensation=int(data["compensation"]),
        )


@dataclass(frozen=True)
class KeeperProfile:
    endpoint: str
    tls_cert_sha256: str | None
    fee_bps: int
    tasks_accepted: int
    rounds_attested: int
    tasks_failed: int


@dataclass(frozen=True)
class Profile:
    address: str
    name: str
    is_organization: bool
    is_trainer: bool
    keeper: KeeperProfile | None
    tasks_created: int
    tasks_joined: int
    tasks_completed: int
    no_shows: int
    slashed: int

    @staticmethod
    def parse(data: dict[str, Any]) -> Profile:
        keeper = data.get("keeper")
        return Profile(
            address=data["address"],
            name=data["name"],
            is_organization=bool(data["is_organization"]),
            is_trainer=bool(data["is_trainer"]),
            keeper=KeeperProfile(**{f.name: keeper[f.name] for f in fields(KeeperProfile)}) if keeper else None,
            tasks_created=int(data["tasks_created"]),
            tasks_joined=int(data["tasks_joined"]),
            tasks_completed=int(data["tasks_completed"]),
            no_shows=int(data["no_shows"]),
            slashed=int(data["slashed"]),
        )


def _decimal(value: Decimal | float) -> str:
    """cosmwasm Decimal: non-negative, at most 18 fractional digits, no exponent."""
    quantized = Decimal(str(value)).quantize(Decimal("0.000001"), rounding=ROUND_DOWN)
    return format(abs(max(quantized, Decimal(0))), "f")  # abs: never "-0.000000"


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

    def register_keeper(
        self, wallet: LocalWallet, name: str, endpoint: str, fee_bps: int = 0, tls_cert_sha256: str | None = None
    ) -> TxResult:
        """Create or update the sender's keeper profile (its trainer-facing endpoint and fee)."""
        body = {"name": name, "endpoint": endpoint, "tls_cert_sha256": tls_cert_sha256, "fee_bps": fee_bps}
        return self._execute(wallet, {"register_keeper": body})

    def create_task(self, wallet: LocalWallet, spec: TaskSpec, pool: int, denom: str) -> tuple[int, TxResult]:
        result = self._execute(wallet, spec.message(), f"{pool}{denom}")
        return int(_wasm_attribute(result, "task_id")), result

    def accept_task(self, wallet: LocalWallet, task_id: int, bond: int, denom: str) -> TxResult:
        """The keeper consents to serve the task and bonds `bond`."""
        return self._execute(wallet, {"accept_task": {"task_id": task_id}}, f"{bond}{denom}")

    def cancel_task(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"cancel_task": {"task_id": task_id}})

    @staticmethod
    def join_body(task_id: int, node_key: NodeKeyClaim | None = None) -> dict[str, Any]:
        key, proof = (node_key.public_key, node_key.proof) if node_key else (None, None)
        return {"join_task": {"task_id": task_id, "node_public_key": key, "node_key_proof": proof}}

    def join_task(
        self, wallet: LocalWallet, task_id: int, stake: int, denom: str, node_key: NodeKeyClaim | None = None
    ) -> TxResult:
        """Stake into the task; `node_key` (client_kit.node_identity.claim_for) names the node the
        keeper admits, or None to name it later with set_node_key."""
        return self._execute(wallet, self.join_body(task_id, node_key), f"{stake}{denom}")

    def leave_task(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"leave_task": {"task_id": task_id}})

    @staticmethod
    def submit_round_body(
        task_id: int,
        round_number: int,
        model_cid: str,
        model_sha256: str,
        metrics: RoundMetrics,
        contributors: list[tuple[str, int]],
        scores_cid: str | None = None,
    ) -> dict[str, Any]:
        return {
            "submit_round": {
                "task_id": task_id,
                "round": round_number,
                "model_cid": model_cid,
                "model_sha256": model_sha256,
                "metrics": metrics.wire(),
                "contributors": [{"trainer": t, "weight": str(w)} for t, w in contributors],
                "scores_cid": scores_cid,
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
        scores_cid: str | None = None,
    ) -> TxResult:
        body = self.submit_round_body(task_id, round_number, model_cid, model_sha256, metrics, contributors, scores_cid)
        return self._execute(wallet, body)

    @staticmethod
    def slash_body(
        task_id: int, round_number: int, trainer: str, reason: SlashReason, detail: str, evidence: SlashEvidence
    ) -> dict[str, Any]:
        return {
            "slash": {
                "task_id": task_id,
                "round": round_number,
                "trainer": trainer,
                "reason": str(reason),
                "detail": detail,
                "evidence": evidence.wire(),
            }
        }

    def finalize_task(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"finalize_task": {"task_id": task_id}})

    def set_node_key(self, wallet: LocalWallet, task_id: int, node_key: NodeKeyClaim) -> TxResult:
        """Name the Flower node key the task's keeper admits for this trainer (see node_identity)."""
        body = {"task_id": task_id, "node_public_key": node_key.public_key, "node_key_proof": node_key.proof}
        return self._execute(wallet, {"set_node_key": body})

    def claim(self, wallet: LocalWallet, task_id: int) -> TxResult:
        return self._execute(wallet, {"claim": {"task_id": task_id}})

    def sweep(self, wallet: LocalWallet, task_id: int) -> TxResult:
        """Send what a settled task still holds to its treasury, once its claim window closed."""
        return self._execute(wallet, {"sweep": {"task_id": task_id}})

    def update_config(
        self,
        admin: LocalWallet,
        treasury: str | None = None,
        fee_bps: int | None = None,
        limits: Limits | None = None,
        new_admin: str | None = None,
    ) -> TxResult:
        """The platform admin's settings for future tasks; a field left None stays as it is."""
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
            limits=Limits(**{f.name: int(data["limits"][f.name]) for f in fields(Limits)}),
            next_task_id=int(data["next_task_id"]),
        )

    def task(self, task_id: int) -> Task:
        """The task; raises TaskNotFound for an id the contract never issued."""
        try:
            return Task.parse(self._query({"task": {"task_id": task_id}}))
        except ChainError as error:
            if error.kind == ChainErrorKind.CONTRACT and f"task {task_id} not found" in str(error):
                raise TaskNotFound(task_id) from None
            raise

    def tasks_page(
        self,
        status: TaskStatus | None = None,
        organization: str | None = None,
        keeper: str | None = None,
        start_after: int | None = None,
        limit: int = PAGE,
    ) -> tuple[list[Task], int | None]:
        """One page of matching tasks and where the next page starts (None: no more).

        The contract examines at most `limit` entries per call whatever the filters, so a page
        can be short, even empty, while more tasks follow."""
        query = {
            "status": status,
            "organization": organization,
            "keeper": keeper,
            "start_after": start_after,
            "limit": limit,
        }
        data = self._query({"tasks": {k: v for k, v in query.items() if v is not None}})
        return [Task.parse(t) for t in data["tasks"]], data.get("next_start_after")

    def tasks(
        self, status: TaskStatus | None = None, organization: str | None = None, keeper: str | None = None
    ) -> Iterator[Task]:
        """Every matching task, in id order, following the pages to the end."""
        start_after: int | None = None
        while True:
            page, start_after = self.tasks_page(status, organization, keeper, start_after)
            yield from page
            if start_after is None:
                return

    def participant(self, task_id: int, trainer: str) -> Participant | None:
        data = self._query({"participant": {"task_id": task_id, "trainer": trainer}})
        return Participant.parse(data) if data else None

    def participants(self, task_id: int) -> list[Participant]:
        """All participants, following the pagination to the end."""
        found: list[Participant] = []
        start_after: str | None = None
        while True:
            query: dict[str, Any] = {"task_id": task_id, "limit": PAGE, "start_after": start_after}
            page = [Participant.parse(p) for p in self._query({"participants": query})["participants"]]
            found.extend(page)
            if len(page) < PAGE:
                return found
            start_after = page[-1].trainer

    def rounds(self, task_id: int) -> list[RoundRecord]:
        found: list[RoundRecord] = []
        start_after: int | None = None
        while True:
            query: dict[str, Any] = {"task_id": task_id, "limit": PAGE, "start_after": start_after}
            page = [RoundRecord.parse(r) for r in self._query({"rounds": query})["rounds"]]
            found.extend(page)
            if len(page) < PAGE:
                return found
            start_after = page[-1].round

    def round(self, task_id: int, number: int) -> RoundRecord | None:
        """One attested round, or None when the chain holds no such round (yet)."""
        query = {"task_id": task_id, "limit": 1, "start_after": number - 1 if number > 1 else None}
        page = [RoundRecord.parse(r) for r in self._query({"rounds": query})["rounds"]]
        return page[0] if page and page[0].round == number else None

    def slashes(self, task_id: int) -> list[SlashRecord]:
        found: list[SlashRecord] = []
        start_after: str | None = None
        while True:
            query: dict[str, Any] = {"task_id": task_id, "limit": PAGE, "start_after": start_after}
            page = [SlashRecord.parse(s) for s in self._query({"slashes": query})["slashes"]]
            found.extend(page)
            if len(page) < PAGE:
                return found
            start_after = page[-1].trainer

    def claimable(self, task_id: int, address: str) -> Claimable:
        return Claimable.parse(self._query({"claimable": {"task_id": task_id, "address": address}}))

    def profile(self, address: str) -> Profile | None:
        data = self._query({"profile": {"address": address}})
        return Profile.parse(data) if data else None


def _wasm_attribute(result: TxResult, key: str) -> str:
    for attributes in result.wasm_attributes():
        if key in attributes:
            return attributes[key]
    raise KeyError(f"contract emitted no {key!r} attribute in tx {result.hash}")
