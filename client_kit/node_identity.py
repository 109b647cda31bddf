"""A trainer's Flower node key: the key the keeper's SuperLink admits, named on chain at JoinTask.

Flower authenticates a SuperNode by a P-256 key pair: every Fleet request carries the node's public
key and its signature of the current time, and a SuperLink with node authentication enabled answers
only keys registered with it. The keeper registers exactly the keys its task's joined, unslashed
trainers named on chain, so a node nobody staked for cannot even register.

The key is derived from the trainer's wallet key, the chain, the contract and the task (HKDF-SHA256):
nothing new to store or lose, the same key after a restart or on another machine holding the same
wallet, a different key for every task (one task's key says nothing about another's), and a
compromised node key never reveals the wallet key. On chain it is base64 of the key's DER
SubjectPublicKeyInfo (91 bytes), named together with a proof: the node key's own signature of
(contract, task, trainer), which task_hub verifies, so nobody can name (and so block) a key whose
private half it does not hold.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cosmpy.aerial.wallet import LocalWallet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The order of P-256's base point: a derived scalar is reduced into [1, order - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class NodeKeyError(ValueError):
    """A node key on chain that is not a P-256 public key."""


def node_private_key(wallet: LocalWallet, chain_id: str, contract: str, task_id: int) -> ec.EllipticCurvePrivateKey:
    """The Flower node key of `wallet` for one task (deterministic, see the module docstring)."""
    secret = wallet.signer().private_key_bytes
    info = f"fedchain flower node key v1|{chain_id}|{contract}|{task_id}".encode()
    material = HKDF(algorithm=hashes.SHA256(), length=48, salt=None, info=info).derive(secret)
    scalar = int.from_bytes(material, "big") % (_P256_ORDER - 1) + 1  # 384 bits reduced: no visible bias
    return ec.derive_private_key(scalar, ec.SECP256R1())


def encode_public_key(key: ec.EllipticCurvePublicKey) -> str:
    """The on-chain form: base64 of the DER SubjectPublicKeyInfo."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def decode_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """A node key from chain; raises NodeKeyError unless it is a point on P-256."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(value, validate=True))
    except ValueError as error:
        raise NodeKeyError(f"not a public key: {error}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise NodeKeyError("not a P-256 public key")
    return key


@dataclass(frozen=True)
class NodeKeyClaim:
    """What JoinTask and SetNodeKey carry: the node key, and its proof."""

    public_key: str
    proof: str


def node_key_statement(contract: str, task_id: int, trainer: str) -> bytes:
    """What the proof signs (task_hub's `validation::node_key_statement`)."""
    return f"fedchain node key v1\n{contract}\n{task_id}\n{trainer}".encode()


def prove(key: ec.EllipticCurvePrivateKey, contract: str, task_id: int, trainer: str) -> NodeKeyClaim:
    """The claim that `trainer` names `key` in the task: ECDSA P-256 over SHA-256 of the statement,
    as r||s (64 bytes, low s) in base64, which the contract checks with secp256r1_verify."""
    der = key.sign(node_key_statement(contract, task_id, trainer), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    s = min(s, _P256_ORDER - s)
    proof = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode("ascii")
    return NodeKeyClaim(encode_public_key(key.public_key()), proof)


def claim_for(wallet: LocalWallet, chain_id: str, contract: str, task_id: int) -> NodeKeyClaim:
    """The node key a trainer names when it joins a task, with its proof."""
    key = node_private_key(wallet, chain_id, contract, task_id)
    return prove(key, contract, task_id, str(wallet.address()))
