"""The keeper's Flower side as trainers meet it: a SuperLink serving TLS with the keeper's certificate,
admitting only staked trainers' node keys, and (across machines) the gateway that alone faces the
network. Its endpoint and certificate fingerprint are what the keeper publishes on chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from client_kit.endpoint import KeeperEndpoint
from keepers.admission import AdmissionChange, NodeAdmission
from keepers.certificate import KeeperCertificate, ensure_certificate
from keepers.gateway import start_gateway
from keepers.runtime import start_superlink
from localnet.processes import ManagedProcess


class KeeperLink:
    """The SuperLink on 127.0.0.1:`port` and, given a `public` host:port, the gateway there."""

    def __init__(self, port: int, workdir: Path, public: str | None = None) -> None:
        self.port = port
        self.workdir = workdir
        self.public = public
        hosts = [KeeperEndpoint(public, None).host_port[0]] if public else []
        self.certificate: KeeperCertificate = ensure_certificate(workdir / "tls", hosts)
        self._superlink: ManagedProcess | None = None
        self._gateway: ManagedProcess | None = None
        self._admission: NodeAdmission | None = None

    @property
    def endpoint(self) -> KeeperEndpoint:
        """What trainers are told on chain: where to connect, which certificate to expect."""
        return KeeperEndpoint(self.public or f"127.0.0.1:{self.port}", self.certificate.sha256)

    @property
    def superlink_pid(self) -> int | None:
        return self._superlink.process.pid if self._superlink is not None and self._superlink.alive() else None

    def ensure_running(self) -> None:
        """Start whatever is not running; a restarted SuperLink starts with no node admitted."""
        if self._superlink is None or not self._superlink.alive():
            self._superlink = start_superlink(self.port, self.workdir, self.certificate)
            self._admission = NodeAdmission(self.port, self.certificate)
        if self.public and (self._gateway is None or not self._gateway.alive()):
            self._gateway = start_gateway(self.public, self.port, self.certificate, self.workdir)

    def admit(self, keys: Mapping[str, str]) -> AdmissionChange:
        """Admit exactly `keys` (node key -> trainer address) from now on."""
        if self._admission is None:
            return AdmissionChange()
        return self._admission.sync(keys)

    def stop(self) -> None:
        for process in (self._gateway, self._superlink):
            if process is not None:
                process.stop()
        self._gateway = self._superlink = self._admission = None
