"""The keeper's run settings survive Flower's run config, and the app bundle declares every key."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from chain_config import Network
from keepers.run_config import TaskRunConfig
from keepers.runtime import APP_DIR

RUN = TaskRunConfig(
    task_id=12,
    network=Network("other-chain-3", "grpc+https://node.example:9090", "https://rpc.example", "uatom", Decimal("0.1")),
    contract="wasm1contract",
    keeper_key_file=Path("/keys/keeper.mnemonic"),
    ipfs_api="http://127.0.0.1:5001",
    connect_timeout=30.0,
    feed_port=8765,
    validation_dir=Path("/data/held-out"),
    federated_evaluation=False,
    validation_timeout=12.5,
)


def test_settings_survive_the_run_config_both_ways() -> None:
    assert TaskRunConfig.from_run_config(RUN.to_run_config()) == RUN
    without_validation = TaskRunConfig(**{**RUN.__dict__, "validation_dir": None})
    assert TaskRunConfig.from_run_config(without_validation.to_run_config()).validation_dir is None


def test_the_app_bundle_declares_exactly_the_run_config_keys() -> None:
    declared = tomllib.loads((APP_DIR / "pyproject.toml").read_text())["tool"]["flwr"]["app"]["config"]
    assert set(declared) == set(RUN.to_run_config())
    for key, value in RUN.to_run_config().items():  # Flower refuses an override of another type
        assert type(declared[key]) is type(value), key
