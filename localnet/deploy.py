"""Store and instantiate task_hub on the running localnet, once; record where it lives.

Idempotent: with the same wasm already deployed (and answering) it changes nothing; with new wasm
it stores the code and migrates the existing contract, so task state and escrow survive upgrades.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cosmpy.aerial.contract.cosmwasm import create_cosmwasm_migrate_msg

from chain_config import TASK_HUB_WASM, ContractDefaults, LocalnetConfig
from client_kit.chain import ChainClient, ChainError, ChainErrorKind
from client_kit.keys import wallet_from_mnemonic


@dataclass(frozen=True)
class Deployment:
    chain_id: str
    code_id: int
    contract: str
    wasm_sha256: str
    admin: str


def load_deployment(config: LocalnetConfig) -> Deployment | None:
    if not config.deployment_file.exists():
        return None
    return Deployment(**json.loads(config.deployment_file.read_text()))


def deploy(
    config: LocalnetConfig, wasm: Path = TASK_HUB_WASM, defaults: ContractDefaults = ContractDefaults()
) -> tuple[Deployment, str]:
    """Returns the deployment and what was done: 'unchanged', 'migrated' or 'instantiated'."""
    if not wasm.exists():
        raise ChainError(
            ChainErrorKind.NOT_FOUND,
            f"contract wasm {wasm} is missing: build it with `bash cosmwasm_contracts/build.sh`",
        )
    checksum = hashlib.sha256(wasm.read_bytes()).hexdigest()
    client = ChainClient(config.network())
    deployer = wallet_from_mnemonic(config.validator_mnemonic(0), config.bech32_prefix)
    existing = load_deployment(config)
    if existing and existing.chain_id == config.chain_id and _answers(client, existing.contract):
        if existing.wasm_sha256 == checksum:
            return existing, "unchanged"
        code_id, _ = client.store_code(deployer, wasm)
        migrate = create_cosmwasm_migrate_msg(code_id, {}, existing.contract, deployer.address())
        client.broadcast(deployer, [migrate])
        deployment = Deployment(config.chain_id, code_id, existing.contract, checksum, existing.admin)
        action = "migrated"
    else:
        code_id, _ = client.store_code(deployer, wasm)
        treasury = str(wallet_from_mnemonic(config.dev_account("treasury").mnemonic, config.bech32_prefix).address())
        admin = str(deployer.address())
        contract, _ = client.instantiate(
            deployer, code_id, defaults.instantiate_message(treasury), defaults.label, admin=admin
        )
        deployment = Deployment(config.chain_id, code_id, contract, checksum, admin)
        action = "instantiated"
    config.deployment_file.write_text(json.dumps(asdict(deployment), indent=2))
    return deployment, action


def _answers(client: ChainClient, contract: str) -> bool:
    try:
        client.query_contract(contract, {"config": {}})
    except ChainError:
        return False
    return True
