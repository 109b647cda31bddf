"""Fast FedAvg equals Flower's; the model format round-trips; every rejection rule with its reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cosmpy.crypto.keypairs import PrivateKey
from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict
from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from chain_config import LocalnetConfig
from client_kit.envelope import UpdateClaim, sign, update_digest
from client_kit.keys import wallet_from_mnemonic
from client_kit.model_format import ModelFormatError, decode, encode, from_record, to_record
from client_kit.task_hub import Standing
from keepers.fedavg import weighted_average
from keepers.verification import Accepted, Rejected, UpdateContext, verify_update


def test_weighted_average_equals_flowers_fedavg() -> None:
    rng = np.random.default_rng(1)
    clients = [
        [
            rng.standard_normal((32, 17)).astype(np.float32),
            rng.standard_normal(17).astype(np.float32),
            rng.standard_normal(5),
        ]  # float64 layer too
        for _ in range(7)
    ]
    weights = [float(w) for w in rng.integers(1, 500, size=7)]
    ours = weighted_average(zip(clients, weights, strict=True), sum(weights), clients[0])
    records = [
        RecordDict({"arrays": ArrayRecord(c), "metrics": MetricRecord({"num-examples": w})})
        for c, w in zip(clients, weights, strict=True)
    ]
    flowers = [a.numpy() for a in aggregate_arrayrecords(records, "num-examples").values()]
    for mine, theirs in zip(ours, flowers, strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    # And it is a real weighted mean, not just Flower's behaviour: check one entry by hand.
    expected = sum(c[1][3] * w for c, w in zip(clients, weights, strict=True)) / sum(weights)
    assert ours[1][3] == pytest.approx(expected, rel=1e-5)


def test_weighted_average_refuses_mismatched_clients() -> None:
    a = [np.zeros(3, np.float32)]
    with pytest.raises(ValueError, match="shape"):
        weighted_average([(a, 1.0), ([np.zeros(4, np.float32)], 1.0)], 2.0, a)
    with pytest.raises(ValueError, match="positive"):
        weighted_average([(a, 1.0)], 0.0, a)


def test_only_float_layers_are_averaged_and_every_layer_keeps_its_dtype() -> None:
    """BatchNorm's int64 counter and a bool mask come from the global model; float16 stays float16
    (before, the counter was averaged into float64 and every honest trainer's next update was
    "malformed")."""
    base = [np.full(2, 1.0, np.float32), np.array(5, np.int64), np.array([True, False]), np.ones(2, np.float16)]
    one = [np.full(2, 3.0, np.float32), np.array(9, np.int64), np.array([False, False]), np.full(2, 3.0, np.float16)]
    two = [np.full(2, 5.0, np.float32), np.array(11, np.int64), np.array([True, True]), np.full(2, 5.0, np.float16)]
    result = weighted_average([(one, 1.0), (two, 3.0)], 4.0, base)
    assert [r.dtype for r in result] == [b.dtype for b in base]
    assert result[0].tolist() == [4.5, 4.5] and result[3].tolist() == [4.5, 4.5]
    assert result[1] == 5 and result[2].tolist() == [True, False]
    assert result[1] is not base[1]  # a copy: the next round's model owns its layers


def test_model_format_round_trips_deterministically() -> None:
    names = ["fc.weight", "fc.bias", "a_first_alphabetically"]
    arrays = [np.arange(12, dtype=np.float32).reshape(3, 4), np.ones(4, np.float32), np.zeros((2, 2), np.float64)]
    data = encode(names, arrays, {"task_id": "3", "round": "2"})
    assert data == encode(names, [a.copy() for a in arrays], {"round": "2", "task_id": "3"})
    back_names, back_arrays, metadata = decode(data)
    assert back_names == names  # model order, not safetensors' sorted order
    assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(arrays, back_arrays, strict=True))
    assert metadata["task_id"] == "3" and metadata["format"] == "fedchain-model/1"
    with pytest.raises(ModelFormatError):
        decode(b"definitely not safetensors")
    with pytest.raises(ModelFormatError, match="unique"):
        encode(["x", "x"], arrays[:2])


def test_model_format_is_plain_safetensors_both_ways_and_keeps_scalars() -> None:
    names = ["fc.weight", "bn.num_batches_tracked", "mask"]
    arrays = [np.ones((2, 3), np.float32), np.array(7, np.int64), np.array([True, False])]
    loaded = safetensors_load(encode(names, arrays))  # the reference reader takes our bytes
    assert loaded["bn.num_batches_tracked"].shape == () and loaded["bn.num_batches_tracked"] == 7
    back_names, back_arrays, _ = decode(encode(names, arrays))
    assert back_arrays[1].shape == () and back_arrays[2].dtype == np.bool_
    foreign = safetensors_save(  # and ours takes the reference writer's, given fedchain's metadata
        {"b": np.zeros(2, np.float16), "a": np.arange(3, dtype=np.int32)},
        metadata={"format": "fedchain-model/1", "order": '["b", "a"]'},
    )
    foreign_names, foreign_arrays, _ = decode(foreign)
    assert foreign_names == ["b", "a"] and foreign_arrays[1].tolist() == [0, 1, 2]


def test_a_model_in_a_message_is_one_array_read_without_copying() -> None:
    names, arrays = ["w", "b"], [np.arange(12, dtype=np.float32).reshape(3, 4), np.ones(4, np.float32)]
    record = to_record(names, arrays)
    assert list(record.keys()) == ["model"] and record["model"].stype == "safetensors"
    back_names, views = from_record(record)
    assert back_names == names and all(np.array_equal(a, v) for a, v in zip(arrays, views, strict=True))
    wire = np.frombuffer(record["model"].data, np.uint8)
    assert all(np.shares_memory(view, wire) and not view.flags.writeable for view in views)


def _tampered(data: bytes, edit) -> bytes:  # edits the parsed header
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    edit(header)
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data[8 + length :]


@pytest.mark.parametrize(
    "case, reason",
    [
        ("truncated", "ends past the data"),
        ("trailing byte", "the data holds"),
        ("no header", "shorter than"),
        ("huge header length", "header length exceeds"),
        ("overlapping tensors", "does not start where"),
        ("shape larger than bytes", "does not fill bytes"),
        ("unknown dtype", "known dtype"),
        ("negative shape", "negative"),
        ("order names a missing layer", "layer order"),
        ("foreign format", "unknown model format"),
    ],
)
def test_a_malformed_model_is_refused_with_its_reason(case: str, reason: str) -> None:
    good = encode(["w", "b"], [np.ones((2, 2), np.float32), np.ones(2, np.float32)])
    bad = {
        "truncated": lambda: good[:-1],
        "trailing byte": lambda: good + b"\0",
        "no header": lambda: good[:5],
        "huge header length": lambda: (10**9).to_bytes(8, "little") + good[8:],
        "overlapping tensors": lambda: _tampered(good, lambda h: h["w"].update(data_offsets=[0, 16])),
        "shape larger than bytes": lambda: _tampered(good, lambda h: h["w"].update(shape=[3, 2])),
        "unknown dtype": lambda: _tampered(good, lambda h: h["w"].update(dtype="F128")),
        "negative shape": lambda: _tampered(good, lambda h: h["b"].update(shape=[-2])),
        "order names a missing layer": lambda: _tampered(good, lambda h: h["__metadata__"].update(order='["w", "x"]')),
        "foreign format": lambda: _tampered(good, lambda h: h["__metadata__"].update(format="other/1")),
    }[case]()
    with pytest.raises(ModelFormatError, match=reason):
        decode(bad)


def test_a_record_that_is_not_one_model_array_is_refused() -> None:
    with pytest.raises(ModelFormatError, match="one array 'model'"):
        from_record(ArrayRecord({"w": Array(np.ones(2, np.float32))}))
    with pytest.raises(ModelFormatError, match="stype"):
        from_record(ArrayRecord({"model": Array(np.ones(2, np.float32))}))


NAMES = ["w", "b"]
GLOBAL = [np.zeros((4, 3), np.float32), np.zeros(3, np.float32)]
CONTEXT = UpdateContext(
    chain_id="fedchain-local-1",
    contract="wasm1hub",
    task_id=5,
    round=2,
    global_names=NAMES,
    global_arrays=GLOBAL,
    global_sha256="5f" * 32,
    norm_bound=10.0,
    max_examples_per_trainer=1000,
)


BOUND = str(wallet_from_mnemonic(LocalnetConfig().dev_account("trainer1").mnemonic).address())  # node 77's


def _key(name: str = "trainer1") -> PrivateKey:
    return wallet_from_mnemonic(LocalnetConfig().dev_account(name).mnemonic).signer()


def _signed(
    arrays: list[np.ndarray],
    key: PrivateKey | None = None,
    examples: int = 120,
    round_number: int = 2,
    base: str = "5f" * 32,
    names: list[str] = NAMES,
) -> dict[str, object]:
    digest = update_digest(names, arrays)
    claim = UpdateClaim(CONTEXT.chain_id, CONTEXT.contract, CONTEXT.task_id, round_number, examples, digest, base)
    return sign(key or _key(), claim).to_record()


def _honest() -> list[np.ndarray]:
    return [np.full((4, 3), 0.5, np.float32), np.full(3, -0.25, np.float32)]


def _joined(address: str) -> Standing:
    joined = address == str(wallet_from_mnemonic(LocalnetConfig().dev_account("trainer1").mnemonic).address())
    return Standing.ACTIVE if joined else Standing.ABSENT


def test_an_honest_signed_update_is_accepted_with_capped_weight() -> None:
    arrays = _honest()
    verdict = verify_update(CONTEXT, 77, NAMES, arrays, 120, _signed(arrays), _joined, BOUND)
    assert isinstance(verdict, Accepted) and verdict.weight == 120
    big = verify_update(CONTEXT, 77, NAMES, arrays, 50_000, _signed(arrays, examples=50_000), _joined, BOUND)
    assert isinstance(big, Accepted) and big.weight == 1000  # capped: nobody can claim a huge dataset


@pytest.mark.parametrize(
    "case, reason, malicious",
    [
        ("unsigned", "unsigned update", False),
        ("outsider", "has not joined", False),
        ("relayed", "node 77 answers for wasm1", False),
        ("replayed round", "bad signature: signed round", False),
        ("inflated examples", "bad signature: signed num_examples", False),
        ("nan", "NaN or infinite", True),
        ("wrong shape", "layer 'w' is float32[3, 4]", True),
        ("scaled", "exceeds the bound", True),
    ],
)
def test_each_bad_update_is_rejected_with_its_reason(case: str, reason: str, malicious: bool) -> None:
    arrays, record, examples, node = _honest(), None, 120, 77
    bound = BOUND
    if case == "outsider":  # a node bound to trainer2, which never joined this task
        record, bound = (
            _signed(arrays, key=_key("trainer2")),
            str(wallet_from_mnemonic(LocalnetConfig().dev_account("trainer2").mnemonic).address()),
        )
    elif case == "replayed round":
        record = _signed(arrays, round_number=1)
    elif case == "relayed":  # trainer2's genuine update, sent from a node bound to trainer1
        record = _signed(arrays, key=_key("trainer2"))
    elif case == "inflated examples":
        record, examples = _signed(arrays), 999
    elif case == "nan":
        arrays[1][0] = np.nan
        record = _signed(arrays)
    elif case == "wrong shape":
        arrays = [np.zeros((3, 4), np.float32), arrays[1]]
        record = _signed(arrays)
    elif case == "scaled":
        arrays = [a * 100 for a in arrays]
        record = _signed(arrays)
    verdict = verify_update(CONTEXT, node, NAMES, arrays, examples, record, _joined, bound)
    assert isinstance(verdict, Rejected)
    assert reason in verdict.reason
    assert verdict.malicious is malicious


def test_a_slashed_trainer_is_refused_but_not_slashed_again() -> None:
    arrays = _honest()
    verdict = verify_update(CONTEXT, 77, NAMES, arrays, 120, _signed(arrays), lambda _: Standing.SLASHED, BOUND)
    assert isinstance(verdict, Rejected) and "was slashed" in verdict.reason and not verdict.malicious
