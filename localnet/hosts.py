"""Several hosts on one machine: Linux network namespaces on a bridge, one per role.

Each host is a network namespace that sees only its own loopback and one veth link into a shared
bridge, with an address of its own; the machine itself (the root namespace) sits on the bridge too
(the observer: tests and the demo read the chain from there). Programs are started on a host with
`ip netns exec`, so a validator, the keeper or a trainer binds and dials exactly as it would on a
machine of its own. Links can be cut (a host goes dark) and rate-limited with `tc tbf` in both
directions (this kernel has no `netem`, so delay and loss cannot be emulated; only bandwidth is).

Needs root (CAP_NET_ADMIN) and iproute2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from localnet.errors import LocalnetError
from localnet.processes import ManagedProcess, spawn


@dataclass(frozen=True)
class Host:
    name: str  # e.g. validator0, ipfs, keeper, organization, trainer1
    address: str  # on the bridge
    index: int  # position in the layout: names its links


@dataclass(frozen=True)
class HostLayout:
    """Which hosts exist and their addresses on one /24 (`subnet`.1 is the machine itself)."""

    tag: str  # prefixes every namespace and link, so two layouts (a test's, a demo's) never collide
    subnet: str
    hosts: tuple[Host, ...]

    @classmethod
    def standard(cls, tag: str = "fc", subnet: str = "10.77.0", validators: int = 4, trainers: int = 3) -> HostLayout:
        """Validators, an IPFS host, the keeper, the organization and trainers, each on its own host."""
        names = [f"validator{i}" for i in range(validators)] + ["ipfs", "keeper", "organization"]
        names += [f"trainer{i}" for i in range(1, trainers + 1)]
        hosts = tuple(Host(name, f"{subnet}.{10 + i}", i) for i, name in enumerate(names))
        return cls(tag, subnet, hosts)

    @property
    def observer(self) -> str:
        """The machine's own address on the bridge."""
        return f"{self.subnet}.1"

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no host {name!r} in the layout")

    def named(self, prefix: str) -> list[Host]:
        return [host for host in self.hosts if host.name.startswith(prefix)]

    def namespace(self, host: Host) -> str:
        return f"{self.tag}-{host.name}"

    @property
    def bridge(self) -> str:
        return f"{self.tag}br0"

    def link(self, host: Host) -> tuple[str, str]:
        """(the host's end inside its namespace, the bridge's end) of its veth pair (≤ 15 characters)."""
        return f"{self.tag}{host.index}h", f"{self.tag}{host.index}b"


def _ip(*args: str, namespace: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["ip", *args] if namespace is None else ["ip", "-n", namespace, *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise LocalnetError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return done


class HostNetwork:
    """Builds and tears down a layout's namespaces, bridge and links; runs programs on its hosts."""

    def __init__(self, layout: HostLayout) -> None:
        self.layout = layout

    @staticmethod
    def available() -> str | None:
        """Why namespaces cannot be built here, or None when they can."""
        if os.geteuid() != 0:
            return "network namespaces need root"
        if shutil.which("ip") is None:
            return "iproute2 (`ip`) is missing"
        return None

    def create(self) -> None:
        """Build every namespace, link and address (removing leftovers of an earlier run first)."""
        reason = self.available()
        if reason:
            raise LocalnetError(reason)
        self.destroy()
        layout = self.layout
        _ip("link", "add", layout.bridge, "type", "bridge")
        _ip("addr", "add", f"{layout.observer}/24", "dev", layout.bridge)
        _ip("link", "set", layout.bridge, "up")
        for host in layout.hosts:
            namespace = layout.namespace(host)
            inner, outer = layout.link(host)
            _ip("netns", "add", namespace)
            _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
            _ip("link", "set", inner, "netns", namespace)
            _ip("link", "set", outer, "master", layout.bridge)
            _ip("link", "set", outer, "up")
            _ip("addr", "add", f"{host.address}/24", "dev", inner, namespace=namespace)
            _ip("link", "set", inner, "up", namespace=namespace)
            _ip("link", "set", "lo", "up", namespace=namespace)

    def destroy(self) -> None:
        """Remove the layout's namespaces and bridge (their links go with them); missing parts are fine."""
        for host in self.layout.hosts:
            _ip("netns", "delete", self.layout.namespace(host), check=False)
            _ip("link", "delete", self.layout.link(host)[1], check=False)
        _ip("link", "delete", self.layout.bridge, check=False)

    def prefix(self, address: str) -> list[str]:
        """The command prefix that runs a program on the host with `address`."""
        for host in self.layout.hosts:
            if host.address == address:
                return ["ip", "netns", "exec", self.layout.namespace(host)]
        raise KeyError(f"no host with address {address}")

    def spawn(self, host: Host, name: str, command: list[str], log: Path, env: dict[str, str]) -> ManagedProcess:
        """Start `command` on `host` (see localnet.processes.spawn)."""
        return spawn(name, ["ip", "netns", "exec", self.layout.namespace(host), *command], log, env)

    def cut(self, host: Host) -> None:
        """Take the host off the network (its link goes down); its processes keep running."""
        _ip("link", "set", self.layout.link(host)[1], "down")

    def limit_rate(self, host: Host, mbit: float) -> None:
        """Shape the host's link to `mbit` Mbit/s each way (tc tbf on both ends of its veth pair)."""
        inner, outer = self.layout.link(host)
        rate = f"{mbit}mbit"
        burst = f"{max(32, int(mbit * 1000 / 8 / 100))}kb"  # ~10 ms at the rate, at least 32 kB
        for device, namespace in ((inner, self.layout.namespace(host)), (outer, None)):
            args = ("qdisc", "replace", "dev", device, "root", "tbf", "rate", rate, "burst", burst, "latency", "50ms")
            done = subprocess.run(
                ["tc", *args] if namespace is None else ["ip", "netns", "exec", namespace, "tc", *args],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise LocalnetError(f"tc {' '.join(args)} failed: {done.stderr.strip()}")
