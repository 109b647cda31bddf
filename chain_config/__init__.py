"""The one typed place for fedchain's chain, node and localnet settings.

Everything that names a version, a port, a denom, a gas price or a dev account lives here, so that
the installer, the localnet scripts, the keeper and the CLI can never disagree about them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from chain_config.test_mnemonics import TEST_ONLY_MNEMONICS

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Versions:
    """Pinned releases of the Go programs fedchain builds from the Go module proxy."""

    wasmd: str = "v0.70.3"
    wasmvm: str = "v3.0.7"
    kubo: str = "v0.43.0"  # v0.43.1 replaces go-libp2p with a fork the proxy does not serve
    go_minimum: str = "1.26.5"  # kubo v0.43 needs 1.26.5; wasmd v0.70 needs 1.25.9


@dataclass(frozen=True)
class ValidatorPorts:
    """Loopback ports of one validator; every validator has its own set."""

    p2p: int
    rpc: int
    abci: int
    grpc: int
    api: int

    def all(self) -> dict[str, int]:
        return {"p2p": self.p2p, "rpc": self.rpc, "abci": self.abci, "grpc": self.grpc, "api": self.api}


@dataclass(frozen=True)
class KuboPorts:
    api: int
    gateway: int
    swarm: int

    def all(self) -> dict[str, int]:
        return {"kubo-api": self.api, "kubo-gateway": self.gateway, "kubo-swarm": self.swarm}


@dataclass(frozen=True)
class DevAccount:
    """A well-known localnet account; its mnemonic is public and test-only."""

    name: str
    mnemonic: str
    genesis_balance: int


@dataclass(frozen=True)
class Network:
    """How to reach one chain: the localnet by default, or any wasmd-compatible network."""

    chain_id: str
    grpc_url: str
    rpc_url: str
    denom: str
    gas_price: Decimal
    bech32_prefix: str = "wasm"
    gas_multiplier: float = 1.4
    tx_timeout_s: float = 30.0


@dataclass(frozen=True)
class LocalnetConfig:
    """Everything needed to create, start and address a localnet.

    `port_offset` shifts every port at once so that a second net (for example the test suite's)
    can run beside a developer's own; `home` is the one ignored folder that holds all state.
    """

    home: Path = REPO_ROOT / ".localnet"
    port_offset: int = 0
    chain_id: str = "fedchain-local-1"
    denom: str = "ufed"
    bech32_prefix: str = "wasm"
    host: str = "127.0.0.1"
    # One address per validator when each runs on a host of its own (a machine, or a network
    # namespace: see localnet.hosts); empty: every validator on `host`. Peers find each other by
    # these addresses, and clients reach validator i at validator_host(i).
    validator_hosts: tuple[str, ...] = ()
    ipfs_host: str = ""  # the Kubo node's address (default: `host`)
    block_time_ms: int = 500
    min_gas_price: Decimal = Decimal("0.025")
    validator_self_stake: int = 100_000_000_000
    validator_balance: int = 1_000_000_000_000
    versions: Versions = field(default_factory=Versions)

    # --- ports ---------------------------------------------------------------------------
    def validator_ports(self, index: int) -> ValidatorPorts:
        base = self.port_offset + 10 * index
        return ValidatorPorts(p2p=26656 + base, rpc=26657 + base, abci=26658 + base, grpc=9090 + base, api=1317 + base)

    @property
    def kubo_ports(self) -> KuboPorts:
        # Kept within 5001-5080 so that nets shifted by multiples of 1000 never overlap.
        return KuboPorts(api=5001 + self.port_offset, gateway=5080 + self.port_offset, swarm=5004 + self.port_offset)

    # --- endpoints -----------------------------------------------------------------------
    def validator_host(self, index: int) -> str:
        return self.validator_hosts[index] if self.validator_hosts else self.host

    @property
    def kubo_host(self) -> str:
        return self.ipfs_host or self.host

    def rpc_url(self, index: int = 0) -> str:
        return f"http://{self.validator_host(index)}:{self.validator_ports(index).rpc}"

    def grpc_url(self, index: int = 0) -> str:
        return f"grpc+http://{self.validator_host(index)}:{self.validator_ports(index).grpc}"

    def rest_url(self, index: int = 0) -> str:
        return f"rest+http://{self.validator_host(index)}:{self.validator_ports(index).api}"

    @property
    def kubo_api_url(self) -> str:
        return f"http://{self.kubo_host}:{self.kubo_ports.api}"

    @property
    def hosts_file(self) -> Path:
        """Where a net laid out over several hosts records its addresses (read by localnet_from_env)."""
        return self.home / "hosts.json"

    def network(self, index: int = 0) -> Network:
        return Network(
            chain_id=self.chain_id,
            grpc_url=self.grpc_url(index),
            rpc_url=self.rpc_url(index),
            denom=self.denom,
            gas_price=self.min_gas_price,
            bech32_prefix=self.bech32_prefix,
        )

    @property
    def gas_price_str(self) -> str:
        return f"{self.min_gas_price}{self.denom}"

    # --- accounts ------------------------------------------------------------------------
    @property
    def dev_accounts(self) -> tuple[DevAccount, ...]:
        """Organization, keeper, treasury and trainers 1-10, all funded in genesis."""
        balances = {"organization": 10**13, "keeper": 10**12, "treasury": 1_000_000}
        names = ["organization", "keeper", "treasury"] + [f"trainer{i}" for i in range(1, 11)]
        return tuple(DevAccount(n, TEST_ONLY_MNEMONICS[n], balances.get(n, 10**11)) for n in names)

    def dev_account(self, name: str) -> DevAccount:
        for account in self.dev_accounts:
            if account.name == name:
                return account
        raise KeyError(f"no localnet dev account named {name!r}")

    @staticmethod
    def validator_mnemonic(index: int) -> str:
        return TEST_ONLY_MNEMONICS[f"validator{index}"]

    # --- paths ---------------------------------------------------------------------------
    def validator_home(self, index: int) -> Path:
        return self.home / f"validator{index}"

    @property
    def kubo_home(self) -> Path:
        return self.home / "kubo"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def deployment_file(self) -> Path:
        return self.home / "deployment.json"


@dataclass(frozen=True)
class ContractDefaults:
    """task_hub instantiate parameters used when fedchain deploys its own contract."""

    label: str = "fedchain-task-hub"
    platform_fee_bps: int = 200
    max_trainers_per_task: int = 1000
    max_rounds: int = 100
    grace_period_secs: int = 120  # after the training deadline, before anyone may settle a stalled task
    claim_window_secs: int = 3600  # after settlement, before what is unclaimed may be swept to the treasury
    max_string_len: int = 256
    max_cid_len: int = 128
    deployer_account: str = "validator0"

    def instantiate_message(self, treasury: str) -> dict[str, object]:
        return {
            "treasury": treasury,
            "fee_bps": self.platform_fee_bps,
            "limits": {
                "max_trainers_per_task": self.max_trainers_per_task,
                "max_rounds": self.max_rounds,
                "grace_period_secs": self.grace_period_secs,
                "claim_window_secs": self.claim_window_secs,
                "max_string_len": self.max_string_len,
                "max_cid_len": self.max_cid_len,
            },
        }


MAX_VALIDATORS = 4
TASK_HUB_WASM = REPO_ROOT / "cosmwasm_contracts" / "artifacts" / "task_hub.wasm"


def cache_dir() -> Path:
    """Per-user cache outside any clone, so fresh CI clones reuse built binaries."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fedchain"


def localnet_from_env() -> LocalnetConfig:
    """The localnet the current process targets: FEDCHAIN_HOME and FEDCHAIN_PORT_OFFSET override."""
    home = os.environ.get("FEDCHAIN_HOME")
    offset = os.environ.get("FEDCHAIN_PORT_OFFSET")
    kwargs: dict[str, object] = {}
    if home:
        kwargs["home"] = Path(home).resolve()
    if offset:
        kwargs["port_offset"] = int(offset)
    config = LocalnetConfig(**kwargs)  # type: ignore[arg-type]
    if config.hosts_file.exists():  # the net was laid out over several hosts: reach each where it is
        layout = json.loads(config.hosts_file.read_text())
        config = replace(config, validator_hosts=tuple(layout["validators"]), ipfs_host=layout["ipfs"])
    return config
