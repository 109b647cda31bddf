"""Create, start, stop and inspect a 1- or 4-validator wasmd localnet plus a Kubo daemon.

All state lives under `LocalnetConfig.home`: one folder per validator, the Kubo repo, logs, pid
files and the deployment record. Every process binds loopback ports of its own; nothing dials out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import tomlkit
from cosmpy.aerial.wallet import LocalWallet

from chain_config import MAX_VALIDATORS, LocalnetConfig
from localnet.install import ensure_kubo, ensure_wasmd, wasmd_env


class LocalnetError(RuntimeError):
    """A localnet operation failed; the message names the cause and, where useful, the log file."""


@dataclass(frozen=True)
class NodeStatus:
    index: int
    running: bool
    height: int | None
    catching_up: bool | None
    rpc: str


class Localnet:
    """One localnet described by a LocalnetConfig; the methods are the `fedchain localnet` verbs."""

    def __init__(self, config: LocalnetConfig) -> None:
        self.config = config

    # --- layout --------------------------------------------------------------------------
    @property
    def _meta_file(self) -> Path:
        return self.config.home / "network.json"

    def validator_count(self) -> int:
        """Validators of the existing net, or 0 when none was created."""
        if not self._meta_file.exists():
            return 0
        return int(json.loads(self._meta_file.read_text())["validators"])

    def _pid_file(self, name: str) -> Path:
        return self.config.home / "pids" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.config.logs_dir / f"{name}.log"

    # --- process helpers -----------------------------------------------------------------
    def _pid(self, name: str) -> int | None:
        path = self._pid_file(name)
        if not path.exists():
            return None
        pid = int(path.read_text().strip())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        if _is_zombie(pid):
            return None
        return pid

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        self._pid_file(name).parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_file(name), "ab")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        self._pid_file(name).write_text(str(process.pid))
        return process

    def _stop(self, name: str, timeout: float = 15.0) -> bool:
        pid = self._pid(name)
        self._pid_file(name).unlink(missing_ok=True)
        if pid is None:
            return False
        _terminate(pid, timeout)
        return True

    # --- creation ------------------------------------------------------------------------
    def _wasmd(self, *args: str, home: Path, stdin: str | None = None) -> str:
        binary = ensure_wasmd(self.config.versions)
        out = subprocess.run(
            [str(binary), *args, "--home", str(home)],
            input=stdin,
            capture_output=True,
            text=True,
            env=wasmd_env(self.config.versions),
        )
        if out.returncode != 0:
            raise LocalnetError(f"wasmd {' '.join(args[:2])} failed: {out.stderr.strip() or out.stdout.strip()}")
        return out.stdout

    def create(self, validators: int) -> None:
        """Write genesis and node configs for a fresh net with `validators` validators."""
        cfg = self.config
        if validators not in (1, MAX_VALIDATORS):
            raise LocalnetError(f"--validators must be 1 or {MAX_VALIDATORS}, got {validators}")
        cfg.home.mkdir(parents=True, exist_ok=True)
        homes = [cfg.validator_home(i) for i in range(validators)]
        for i, home in enumerate(homes):
            self._wasmd("init", f"validator{i}", "--chain-id", cfg.chain_id, "--default-denom", cfg.denom, home=home)
            self._wasmd(
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
            self._wasmd("genesis", "add-genesis-account", address, f"{amount}{cfg.denom}", home=genesis_home)
        _tune_genesis(genesis_home / "config" / "genesis.json", cfg)
        gentx_dir = genesis_home / "config" / "gentx"
        gentx_dir.mkdir(exist_ok=True)
        for i, home in enumerate(homes):
            if i > 0:
                shutil.copyfile(genesis_home / "config" / "genesis.json", home / "config" / "genesis.json")
            self._wasmd(
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
                cfg.host,
                "--p2p-port",
                str(cfg.validator_ports(i).p2p),
                "--output-document",
                str(gentx_dir / f"gentx-validator{i}.json"),
                home=home,
            )
        self._wasmd("genesis", "collect-gentxs", home=genesis_home)
        self._wasmd("genesis", "validate", home=genesis_home)
        node_ids = [self._wasmd("comet", "show-node-id", home=h).strip() for h in homes]
        for i, home in enumerate(homes):
            if i > 0:
                shutil.copyfile(genesis_home / "config" / "genesis.json", home / "config" / "genesis.json")
            peers = ",".join(
                f"{node_ids[j]}@{cfg.host}:{cfg.validator_ports(j).p2p}" for j in range(validators) if j != i
            )
            _configure_node(home, cfg, i, peers)
        self._meta_file.write_text(json.dumps({"validators": validators, "chain_id": cfg.chain_id}))

    def _create_kubo(self) -> None:
        cfg = self.config
        env = self._kubo_env()
        binary = str(ensure_kubo(cfg.versions))
        commands = [
            ["init", "--profile", "test", "--empty-repo"],
            ["config", "Addresses.API", f"/ip4/{cfg.host}/tcp/{cfg.kubo_ports.api}"],
            ["config", "Addresses.Gateway", f"/ip4/{cfg.host}/tcp/{cfg.kubo_ports.gateway}"],
            ["config", "--json", "Addresses.Swarm", json.dumps([f"/ip4/{cfg.host}/tcp/{cfg.kubo_ports.swarm}"])],
            ["config", "Routing.Type", "none"],
            ["config", "Plugins.Plugins.telemetry.Config.Mode", "off"],
        ]
        for args in commands:
            out = subprocess.run([binary, *args], capture_output=True, text=True, env=env)
            if out.returncode != 0:
                raise LocalnetError(f"ipfs {' '.join(args[:2])} failed: {out.stderr.strip()}")

    def _kubo_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["IPFS_PATH"] = str(self.config.kubo_home)
        env["IPFS_TELEMETRY"] = "off"
        env["DO_NOT_TRACK"] = "1"
        return env

    # --- lifecycle -----------------------------------------------------------------------
    def is_running(self) -> bool:
        count = self.validator_count()
        return count > 0 and all(self._pid(f"validator{i}") for i in range(count)) and bool(self._pid("kubo"))

    def up(self, validators: int = 1, timeout: float = 90.0) -> str:
        """Start the net (creating it first if needed). Returns a one-line report."""
        existing = self.validator_count()
        if existing and existing != validators:
            raise LocalnetError(
                f"the localnet in {self.config.home} has {existing} validator(s), not {validators}: "
                "run `fedchain localnet reset` first"
            )
        if self.is_running():
            return f"localnet already running ({existing} validator(s)) in {self.config.home}"
        # Anything half-started from an earlier attempt goes first, then every port must be free.
        self.down()
        ensure_wasmd(self.config.versions)
        ensure_kubo(self.config.versions)
        self._check_ports(validators)
        if not existing:
            self.create(validators)
        if not (self.config.kubo_home / "config").exists():
            self._create_kubo()
        try:
            for i in range(validators):
                self.start_validator(i)
            self._start_kubo()
            self.wait_for_height(2, timeout=timeout)
        except LocalnetError:
            self.down()
            raise
        return f"localnet up: {validators} validator(s), chain {self.config.chain_id}, home {self.config.home}"

    def _check_ports(self, validators: int) -> None:
        wanted = {
            f"validator{i} {name}": port
            for i in range(validators)
            for name, port in self.config.validator_ports(i).all().items()
        }
        wanted.update(self.config.kubo_ports.all())
        for name, port in wanted.items():
            if not _port_free(self.config.host, port):
                raise LocalnetError(
                    f"port {port} ({name}) on {self.config.host} is already in use; stop what holds it "
                    "or set FEDCHAIN_PORT_OFFSET to move every localnet port"
                )

    def start_validator(self, index: int) -> None:
        name = f"validator{index}"
        if self._pid(name):
            return
        home = self.config.validator_home(index)
        binary = ensure_wasmd(self.config.versions)
        process = self._spawn(name, [str(binary), "start", "--home", str(home)], wasmd_env(self.config.versions))
        self._expect_alive(process, name)

    def stop_validator(self, index: int) -> bool:
        return self._stop(f"validator{index}")

    def _start_kubo(self) -> None:
        binary = ensure_kubo(self.config.versions)
        process = self._spawn("kubo", [str(binary), "daemon", "--offline=false"], self._kubo_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self._expect_alive(process, "kubo", settle=0)
            try:
                httpx.post(f"{self.config.kubo_api_url}/api/v0/id", timeout=2).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise LocalnetError(
            f"Kubo did not answer on {self.config.kubo_api_url} within 30s; log: {self.log_file('kubo')}"
        )

    def _expect_alive(self, process: subprocess.Popen[bytes], name: str, settle: float = 0.5) -> None:
        time.sleep(settle)
        if process.poll() is not None:
            tail = _tail(self.log_file(name))
            raise LocalnetError(
                f"{name} exited at start (code {process.returncode}); log: {self.log_file(name)}\n{tail}"
            )

    def down(self) -> list[str]:
        """Stop every process of this net; returns the names stopped."""
        stopped = []
        for i in range(MAX_VALIDATORS):
            if self.stop_validator(i):
                stopped.append(f"validator{i}")
        if self._stop("kubo"):
            stopped.append("kubo")
        return stopped

    def reset(self) -> None:
        """Stop everything and delete all state (chain data, Kubo repo, logs, deployment)."""
        self.down()
        if self.config.home.exists():
            shutil.rmtree(self.config.home)

    # --- inspection ----------------------------------------------------------------------
    def rpc(self, path: str, index: int = 0, timeout: float = 3.0) -> dict:
        response = httpx.get(f"{self.config.rpc_url(index)}/{path}", timeout=timeout)
        response.raise_for_status()
        return response.json()["result"]

    def height(self, index: int = 0) -> int:
        return int(self.rpc("status", index)["sync_info"]["latest_block_height"])

    def node_status(self, index: int) -> NodeStatus:
        running = self._pid(f"validator{index}") is not None
        height = catching_up = None
        if running:
            try:
                info = self.rpc("status", index)["sync_info"]
                height, catching_up = int(info["latest_block_height"]), bool(info["catching_up"])
            except (httpx.HTTPError, KeyError, ValueError):
                pass
        return NodeStatus(index, running, height, catching_up, self.config.rpc_url(index))

    def wait_for_height(self, height: int, index: int = 0, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if self.config.validator_home(index).exists() and not self._pid(f"validator{index}"):
                raise LocalnetError(
                    f"validator{index} is not running; log: {self.log_file(f'validator{index}')}\n"
                    + _tail(self.log_file(f"validator{index}"))
                )
            try:
                current = self.height(index)
                if current >= height:
                    return current
            except httpx.HTTPError as error:
                last_error = str(error)
            time.sleep(0.25)
        raise LocalnetError(
            f"validator{index} did not reach height {height} within {timeout:.0f}s ({last_error}); "
            f"log: {self.log_file(f'validator{index}')}"
        )

    def wait_until_synced(self, index: int, timeout: float = 90.0) -> int:
        """Wait until a (restarted) node has caught up with the net and left block-sync mode."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.node_status(index)
            if status.catching_up is False and status.height is not None:
                return status.height
            time.sleep(0.5)
        raise LocalnetError(
            f"validator{index} did not catch up within {timeout:.0f}s; log: {self.log_file(f'validator{index}')}"
        )

    def validators(self) -> list[dict]:
        return self.rpc("validators")["validators"]

    def kubo_peer_id(self) -> str | None:
        try:
            response = httpx.post(f"{self.config.kubo_api_url}/api/v0/id", timeout=2)
            response.raise_for_status()
            return response.json()["ID"]
        except httpx.HTTPError:
            return None


def _address(mnemonic: str, prefix: str) -> str:
    return str(LocalWallet.from_mnemonic(mnemonic, prefix).address())


def _tune_genesis(path: Path, cfg: LocalnetConfig) -> None:
    """Short governance periods and the fedchain denom everywhere a denom is named."""
    genesis = json.loads(path.read_text())
    state = genesis["app_state"]
    gov = state.get("gov", {}).get("params", {})
    if gov:
        gov["voting_period"] = "60s"
        gov["expedited_voting_period"] = "30s"
        gov["max_deposit_period"] = "60s"
    path.write_text(json.dumps(genesis, indent=1))


def _configure_node(home: Path, cfg: LocalnetConfig, index: int, peers: str) -> None:
    """Loopback ports, fast blocks, no telemetry, fixed peers: the node talks only to its siblings."""
    ports = cfg.validator_ports(index)
    config_path = home / "config" / "config.toml"
    doc = tomlkit.parse(config_path.read_text())
    doc["moniker"] = f"validator{index}"
    doc["proxy_app"] = f"tcp://{cfg.host}:{ports.abci}"
    doc["rpc"]["laddr"] = f"tcp://{cfg.host}:{ports.rpc}"
    doc["rpc"]["pprof_laddr"] = ""
    doc["rpc"]["cors_allowed_origins"] = ["*"]  # the web app reads the chain from the browser
    doc["p2p"]["laddr"] = f"tcp://{cfg.host}:{ports.p2p}"
    doc["p2p"]["persistent_peers"] = peers
    doc["p2p"]["seeds"] = ""
    doc["p2p"]["pex"] = False
    doc["p2p"]["addr_book_strict"] = False
    doc["p2p"]["allow_duplicate_ip"] = True
    doc["p2p"]["external_address"] = ""
    consensus = doc["consensus"]
    block = f"{cfg.block_time_ms}ms"
    consensus["timeout_commit"] = block
    for key in ("timeout_propose", "timeout_prevote", "timeout_precommit"):
        if key in consensus:
            consensus[key] = "1s"
    doc["instrumentation"]["prometheus"] = False
    config_path.write_text(tomlkit.dumps(doc))

    app_path = home / "config" / "app.toml"
    app = tomlkit.parse(app_path.read_text())
    app["minimum-gas-prices"] = cfg.gas_price_str
    app["api"]["enable"] = True
    app["api"]["address"] = f"tcp://{cfg.host}:{ports.api}"
    app["api"]["enabled-unsafe-cors"] = True  # loopback-only REST, read by the web app in the browser
    app["grpc"]["enable"] = True
    app["grpc"]["address"] = f"{cfg.host}:{ports.grpc}"
    if "telemetry" in app:
        app["telemetry"]["enabled"] = False
    app_path.write_text(tomlkit.dumps(app))


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return False


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the process group, wait, then SIGKILL; reaps our own children."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if _is_zombie(pid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 12) -> str:
    if not path.exists():
        return ""
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
