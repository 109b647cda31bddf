"""Deciding whether one trainer update may enter the average, and whether it proves malice.

Checks run cheapest-first and stop at the first failure, each with a reason a trainer can read:
envelope present and well formed → signature binds this task, round, node, example count and the
exact arrays → the signer staked into the task → same layers, shapes and dtypes as the global
model → finite values → ‖update − global‖₂ within the task's bound.

Only a failure attributable to a staked address that really signed the update (shape, NaN/inf,
norm) is `malicious` and can be slashed; an unsigned update, a forged or replayed envelope, or an
address that never joined is rejected but proves nothing against any staked trainer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from client_kit.envelope import EnvelopeError, SignedEnvelope, UpdateClaim, parameters_digest, verify_envelope
from client_kit.task_hub import Standing
from keepers.fedavg import averaged


@dataclass(frozen=True)
class UpdateContext:
    """What the keeper knows independently of the update it is judging."""

    chain_id: str
    contract: str
    task_id: int
    round: int
    global_names: Sequence[str]
    global_arrays: Sequence[np.ndarray]
    norm_bound: float
    max_examples_per_trainer: int
    bech32_prefix: str = "wasm"


@dataclass(frozen=True)
class Accepted:
    address: str
    node_id: int
    num_examples: int
    weight: int
    arrays: list[np.ndarray]


@dataclass(frozen=True)
class Rejected:
    reason: str
    node_id: int
    address: str | None
    malicious: bool


def contribution_weight(num_examples: int, context: UpdateContext) -> int:
    """The one place an accepted update's weight is decided (a validation score can replace it)."""
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


def update_norm(arrays: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """L2 norm of (update − reference) over the averaged (float) layers, accumulated in float64.

    Counters and masks are excluded: they are never averaged, and a BatchNorm counter that grows
    by the number of batches would otherwise inflate an honest trainer's norm past the bound."""
    total = 0.0
    for array, base in zip(arrays, reference, strict=True):
        if not averaged(base):
            continue
        delta = np.subtract(array, base, dtype=np.float64)
        total += float(np.dot(delta.reshape(-1), delta.reshape(-1)))
    return math.sqrt(total)


def verify_update(
    context: UpdateContext,
    node_id: int,
    names: Sequence[str],
    arrays: Sequence[np.ndarray],
    num_examples: object,
    envelope_record: Mapping[str, object] | None,
    standing: Callable[[str], Standing],
) -> Accepted | Rejected:
    """`standing(address)` says where the address stands in the task: active, slashed or absent."""
    if not envelope_record:
        return Rejected("unsigned update: no envelope in the reply", node_id, None, malicious=False)
    try:
        envelope = SignedEnvelope.from_record(envelope_record)
    except EnvelopeError as error:
        return Rejected(f"malformed envelope: {error}", node_id, None, malicious=False)
    claimed = envelope.address
    examples = whole_number(num_examples)
    if examples is None or not 1 <= examples <= MAX_CLAIMED_EXAMPLES:
        return Rejected(
            f"num-examples must be a whole number from 1 to 2**53, got {str(num_examples)[:40]}",
            node_id,
            claimed,
            False,
        )
    expected = UpdateClaim(
        chain_id=context.chain_id,
        contract=context.contract,
        task_id=context.task_id,
        round=context.round,
        node_id=node_id,
        num_examples=examples,
        digest=parameters_digest(arrays),
    )
    try:
        address = verify_envelope(envelope, expected, context.bech32_prefix)
    except EnvelopeError as error:
        return Rejected(f"bad signature: {error}", node_id, claimed, malicious=False)
    status = standing(address)
    if status == Standing.SLASHED:
        return Rejected(f"{address} was slashed in task {context.task_id}", node_id, address, malicious=False)
    if status != Standing.ACTIVE:
        return Rejected(f"{address} has not joined task {context.task_id}", node_id, address, malicious=False)
    # From here on the update provably comes from a staked trainer: failures are slashable.
    if list(names) != list(context.global_names):
        return Rejected(
            f"layers {list(names)} differ from the model's {list(context.global_names)}",
            node_id,
            address,
            malicious=True,
        )
    for name, array, base in zip(names, arrays, context.global_arrays, strict=True):
        if array.shape != base.shape or array.dtype != base.dtype:
            return Rejected(
                f"layer {name!r} is {array.dtype}{list(array.shape)}, the model's is {base.dtype}{list(base.shape)}",
                node_id,
                address,
                malicious=True,
            )
    for name, array in zip(names, arrays, strict=True):
        if averaged(array) and not np.isfinite(array).all():
            return Rejected(f"layer {name!r} contains NaN or infinite values", node_id, address, malicious=True)
    norm = update_norm(arrays, context.global_arrays)
    if norm > context.norm_bound:
        return Rejected(
            f"update norm {norm:.3f} exceeds the bound {context.norm_bound:.3f}", node_id, address, malicious=True
        )
    weight = contribution_weight(examples, context)
    return Accepted(address, node_id, examples, weight, list(arrays))
