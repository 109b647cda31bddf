"""Store and instantiate task_hub on the running localnet, once; record where it lives.

Idempotent: with the same wasm already deployed (and answering) it changes nothing. With new wasm
it migrates the existing contract when the deployer is its chain-level admin and the contract
accepts the migration (same contract, no downgrade, a compatible state layout), so task state and
escrow survive upgrades; otherwise it instantiates a new contract beside the old one, whose tasks
settle under their own rules.

Who the chain-level admin is decides who can ever replace the code that holds the escrow:
- `deployer` (validator0, the default on a localnet): that one key can migrate at will;
- an address: that key (a multisig, say) can migrate;
- `gov`: the chain's governance module, so only a passed proposal can migrate;
- `none`: nobody; the code is final.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from cosmpy.aerial.contract.cosmwasm import create_cosmwasm_migrate_msg
from cosmpy.crypto.address import Address

from chain_config import TASK_HUB_WASM, ContractDefaults, LocalnetConfig
from client_kit.chain import ChainClient, ChainError, ChainErrorKind
from client_kit.keys import wallet_from_mnemonic

ADMIN_CHOICES = ("deployer", "gov", "none")  # or a bech32 address


@dataclass(frozen=True)
class Deployment:
    chain_id: str
    code_id: int
    contract: str
    wasm_sha256: str
    admin: str  # the chain-level admin: an address, or "" when nobody can migrate


def load_deployment(config: LocalnetConfig) -> Deployment | None:
    if not config.deployment_file.exists():
        return None
    return Deployment(**json.loads(config.deployment_file.read_text()))


def module_address(module: str, prefix: str) -> str:
    """A Cosmos SDK module account's address: the first 20 bytes of sha256 of its name."""
    return str(Address(hashlib.sha256(module.encode()).digest()[:20], prefix))


def chain_admin(choice: str, deployer: str, prefix: str) -> str:
    """The address `choice` names as the contract's chain-level admin ("" for none)."""
    if choice == "deployer":
        return deployer
    if choice == "gov":
        return module_address("gov", prefix)
    if choice == "none":
        return ""
    try:
        return str(Address(choice, prefix))
    except (ValueError, RuntimeError):
        raise ChainError(
            ChainErrorKind.NOT_FOUND,
            f"--admin must be deployer, gov, none or a {prefix}1… address, got {choice!r}",
        ) from None


def deploy(
    config: LocalnetConfig,
    wasm: Path = TASK_HUB_WASM,
    defaults: ContractDefaults = ContractDefaults(),
    admin: str = "deployer",
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
    wanted_admin = chain_admin(admin, str(deployer.address()), config.bech32_prefix)
    existing = load_deployment(config)
    if existing and existing.chain_id == config.chain_id and _answers(client, existing.contract):
        if existing.wasm_sha256 == checksum and existing.admin == wanted_admin:
            return existing, "unchanged"
        if existing.admin == str(deployer.address()) == wanted_admin:
            code_id, _ = client.store_code(deployer, wasm)
            migrate = create_cosmwasm_migrate_msg(code_id, {}, existing.contract, deployer.address())
            try:
                client.broadcast(deployer, [migrate])
            except ChainError as error:
                if error.kind != ChainErrorKind.CONTRACT:
                    raise
                # The contract refused (e.g. an incompatible older layout): deploy anew beside it.
            else:
                deployment = Deployment(config.chain_id, code_id, existing.contract, checksum, existing.admin)
                config.deployment_file.write_text(json.dumps(asdict(deployment), indent=2))
                return deployment, "migrated"
    code_id, _ = client.store_code(deployer, wasm)
    treasury = str(wallet_from_mnemonic(config.dev_account("treasury").mnemonic, config.bech32_prefix).address())
    contract, _ = client.instantiate(
        deployer, code_id, defaults.instantiate_message(treasury), defaults.label, admin=wanted_admin or None
    )
    deployment = Deployment(config.chain_id, code_id, contract, checksum, wanted_admin)
    config.deployment_file.write_text(json.dumps(asdict(deployment), indent=2))
    return deployment, "instantiated"


def _answers(client: ChainClient, contract: str) -> bool:
    try:
        client.query_contract(contract, {"config": {}})
    except ChainError:
        return False
    return True
