"""Ground: the real wasmd localnet, Kubo, and the contract on chain through cosmpy."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from chain_config import LocalnetConfig
from client_kit.chain import ChainClient, ChainError, ChainErrorKind
from client_kit.ipfs import IpfsError, KuboStore, fetch_to_file, file_sha256, sha256_hex
from localnet.deploy import Deployment, deploy
from localnet.network import Localnet
from tests.conftest import dev_wallet


def _cli(config: LocalnetConfig, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FEDCHAIN_HOME=str(config.home), FEDCHAIN_PORT_OFFSET=str(config.port_offset))
    return subprocess.run(
        [sys.executable, "-m", "keepers.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_blocks_advance_and_bank_send_moves_exactly_amount_plus_fee(localnet: Localnet, chain: ChainClient) -> None:
    config = localnet.config
    start = localnet.height()
    assert localnet.wait_for_height(start + 2, timeout=20) >= start + 2

    sender, receiver = dev_wallet(config, "organization"), dev_wallet(config, "trainer10")
    sender_before = chain.balance(str(sender.address()))
    receiver_before = chain.balance(str(receiver.address()))
    result = chain.send(sender, str(receiver.address()), 12_345)

    assert result.fee > 0
    assert result.attribute("tx", "fee") == f"{result.fee}{config.denom}"
    assert chain.balance(str(sender.address())) == sender_before - 12_345 - result.fee
    assert chain.balance(str(receiver.address())) == receiver_before + 12_345


def test_block_time_is_at_most_one_second(localnet: Localnet) -> None:
    first = localnet.rpc("block")["block"]["header"]
    localnet.wait_for_height(int(first["height"]) + 10, timeout=30)
    last = localnet.rpc(f"block?height={int(first['height']) + 10}")["block"]["header"]
    from datetime import datetime

    def parse(stamp: str) -> float:
        return datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()

    assert (parse(last["time"]) - parse(first["time"])) / 10 <= 1.0


def test_contract_store_instantiate_execute_query(
    localnet: Localnet, chain: ChainClient, deployment: Deployment
) -> None:
    config = localnet.config
    assert deployment.code_id > 0 and deployment.contract.startswith(config.bech32_prefix)
    on_chain = chain.query_contract(deployment.contract, {"config": {}})
    treasury = str(dev_wallet(config, "treasury").address())
    assert on_chain["treasury"] == treasury
    assert on_chain["fee_bps"] == 200

    trainer = dev_wallet(config, "trainer9")
    result = chain.execute(
        trainer, deployment.contract, {"register": {"name": "ground-test", "organization": False, "trainer": True}}
    )
    assert {"action": "register"}.items() <= result.wasm_attributes()[0].items()
    profile = chain.query_contract(deployment.contract, {"profile": {"address": str(trainer.address())}})
    assert profile["name"] == "ground-test" and profile["is_trainer"] and not profile["is_organization"]

    again, action = deploy(config)
    assert action == "unchanged" and again == deployment


def test_contract_rejection_is_a_clear_error_and_changes_nothing(
    localnet: Localnet, chain: ChainClient, deployment: Deployment
) -> None:
    org = dev_wallet(localnet.config, "trainer8")  # an account no other test registers
    before = chain.balance(str(org.address()))
    with pytest.raises(ChainError) as raised:
        chain.execute(org, deployment.contract, {"register": {"name": "", "organization": True, "trainer": False}})
    assert raised.value.kind == ChainErrorKind.CONTRACT
    assert "name" in str(raised.value).lower()
    assert chain.balance(str(org.address())) == before  # failed simulation: nothing was broadcast
    assert chain.query_contract(deployment.contract, {"profile": {"address": str(org.address())}}) is None


def test_node_down_is_reported_plainly(localnet: Localnet) -> None:
    dead = LocalnetConfig(home=localnet.config.home, port_offset=4321).network()
    with pytest.raises(ChainError) as raised:
        ChainClient(dead).height()
    assert raised.value.kind == ChainErrorKind.NODE_DOWN
    assert "unreachable" in str(raised.value)


def test_kubo_add_and_cat_roundtrip_with_cid_v1(kubo: KuboStore, tmp_path: Path) -> None:
    data = os.urandom(300_000)  # larger than one chunk: exercises the DAG, not just a raw block
    pinned = kubo.add(data, name="blob.bin")
    assert kubo.cat(pinned.cid) == data
    assert pinned.cid.startswith("b")  # multibase base32 => CIDv1
    raw = base64.b32decode(pinned.cid[1:].upper() + "=" * (-len(pinned.cid[1:]) % 8))
    assert raw[0] == 0x01  # CID version byte
    assert kubo.is_pinned(pinned.cid)

    target = fetch_to_file(kubo, pinned.cid, sha256_hex(data), tmp_path / "out.bin")
    assert target.read_bytes() == data
    with pytest.raises(IpfsError, match="does not match"):
        fetch_to_file(kubo, pinned.cid, sha256_hex(b"something else"), tmp_path / "refused.bin")
    assert not (tmp_path / "refused.bin").exists()


def test_cli_up_on_running_net_reports_and_status_shows_the_net(localnet: Localnet) -> None:
    up = _cli(localnet.config, "localnet", "up")
    assert up.returncode == 0, up.stderr
    assert "already running" in up.stdout

    status = _cli(localnet.config, "localnet", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["chain_id"] == "fedchain-local-1"
    assert data["nodes"][0]["running"] and data["nodes"][0]["height"] > 0
    assert [v["voting_power"] for v in data["validators"]] == [localnet.config.validator_self_stake // 10**6]
    assert data["kubo"]["peer_id"].startswith("12D3")


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_up_with_a_taken_port_names_it_and_leaves_no_processes(tmp_path: Path) -> None:
    config = LocalnetConfig(home=tmp_path / "net", port_offset=3000)
    taken = config.validator_ports(0).rpc
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", taken))
        blocker.listen()
        result = _cli(config, "localnet", "up")
    assert result.returncode == 1
    assert f"port {taken}" in result.stderr
    assert _processes_mentioning(str(config.home)) == []


@pytest.mark.slow
def test_four_validators_keep_going_with_one_down_and_it_catches_up(tmp_path: Path) -> None:
    net = Localnet(LocalnetConfig(home=tmp_path / "net4", port_offset=2000))
    try:
        net.up(4)
        validators = net.validators()
        assert len(validators) == 4
        assert len({v["voting_power"] for v in validators}) == 1

        assert net.stop_validator(3)
        stopped_at = net.height(0)
        assert net.wait_for_height(stopped_at + 5, index=0, timeout=60) >= stopped_at + 5

        net.start_validator(3)
        target = net.height(0)
        assert net.wait_for_height(target, index=3, timeout=90) >= target
        synced_at = net.wait_until_synced(3)
        assert net.wait_for_height(synced_at + 3, index=3, timeout=30) >= synced_at + 3  # follows new blocks
    finally:
        net.down()


def test_a_large_checkpoint_is_streamed_both_ways_never_held_whole(kubo: KuboStore, tmp_path: Path) -> None:
    """Models larger than one IPFS block go through Kubo's chunked add from a file and come back to
    a file, hashed on the way: Python's peak allocation stays a few chunks, not the 48 MiB model."""
    source = tmp_path / "model.safetensors"
    with open(source, "wb") as handle:
        for _ in range(48):
            handle.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        pinned = kubo.add_file(source)
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fetched = fetch_to_file(kubo, pinned.cid, file_sha256(source), tmp_path / "fetched.safetensors")
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pinned.size >= 48 << 20 and pinned.sha256 == file_sha256(source)
    assert file_sha256(fetched) == pinned.sha256
    assert upload_peak < 8 << 20 and download_peak < 8 << 20, (upload_peak, download_peak)
    with pytest.raises(IpfsError, match="does not match"):
        fetch_to_file(kubo, pinned.cid, sha256_hex(b"another model"), tmp_path / "refused.safetensors")
    assert not (tmp_path / "refused.safetensors").exists() and not list(tmp_path.glob("*.partial"))
