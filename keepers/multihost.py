"""A federation across hosts: every role on a host of its own, talking only over the network.

Four validators, an IPFS node, the keeper, the organization and the trainers each get a network
namespace (`localnet.hosts`) with one address on a shared bridge. Nothing shares a loopback: every
role runs `fedchain` commands on its host with a config file naming the chain's RPC/gRPC and the
IPFS API by address, and keeps its own key in its own key folder. The keeper serves trainers only
through its TLS gateway on its public address; trainers find it, and its certificate, on chain.
The machine itself sits on the bridge as an observer (it deploys the contract and reads the chain).

Clients use validators 0-2; validator 3 is the one a test or the demo cuts off mid-task (three of
four validators keep more than two thirds of the voting power, so blocks go on).

Used by `fedchain demo --hosts`, the multi-host test and the multi-host benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.datasets import load_digits

from chain_config import REPO_ROOT, LocalnetConfig
from client_kit.chain import ChainClient
from client_kit.data import write_npz
from client_kit.task_hub import TaskHub, TaskStatus
from localnet.deploy import deploy
from localnet.hosts import Host, HostLayout, HostNetwork
from localnet.network import Localnet
from localnet.processes import ManagedProcess, spawn

SOFTMAX = ("--model", "softmax", "--epochs", "5", "--learning-rate", "0.5")
GATEWAY_PORT = 9443  # the keeper's public Fleet endpoint (TLS)
CHAIN_NODE = {"organization": 0, "keeper": 1}  # trainers use validator 2; nobody uses validator 3


class HostCommandError(RuntimeError):
    """A role's command failed on its host; the message quotes its output."""


@dataclass(frozen=True)
class TaskShape:
    rounds: int = 3
    stake: int = 1_000_000
    pool: int = 30_000_000
    round_timeout_secs: int = 60
    per_trainer: int = 300  # digits examples on each trainer's host


class Federation:
    """The hosts, the chain across them and each role's command line (a context manager)."""

    def __init__(self, layout: HostLayout, work: Path, say: Callable[[str], None] = print) -> None:
        self.layout = layout
        self.work = work
        self.say = say
        self.network = HostNetwork(layout)
        validators = tuple(host.address for host in layout.named("validator"))
        self.config = LocalnetConfig(
            home=work / "net", validator_hosts=validators, ipfs_host=layout.host("ipfs").address
        )
        self.net = Localnet(self.config, on_host=self.network.prefix)
        self.contract = ""
        self.hub: TaskHub | None = None  # the observer's view of the chain (validator 0), once deployed
        self.processes: list[ManagedProcess] = []

    @property
    def keeper_endpoint(self) -> str:
        return f"{self.layout.host('keeper').address}:{GATEWAY_PORT}"

    def __enter__(self) -> Federation:
        started = time.monotonic()
        self.network.create()
        try:
            self.net.up(len(self.config.validator_hosts))
            self.contract = deploy(self.config)[0].contract
            self.hub = TaskHub(ChainClient(self.config.network(0)), self.contract)
        except BaseException:
            self.close()
            raise
        for host in self.layout.hosts:
            self._write_host_config(host)
        self.say(
            f"{len(self.layout.hosts)} hosts on {self.layout.subnet}.0/24; {len(self.config.validator_hosts)} "
            f"validators and IPFS each on their own; task_hub {self.contract} ({time.monotonic() - started:.0f}s)"
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.net.down()
        self.network.destroy()

    # --- each role's command line, on its host ----------------------------------------------
    def folder(self, host: Host) -> Path:
        return self.work / "hosts" / host.name

    def _write_host_config(self, host: Host) -> None:
        """The role's fedchain config: its chain node and IPFS by address, its own key folder."""
        folder = self.folder(host)
        (folder / "keys").mkdir(parents=True, exist_ok=True, mode=0o700)
        node = CHAIN_NODE.get(host.name, 2)
        lines = {
            "chain_id": self.config.chain_id,
            "node": self.config.grpc_url(node),
            "rpc": self.config.rpc_url(node),
            "contract": self.contract,
            "ipfs_api": self.config.kubo_api_url,
            "keys_dir": str(folder / "keys"),
        }
        (folder / "fedchain.toml").write_text("".join(f'{key} = "{value}"\n' for key, value in lines.items()))
        if host.name in ("keeper", "organization") or host.name.startswith("trainer"):
            key = folder / "keys" / f"{host.name}.mnemonic"  # a localnet dev account, kept on its host only
            descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(self.config.dev_account(host.name).mnemonic + "\n")

    def _command(self, host: Host, args: tuple[str, ...]) -> list[str]:
        config = str(self.folder(host) / "fedchain.toml")
        return [*self.network.prefix(host.address), sys.executable, "-m", "keepers.cli", "--config", config, *args]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, COLUMNS="160", PYTHONPATH=str(REPO_ROOT))
        env.pop("FEDCHAIN_HOME", None)
        env.pop("FEDCHAIN_PORT_OFFSET", None)
        return env

    def run(self, host_name: str, *args: str, timeout: float = 300) -> str:
        """Run `fedchain ARGS` on the host and return its output; HostCommandError if it fails."""
        host = self.layout.host(host_name)
        done = subprocess.run(
            self._command(host, args),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder(host),
            env=self._env(),
        )
        if done.returncode != 0:
            raise HostCommandError(f"{host_name}: fedchain {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, host_name: str, *args: str) -> ManagedProcess:
        """Start `fedchain ARGS` on the host in the background (stopped with the federation)."""
        host = self.layout.host(host_name)
        log = self.work / "logs" / f"{host_name}.log"
        started = spawn(host_name, self._command(host, args), log, self._env(), cwd=self.folder(host))
        self.processes.append(started)
        return started

    def role_of(self, host: Host) -> tuple[str, str]:
        """What runs on the host and which ports it opens to the network."""
        if host.name.startswith("validator"):
            ports = self.config.validator_ports(int(host.name.removeprefix("validator")))
            return (
                "wasmd (CometBFT validator)",
                f"P2P {ports.p2p}, RPC {ports.rpc}, gRPC {ports.grpc}, REST {ports.api}",
            )
        if host.name == "ipfs":
            return "Kubo", f"API {self.config.kubo_ports.api}, gateway {self.config.kubo_ports.gateway}"
        if host.name == "keeper":
            return "fedchain keeper run: SuperLink on loopback, nginx gateway", f"{GATEWAY_PORT} (TLS, Fleet API only)"
        if host.name == "organization":
            return "fedchain org …", "nothing"
        return "fedchain trainer join/train", "nothing"

    @property
    def observer(self) -> TaskHub:
        """task_hub as the machine itself reads it (from validator 0), for waiting and checking."""
        if self.hub is None:
            raise HostCommandError("the federation is not up")
        return self.hub

    def await_acceptance(self, task_id: int, timeout: float = 120) -> None:
        """Until the keeper, from its host, has accepted (bonded) the task."""
        wait_until(lambda: self.observer.task(task_id).status == TaskStatus.OPEN, timeout, "the keeper to accept")

    # --- the task's life, role by role ----------------------------------------------------------
    def start_keeper(self, bond_up_to: int, *extra: str) -> ManagedProcess:
        self.run(
            "keeper", "keeper", "register", "--key", "keeper", "--name", "Keeper", "--endpoint", self.keeper_endpoint
        )
        return self.start(
            "keeper", "keeper", "run", "--keeper-key", "keeper", "--public-endpoint", self.keeper_endpoint,
            "--accept-bond-up-to", str(bond_up_to), "--workdir", str(self.folder(self.layout.host("keeper")) / "work"),
            *extra,
        )  # fmt: skip

    def create_task(self, shape: TaskShape, trainers: int, model: tuple[str, ...] = SOFTMAX) -> int:
        """The organization renders client.py (`model`: build-client's model options), pins it on
        IPFS over the network and funds the task."""
        folder = self.folder(self.layout.host("organization"))
        self.run("organization", "org", "register", "--key", "organization", "--name", "Org on its host")
        self.run(
            "organization", "org", "build-client", *model, "--input-scale", "16",
            "--out", "client.py", "--initial-model-out", "initial.safetensors",
        )  # fmt: skip
        keeper = self.run("keeper", "keys", "show", "keeper").strip()
        request = {
            "model_name": "digits across hosts",
            "client": "client.py",
            "initial_model": "initial.safetensors",
            "rounds": shape.rounds,
            "min_trainers": trainers,
            "max_trainers": trainers,
            "stake": shape.stake,
            "pool": shape.pool,
            "join_deadline": "10m",
            "training_deadline": "1h",
            "round_timeout_secs": shape.round_timeout_secs,
            "keeper": keeper,
        }
        (folder / "task.json").write_text(json.dumps(request))
        created = self.run(
            "organization", "org", "create-task", "--key", "organization", "--file", "task.json", "--json"
        )
        return int(json.loads(created)["task_id"])

    def enroll(self, task_id: int, shape: TaskShape, register: bool = True) -> None:
        """Each trainer keeps its shard on its host and joins: client.py is fetched over the network
        from IPFS and checked against the chain before any stake moves."""
        trainers = self.layout.named("trainer")
        digits = load_digits()
        order = np.random.default_rng(7).permutation(len(digits.target))
        for i, host in enumerate(trainers):
            rows = order[i :: len(trainers)][: shape.per_trainer]
            write_npz(self.folder(host) / "data", digits.data[rows], digits.target[rows])
            if register:
                self.run(host.name, "trainer", "register", "--key", host.name, "--name", host.name)
            self.run(host.name, "trainer", "join", str(task_id), "--key", host.name)

    def train(self, task_id: int, host_name: str, *extra: str) -> ManagedProcess:
        """The trainer trains until the task settles, then claims (in the background)."""
        return self.start(host_name, "trainer", "train", str(task_id), "--key", host_name, "--data", "data", *extra)


def run_demo_across_hosts(work: Path, console: Console, rounds: int = 3, trainers: int = 3) -> bool:
    """`fedchain demo --hosts`: the task's whole life across namespaced hosts, shown as it happens;
    True when every trainer claimed more than its stake."""
    layout = HostLayout.standard(tag="fcd", subnet="10.77.0", trainers=trainers)
    shape = TaskShape(rounds=rounds)
    with Federation(layout, work, say=console.print) as fed:
        hosts = Table(title="hosts (network namespaces on one bridge)")
        for column in ("host", "address", "runs", "opens"):
            hosts.add_column(column)
        for host in layout.hosts:
            hosts.add_row(host.name, host.address, *fed.role_of(host))
        console.print(hosts)
        hub = fed.observer
        fed.start_keeper(bond_up_to=10**9)
        task_id = fed.create_task(shape, trainers)
        console.print(f"organization created task {task_id}; waiting for the keeper at {fed.keeper_endpoint} to accept")
        fed.await_acceptance(task_id)
        fed.enroll(task_id, shape)
        console.print(f"{trainers} trainers joined from their hosts (client.py fetched from IPFS, checked on chain)")
        processes = [fed.train(task_id, host.name) for host in layout.named("trainer")]
        shown, cut = 0, False

        def show_new_rounds() -> int:
            last = shown
            for record in [r for r in hub.rounds(task_id) if r.round > last]:
                value = f"{record.metrics.metric} {float(record.metrics.value):.3f}"
                console.print(f"round {record.round} attested: {record.contributors_count} contributors, {value}")
                last = record.round
            return last

        deadline = time.monotonic() + 600
        while hub.task(task_id).status != TaskStatus.FINALIZED:
            if time.monotonic() > deadline:
                console.print(f"[red]the task did not settle in 10 minutes; logs in {work / 'logs'}")
                return False
            shown = show_new_rounds()
            if shown >= 1 and not cut:
                fed.network.cut(layout.host("validator3"))
                console.print("validator3's host is cut off the network: the other three keep producing blocks")
                cut = True
            time.sleep(2)
        show_new_rounds()
        for process in processes:
            process.process.wait(120)
        payouts = Table(title=f"task {task_id} settled (height {fed.net.height(0)} without validator3)")
        for column in ("trainer", "weight", "claimed", "node key"):
            payouts.add_column(column)
        paid = True
        for member in hub.participants(task_id):
            paid = paid and member.claimed and member.claimed_amount > shape.stake
            key = member.node_public_key or ""
            payouts.add_row(member.trainer, str(member.weight), f"{member.claimed_amount:,}", "…" + key[-16:])
        console.print(payouts)
        return paid


def wait_until(check: Callable[[], object], timeout: float, what: str, every: float = 1.0) -> object:
    """`check()`'s first truthy value, asked every `every` seconds; HostCommandError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise HostCommandError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
    return value
