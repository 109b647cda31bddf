"""The keeper's strategy on real Flower messages: reading replies, judging them, never stopping.

Replies here are real Flower `Message`s as the keeper's Grid hands them over; the property test
throws arbitrary ones (garbage bytes, crafted headers, odd metrics, forged or foreign envelopes,
duplicates, errors) at the train and evaluate aggregation and checks the round always completes
with exactly the honest updates.
"""

from __future__ import annotations

import gc
import hashlib
import time
import weakref
from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import pytest
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, Metadata, MetricRecord, RecordDict
from flwr.app.error import Error
from flwr.app.message import make_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain_config import LocalnetConfig
from client_kit.envelope import EvaluationClaim, UpdateClaim, sign, update_digest
from client_kit.keys import wallet_from_mnemonic
from client_kit.metrics import ACCURACY, TaskMetric
from client_kit.model_format import encode, record_of, to_record
from client_kit.task_hub import MAX_LOSS, MAX_U64, RoundMetrics, SlashReason, Standing
from keepers.binding import Bindings
from keepers.contribution.updates import Flattener
from keepers.events import LastReply
from keepers.flower_server import recorded_metrics
from keepers.strategy import ChainFedAvg, RoundOutcome, reply_path
from keepers.verification import Accepted, Rejected, UpdateContext

NAMES = ["w", "b"]
GLOBAL = [np.zeros((4, 3), np.float32), np.zeros(3, np.float32)]
GLOBAL_BYTES = encode(NAMES, GLOBAL)
GLOBAL_SHA = hashlib.sha256(GLOBAL_BYTES).hexdigest()
CONTEXT = UpdateContext("fedchain-local-1", "wasm1hub", 5, 2, NAMES, GLOBAL, GLOBAL_SHA, 10.0, 1000)
TRAINERS = [wallet_from_mnemonic(LocalnetConfig().dev_account(f"trainer{i}").mnemonic) for i in (1, 2, 3)]
JOINED = {str(w.address()) for w in TRAINERS}
# Which node answers for which trainer (as binding by node key would have settled it); node 78
# is bound to trainer 1 too only to test that a trainer's two updates never both count.
BOUND = {
    1: str(TRAINERS[0].address()),
    77: str(TRAINERS[0].address()),
    78: str(TRAINERS[0].address()),
    2: str(TRAINERS[1].address()),
    79: str(TRAINERS[1].address()),
    **{1000 + n: str(TRAINERS[2].address()) for n in range(51)},
}


class NoNodes:
    """The Grid as the strategy sees it between rounds: nobody new to bind."""

    def get_node_ids(self) -> list[int]:
        return []


def _strategy(outcomes: list[RoundOutcome] | None = None) -> ChainFedAvg:
    def standing(address: str) -> Standing:
        return Standing.ACTIVE if address in JOINED else Standing.ABSENT

    bindings = Bindings(dict, dict, standing)  # nobody new to look up: every node is bound already
    bindings.by_node.update(BOUND)
    strategy = ChainFedAvg(
        bindings=bindings,
        context_for_round=lambda task_round, names, arrays, sha: CONTEXT,
        standing=standing,
        on_round=(outcomes if outcomes is not None else []).append,
        task_id=CONTEXT.task_id,
        round_offset=1,  # Flower's round 1 is the task's round 2, as CONTEXT says
    )
    strategy.configure_train(1, record_of(GLOBAL_BYTES), ConfigRecord(), NoNodes())  # type: ignore[arg-type]
    return strategy


def _reply(content: RecordDict | Error, node: int, kind: str = "train") -> Message:
    metadata = Metadata(
        run_id=1,
        message_id="",
        src_node_id=node,
        dst_node_id=0,
        reply_to_message_id="instruction",
        group_id="2",
        created_at=time.time(),
        ttl=600,
        message_type=kind,
    )
    if isinstance(content, Error):
        return make_message(metadata=metadata, error=content)
    return make_message(metadata=metadata, content=content)


def _update(
    arrays: list[np.ndarray],
    node: int = 77,
    trainer: int = 0,
    examples: int = 120,
    key: PrivateKey | None = None,
    train_loss: float = 0.5,
) -> Message:
    """A trainer's honest-looking training reply, signed by `key` (default: trainer's own)."""
    digest = update_digest(NAMES, arrays)
    claim = UpdateClaim(CONTEXT.chain_id, CONTEXT.contract, 5, 2, examples, digest, GLOBAL_SHA)
    envelope = sign(key or TRAINERS[trainer].signer(), claim)
    content = RecordDict(
        {
            "arrays": to_record(NAMES, arrays),
            "metrics": MetricRecord({"num-examples": examples, "train-loss": train_loss}),
            "envelope": ConfigRecord(envelope.to_record()),
        }
    )
    return _reply(content, node)


def _honest(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.5, (4, 3)).astype(np.float32), rng.normal(0, 0.5, 3).astype(np.float32)]


def test_an_honest_reply_on_the_wire_is_read_and_accepted() -> None:
    arrays = _honest()
    flattener = Flattener(NAMES, GLOBAL)
    verdict, change = _strategy()._judge(CONTEXT, _update(arrays), flattener)
    assert isinstance(verdict, Accepted) and verdict.weight == 120
    assert change is not None and np.array_equal(change, flattener.delta(arrays))


def test_an_unreadable_model_is_rejected_without_blame() -> None:
    arrays = _honest()
    signed = _update(arrays).content["envelope"]
    garbled = ArrayRecord({"model": Array(dtype="uint8", shape=(9,), stype="safetensors", data=b"\xff" * 9)})
    per_layer = ArrayRecord({n: Array(a) for n, a in zip(NAMES, arrays, strict=True)})
    for record in (garbled, per_layer):
        content = RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": 120}), "envelope": signed})
        verdict, change = _strategy()._judge(CONTEXT, _reply(content, 77), Flattener(NAMES, GLOBAL))
        assert change is None
        assert isinstance(verdict, Rejected) and verdict.reason.startswith("unreadable model")
        assert not verdict.malicious  # nothing signed can be read from it, so nothing is proven


def test_one_trainer_answering_from_two_nodes_is_equivocation_and_contributes_nothing() -> None:
    """Both updates used to be accepted; the contract then refused the duplicate contributor and
    the round (every round, after every restart) stopped."""
    outcomes: list[RoundOutcome] = []
    strategy = _strategy(outcomes)
    replies = [_update(_honest(1), node=77), _update(_honest(2), node=78), _update(_honest(3), node=79, trainer=1)]
    strategy.aggregate_train(1, replies)
    strategy.aggregate_evaluate(1, [])
    (outcome,) = outcomes
    assert [a.address for a in outcome.accepted] == [str(TRAINERS[1].address())]
    (equivocation,) = outcome.rejected
    assert equivocation.offense == SlashReason.EQUIVOCATION and equivocation.address == str(TRAINERS[0].address())
    assert equivocation.envelope is not None and equivocation.conflicting is not None
    assert equivocation.envelope.claim != equivocation.conflicting.claim  # two different signed updates


def test_the_round_timing_follows_the_last_reply() -> None:
    record = to_record(NAMES, GLOBAL)
    early = _reply(RecordDict({"arrays": record, "metrics": MetricRecord({"delivery-s": 0.1, "train-s": 0.2})}), 1)
    early.content["metrics"]["sign-s"] = 0.01
    late = _reply(RecordDict({"arrays": record, "metrics": MetricRecord({"delivery-s": 0.7, "train-s": 0.3})}), 2)
    late.content["metrics"]["sign-s"] = 0.02
    untimed = _reply(RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": 1})}), 3)
    now = time.time()
    early.metadata.created_at, late.metadata.created_at = now - 2.0, now - 0.5
    untimed.metadata.created_at = now  # a reply without times (an old or a foreign client) is skipped
    assert reply_path(late, arrived=now) == (now - 0.5, LastReply(0.7, 0.3, 0.02, 0.5))
    assert reply_path(untimed, arrived=now) is None
    outcomes: list[RoundOutcome] = []
    strategy = _strategy(outcomes)
    strategy.aggregate_train(1, [late, early, untimed])  # as they arrive: each judged, its path noted
    strategy.aggregate_evaluate(1, [])
    (outcome,) = outcomes
    last = outcome.timing.last_reply if outcome.timing is not None else None
    assert last is not None and (last.delivery_s, last.local_train_s, last.sign_s) == (0.7, 0.3, 0.02)
    assert 0.5 <= last.return_s < 5.0


# --- liveness under any input -------------------------------------------------------------------
def _header_bomb(kind: int) -> bytes:
    """Model bytes whose header is crafted to break a careless reader."""
    headers = [
        '{"__metadata__":{"format":"fedchain-model/1","order":"[1, \\"w\\"]"},"w":'
        '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}',
        '{"__metadata__":{"format":"fedchain-model/1","order":"[\\"w\\"]"},"w":'
        '{"dtype":"F32","shape":[0,1180591620717411303424],"data_offsets":[0,0]}}',
        '{"__metadata__":{"format":"fedchain-model/1","order":"[\\"w\\"]"},"w":'
        '{"dtype":"F32","shape":' + str([1] * 70) + ',"data_offsets":[0,4]}}',
        "[" * 100_000 + "]" * 100_000,
        '{"__metadata__":{"format":"fedchain-model/1","order":"' + "[" * 5000 + '"},"w":{}}',
    ]
    text = headers[kind % len(headers)].encode()
    return len(text).to_bytes(8, "little") + text + b"\0" * 4


scalars = st.one_of(  # whatever a Flower MetricRecord can carry
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(allow_nan=True), max_size=3),
    st.lists(st.integers(-5, 5), max_size=3),
)


@st.composite
def bad_replies(draw: st.DrawFn, node: int) -> Message:
    """One reply of every kind of trouble a node can send."""
    choice = draw(st.integers(0, 7))
    arrays = _honest(node)
    if choice == 0:  # raw garbage as the model
        data = draw(st.binary(max_size=200))
        record = ArrayRecord({"model": Array(dtype="uint8", shape=(len(data),), stype="safetensors", data=data)})
        return _reply(RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": 3})}), node)
    if choice == 1:  # a crafted header
        data = _header_bomb(draw(st.integers(0, 10)))
        record = ArrayRecord({"model": Array(dtype="uint8", shape=(len(data),), stype="safetensors", data=data)})
        return _reply(RecordDict({"arrays": record, "metrics": MetricRecord({"num-examples": 3})}), node)
    if choice == 2:  # odd metrics around a signed update (anything but the 120 examples it signed)
        reply = _update(arrays, node=node, trainer=2)
        value = draw(scalars.filter(lambda v: v != 120))
        reply.content["metrics"] = MetricRecord({draw(st.sampled_from(["num-examples", "train-loss", "x"])): value})
        return reply
    if choice == 3:  # envelope fields of any type (anything but what was signed)
        reply = _update(arrays, node=node, trainer=2)
        field = draw(st.sampled_from(["version", "claim.task_id", "claim.round", "kind", "address", "claim.base"]))
        value = draw(st.one_of(st.integers(-(2**62), 2**62), st.text(max_size=20), st.floats(allow_nan=False)))
        original = reply.content["envelope"][field]
        reply.content["envelope"][field] = value if value != original else f"{original}!"
        return reply
    if choice == 4:  # an unstaked signer
        return _update(arrays, node=node, key=PrivateKey())
    if choice == 5:  # an error reply
        return _reply(Error(code=0, reason="x" * draw(st.integers(0, 5000))), node)
    if choice == 6:  # a staked trainer's update poisoned after signing (NaN) or scaled
        poisoned = [a * 1e6 for a in arrays] if draw(st.booleans()) else [np.full_like(a, np.nan) for a in arrays]
        return _update(poisoned, node=node, trainer=2)
    metrics = {"num-examples": draw(scalars), "train-loss": draw(scalars)}
    return _reply(RecordDict({"arrays": to_record(NAMES, arrays), "metrics": MetricRecord(metrics)}), node)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(0, 50), min_size=0, max_size=6, unique=True).flatmap(
        lambda nodes: st.tuples(*[bad_replies(1000 + n) for n in nodes])
    )
)
def test_no_reply_stops_the_round_and_the_honest_updates_count(bad: tuple[Message, ...]) -> None:
    outcomes: list[RoundOutcome] = []
    strategy = _strategy(outcomes)
    honest = [_update(_honest(10), node=1, trainer=0), _update(_honest(11), node=2, trainer=1)]
    replies = [*honest, *bad]
    record, metrics = strategy.aggregate_train(1, replies)
    assert record is not None and metrics is not None
    evaluations = [_reply(RecordDict({"metrics": MetricRecord({"eval-value": float("nan")})}), 9, "evaluate"), *bad]
    strategy.aggregate_evaluate(1, evaluations)
    (outcome,) = outcomes
    assert {a.node_id for a in outcome.accepted} == {1, 2}  # the honest ones, whatever else arrived
    assert len(outcome.rejected) == len(bad)
    assert all(r.reason for r in outcome.rejected)
    assert all(r.offense is None or r.address == str(TRAINERS[2].address()) for r in outcome.rejected)


def _evaluation(node: int, trainer: int, accuracy: float, examples: int = 100, model: str | None = None) -> Message:
    strategy_model = model or "?"
    claim = EvaluationClaim(
        CONTEXT.chain_id, CONTEXT.contract, 5, 2, strategy_model, examples, "0.300000", "accuracy", f"{accuracy:.6f}"
    )  # fmt: skip
    envelope = sign(TRAINERS[trainer].signer(), claim)
    metrics = MetricRecord({"num-examples": examples, "eval-loss": 0.3, "eval-value": accuracy})
    return _reply(RecordDict({"metrics": metrics, "envelope": ConfigRecord(envelope.to_record())}), node, "evaluate")


def test_only_signed_evaluations_by_staked_trainers_count_and_liars_cannot_drag_the_median() -> None:
    """An unsigned reply claiming 10^9 examples at accuracy 1.0 used to set the figure on chain (and
    1e30 examples overflowed the contract's u64)."""
    outcomes: list[RoundOutcome] = []
    strategy = _strategy(outcomes)
    strategy.aggregate_train(1, [_update(_honest(1), node=1, trainer=0), _update(_honest(2), node=2, trainer=1)])
    model = hashlib.sha256(strategy._pending.model).hexdigest()  # type: ignore[union-attr]
    liar = _reply(
        RecordDict({"metrics": MetricRecord({"num-examples": 1e30, "eval-loss": 0.0, "eval-value": 1.0})}),
        7,
        "evaluate",
    )
    honest = [_evaluation(1, 0, 0.80, model=model), _evaluation(2, 1, 0.84, model=model)]
    twice = _evaluation(79, 1, 0.99, model=model)  # trainer 2 again: its first evaluation counts
    stale = _evaluation(1001, 2, 1.0, model="00" * 32)  # signed, but for another model
    relayed = _evaluation(4, 2, 1.0, model=model)  # from a node bound to nobody
    strategy.aggregate_evaluate(1, [liar, *honest, twice, stale, relayed])
    (outcome,) = outcomes
    assert outcome.eval_value == 0.80 and outcome.eval_examples == 200


@pytest.mark.parametrize("wild", [1e300, 1e21, float("inf"), -3.0])
def test_a_trainers_wild_training_loss_cannot_break_the_attestation(wild: float) -> None:
    """Review: with neither validation nor federated evaluation the chain records the trainers'
    training loss; one staked trainer's 1e300 made the conversion raise and 1e21 exceeded the
    contract's Decimal, so no round was ever attested and the keeper lost its bond."""
    outcomes: list[RoundOutcome] = []
    strategy = _strategy(outcomes)
    strategy.aggregate_train(
        1, [_update(_honest(1), node=77), _update(_honest(2), node=79, trainer=1, train_loss=wild)]
    )
    strategy.aggregate_evaluate(1, [])
    (outcome,) = outcomes
    metrics = recorded_metrics(outcome, None, ACCURACY)
    assert 0 <= metrics.loss <= Decimal(MAX_LOSS) and 0 <= metrics.value <= 1
    wire = metrics.wire()
    assert Decimal(wire["loss"]) <= Decimal(MAX_LOSS) and "E" not in wire["loss"].upper()


@pytest.mark.parametrize(
    ("loss", "metric", "value", "expected"),
    [
        (float("nan"), "accuracy", float("nan"), ("1000000.000000", "0.000000")),
        (float("-inf"), "accuracy", 7.0, ("1000000.000000", "1.000000")),
        (0.25, "accuracy", -1.0, ("0.250000", "0.000000")),
        (0.25, "mse", 2913.25, ("0.250000", "2913.250000")),  # an unbounded metric keeps its value
        (0.25, "mse", float("nan"), ("0.250000", "1000000000000000.000000")),  # no figure: the worst there is
        (-0.0, "accuracy", -0.0, ("0.000000", "0.000000")),  # never "-0.000000", which the contract cannot parse
        (0.25, "f1", 0.9999996, ("0.250000", "0.999999")),  # floored: never rounded up past the bound
        (0.25, "mse", 1e300, ("0.250000", "1000000000000000.000000")),  # within the contract's Decimal
    ],
)
def test_round_metrics_are_always_what_the_contract_accepts(
    loss: float, metric: str, value: float, expected: tuple[str, str]
) -> None:
    wire = RoundMetrics.bounded(loss, TaskMetric.named(metric), value, 10).wire()
    assert (wire["loss"], wire["value"]) == expected and wire["metric"] == metric


def test_example_counts_are_recorded_within_the_contracts_integers() -> None:
    """Review: three signed evaluations of 2**63 - 1 examples summed past u64 and the contract
    could not parse the attestation."""
    assert RoundMetrics.bounded(0.5, ACCURACY, 0.5, 3 * (2**63 - 1)).examples == MAX_U64
    assert RoundMetrics.bounded(0.5, ACCURACY, 0.5, -4).examples == 0


def test_a_reply_with_nan_timings_is_left_out_of_the_round_timing() -> None:
    """Review: a NaN delivery time from the round's last reply went into the feed as `NaN`, which
    browsers cannot parse, so the task page never showed the round."""
    record = to_record(NAMES, GLOBAL)
    nan = _reply(
        RecordDict({"arrays": record, "metrics": MetricRecord({"delivery-s": float("nan"), "train-s": 0.2})}), 1
    )
    nan.content["metrics"]["sign-s"] = 0.01
    assert reply_path(nan, arrived=time.time()) is None


def test_an_evaluate_replys_arrays_are_freed_as_soon_as_it_is_read() -> None:
    """Review: evaluations were read through Flower's typed record views, whose cycle kept each
    reply — and whatever arrays a trainer attached to it — until the garbage collector ran."""
    strategy = _strategy([])
    strategy.aggregate_train(1, [_update(_honest(10), node=1, trainer=0)])
    attached: list[weakref.ref[ArrayRecord]] = []

    def replies() -> Iterator[Message]:
        for index in range(4):
            reply = _evaluation(1000 + index, 2, 0.8)
            junk = ArrayRecord({"junk": Array(np.zeros(1 << 18, np.float32))})
            attached.append(weakref.ref(junk))
            reply.content["junk"] = junk
            del junk
            yield reply

    gc.disable()
    try:
        strategy.aggregate_evaluate(1, replies())
        held = sum(ref() is not None for ref in attached)
    finally:
        gc.enable()
    assert held == 0
