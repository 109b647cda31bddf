"""Signed claims: the one place trainers sign (their signer) and keepers and the contract verify.

A trainer signs two kinds of claim, each binding it to one task on one contract and chain:
- `UpdateClaim`: this update (names, dtypes, shapes and bytes of every layer), for this round,
  trained from this global model (its sha256, which the chain records), on this many examples.
  It is what a slash must carry as evidence. It names no Flower node: a trainer signs one update
  per round and may have to send it again from a new node (its node restarted with the keeper's).
- `EvaluationClaim`: this loss and this value of the task's metric, of this global model on this
  many examples.
The bytes signed are a Cosmos ADR-036 "arbitrary data" sign doc over the claim's canonical JSON
(its `kind` named inside, so no claim can pass for another kind), so a browser wallet (Keplr's
signArbitrary) produces the very same signature; the key is the trainer's secp256k1 account key,
so the signature names the staked address.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import ClassVar, TypeVar

import numpy as np
from cosmpy.crypto.address import Address
from cosmpy.crypto.keypairs import PrivateKey, PublicKey

ENVELOPE_VERSION = 2
MAX_FIELD_LENGTH = 512  # every honest field is far shorter: addresses, keys, digests, the chain id
T = TypeVar("T", int, str)
_SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class EnvelopeError(ValueError):
    """The envelope is missing, malformed, or does not prove what it claims."""


@dataclass(frozen=True)
class UpdateClaim:
    """What the trainer attests of a training reply."""

    KIND: ClassVar[str] = "update"
    chain_id: str
    contract: str
    task_id: int
    round: int
    num_examples: int
    digest: str  # update_digest() of the update's layers
    base: str  # sha256 of the global model's bytes it trained from (the chain's record of the round before)


@dataclass(frozen=True)
class EvaluationClaim:
    """What the trainer attests of an evaluation reply: how the global model did on its data."""

    KIND: ClassVar[str] = "evaluation"
    chain_id: str
    contract: str
    task_id: int
    round: int
    model: str  # sha256 of the global model's bytes it evaluated
    num_examples: int
    loss: str  # decimal text (6 places): floats have no canonical JSON form
    metric: str  # the task's metric name
    value: str  # its value, decimal text (6 places)


Claim = UpdateClaim | EvaluationClaim
C = TypeVar("C", UpdateClaim, EvaluationClaim)


def payload(claim: Claim) -> bytes:
    """The exact bytes a trainer signs for a claim."""
    return canonical_json({"v": ENVELOPE_VERSION, "kind": claim.KIND, **asdict(claim)})


@dataclass(frozen=True)
class SignedEnvelope:
    claim: Claim
    address: str
    public_key: str  # base64 of the 33-byte compressed secp256k1 key
    signature: str  # base64 of the 64-byte r||s signature

    def payload(self) -> bytes:
        return payload(self.claim)

    def to_record(self) -> dict[str, str | int]:
        """Flat scalar fields, as a Flower ConfigRecord carries them."""
        return {
            **{f"claim.{k}": v for k, v in asdict(self.claim).items()},
            "kind": self.claim.KIND,
            "address": self.address,
            "public_key": self.public_key,
            "signature": self.signature,
            "version": ENVELOPE_VERSION,
        }

    @staticmethod
    def from_record(record: Mapping[str, object], kind: type[C]) -> SignedEnvelope:
        """Read an envelope of this claim kind from a reply, refusing any field of the wrong type (a
        reply is untrusted input)."""
        version = _field(record, "version", int)
        if version != ENVELOPE_VERSION:
            raise EnvelopeError(f"unsupported envelope version {version}")
        if _field(record, "kind", str) != kind.KIND:
            raise EnvelopeError(f"expected a {kind.KIND} claim, got {str(record['kind'])[:40]}")
        values = {f.name: _field(record, f"claim.{f.name}", int if f.type == "int" else str) for f in fields(kind)}
        claim = kind(**values)
        return SignedEnvelope(
            claim,
            _field(record, "address", str),
            _field(record, "public_key", str),
            _field(record, "signature", str),
        )


def _field(record: Mapping[str, object], key: str, kind: type[T]) -> T:
    """One field of the envelope, of exactly this type (a bool is not an int here)."""
    if key not in record:
        raise EnvelopeError(f"envelope field {key!r} is missing")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EnvelopeError(f"envelope field {key!r} must be a {kind.__name__}, got {type(value).__name__}")
    if isinstance(value, str) and len(value) > MAX_FIELD_LENGTH:
        raise EnvelopeError(f"envelope field {key!r} is longer than {MAX_FIELD_LENGTH} characters")
    return value


def canonical_json(value: object) -> bytes:
    """Sorted keys, no spaces, and <, >, & escaped: the amino JSON form wallets sign."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").encode()


def adr036_sign_bytes(signer: str, data: bytes) -> bytes:
    """The ADR-036 StdSignDoc for arbitrary data (empty chain id, zero account number/sequence)."""
    return canonical_json(
        {
            "account_number": "0",
            "chain_id": "",
            "fee": {"amount": [], "gas": "0"},
            "memo": "",
            "msgs": [
                {"type": "sign/MsgSignData", "value": {"data": base64.b64encode(data).decode(), "signer": signer}}
            ],
            "sequence": "0",
        }
    )


def update_digest(names: Sequence[str], arrays: Sequence[np.ndarray]) -> str:
    """sha256 over every layer's name, dtype, shape and little-endian C-order bytes, in order: the
    whole update, so nothing of it can change in transit without breaking the signature."""
    hasher = hashlib.sha256()
    hasher.update(len(arrays).to_bytes(4, "little"))
    for name, array in zip(names, arrays, strict=True):
        contiguous = np.ascontiguousarray(array)
        if contiguous.dtype.byteorder == ">":
            contiguous = contiguous.astype(contiguous.dtype.newbyteorder("<"))
        header = f"{name}|{contiguous.dtype.str}|{','.join(map(str, contiguous.shape))}".encode()
        hasher.update(len(header).to_bytes(4, "little") + header)
        hasher.update(contiguous.reshape(-1).view(np.uint8))  # the bytes in place, not a copy
    return hasher.hexdigest()


def sign(private_key: PrivateKey, claim: Claim, prefix: str = "wasm") -> SignedEnvelope:
    address = str(Address(private_key.public_key, prefix))
    signature = private_key.sign(adr036_sign_bytes(address, payload(claim)))
    return SignedEnvelope(
        claim=claim,
        address=address,
        public_key=base64.b64encode(private_key.public_key.public_key_bytes).decode(),
        signature=base64.b64encode(signature).decode(),
    )


def verify_envelope(envelope: SignedEnvelope, expected: Claim, prefix: str = "wasm") -> str:
    """Check that the envelope signs exactly `expected` with the key of the address it names.

    Returns the trainer address. `expected` is what the verifier computed itself (for an update:
    task, round, the digest of what it received, the model it sent, the reported example count).
    """
    if type(envelope.claim) is not type(expected):
        raise EnvelopeError(f"expected a {expected.KIND} claim, got a {envelope.claim.KIND} claim")
    for field in fields(expected):
        got, want = getattr(envelope.claim, field.name), getattr(expected, field.name)
        if got != want:
            raise EnvelopeError(f"signed {field.name} {str(got)[:80]!r} does not match the reply's {str(want)[:80]!r}")
    try:
        key_bytes = base64.b64decode(envelope.public_key, validate=True)
        signature = base64.b64decode(envelope.signature, validate=True)
    except ValueError:
        raise EnvelopeError("public key or signature is not valid base64") from None
    if len(key_bytes) != 33 or key_bytes[0] not in (2, 3):
        raise EnvelopeError("public key is not a compressed secp256k1 key")
    if len(signature) != 64:
        raise EnvelopeError("signature is not 64 bytes (r||s)")
    if int.from_bytes(signature[32:], "big") > _SECP256K1_ORDER // 2:
        raise EnvelopeError("signature is not in low-S form")
    try:
        public_key = PublicKey(key_bytes)
    except Exception:  # ecdsa raises several types for off-curve points
        raise EnvelopeError("public key is not a point on secp256k1") from None
    derived = str(Address(public_key, prefix))
    if derived != envelope.address:
        raise EnvelopeError(f"public key belongs to {derived}, not to the claimed {envelope.address}")
    if not public_key.verify(adr036_sign_bytes(envelope.address, envelope.payload()), signature):
        raise EnvelopeError("signature does not verify")
    return envelope.address
