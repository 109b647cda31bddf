"""The keeper's link as trainers meet it: its certificate, the node keys it admits, the gateway that
alone faces the network, and what it publishes on chain. Real SuperLinks, real nginx, real TLS."""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
from pathlib import Path

import httpx
import pytest
from cosmpy.aerial.wallet import LocalWallet
from cosmpy.crypto.keypairs import PrivateKey
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from flwr.clientapp import ClientApp

from client_kit.chain import ChainClient
from client_kit.endpoint import EndpointError, KeeperEndpoint
from client_kit.node import TrainerNode
from client_kit.node_identity import (
    NodeKeyError,
    decode_public_key,
    encode_public_key,
    node_key_statement,
    node_private_key,
    prove,
)
from client_kit.task_hub import TaskHub
from keepers.certificate import ensure_certificate
from keepers.gateway import fleet_routes, nginx_config
from keepers.link import KeeperLink
from keepers.service import KeeperService, KeeperSettings
from localnet.deploy import Deployment
from localnet.processes import free_port
from tests.conftest import dev_wallet

P256_SPKI_HEADER = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_a_node_key_is_derived_per_wallet_and_task_in_the_form_task_hub_accepts() -> None:
    wallet = LocalWallet(PrivateKey(b"\x07" * 32), prefix="fed")
    other = LocalWallet(PrivateKey(b"\x08" * 32), prefix="fed")
    key = node_private_key(wallet, "fedchain-local-1", "fed1contract", 3)
    encoded = encode_public_key(key.public_key())
    der = base64.b64decode(encoded)
    assert len(der) == 91 and der.startswith(P256_SPKI_HEADER + b"\x04")  # what validation::node_public_key takes
    same = node_private_key(wallet, "fedchain-local-1", "fed1contract", 3)
    assert same.private_numbers() == key.private_numbers()  # nothing to store: the wallet gives it back
    for different in (
        node_private_key(wallet, "fedchain-local-1", "fed1contract", 4),
        node_private_key(wallet, "other-chain", "fed1contract", 3),
        node_private_key(other, "fedchain-local-1", "fed1contract", 3),
    ):
        assert different.private_numbers() != key.private_numbers()
    assert encode_public_key(decode_public_key(encoded)) == encoded
    # The proof task_hub checks: the node key's signature (r||s, low s) of contract, task and trainer.
    claim = prove(key, "fed1contract", 3, "fed1trainer")
    assert claim.public_key == encoded
    signature = base64.b64decode(claim.proof)
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    assert len(signature) == 64 and s <= P256_ORDER // 2
    statement = node_key_statement("fed1contract", 3, "fed1trainer")
    key.public_key().verify(encode_dss_signature(r, s), statement, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):  # not a proof for another trainer
        key.public_key().verify(
            encode_dss_signature(r, s), node_key_statement("fed1contract", 3, "fed1other"), ec.ECDSA(hashes.SHA256())
        )
    secp256k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    for bad in ("not base64!", base64.b64encode(b"\x30\x03abc").decode(), encode_public_key(secp256k1)):
        with pytest.raises(NodeKeyError):
            decode_public_key(bad)


def test_the_certificate_names_its_hosts_and_is_renewed_only_when_they_change(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path, ["10.0.0.5"])
    assert first.names() == {"10.0.0.5", "127.0.0.1", "localhost"}
    der = ssl.PEM_cert_to_DER_cert(first.pem.decode())
    assert first.sha256 == hashlib.sha256(der).hexdigest()
    assert first.key_file.stat().st_mode & 0o777 == 0o600
    fingerprint = first.sha256
    assert ensure_certificate(tmp_path, ["10.0.0.5"]).sha256 == fingerprint  # kept across restarts
    moved = ensure_certificate(tmp_path, ["keeper.example.org"])
    assert moved.sha256 != fingerprint and "keeper.example.org" in moved.names()


def test_the_gateway_passes_fleet_routes_only_to_their_normalized_path(tmp_path: Path) -> None:
    routes = fleet_routes()
    assert {"register-node", "activate-node", "pull-messages", "push-object"} <= set(routes)
    config = nginx_config("10.0.0.5:9443", 9092, ensure_certificate(tmp_path, []), tmp_path)
    assert "listen 10.0.0.5:9443 ssl;" in config and "proxy_ssl_verify on;" in config
    assert "control" not in config and "location / { return 404; }" in config
    assert "location = /v1/fleet/push-object {\n      client_max_body_size 6m;" in config
    assert "client_max_body_size 1m;" in config and "limit_conn per_address 32;" in config


@pytest.mark.slow
def test_across_the_gateway_only_admitted_nodes_connect_and_control_stays_on_loopback(tmp_path: Path) -> None:
    public = f"127.0.0.1:{free_port()}"
    link = KeeperLink(free_port(), tmp_path / "keeper", public=public)
    trainer_key = ec.generate_private_key(ec.SECP256R1())
    try:
        link.ensure_running()
        sha = link.certificate.sha256
        assert link.endpoint == KeeperEndpoint(public, sha)
        pinned = ssl.create_default_context(cadata=link.certificate.pem.decode())

        # The Control API (start-run executes code as the keeper) answers on loopback only.
        direct = httpx.post(f"https://127.0.0.1:{link.port}/v1/control/list-runs", verify=pinned, content=b"")
        assert direct.status_code != 404
        for path in ("/v1/control/list-runs", "/v1/control/start-run", "/v1/fleet/../control/start-run",
                     "/v1/fleet/%2e%2e/control/start-run", "/v1/fleetx/pull-messages", "/health"):  # fmt: skip
            answer = httpx.post(f"https://{public}{path}", verify=pinned, content=b"")
            assert answer.status_code == 404, (path, answer.status_code)

        # Review: the SuperLink reads a whole body before it checks the node's signature, so the
        # gateway bounds what a stranger can send: small bodies except an object push (one chunk).
        too_big = httpx.post(f"https://{public}/v1/fleet/pull-messages", verify=pinned, content=b"x" * 2_000_000)
        assert too_big.status_code == 413
        assert (
            httpx.post(f"https://{public}/v1/fleet/push-object", verify=pinned, content=b"x" * 7_000_000).status_code
            == 413
        )

        # A node whose key nobody staked is refused; once admitted, it connects through the gateway.
        node = TrainerNode(ClientApp(), public, {}, certificate_sha256=sha, node_key=trainer_key)
        with pytest.raises(ConnectionError, match="did not admit this node"):
            node.run(threading.Event(), connect_timeout=2.0)
        change = link.admit({encode_public_key(trainer_key.public_key()): "fed1trainer"})
        assert change.admitted == ["fed1trainer"] and not change.refused
        connected: list[int] = []
        stop = threading.Event()
        node.on_connect = lambda node_id: (connected.append(node_id), stop.set())
        node.run(stop, connect_timeout=20.0)
        assert connected and connected[0] > 0
        # Dismissed (left or slashed): refused again.
        assert link.admit({}).dismissed == ["fed1trainer"]
        with pytest.raises(ConnectionError, match="did not admit this node"):
            node.run(threading.Event(), connect_timeout=2.0)
        # A key that is no P-256 point admits nobody and is reported.
        assert link.admit({"AAAA": "fed1bad"}).refused[0].startswith("fed1bad: ")

        # Pinning: the gateway's certificate is the chain's; any other fingerprint is refused.
        presented = KeeperEndpoint(public, sha).pinned_certificate().decode()
        assert ssl.PEM_cert_to_DER_cert(presented) == ssl.PEM_cert_to_DER_cert(link.certificate.pem.decode())
        with pytest.raises(EndpointError, match="refusing it"):
            KeeperEndpoint(public, "0" * 64).pinned_certificate()
        with pytest.raises(EndpointError, match="registered no TLS certificate"):
            KeeperEndpoint(public, None).pinned_certificate()
    finally:
        link.stop()


@pytest.mark.localnet
def test_the_keeper_publishes_its_endpoint_and_a_rotated_certificate_on_chain(
    localnet, chain: ChainClient, deployment: Deployment, tmp_path: Path
) -> None:
    """The chain is the root of trust: at start the keeper's service makes its profile name its
    endpoint and certificate; a new certificate (rotation) reaches the profile the same way, with
    the keeper's name and fee kept. Trainers read both from there (client_kit.preflight)."""
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    keeper = dev_wallet(config, "keeper")
    hub.register_keeper(keeper, "Rotating keeper", "127.0.0.1:1", fee_bps=150)

    def service() -> KeeperService:
        settings = KeeperSettings(
            superlink_port=free_port(),
            workdir=tmp_path / "keeper",
            keeper_key_file=tmp_path / "unused.mnemonic",
            ipfs_api=config.kubo_api_url,
            public_endpoint="127.0.0.1:9443",
        )
        return KeeperService(chain, hub, keeper, settings, report=lambda line: None)

    first = service()
    first.publish_endpoint()
    profile = hub.profile(str(keeper.address()))
    assert profile is not None and profile.keeper is not None
    assert (profile.keeper.endpoint, profile.keeper.tls_cert_sha256) == (
        "127.0.0.1:9443",
        first.link.certificate.sha256,
    )
    old = first.link.certificate.sha256
    first.link.certificate.cert_file.unlink()  # rotated: the next start makes a new one
    second = service()
    assert second.link.certificate.sha256 != old
    second.publish_endpoint()
    profile = hub.profile(str(keeper.address()))
    assert profile is not None and profile.keeper is not None
    assert profile.keeper.tls_cert_sha256 == second.link.certificate.sha256
    assert (profile.name, profile.keeper.fee_bps, profile.keeper.endpoint) == ("Rotating keeper", 150, "127.0.0.1:9443")
