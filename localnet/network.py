"""Start, stop and inspect a 1- or 4-validator wasmd localnet plus a Kubo daemon.

All state lives under `LocalnetConfig.home`: one folder per validator, the Kubo repo, logs, pid
files and the deployment record. `localnet.genesis` writes a fresh net's files; this module runs
its processes. Every process binds ports of its own (on loopback, or on its own host's address when
the config lays the net out over several hosts); nothing dials out of the net.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from chain_config import MAX_VALIDATORS, LocalnetConfig
from localnet.errors import LocalnetError
from localnet.genesis import kubo_env, write_hosts_file, write_kubo_repo, write_network
from localnet.install import ensure_kubo, ensure_wasmd, wasmd_env
from localnet.processes import ManagedProcess, port_free, running, spawn, tail, terminate


@dataclass(frozen=True)
class NodeStatus:
    index: int
    running: bool
    height: int | None
    catching_up: bool | None
    rpc: str


class Localnet:
    """One localnet described by a LocalnetConfig; the methods are the `fedchain localnet` verbs."""

    def __init__(self, config: LocalnetConfig, on_host: Callable[[str], list[str]] | None = None) -> None:
        """`on_host(address)` gives the command prefix that runs a program on the host with that
        address (e.g. `ip netns exec NAME`, see localnet.hosts); None: run here (the addresses,
        if the config names any, are this machine's)."""
        self.config = config
        self.on_host = on_host

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
        return pid if running(pid) else None

    def _spawn(self, name: str, command: list[str], env: dict[str, str], host: str) -> ManagedProcess:
        prefix = self.on_host(host) if self.on_host is not None else []
        started = spawn(name, [*prefix, *command], self.log_file(name), env)
        self._pid_file(name).parent.mkdir(parents=True, exist_ok=True)
        self._pid_file(name).write_text(str(started.pid))
        return started

    def _stop(self, name: str, timeout: float = 15.0) -> bool:
        pid = self._pid(name)
        self._pid_file(name).unlink(missing_ok=True)
        if pid is None:
            return False
        terminate(pid, timeout)
        return True

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
            write_network(self.config, validators)
            self._meta_file.write_text(json.dumps({"validators": validators, "chain_id": self.config.chain_id}))
            write_hosts_file(self.config)
        if not (self.config.kubo_home / "config").exists():
            write_kubo_repo(self.config)
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
        if self.on_host is not None:
            return  # hosts of their own (fresh namespaces): nothing else binds there
        wanted = {
            (f"validator{i} {name}", self.config.validator_host(i)): port
            for i in range(validators)
            for name, port in self.config.validator_ports(i).all().items()
        }
        wanted.update({(name, self.config.kubo_host): port for name, port in self.config.kubo_ports.all().items()})
        for (name, host), port in wanted.items():
            if not port_free(host, port):
                raise LocalnetError(
                    f"port {port} ({name}) on {host} is already in use (or the address is not this machine's); "
                    "stop what holds it or set FEDCHAIN_PORT_OFFSET to move every localnet port"
                )

    def start_validator(self, index: int) -> None:
        name = f"validator{index}"
        if self._pid(name):
            return
        home = self.config.validator_home(index)
        binary = ensure_wasmd(self.config.versions)
        command = [str(binary), "start", "--home", str(home)]
        process = self._spawn(name, command, wasmd_env(self.config.versions), self.config.validator_host(index))
        self._expect_alive(process, name)

    def stop_validator(self, index: int) -> bool:
        return self._stop(f"validator{index}")

    def _start_kubo(self) -> None:
        binary = ensure_kubo(self.config.versions)
        process = self._spawn(
            "kubo", [str(binary), "daemon", "--offline=false"], kubo_env(self.config), self.config.kubo_host
        )
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

    def _expect_alive(self, started: ManagedProcess, name: str, settle: float = 0.5) -> None:
        time.sleep(settle)
        if not started.alive():
            raise LocalnetError(
                f"{name} exited at start (code {started.process.returncode}); log: {self.log_file(name)}\n"
                + tail(self.log_file(name))
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
                    + tail(self.log_file(f"validator{index}"))
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
