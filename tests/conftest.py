"""Fixtures that start the real programs: a wasmd localnet, Kubo, the deployed task_hub.

The suite's nets live in temporary folders on shifted ports, so they never touch a developer's
own `.localnet` (which uses the default ports).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain_config import TASK_HUB_WASM, LocalnetConfig
from client_kit.chain import ChainClient
from client_kit.ipfs import KuboStore
from client_kit.keys import wallet_from_mnemonic
from localnet.deploy import Deployment, deploy
from localnet.network import Localnet

SUITE_PORT_OFFSET = 1000


@pytest.fixture(scope="session")
def localnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    config = LocalnetConfig(home=tmp_path_factory.mktemp("localnet"), port_offset=SUITE_PORT_OFFSET)
    net = Localnet(config)
    net.up(1)
    yield net
    net.down()


@pytest.fixture(scope="session")
def chain(localnet: Localnet) -> ChainClient:
    return ChainClient(localnet.config.network())


@pytest.fixture(scope="session")
def kubo(localnet: Localnet) -> KuboStore:
    return KuboStore(localnet.config.kubo_api_url)


@pytest.fixture(scope="session")
def deployment(localnet: Localnet) -> Deployment:
    if not TASK_HUB_WASM.exists():
        pytest.fail(f"{TASK_HUB_WASM} is missing: run `bash cosmwasm_contracts/build.sh` (setup.sh does)")
    deployed, _ = deploy(localnet.config)
    return deployed


def dev_wallet(config: LocalnetConfig, name: str):
    return wallet_from_mnemonic(config.dev_account(name).mnemonic, config.bech32_prefix)


@pytest.fixture
def scratch_home(tmp_path: Path) -> Path:
    return tmp_path / "net"
