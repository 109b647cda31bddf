"""Where a task's keeper serves trainers, and the TLS certificate it must present: both from chain.

The chain is the root of trust. A keeper registers its Fleet endpoint and the sha256 of its TLS
certificate in its on-chain profile; a trainer connects only to that endpoint (or one it names
itself) and only if the server presents exactly that certificate. The certificate is fetched,
its fingerprint compared with the chain's, and then given to Flower's connection as the one
trusted root, so the TLS handshake itself proves the server holds its key: an impostor that copied
the certificate cannot complete it. Self-signed certificates work; no certificate authority is
trusted at all.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass


class EndpointError(ConnectionError):
    """The keeper's endpoint cannot be trusted (no certificate on chain, or a different one)."""


@dataclass(frozen=True)
class KeeperEndpoint:
    address: str  # host:port of the keeper's Fleet API, as trainers reach it
    tls_cert_sha256: str | None  # sha256 of the certificate's DER bytes, as registered on chain

    @property
    def host_port(self) -> tuple[str, int]:
        host, separator, port = self.address.rpartition(":")
        if not separator or not port.isdigit() or not host:
            raise EndpointError(f"keeper endpoint {self.address!r} is not host:port")
        return host.strip("[]"), int(port)

    def pinned_certificate(self, timeout: float = 10.0) -> bytes:
        """The keeper's certificate (PEM), once its sha256 is checked against the chain's.

        Raises EndpointError when the chain holds no fingerprint or the server presents another
        certificate, and OSError when the endpoint cannot be reached."""
        if not self.tls_cert_sha256:
            raise EndpointError(
                f"the keeper at {self.address} registered no TLS certificate on chain: refusing to send "
                "updates unencrypted to a server nobody vouched for (the keeper publishes it when it starts)"
            )
        pem = ssl.get_server_certificate(self.host_port, timeout=timeout)
        presented = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
        if presented != self.tls_cert_sha256:
            raise EndpointError(
                f"the server at {self.address} presented TLS certificate sha256 {presented[:16]}…, not the "
                f"{self.tls_cert_sha256[:16]}… its keeper registered on chain: refusing it (an impostor, or "
                "a keeper that changed its certificate without updating its profile)"
            )
        return pem.encode("ascii")
