"""The keeper's public face: nginx terminating TLS and passing on Flower's Fleet API, nothing else.

Flower 1.42 serves the Fleet API (trainers' nodes), the Control API (start-run, which executes an
app's code as the keeper, node registration) and the runtime API on one HTTP port. Only the first
may be reachable from other machines, so the SuperLink stays on 127.0.0.1 and this gateway listens
on the keeper's routable address: a request whose normalized path is one of the Fleet routes Flower
defines is forwarded (to exactly that path, so no `..` or encoding trick reaches another route),
every other path answers 404. Both hops are TLS with the keeper's certificate: trainers pin it
against the chain, and the gateway verifies the SuperLink behind it by the same certificate.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
from flwr.superlink.routers.fleet.router import router as fleet_router

from client_kit.endpoint import KeeperEndpoint
from keepers.certificate import KeeperCertificate
from localnet.install import ensure_nginx
from localnet.processes import ManagedProcess, spawn

FLEET_PREFIX = "/v1/fleet/"
# Flower's SuperLink reads a whole request before it checks the node's signature, so whatever the
# gateway lets through is memory a stranger can make it spend. Bodies are bounded per route: an
# object push carries one array chunk (Flower cuts arrays at 5 MiB), every other Fleet request is
# small. Connections per address and slow bodies are bounded too.
OBJECT_ROUTE = "push-object"
MAX_OBJECT_BODY = "6m"
MAX_BODY = "1m"
MAX_CONNECTIONS_PER_ADDRESS = 32


def fleet_routes() -> list[str]:
    """The Fleet API's route names, as Flower itself declares them."""
    return sorted(route.path.removeprefix(FLEET_PREFIX) for route in fleet_router.routes)  # type: ignore[attr-defined]


def nginx_config(public: str, superlink_port: int, certificate: KeeperCertificate, folder: Path) -> str:
    """The whole nginx configuration of a gateway on `public` (host:port) for the SuperLink on
    127.0.0.1:`superlink_port`; every file nginx writes stays in `folder`."""
    host, port = KeeperEndpoint(public, None).host_port
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    routes = "|".join(route for route in fleet_routes() if route != OBJECT_ROUTE)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in kinds)
    user = "user root;\n" if os.geteuid() == 0 else ""
    proxy = _proxy_settings(certificate)
    return f"""{user}worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp}
  client_max_body_size {MAX_BODY};
  client_body_timeout 30s;
  client_header_timeout 10s;
  limit_conn_zone $binary_remote_addr zone=per_address:10m;
  upstream superlink {{
    server 127.0.0.1:{superlink_port};
    keepalive 64;
  }}
  server {{
    listen {listen} ssl;
    ssl_certificate {certificate.cert_file};
    ssl_certificate_key {certificate.key_file};
    ssl_protocols TLSv1.2 TLSv1.3;
    limit_conn per_address {MAX_CONNECTIONS_PER_ADDRESS};
    location = {FLEET_PREFIX}{OBJECT_ROUTE} {{
      client_max_body_size {MAX_OBJECT_BODY};
      proxy_pass https://superlink{FLEET_PREFIX}{OBJECT_ROUTE};
{proxy}
    }}
    location ~ ^{FLEET_PREFIX}({routes})$ {{
      proxy_pass https://superlink{FLEET_PREFIX}$1;
{proxy}
    }}
    location / {{ return 404; }}
  }}
}}
"""


def _proxy_settings(certificate: KeeperCertificate) -> str:
    """How both Fleet locations forward: TLS to the SuperLink, verified by the keeper's certificate."""
    return f"""      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host localhost;
      proxy_ssl_name localhost;  # nginx matches DNS names only; the certificate names localhost too
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate {certificate.cert_file};
      proxy_ssl_session_reuse on;
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 300s;"""


def start_gateway(
    public: str, superlink_port: int, certificate: KeeperCertificate, workdir: Path, timeout: float = 20.0
) -> ManagedProcess:
    """Start nginx as the keeper's gateway on `public` (host:port) and wait until it answers."""
    folder = workdir / "gateway"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "nginx.conf"
    config.write_text(nginx_config(public, superlink_port, certificate, folder))
    nginx = str(ensure_nginx())
    command = [nginx, "-p", str(folder), "-c", str(config), "-e", str(folder / "error.log"), "-g", "daemon off;"]
    gateway = spawn("gateway", command, folder / "nginx.out", dict(os.environ))
    url = f"https://{public}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not gateway.alive():
            raise RuntimeError(f"nginx (the keeper's gateway) exited at start; see {folder / 'error.log'}")
        try:
            httpx.get(url, timeout=1, verify=False)  # only "is it up": trainers pin the certificate
            return gateway
        except httpx.HTTPError:
            time.sleep(0.2)
    gateway.stop()
    log = folder / "error.log"
    raise RuntimeError(f"the keeper's gateway did not listen on {public} within {timeout:.0f}s; see {log}")
