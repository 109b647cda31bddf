"""`fedchain web`: the web app, built once per source hash, served against the CLI's network."""

from __future__ import annotations

import signal
import threading

import click

from keepers.cli.common import CliFailure, console
from keepers.cli.context import Target, pass_target
from keepers.web_server import WebError, WebSettings, ensure_build, localnet_gateway, start_web
from localnet.processes import tail


@click.command()
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Port on 127.0.0.1.")
@click.option(
    "--rest",
    envvar="FEDCHAIN_REST",
    help="The chain's REST API, with CORS allowed for the app (default: the localnet's).",
)
@click.option(
    "--ipfs-gateway",
    envvar="FEDCHAIN_IPFS_GATEWAY",
    help="IPFS gateway the pages link to and read from (default: the localnet's Kubo gateway).",
)
@click.option(
    "--feed",
    envvar="FEDCHAIN_FEED",
    help="A keeper's live feed, e.g. ws://127.0.0.1:8765; that keeper must allow this app's origin "
    "(`keeper run --feed-origin`, which allows http://127.0.0.1:3000 by default).",
)
@pass_target
def web(target: Target, port: int, rest: str | None, ipfs_gateway: str | None, feed: str | None) -> None:
    """Serve the web app on 127.0.0.1 against this network and contract until Ctrl-C.

    The app is built once per version of web/ (cached under ~/.cache/fedchain/web) with the
    dependencies `npm ci` installed in web/; the chain, contract, RPC, REST and IPFS settings are
    the CLI's own, handed to it as FEDCHAIN_* variables. Its pinning route uses the Kubo RPC API
    (--ipfs-api) from the server side only: keep the app on loopback.

    \b
    Example:
      fedchain web
      fedchain web --port 3100 --feed ws://127.0.0.1:8765
      fedchain --node grpc+https://grpc.example.org:443 --rpc https://rpc.example.org \\
        --contract wasm1… --ipfs-api http://10.0.0.5:5001 web --rest https://rest.example.org \\
        --ipfs-gateway https://ipfs.example.org
    """
    if not target.contract:
        raise CliFailure("no task_hub contract known: pass --contract, or deploy one with `fedchain localnet deploy`")
    local = target.localnet
    if not rest:
        if local is None:
            raise CliFailure("the app reads the chain through its REST API: pass --rest (or set FEDCHAIN_REST)")
        rest = local.rest_url()
    if not ipfs_gateway:
        if local is None:
            raise CliFailure(
                "pass --ipfs-gateway (or set FEDCHAIN_IPFS_GATEWAY): pages read client.py and models there"
            )
        ipfs_gateway = localnet_gateway(local)
    if target.ipfs_backend != "kubo":
        console.print("note: the app pins uploads through Kubo's RPC API (--ipfs-api), not Pinata")
    settings = WebSettings.for_network(target.network, target.contract, rest, target.ipfs_api, ipfs_gateway, feed)
    try:
        app = ensure_build(report=lambda line: console.print(line, highlight=False))
        server = start_web(app, settings, port, app / f"next-start-{port}.log")
    except WebError as error:
        raise CliFailure(str(error)) from None
    console.print(f"fedchain web: [bold]{server.url}[/]", highlight=False)
    console.print(
        f"serving task_hub {target.contract} on {target.network.chain_id}; log {server.process.log}; Ctrl-C stops it",
        highlight=False,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            if not server.process.alive():
                raise CliFailure(
                    f"the web app stopped (exit {server.process.process.returncode}):\n{tail(server.process.log)}"
                )
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    console.print("fedchain web: stopped")
