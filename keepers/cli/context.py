"""Which network, contract, IPFS node and keys a command works with.

Resolution, strongest first: command-line flags, FEDCHAIN_* environment variables, the config file
(`--config`, else ~/.config/fedchain/config.toml if present), then the embedded localnet (its
deployment record supplies the contract). So every command can target any wasmd-compatible network.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import update_wrapper
from pathlib import Path
from typing import Any

import click

from chain_config import LocalnetConfig, Network, localnet_from_env
from client_kit.chain import ChainClient
from client_kit.ipfs import ContentStore, KuboStore, PinataStore
from client_kit.keys import KeyStore
from client_kit.task_hub import Task, TaskHub, TaskNotFound
from keepers.cli.common import CliFailure
from localnet.deploy import load_deployment

DEFAULT_CONFIG = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "fedchain" / "config.toml"
CONFIG_KEYS = {
    "chain_id",
    "node",
    "rpc",
    "denom",
    "gas_price",
    "prefix",
    "contract",
    "ipfs_api",
    "ipfs_backend",
    "keys_dir",
}
IPFS_BACKENDS = ("kubo", "pinata")


@dataclass
class Target:
    network: Network
    contract: str | None
    ipfs_api: str
    keys: KeyStore
    localnet: LocalnetConfig | None
    ipfs_backend: str = "kubo"
    _chain: ChainClient | None = None

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            self._chain = ChainClient(self.network)
        return self._chain

    @property
    def hub(self) -> TaskHub:
        if not self.contract:
            raise CliFailure(
                "no task_hub contract known: pass --contract, or deploy one with `fedchain localnet deploy`"
            )
        return TaskHub(self.chain, self.contract)

    def task(self, task_id: int) -> Task:
        """The task, or a one-line failure naming the chain when it does not exist."""
        try:
            return self.hub.task(task_id)
        except TaskNotFound:
            raise CliFailure(f"task {task_id} does not exist on {self.network.chain_id}") from None

    @property
    def ipfs(self) -> ContentStore:
        """Kubo (the localnet's daemon by default), or Pinata with PINATA_JWT from the environment."""
        if self.ipfs_backend == "pinata":
            return PinataStore()
        return KuboStore(self.ipfs_api)


def _load_config(path: Path | None) -> dict[str, Any]:
    chosen = path or (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if chosen is None:
        return {}
    if not chosen.is_file():
        raise CliFailure(f"config file {chosen} does not exist")
    try:
        data = tomllib.loads(chosen.read_text())
    except tomllib.TOMLDecodeError as error:
        raise CliFailure(f"config file {chosen} is not valid TOML: {error}") from None
    unknown = set(data) - CONFIG_KEYS
    if unknown:
        raise CliFailure(f"config file {chosen} has unknown keys {sorted(unknown)}; known: {sorted(CONFIG_KEYS)}")
    return data


def resolve_target(options: dict[str, Any]) -> Target:
    """Merge flags, environment and config file over the localnet defaults."""
    config = _load_config(options.get("config"))

    def pick(name: str) -> Any:
        flag = options.get(name)
        if flag not in (None, ""):
            return flag
        env = os.environ.get(f"FEDCHAIN_{name.upper()}")
        return env if env not in (None, "") else config.get(name)

    local = localnet_from_env()
    base = local.network()
    custom_node = pick("node") is not None
    try:
        gas_price = Decimal(str(pick("gas_price") or base.gas_price))
    except InvalidOperation:
        raise CliFailure(f"gas price {pick('gas_price')!r} is not a number") from None
    network = Network(
        chain_id=pick("chain_id") or base.chain_id,
        grpc_url=pick("node") or base.grpc_url,
        rpc_url=pick("rpc") or base.rpc_url,
        denom=pick("denom") or base.denom,
        gas_price=gas_price,
        bech32_prefix=pick("prefix") or base.bech32_prefix,
    )
    if not network.grpc_url.startswith(("grpc+http://", "grpc+https://")):
        raise CliFailure(f"--node must be a gRPC URL like grpc+http://127.0.0.1:9090, got {network.grpc_url!r}")
    on_localnet = not custom_node and network.chain_id == local.chain_id
    contract = pick("contract")
    if not contract and on_localnet:
        deployment = load_deployment(local)
        contract = deployment.contract if deployment else None
    ipfs_backend = pick("ipfs_backend") or "kubo"
    if ipfs_backend not in IPFS_BACKENDS:
        raise CliFailure(f"IPFS backend {ipfs_backend!r} is unknown; use one of {', '.join(IPFS_BACKENDS)}")
    keys_dir = Path(pick("keys_dir") or (local.home / "keys" if on_localnet else DEFAULT_CONFIG.parent / "keys"))
    return Target(
        network=network,
        contract=contract,
        ipfs_api=pick("ipfs_api") or local.kubo_api_url,
        keys=KeyStore(keys_dir, network.bech32_prefix, allow_dev_accounts=on_localnet),
        localnet=local if on_localnet else None,
        ipfs_backend=ipfs_backend,
    )


def target_options(command: Any) -> Any:
    """The flags that choose a network; added to the root group."""
    for option in reversed(
        [
            click.option("--config", type=click.Path(path_type=Path), help="TOML config file."),
            click.option("--node", help="gRPC endpoint, e.g. grpc+http://127.0.0.1:9090."),
            click.option("--rpc", help="CometBFT RPC endpoint, e.g. http://127.0.0.1:26657."),
            click.option("--chain-id", help="Chain id (default fedchain-local-1)."),
            click.option("--contract", help="task_hub contract address."),
            click.option("--ipfs-api", help="Kubo RPC API URL (default the localnet's)."),
            click.option(
                "--ipfs-backend",
                type=click.Choice(IPFS_BACKENDS),
                help="Where content is pinned: kubo (default) or pinata (PINATA_JWT from the environment).",
            ),
        ]
    ):
        command = option(command)
    return command


def pass_target(command: Callable[..., Any]) -> Callable[..., Any]:
    """Resolve the target on first use only, so `fedchain localnet ...` never needs one."""

    @click.pass_context
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        root = ctx.find_root()
        if "target" not in root.meta:
            root.meta["target"] = resolve_target(root.meta.get("target_options", {}))
        return ctx.invoke(command, root.meta["target"], *args, **kwargs)

    return update_wrapper(wrapper, command)
