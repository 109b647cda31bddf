"""Write a fresh localnet's files: validator keys, genesis, node configs, and the Kubo repo.

Everything here happens once, before any process starts (`localnet.network` runs the processes).
Every node binds ports of its own on its host (loopback unless the net is laid out over several
hosts) and knows its siblings as fixed peers by address; Kubo joins no public network.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import tomlkit
from cosmpy.aerial.wallet import LocalWallet

from chain_config import MAX_VALIDATORS, LocalnetConfig
from localnet.errors import LocalnetError
from localnet.install import ensure_kubo, ensure_wasmd, wasmd_env


def write_network(cfg: LocalnetConfig, validators: int) -> None:
    """Genesis and node configs for a fresh net of `validators` validators, funded dev accounts included."""
    if validators not in (1, MAX_VALIDATORS):
        raise LocalnetError(f"--validators must be 1 or {MAX_VALIDATORS}, got {validators}")
    cfg.home.mkdir(parents=True, exist_ok=True)
    homes = [cfg.validator_home(i) for i in range(validators)]
    for i, home in enumerate(homes):
        _wasmd(cfg, "init", f"validator{i}", "--chain-id", cfg.chain_id, "--default-denom", cfg.denom, home=home)
        _wasmd(
            cfg,
            "keys",
            "add",
            "validator",
            "--recover",
            "--keyring-backend",
            "test",
            home=home,
            stdin=cfg.validator_mnemonic(i) + "\n",
        )
    genesis_home = homes[0]
    accounts = [
        (_address(cfg.validator_mnemonic(i), cfg.bech32_prefix), cfg.validator_balance) for i in range(validators)
    ] + [(_address(a.mnemonic, cfg.bech32_prefix), a.genesis_balance) for a in cfg.dev_accounts]
    for address, amount in accounts:
        _wasmd(cfg, "genesis", "add-genesis-account", address, f"{amount}{cfg.denom}", home=genesis_home)
    _shorten_governance(genesis_home / "config" / "genesis.json")
    gentx_dir = genesis_home / "config" / "gentx"
    gentx_dir.mkdir(exist_ok=True)
    for i, home in enumerate(homes):
        if i > 0:
            shutil.copyfile(genesis_home / "config" / "genesis.json", home / "config" / "genesis.json")
        _wasmd(
            cfg,
            "genesis",
            "gentx",
            "validator",
            f"{cfg.validator_self_stake}{cfg.denom}",
            "--chain-id",
            cfg.chain_id,
            "--keyring-backend",
            "test",
            "--moniker",
            f"validator{i}",
            "--ip",
            cfg.validator_host(i),
            "--p2p-port",
            str(cfg.validator_ports(i).p2p),
            "--output-document",
            str(gentx_dir / f"gentx-validator{i}.json"),
            home=home,
        )
    _wasmd(cfg, "genesis", "collect-gentxs", home=genesis_home)
    _wasmd(cfg, "genesis", "validate", home=genesis_home)
    node_ids = [_wasmd(cfg, "comet", "show-node-id", home=h).strip() for h in homes]
    for i, home in enumerate(homes):
        if i > 0:
            shutil.copyfile(genesis_home / "config" / "genesis.json", home / "config" / "genesis.json")
        peers = ",".join(
            f"{node_ids[j]}@{cfg.validator_host(j)}:{cfg.validator_ports(j).p2p}" for j in range(validators) if j != i
        )
        _configure_node(home, cfg, i, peers)


def write_hosts_file(cfg: LocalnetConfig) -> None:
    """Record where a net laid out over several hosts runs (read back by localnet_from_env)."""
    if cfg.validator_hosts:
        layout = {"validators": list(cfg.validator_hosts), "ipfs": cfg.kubo_host}
        cfg.hosts_file.write_text(json.dumps(layout))


def kubo_env(cfg: LocalnetConfig) -> dict[str, str]:
    """The environment every Kubo command of this net runs with: its repo, and no telemetry."""
    env = dict(os.environ)
    env["IPFS_PATH"] = str(cfg.kubo_home)
    env["IPFS_TELEMETRY"] = "off"
    env["DO_NOT_TRACK"] = "1"
    return env


def write_kubo_repo(cfg: LocalnetConfig) -> None:
    """A Kubo repo bound to loopback, with no bootstrap peers, no routing and no telemetry."""
    env = kubo_env(cfg)
    binary = str(ensure_kubo(cfg.versions))
    commands = [
        ["init", "--profile", "test", "--empty-repo"],
        ["config", "Addresses.API", f"/ip4/{cfg.kubo_host}/tcp/{cfg.kubo_ports.api}"],
        ["config", "Addresses.Gateway", f"/ip4/{cfg.kubo_host}/tcp/{cfg.kubo_ports.gateway}"],
        ["config", "--json", "Addresses.Swarm", json.dumps([f"/ip4/{cfg.kubo_host}/tcp/{cfg.kubo_ports.swarm}"])],
        ["config", "Routing.Type", "none"],
        ["config", "Plugins.Plugins.telemetry.Config.Mode", "off"],
    ]
    for args in commands:
        out = subprocess.run([binary, *args], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise LocalnetError(f"ipfs {' '.join(args[:2])} failed: {out.stderr.strip()}")


def _wasmd(cfg: LocalnetConfig, *args: str, home: Path, stdin: str | None = None) -> str:
    out = subprocess.run(
        [str(ensure_wasmd(cfg.versions)), *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        env=wasmd_env(cfg.versions),
    )
    if out.returncode != 0:
        raise LocalnetError(f"wasmd {' '.join(args[:2])} failed: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def _address(mnemonic: str, prefix: str) -> str:
    return str(LocalWallet.from_mnemonic(mnemonic, prefix).address())


def _shorten_governance(path: Path) -> None:
    """Governance periods of a minute or less, so a proposal (e.g. a contract migration by the
    governance module) passes within a test."""
    genesis = json.loads(path.read_text())
    gov = genesis["app_state"].get("gov", {}).get("params", {})
    if gov:
        gov["voting_period"] = "60s"
        gov["expedited_voting_period"] = "30s"
        gov["max_deposit_period"] = "60s"
    path.write_text(json.dumps(genesis, indent=1))


def _configure_node(home: Path, cfg: LocalnetConfig, index: int, peers: str) -> None:
    """Its host's ports, fast blocks, no telemetry, fixed peers: the node talks only to its siblings.
    The ABCI socket between CometBFT and the app stays on loopback."""
    ports = cfg.validator_ports(index)
    host = cfg.validator_host(index)
    config_path = home / "config" / "config.toml"
    doc = tomlkit.parse(config_path.read_text())
    doc["moniker"] = f"validator{index}"
    doc["proxy_app"] = f"tcp://127.0.0.1:{ports.abci}"
    doc["rpc"]["laddr"] = f"tcp://{host}:{ports.rpc}"
    doc["rpc"]["pprof_laddr"] = ""
    doc["rpc"]["cors_allowed_origins"] = ["*"]  # the web app reads the chain from the browser
    doc["p2p"]["laddr"] = f"tcp://{host}:{ports.p2p}"
    doc["p2p"]["persistent_peers"] = peers
    doc["p2p"]["seeds"] = ""
    doc["p2p"]["pex"] = False
    doc["p2p"]["addr_book_strict"] = False
    doc["p2p"]["allow_duplicate_ip"] = True
    doc["p2p"]["external_address"] = ""
    consensus = doc["consensus"]
    consensus["timeout_commit"] = f"{cfg.block_time_ms}ms"
    for key in ("timeout_propose", "timeout_prevote", "timeout_precommit"):
        if key in consensus:
            consensus[key] = "1s"
    doc["instrumentation"]["prometheus"] = False
    config_path.write_text(tomlkit.dumps(doc))

    app_path = home / "config" / "app.toml"
    app = tomlkit.parse(app_path.read_text())
    app["minimum-gas-prices"] = cfg.gas_price_str
    app["api"]["enable"] = True
    app["api"]["address"] = f"tcp://{host}:{ports.api}"
    app["api"]["enabled-unsafe-cors"] = True  # loopback-only REST, read by the web app in the browser
    app["grpc"]["enable"] = True
    app["grpc"]["address"] = f"{host}:{ports.grpc}"
    if "telemetry" in app:
        app["telemetry"]["enabled"] = False
    app_path.write_text(tomlkit.dumps(app))
