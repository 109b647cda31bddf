"""The keeper's TLS certificate: self-signed, its sha256 published in the keeper's on-chain profile.

No certificate authority is involved: trainers trust exactly the certificate whose fingerprint the
keeper registered on chain (`client_kit.endpoint`), so a self-signed one is as good as any. It names
every address trainers may use (the public host, and loopback for the keeper's own tools) and
lasts a year; a new one is made when the hosts change or the old one nears its end, and the keeper
then updates its profile (`fedchain keeper run` does it at start).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class KeeperCertificate:
    cert_file: Path
    key_file: Path

    @property
    def pem(self) -> bytes:
        return self.cert_file.read_bytes()

    @property
    def sha256(self) -> str:
        """The fingerprint trainers check: sha256 of the certificate's DER bytes, lowercase hex."""
        der = x509.load_pem_x509_certificate(self.pem).public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()

    def names(self) -> set[str]:
        """The hosts the certificate is valid for."""
        cert = x509.load_pem_x509_certificate(self.pem)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} | set(san.get_values_for_type(x509.DNSName))

    def expires(self) -> datetime.datetime:
        return x509.load_pem_x509_certificate(self.pem).not_valid_after_utc


def ensure_certificate(folder: Path, hosts: list[str]) -> KeeperCertificate:
    """The certificate in `folder`, made anew unless it covers `hosts` (and loopback) for 30 more days."""
    certificate = KeeperCertificate(folder / "keeper-tls.crt", folder / "keeper-tls.key")
    wanted = set(hosts) | set(LOOPBACK_NAMES)
    now = datetime.datetime.now(datetime.UTC)
    if certificate.cert_file.exists() and certificate.key_file.exists():
        if wanted <= certificate.names() and certificate.expires() - now > RENEW_BEFORE:
            return certificate
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fedchain keeper")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_general_name(host) for host in sorted(wanted)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(certificate.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_bytes)
    certificate.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return certificate


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)
