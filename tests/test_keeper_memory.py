"""The keeper's memory in a round stays flat in the number of trainers: replies are judged as they
arrive and each accepted update is spilled to the round's file (`UpdateRows`), so aggregating many
replies takes no more memory than aggregating a few. Measured with tracemalloc, which sees numpy's
buffers, on the real strategy with signed replies from staked trainers."""

from __future__ import annotations

import hashlib
import threading
import time
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import ConfigRecord, Message, Metadata, MetricRecord, RecordDict
from flwr.app.message import make_message
from flwr.supercore.inflatable.inflatable_utils import ObjectPullError, ObjectUnavailableError
from flwr.superlink.grid import http_grid

from client_kit.envelope import UpdateClaim, sign, update_digest
from client_kit.model_format import encode, record_of, to_record
from client_kit.task_hub import Standing
from keepers.binding import Bindings
from keepers.brisk_grid import FINAL_PULL_S, BriskGrid
from keepers.contribution.updates import BLOCK_BYTES, Flattener, UpdateRows
from keepers.strategy import ChainFedAvg, RoundOutcome
from keepers.verification import UpdateContext

NAMES = ["w", "b"]
GLOBAL = [np.zeros((512, 1024), np.float32), np.zeros(1024, np.float32)]  # 2 MiB of float32
MODEL_BYTES = sum(a.nbytes for a in GLOBAL)
GLOBAL_BYTES = encode(NAMES, GLOBAL)
CONTEXT = UpdateContext(
    "fedchain-local-1", "wasm1hub", 5, 2, NAMES, GLOBAL, hashlib.sha256(GLOBAL_BYTES).hexdigest(), 1e6, 1000
)
WALLETS = [LocalWallet(PrivateKey(hashlib.sha256(b"memory%d" % i).digest()), "wasm") for i in range(48)]


class NoNodes:
    def get_node_ids(self) -> list[int]:
        return []


def _strategy(outcomes: list[RoundOutcome]) -> ChainFedAvg:
    staked = {str(w.address()) for w in WALLETS}

    def standing(address: str) -> Standing:
        return Standing.ACTIVE if address in staked else Standing.ABSENT

    bindings = Bindings(dict, dict, standing)  # every node is bound already
    bindings.by_node.update({100 + i: str(w.address()) for i, w in enumerate(WALLETS)})
    strategy = ChainFedAvg(bindings, lambda *_: CONTEXT, standing, outcomes.append, task_id=5, round_offset=1)
    strategy.configure_train(1, record_of(GLOBAL_BYTES), ConfigRecord(), NoNodes())  # type: ignore[arg-type]
    return strategy


def _change(index: int) -> list[np.ndarray]:
    """Trainer `index`'s update (the global model is 0: its change to it, too)."""
    rng = np.random.default_rng(index)
    return [rng.normal(0, 0.01, a.shape).astype(np.float32) for a in GLOBAL]


def _replies(trainers: int) -> Iterator[Message]:
    """Signed updates from staked trainers, made one at a time as a grid hands them over."""
    for index in range(trainers):
        arrays = _change(index)
        claim = UpdateClaim(
            CONTEXT.chain_id, CONTEXT.contract, 5, 2, 100, update_digest(NAMES, arrays), CONTEXT.global_sha256
        )
        content = RecordDict(
            {
                "arrays": to_record(NAMES, arrays),
                "metrics": MetricRecord({"num-examples": 100, "train-loss": 0.5}),
                "envelope": ConfigRecord(sign(WALLETS[index].signer(), claim).to_record()),
            }
        )
        metadata = Metadata(1, "", 100 + index, 0, "instruction", "2", time.time(), 600, "train")
        del arrays
        yield make_message(metadata=metadata, content=content)


def _peak_of_a_round(trainers: int) -> tuple[int, RoundOutcome]:
    outcomes: list[RoundOutcome] = []
    strategy = _strategy(outcomes)
    tracemalloc.start()
    try:
        strategy.aggregate_train(1, _replies(trainers))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    strategy.aggregate_evaluate(1, [])
    return peak, outcomes[0]


def test_a_rounds_memory_does_not_grow_with_its_trainers() -> None:
    """Before: every reply was held until the round ended, and the screen stacked every update in
    float64 — the peak grew by ~5 models per trainer. This process also makes each reply (its
    arrays and their encoding): ~3 models of what it measures are the trainers' side."""
    few, few_outcome = _peak_of_a_round(12)
    many, many_outcome = _peak_of_a_round(48)
    assert len(few_outcome.accepted) == 12 and len(many_outcome.accepted) == 48
    # What a round holds: the reply in hand and its change, a row buffer, one block of the screen's
    # passes (BLOCK_BYTES across all rows, float32 and float64), the new model and its bytes — for
    # 12 trainers as for 48.
    # (Reading a reply through Flower's typed views made its arrays wait for the garbage collector:
    # 13–22 models, depending on when it ran.)
    assert many < few + MODEL_BYTES, (few / MODEL_BYTES, many / MODEL_BYTES)
    assert many < 6 * MODEL_BYTES + 2 * BLOCK_BYTES, many / MODEL_BYTES


def test_the_new_model_is_the_weighted_average_of_the_spilled_changes() -> None:
    _, outcome = _peak_of_a_round(5)
    changes = [_change(index) for index in range(5)]
    for layer, new in enumerate(outcome.arrays):
        assert np.allclose(new, np.mean([change[layer] for change in changes], axis=0), atol=1e-7)


def test_block_wise_passes_over_the_rows_equal_the_dense_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen's Gram matrix, the median and the weighted sums, read in blocks narrower than a
    row (so every block boundary is crossed), equal the same arithmetic on the stacked rows."""
    monkeypatch.setattr("keepers.contribution.updates.BLOCK_BYTES", 8 * 5 * 97)  # 97 coordinates a block
    rng = np.random.default_rng(7)
    dense = rng.normal(size=(5, 1000)).astype(np.float32)
    reference = rng.normal(size=1000).astype(np.float32)
    with UpdateRows(1000) as rows:
        assert [rows.append(row) for row in dense] == [0, 1, 2, 3, 4]
        assert len(list(rows.spans(5))) == 11
        stacked = np.vstack([reference, dense]).astype(np.float64)
        assert np.allclose(rows.gram(range(5), [reference]), stacked @ stacked.T)
        assert np.array_equal(rows.median([0, 2, 4]), np.median(dense[[0, 2, 4]], axis=0))
        assert np.allclose(rows.weighted_sum([1, 3], [2.0, -0.5]), 2.0 * dense[1] - 0.5 * dense[3])
        mask = np.zeros(1000, dtype=bool)
        mask[::3] = True
        with rows.masked(mask):
            assert not rows.row(2)[mask].any() and np.array_equal(rows.row(2)[~mask], dense[2][~mask])
            assert not rows.block([0, 1], 0, 97)[:, mask[:97]].any()
        assert np.array_equal(rows.row(2), dense[2])  # the mask is lifted after the block
        with pytest.raises(ValueError, match="a row of"):
            rows.append(np.zeros(999, np.float32))
        with pytest.raises(IndexError):
            rows.row(5)


class _SuperLink:
    """Flower's pull semantics over a clock: a reply is there from its time on, handed over once."""

    def __init__(self, stored_at: dict[str, float]) -> None:
        self.stored_at, self.started = dict(stored_at), time.monotonic()

    def push_messages(self, messages: list[Message]) -> list[str]:
        self.started = time.monotonic()
        return list(self.stored_at)

    def pull_messages(self, ids: list[str]) -> list[Message]:
        now = time.monotonic() - self.started
        ready = [i for i in ids if self.stored_at.get(i, 1e9) <= now]
        for i in ready:
            del self.stored_at[i]
        return [_message_replying_to(i) for i in ready]


def _message_replying_to(message_id: str) -> Message:
    return make_message(Metadata(1, "", 1, 0, message_id, "1", time.time(), 600, "train"), RecordDict())


def test_a_reply_stored_before_the_deadline_is_handed_over_however_long_the_earlier_ones_take() -> None:
    """Review: the deadline was checked only between passes, and a pass now includes the time the
    strategy verifies each reply, so B (stored at 0.3 s of 1.0 s) was left at the SuperLink: an
    honest trainer counted as a no-show."""
    link = _SuperLink({"A": 0.0, "B": 0.3, "late": 5.0})
    grid = BriskGrid(link, poll_interval=0.05)  # type: ignore[arg-type]
    started, handed = time.monotonic(), []
    for reply in grid.send_and_receive([_message_replying_to("x")], timeout=1.0):
        handed.append(reply.metadata.reply_to_message_id)
        time.sleep(1.2)  # verifying a big update
    assert handed == ["A", "B"] and time.monotonic() - started < 3.0  # "late" missed the deadline


class _TricklingSuperLink(_SuperLink):
    """A reply whose message is there at once but whose objects never all arrive: Flower's grid
    asks for them through its module's `pull_objects`, as here."""

    def pull_messages(self, ids: list[str]) -> list[Message]:
        def never_pushed(object_id: str) -> bytes:
            raise ObjectUnavailableError(object_id)

        try:
            http_grid.pull_objects(object_ids=["chunk"], pull_object_fn=never_pushed)
        except ObjectPullError:
            return []  # Flower's grid turns it into an "unavailable" reply: a no-show
        return super().pull_messages(ids)


def test_a_reply_whose_objects_trickle_in_holds_the_round_no_longer_than_its_deadline() -> None:
    """Review: Flower waits up to two hours for a reply's objects, so one trainer pushing an object
    every few minutes held every round of the task that long (at no cost to itself)."""
    grid = BriskGrid(_TricklingSuperLink({"A": 0.0}), poll_interval=0.05)  # type: ignore[arg-type]
    finished: list[float] = []

    def phase() -> None:
        started = time.monotonic()
        list(grid.send_and_receive([_message_replying_to("x")], timeout=0.5))
        finished.append(time.monotonic() - started)

    worker = threading.Thread(target=phase, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert finished and finished[0] < 0.5 + 2 * FINAL_PULL_S + 1.0


def test_a_float64_layers_small_change_survives_the_spill() -> None:
    """Review: the change was cast to float32 before subtracting, so 1000.00002 − 1000 became 0 and
    a float64 layer never moved (nor counted as a change)."""
    base = [np.full(2, 1000.0), np.zeros(3, np.float32)]
    flattener = Flattener(["w", "b"], base)
    change = flattener.delta([np.full(2, 1000.00002), np.ones(3, np.float32)])
    assert np.allclose(change[:2], 2e-5, rtol=1e-6) and flattener.arrays(change)[0][0] == pytest.approx(1000.00002)


def test_the_keepers_own_write_failure_is_no_verdict_on_a_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: a full disk turned verified updates into "unreadable reply" rejections; it is the
    keeper's failure, and stops the round instead of going on without the honest updates."""

    def full(self: UpdateRows, delta: np.ndarray) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(UpdateRows, "append", full)
    strategy = _strategy([])
    with pytest.raises(OSError, match="No space"):
        strategy.aggregate_train(1, _replies(2))
