"""The keeper's live-feed events: one typed class per kind, and their JSON form.

The feed (`keepers.feed`) numbers each event and sends it as one JSON object: `seq`, `time`,
`event` (the kind below) and the event's fields. The keeper's ServerApp and strategy publish
them; the keeper's command line, the demo, the benchmarks and the web app read them. Kinds and
field names are part of the feed's public format: change them here or nowhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class LastReply:
    """Where the round's last training reply spent its time: the train message's delivery to the
    trainer, local training and signing (as the trainer reports them), and the reply's way back."""

    delivery_s: float
    local_train_s: float
    sign_s: float
    return_s: float


@dataclass(frozen=True)
class RoundTiming:
    """Seconds per phase of one round on the keeper's critical path, and the attestation's block."""

    train_wait_s: float  # configure_train until every training reply is in
    verify_s: float  # verification of every reply
    aggregate_s: float
    evaluate_wait_s: float  # federated evaluation (≈ 0 without it)
    score_s: float = 0.0  # screening and scoring each update's contribution (keepers.contribution)
    validate_s: float = 0.0  # scoring on the keeper's validation set
    ipfs_s: float = 0.0  # pinning the new global model
    tx_s: float = 0.0  # signing and broadcasting the attestation
    inclusion_s: float = 0.0  # until the attestation's block (overlaps the next round)
    last_reply: LastReply | None = None

    @property
    def keeper_s(self) -> float:
        """The keeper's own work: verification, contribution scoring, aggregation, validation, IPFS
        and the transaction."""
        return self.verify_s + self.score_s + self.aggregate_s + self.validate_s + self.ipfs_s + self.tx_s

    def to_json(self) -> dict[str, float]:
        """Flat, rounded to 0.1 ms: the feed's `timing` object."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "last_reply"}
        if self.last_reply is not None:
            flat.update(asdict(self.last_reply))
        return {key: round(value, 4) for key, value in flat.items()}

    @staticmethod
    def from_json(data: dict[str, Any]) -> RoundTiming:
        own = {f.name for f in fields(RoundTiming)} - {"last_reply"}
        reply_keys = [f.name for f in fields(LastReply)]
        last_reply = (
            LastReply(**{k: float(data[k]) for k in reply_keys}) if all(k in data for k in reply_keys) else None
        )
        return RoundTiming(**{k: float(v) for k, v in data.items() if k in own}, last_reply=last_reply)


@dataclass(frozen=True)
class FeedEvent:
    """Something that happened in one task; `KIND` names it on the wire."""

    KIND: ClassVar[str]
    task_id: int

    def to_json(self) -> dict[str, Any]:
        return {"event": self.KIND, **asdict(self)}


@dataclass(frozen=True)
class TrainerConnected(FeedEvent):
    KIND: ClassVar[str] = "trainer_connected"
    node_id: int
    trainer: str  # the staked address the node proved it answers for


@dataclass(frozen=True)
class RoundStarted(FeedEvent):
    KIND: ClassVar[str] = "round_started"
    round: int
    node_id: int  # the node the round's train message went to (one event per node)


@dataclass(frozen=True)
class UpdateAccepted(FeedEvent):
    KIND: ClassVar[str] = "update_accepted"
    round: int
    trainer: str
    node_id: int
    weight: int


@dataclass(frozen=True)
class UpdateRejected(FeedEvent):
    KIND: ClassVar[str] = "update_rejected"
    round: int
    trainer: str | None  # None when the reply names no verifiable staked address
    node_id: int
    reason: str
    malicious: bool  # provable misbehaviour of a staked trainer: slashable


@dataclass(frozen=True)
class RoundAttested(FeedEvent):
    KIND: ClassVar[str] = "round_attested"
    round: int
    tx_hash: str
    model_cid: str
    metric: str  # the task's metric name
    value: float  # its figure recorded on chain
    loss: float
    federated_value: float | None  # the trainers' signed evaluations (weighted median)
    validation_value: float | None  # the keeper's own validation
    accepted: int
    rejected: int
    timing: RoundTiming = field(default_factory=lambda: RoundTiming(0.0, 0.0, 0.0, 0.0))

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "timing": self.timing.to_json()}


@dataclass(frozen=True)
class TrainerSlashed(FeedEvent):
    KIND: ClassVar[str] = "trainer_slashed"
    round: int
    trainer: str
    reason: str
    tx_hash: str


@dataclass(frozen=True)
class TaskFinalized(FeedEvent):
    KIND: ClassVar[str] = "task_finalized"
    tx_hash: str


EVENT_TYPES: dict[str, type[FeedEvent]] = {
    kind.KIND: kind
    for kind in (
        TrainerConnected,
        RoundStarted,
        UpdateAccepted,
        UpdateRejected,
        RoundAttested,
        TrainerSlashed,
        TaskFinalized,
    )
}


@dataclass(frozen=True)
class Published:
    """An event as the feed delivered it: its number in publish order and when it was published."""

    seq: int
    time: float
    event: FeedEvent

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, **self.event.to_json()}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Published | None:
        """The event in a feed message, or None for a kind this version does not know."""
        kind = EVENT_TYPES.get(str(data.get("event")))
        if kind is None:
            return None
        values = {f.name: data.get(f.name) for f in fields(kind)}
        if kind is RoundAttested:
            values["timing"] = RoundTiming.from_json(data.get("timing") or {})
        return Published(int(data["seq"]), float(data["time"]), kind(**values))
