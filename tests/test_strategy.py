"""The keeper's strategy on real Flower messages: reading a reply's model, judging it, timing it."""

from __future__ import annotations

import time

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, Metadata, MetricRecord, RecordDict
from flwr.app.message import make_message

from chain_config import LocalnetConfig
from client_kit.envelope import UpdateClaim, parameters_digest, sign_update
from client_kit.keys import wallet_from_mnemonic
from client_kit.model_format import to_record
from client_kit.task_hub import Standing
from keepers.events import LastReply
from keepers.strategy import ChainFedAvg, slowest_reply_path
from keepers.verification import Accepted, Rejected, UpdateContext

NODE = 77
NAMES = ["w", "b"]
GLOBAL = [np.zeros((4, 3), np.float32), np.zeros(3, np.float32)]
CONTEXT = UpdateContext("fedchain-local-1", "wasm1hub", 5, 2, NAMES, GLOBAL, 10.0, 1000)
TRAINER = wallet_from_mnemonic(LocalnetConfig().dev_account("trainer1").mnemonic)


def _strategy() -> ChainFedAvg:
    joined = str(TRAINER.address())
    return ChainFedAvg(
        trainers=1,
        context_for_round=lambda *_: CONTEXT,
        standing=lambda address: Standing.ACTIVE if address == joined else Standing.ABSENT,
        on_round=lambda outcome: None,
    )


def _reply(arrays_record: ArrayRecord, metrics: dict, envelope: dict | None = None) -> Message:
    """A trainer's reply as the keeper's Grid hands it over (metadata as the SuperLink set it)."""
    content = RecordDict({"arrays": arrays_record, "metrics": MetricRecord(metrics)})
    if envelope is not None:
        content["envelope"] = ConfigRecord(envelope)
    metadata = Metadata(
        run_id=1,
        message_id="",
        src_node_id=NODE,
        dst_node_id=0,
        reply_to_message_id="instruction",
        group_id="2",
        created_at=time.time(),
        ttl=600,
        message_type="train",
    )
    return make_message(metadata=metadata, content=content)


def _signed(arrays: list[np.ndarray], examples: int = 120) -> dict:
    claim = UpdateClaim(CONTEXT.chain_id, CONTEXT.contract, 5, 2, NODE, examples, parameters_digest(arrays))
    return sign_update(TRAINER.signer(), claim).to_record()


def test_an_honest_reply_on_the_wire_is_read_and_accepted() -> None:
    arrays = [np.full((4, 3), 0.5, np.float32), np.full(3, -0.25, np.float32)]
    verdict = _strategy()._judge(CONTEXT, _reply(to_record(NAMES, arrays), {"num-examples": 120}, _signed(arrays)))
    assert isinstance(verdict, Accepted) and verdict.weight == 120
    assert all(np.array_equal(a, b) for a, b in zip(arrays, verdict.arrays, strict=True))


def test_an_unreadable_model_is_rejected_without_blame() -> None:
    arrays = [np.full((4, 3), 0.5, np.float32), np.full(3, -0.25, np.float32)]
    garbled = ArrayRecord({"model": Array(dtype="uint8", shape=(9,), stype="safetensors", data=b"\xff" * 9)})
    per_layer = ArrayRecord({n: Array(a) for n, a in zip(NAMES, arrays, strict=True)})
    for record in (garbled, per_layer):
        verdict = _strategy()._judge(CONTEXT, _reply(record, {"num-examples": 120}, _signed(arrays)))
        assert isinstance(verdict, Rejected) and verdict.reason.startswith("unreadable model")
        assert not verdict.malicious  # nothing signed can be read from it, so nothing is proven


def test_the_round_timing_follows_the_last_reply() -> None:
    record = to_record(NAMES, GLOBAL)
    early = _reply(record, {"num-examples": 1, "delivery-s": 0.1, "train-s": 0.2, "sign-s": 0.01})
    late = _reply(record, {"num-examples": 1, "delivery-s": 0.7, "train-s": 0.3, "sign-s": 0.02})
    untimed = _reply(record, {"num-examples": 1})
    early.metadata.created_at, late.metadata.created_at = 1000.0, 1001.5
    untimed.metadata.created_at = 1002.0  # a reply without times (an old or a foreign client) is skipped
    path = slowest_reply_path([early, late, untimed], arrived=1002.0)
    assert path == LastReply(delivery_s=0.7, local_train_s=0.3, sign_s=0.02, return_s=0.5)
    assert slowest_reply_path([untimed], arrived=1003.0) is None
