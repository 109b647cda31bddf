"""The signed update envelope: signing, verification, and every way it must refuse."""

from __future__ import annotations

import base64
import dataclasses
import json

import numpy as np
import pytest
from cosmpy.crypto.keypairs import PrivateKey

from chain_config import LocalnetConfig
from client_kit.envelope import (
    EnvelopeError,
    EvaluationClaim,
    SignedEnvelope,
    UpdateClaim,
    adr036_sign_bytes,
    payload,
    sign,
    update_digest,
    verify_envelope,
)
from client_kit.keys import wallet_from_mnemonic

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _claim(arrays: list[np.ndarray], **overrides: object) -> UpdateClaim:
    fields = dict(
        chain_id="fedchain-local-1",
        contract="wasm1contract",
        task_id=7,
        round=2,
        num_examples=120,
        digest=update_digest(["w", "b"], arrays),
        base="5f" * 32,
    )
    fields.update(overrides)
    return UpdateClaim(**fields)  # type: ignore[arg-type]


@pytest.fixture
def arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((64, 10)).astype(np.float32), rng.standard_normal(10).astype(np.float32)]


@pytest.fixture
def key() -> PrivateKey:
    wallet = wallet_from_mnemonic(LocalnetConfig().dev_account("trainer1").mnemonic)
    return wallet.signer()


def test_sign_then_verify_names_the_trainer_address(key: PrivateKey, arrays: list[np.ndarray]) -> None:
    envelope = sign(key, _claim(arrays))
    expected_address = str(wallet_from_mnemonic(LocalnetConfig().dev_account("trainer1").mnemonic).address())
    assert envelope.address == expected_address
    assert verify_envelope(envelope, _claim(arrays)) == expected_address
    # The record survives a trip through plain scalars, as a Flower ConfigRecord carries it.
    assert SignedEnvelope.from_record(envelope.to_record(), UpdateClaim) == envelope


def test_adr036_sign_doc_is_the_amino_form_wallets_sign() -> None:
    doc = json.loads(adr036_sign_bytes("wasm1signer", b"hi <&>"))
    assert doc["msgs"][0] == {"type": "sign/MsgSignData", "value": {"data": "aGkgPCY+", "signer": "wasm1signer"}}
    assert (doc["chain_id"], doc["account_number"], doc["sequence"], doc["memo"]) == ("", "0", "0", "")
    raw = adr036_sign_bytes("wasm1<x>", b"")
    assert b"<" not in raw and b"\\u003c" in raw and b" " not in raw


@pytest.mark.parametrize(
    "field, value",
    [
        ("task_id", 8),
        ("round", 3),
        ("num_examples", 100000),
        ("contract", "wasm1other"),
        ("chain_id", "other-chain"),
        ("base", "6a" * 32),  # trained from another model than the keeper sent
    ],
)
def test_a_claim_for_anything_else_is_refused(key: PrivateKey, arrays: list[np.ndarray], field: str, value) -> None:
    envelope = sign(key, _claim(arrays))
    with pytest.raises(EnvelopeError, match=field):
        verify_envelope(envelope, _claim(arrays, **{field: value}))


def test_changed_parameters_are_refused(key: PrivateKey, arrays: list[np.ndarray]) -> None:
    envelope = sign(key, _claim(arrays))
    tampered = [arrays[0] * 1.0001, arrays[1]]
    with pytest.raises(EnvelopeError, match="digest"):
        verify_envelope(envelope, _claim(tampered))
    renamed = dataclasses.replace(_claim(arrays), digest=update_digest(["w", "renamed"], arrays))
    with pytest.raises(EnvelopeError, match="digest"):  # layer names are signed too
        verify_envelope(envelope, renamed)


def test_no_claim_passes_for_another_kind(key: PrivateKey, arrays: list[np.ndarray]) -> None:
    """An evaluation claim is never an update claim: payloads name their kind."""
    evaluation = EvaluationClaim("fedchain-local-1", "wasm1contract", 7, 2, "5f" * 32, 120, "0.5", "accuracy", "0.9")
    signed = sign(key, evaluation)
    assert json.loads(payload(evaluation))["kind"] == "evaluation"
    with pytest.raises(EnvelopeError, match="expected a update claim"):
        verify_envelope(signed, _claim(arrays))
    with pytest.raises(EnvelopeError, match="expected a update claim, got evaluation"):
        SignedEnvelope.from_record(signed.to_record(), UpdateClaim)
    assert SignedEnvelope.from_record(signed.to_record(), EvaluationClaim) == signed


def test_a_forged_claim_keeps_nothing(key: PrivateKey, arrays: list[np.ndarray]) -> None:
    honest = sign(key, _claim(arrays))
    forged_claim = dataclasses.replace(honest.claim, num_examples=10**6)
    forged = dataclasses.replace(honest, claim=forged_claim)
    with pytest.raises(EnvelopeError, match="does not verify"):
        verify_envelope(forged, forged_claim)


def test_someone_elses_key_cannot_claim_an_address(key: PrivateKey, arrays: list[np.ndarray]) -> None:
    other = wallet_from_mnemonic(LocalnetConfig().dev_account("trainer2").mnemonic)
    impostor = sign(PrivateKey(), _claim(arrays))
    claimed = dataclasses.replace(impostor, address=str(other.address()))
    with pytest.raises(EnvelopeError, match="belongs to"):
        verify_envelope(claimed, _claim(arrays))


def test_high_s_and_malformed_signatures_are_refused(key: PrivateKey, arrays: list[np.ndarray]) -> None:
    envelope = sign(key, _claim(arrays))
    raw = base64.b64decode(envelope.signature)
    high_s = raw[:32] + (ORDER - int.from_bytes(raw[32:], "big")).to_bytes(32, "big")
    with pytest.raises(EnvelopeError, match="low-S"):
        verify_envelope(dataclasses.replace(envelope, signature=base64.b64encode(high_s).decode()), _claim(arrays))
    with pytest.raises(EnvelopeError, match="base64"):
        verify_envelope(dataclasses.replace(envelope, signature="not base64!"), _claim(arrays))
    with pytest.raises(EnvelopeError, match="64 bytes"):
        verify_envelope(dataclasses.replace(envelope, signature=base64.b64encode(raw[:40]).decode()), _claim(arrays))


GOOD_RECORD: dict[str, object] = {
    "version": 2,
    "kind": "update",
    "claim.chain_id": "c",
    "claim.contract": "x",
    "claim.task_id": 7,
    "claim.round": 1,
    "claim.num_examples": 1,
    "claim.digest": "d",
    "claim.base": "b",
    "address": "a",
    "public_key": "k",
    "signature": "s",
}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("claim.task_id", "seven", "'claim.task_id' must be a int, got str"),
        ("version", float("inf"), "'version' must be a int, got float"),  # int(inf) used to raise OverflowError
        ("version", 1, "unsupported envelope version 1"),
        ("claim.num_examples", True, "must be a int, got bool"),
        ("claim.round", 1.0, "must be a int, got float"),
        ("address", 5, "'address' must be a str"),
        ("signature", "s" * 10_000, "longer than 512 characters"),
        ("kind", "evaluation", "expected a update claim, got evaluation"),
    ],
)
def test_a_malformed_record_field_is_named(field: str, value: object, reason: str) -> None:
    assert SignedEnvelope.from_record(GOOD_RECORD, UpdateClaim).claim.task_id == 7
    with pytest.raises(EnvelopeError, match=reason):
        SignedEnvelope.from_record({**GOOD_RECORD, field: value}, UpdateClaim)


def test_a_missing_record_field_is_named() -> None:
    with pytest.raises(EnvelopeError, match="'kind' is missing"):
        SignedEnvelope.from_record({"version": 2}, UpdateClaim)
    with pytest.raises(EnvelopeError, match="'claim.base' is missing"):
        SignedEnvelope.from_record({k: v for k, v in GOOD_RECORD.items() if k != "claim.base"}, UpdateClaim)


def test_digest_depends_on_names_dtype_shape_and_order() -> None:
    a = np.arange(6, dtype=np.float32)
    assert update_digest(["a"], [a]) != update_digest(["a"], [a.reshape(2, 3)])
    assert update_digest(["a"], [a]) != update_digest(["a"], [a.astype(np.float64)])
    assert update_digest(["a", "b"], [a, a + 1]) != update_digest(["a", "b"], [a + 1, a])
    assert update_digest(["a"], [a]) != update_digest(["b"], [a])
    assert update_digest(["a"], [a]) == update_digest(["a"], [a.astype(">f4")])  # byte order is normalised
