"""The settings of one keeper run of a task, as Flower's run config carries them.

The keeper service writes them (`to_run_config`), `flwr run` passes them to the SuperLink, and the
task's ServerApp reads them back (`from_run_config`): one typed class, so the two ends cannot
drift apart. The keys must also be declared in `keepers/flower_app/pyproject.toml`, which Flower
reads as the app's defaults (a test checks the two agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from chain_config import Network
from keepers.feed import WEB_APP_ORIGINS

RunConfigValue = int | float | str | bool


@dataclass(frozen=True)
class TaskRunConfig:
    """What a keeper run needs beyond the chain's own record of the task."""

    task_id: int
    network: Network
    contract: str
    keeper_key_file: Path
    ipfs_api: str
    connect_timeout: float
    feed_port: int
    validation_dir: Path | None = None  # the keeper's own labelled data, to validate each global model
    federated_evaluation: bool = True
    feed_origins: tuple[str, ...] = WEB_APP_ORIGINS  # web pages allowed to read the live feed
    sandbox: bool = True  # run the task's code for validation confined (bubblewrap); off only where it is missing
    validation_timeout: float = 60.0  # the keeper's limit for the task's code to score one model
    # The SuperLink's Control API on loopback, which lists the key each node authenticates with
    # (`keepers.binding`); set when the run is submitted to that SuperLink (`keepers.runtime`).
    superlink_port: int = 0
    certificate_file: Path | None = None

    def to_run_config(self) -> dict[str, RunConfigValue]:
        return {
            "task-id": self.task_id,
            "chain-id": self.network.chain_id,
            "grpc-url": self.network.grpc_url,
            "rpc-url": self.network.rpc_url,
            "denom": self.network.denom,
            "gas-price": str(self.network.gas_price),
            "prefix": self.network.bech32_prefix,
            "contract": self.contract,
            "keeper-key-file": str(self.keeper_key_file),
            "ipfs-api": self.ipfs_api,
            "connect-timeout": float(self.connect_timeout),
            "feed-port": self.feed_port,
            "validation-dir": str(self.validation_dir or ""),
            "federated-evaluation": self.federated_evaluation,
            "feed-origins": ",".join(self.feed_origins),
            "sandbox": self.sandbox,
            "validation-timeout": float(self.validation_timeout),
            "superlink-port": self.superlink_port,
            "certificate-file": str(self.certificate_file or ""),
        }

    @staticmethod
    def from_run_config(config: Mapping[str, object]) -> TaskRunConfig:
        return TaskRunConfig(
            task_id=int(str(config["task-id"])),
            network=Network(
                chain_id=str(config["chain-id"]),
                grpc_url=str(config["grpc-url"]),
                rpc_url=str(config["rpc-url"]),
                denom=str(config["denom"]),
                gas_price=Decimal(str(config["gas-price"])),
                bech32_prefix=str(config["prefix"]),
            ),
            contract=str(config["contract"]),
            keeper_key_file=Path(str(config["keeper-key-file"])),
            ipfs_api=str(config["ipfs-api"]),
            connect_timeout=float(str(config["connect-timeout"])),
            feed_port=int(str(config["feed-port"])),
            validation_dir=Path(str(config["validation-dir"])) if config.get("validation-dir") else None,
            federated_evaluation=bool(config.get("federated-evaluation", True)),
            feed_origins=tuple(o for o in str(config.get("feed-origins", "")).split(",") if o),
            sandbox=bool(config.get("sandbox", True)),
            validation_timeout=float(str(config.get("validation-timeout", 60.0))),
            superlink_port=int(str(config.get("superlink-port", 0))),
            certificate_file=Path(str(config["certificate-file"])) if config.get("certificate-file") else None,
        )
