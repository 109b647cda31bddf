"""Deciding whether one trainer update may enter the average, and whether it proves malice.

Checks run cheapest-first and stop at the first failure, each with a reason a trainer can read:
envelope present and well formed → signature binds this task, round, node, example count, the
exact update (names, dtypes, shapes, bytes) and the global model it was trained from → the signer
staked into the task → same layers, shapes and dtypes as the global model → finite values →
‖update − global‖₂ (float layers) within the task's bound.

Only a failure attributable to a staked address that really signed the update (shape, NaN/inf,
norm) carries an `offense` and can be slashed, with the trainer's own signed claim and the update
as evidence; an unsigned update, a forged or replayed envelope, or an address that never joined
is rejected but proves nothing against any staked trainer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from client_kit.envelope import EnvelopeError, SignedEnvelope, UpdateClaim, update_digest, verify_envelope
from client_kit.task_hub import SlashReason, Standing
from client_kit.update_rules import averaged, update_norm


@dataclass(frozen=True)
class UpdateContext:
    """What the keeper knows independently of the update it is judging."""

    chain_id: str
    contract: str
    task_id: int
    round: int
    global_names: Sequence[str]
    global_arrays: Sequence[np.ndarray]
    global_sha256: str  # of the model bytes the keeper sent this round: the chain's record
    norm_bound: float
    max_examples_per_trainer: int
    bech32_prefix: str = "wasm"


@dataclass(frozen=True)
class Accepted:
    address: str
    node_id: int
    num_examples: int
    weight: int
    envelope: SignedEnvelope  # the trainer's signed claim (evidence, should it equivocate)
    row: int = -1  # where the strategy spilled its change to the global model (`UpdateRows`)


@dataclass(frozen=True)
class Rejected:
    reason: str
    node_id: int
    address: str | None  # the staked address it provably came from, if any
    offense: SlashReason | None = None  # set only when the evidence below proves it
    envelope: SignedEnvelope | None = None  # the trainer's own signed claim
    update: bytes | None = None  # the offending update as received, to pin as evidence
    conflicting: SignedEnvelope | None = None  # equivocation: the trainer's second claim for the round

    @property
    def malicious(self) -> bool:
        return self.offense is not None


def contribution_weight(num_examples: int, context: UpdateContext) -> int:
    """An accepted update's weight in the average: its claimed example count capped by the task (the
    claimed count's only say; what the round credits is decided by `keepers.contribution`)."""
    return max(1, min(num_examples, context.max_examples_per_trainer))


MAX_CLAIMED_EXAMPLES = 2**53  # beyond this a float no longer counts examples exactly


def whole_number(value: object) -> int | None:
    """`value` as a whole number if it is one (an int, or a finite integral float), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def verify_update(
    context: UpdateContext,
    node_id: int,
    names: Sequence[str],
    arrays: Sequence[np.ndarray],
    num_examples: object,
    envelope_record: Mapping[str, object] | None,
    standing: Callable[[str], Standing],
    bound_to: str | None,
    update: bytes | memoryview = b"",
) -> Accepted | Rejected:
    """`standing(address)` says where the address stands in the task: active, slashed or absent;
    `bound_to` is the staked address the replying node proved it answers for (None: unbound);
    `update` is the update as received (its wire bytes), kept as evidence if it proves an offense."""
    if not envelope_record:
        return Rejected("unsigned update: no envelope in the reply", node_id, None)
    try:
        envelope = SignedEnvelope.from_record(envelope_record, UpdateClaim)
    except EnvelopeError as error:
        return Rejected(f"malformed envelope: {error}", node_id, None)
    claimed = envelope.address
    examples = whole_number(num_examples)
    if examples is None or not 1 <= examples <= MAX_CLAIMED_EXAMPLES:
        return Rejected(
            f"num-examples must be a whole number from 1 to 2**53, got {str(num_examples)[:40]}", node_id, None
        )
    expected = UpdateClaim(
        chain_id=context.chain_id,
        contract=context.contract,
        task_id=context.task_id,
        round=context.round,
        num_examples=examples,
        digest=update_digest(names, arrays),
        base=context.global_sha256,
    )
    try:
        address = verify_envelope(envelope, expected, context.bech32_prefix)
    except EnvelopeError as error:
        return Rejected(f"bad signature: {error} (claims to be {claimed[:64]})", node_id, None)
    if address != bound_to:  # someone else's signed update, relayed: it earns the relay nothing
        return Rejected(
            f"node {node_id} answers for {bound_to or 'nobody'}, not for the signer {address}", node_id, None
        )
    status = standing(address)
    if status == Standing.SLASHED:
        return Rejected(f"{address} was slashed in task {context.task_id}", node_id, address)
    if status != Standing.ACTIVE:
        return Rejected(f"{address} has not joined task {context.task_id}", node_id, address)

    # From here on the update provably comes from a staked trainer: failures are slashable.
    def offense(reason: str, kind: SlashReason) -> Rejected:
        return Rejected(reason, node_id, address, kind, envelope, bytes(update))  # copied only as evidence

    if list(names) != list(context.global_names):
        return offense(
            f"layers {list(names)[:8]} differ from the model's {list(context.global_names)[:8]}",
            SlashReason.WRONG_SHAPE,
        )
    for name, array, base in zip(names, arrays, context.global_arrays, strict=True):
        if array.shape != base.shape or array.dtype != base.dtype:
            return offense(
                f"layer {name!r} is {array.dtype}{list(array.shape)}, the model's is {base.dtype}{list(base.shape)}",
                SlashReason.WRONG_SHAPE,
            )
    for name, array in zip(names, arrays, strict=True):
        if averaged(array) and not np.isfinite(array).all():
            return offense(f"layer {name!r} contains NaN or infinite values", SlashReason.NON_FINITE)
    norm = update_norm(arrays, context.global_arrays)
    if norm > context.norm_bound:
        return offense(f"update norm {norm:.3f} exceeds the bound {context.norm_bound:.3f}", SlashReason.NORM_EXCEEDED)
    weight = contribution_weight(examples, context)
    return Accepted(address, node_id, examples, weight, envelope)


def settle_duplicates(verdicts: list[Accepted | Rejected]) -> list[Accepted | Rejected]:
    """One address, one update per round: an address with two accepted updates gets neither into
    the round; when the two signed claims differ it has equivocated, which the pair proves."""
    by_address: dict[str, list[Accepted]] = {}
    for verdict in verdicts:
        if isinstance(verdict, Accepted):
            by_address.setdefault(verdict.address, []).append(verdict)
    settled: list[Accepted | Rejected] = [v for v in verdicts if isinstance(v, Rejected)]
    for address, updates in by_address.items():
        if len(updates) == 1:
            settled.append(updates[0])
            continue
        first, second = updates[0], updates[1]
        if first.envelope.claim != second.envelope.claim:
            reason = f"{address} signed {len(updates)} different updates for round {first.envelope.claim.round}"
            settled.append(
                Rejected(
                    reason, first.node_id, address, SlashReason.EQUIVOCATION, first.envelope, None, second.envelope
                )
            )
        else:
            settled.append(first)  # the very same signed update twice: it counts once
    return settled
