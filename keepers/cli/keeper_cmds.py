"""`fedchain keeper ...`: register as a keeper, accept tasks (bonding stake), and run the service."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import click

from client_kit.endpoint import EndpointError, KeeperEndpoint
from client_kit.task_hub import TaskStatus
from keepers.acceptance import DEFAULT_MAX_ROUND_TIMEOUT_S, undeliverable
from keepers.cli.common import CliFailure, console
from keepers.cli.context import Target, pass_target
from keepers.cli.views import KEY_OPTION_HELP
from keepers.events import Published, RoundAttested, TaskFinalized, TrainerSlashed, UpdateRejected
from keepers.feed import WEB_APP_ORIGINS, FeedFollower, RoundRow, round_summary, short_addresses
from keepers.service import KeeperService, KeeperSettings


@click.group()
def keeper() -> None:
    """Keepers: aggregate tasks with Flower and attest every round on chain."""


@keeper.command("register")
@click.option("--key", default="keeper", show_default=True, help=KEY_OPTION_HELP)
@click.option("--name", required=True, help="Display name.")
@click.option("--endpoint", required=True, help="Where trainers reach this keeper's SuperLink, e.g. 127.0.0.1:9092.")
@click.option("--fee-bps", default=0, show_default=True, type=click.IntRange(0, 2000), help="Keeper fee (of the pool).")
@click.option("--tls-cert-sha256", help="sha256 of the endpoint's TLS certificate, when it serves TLS.")
@pass_target
def keeper_register(
    target: Target, key: str, name: str, endpoint: str, fee_bps: int, tls_cert_sha256: str | None
) -> None:
    """Register (or update) this key's keeper profile: organizations can then name it as a task's
    keeper. The fee is fixed per task when the task is created.

    \b
    Example:
      fedchain keeper register --name "Keeper One" --endpoint 127.0.0.1:9092 --fee-bps 100
    """
    result = target.hub.register_keeper(target.keys.wallet(key), name, endpoint, fee_bps, tls_cert_sha256)
    console.print(f"registered keeper {name!r} at {endpoint} (fee {fee_bps / 100:g} %; tx {result.hash})")


@keeper.command("accept")
@click.argument("task_id", type=int)
@click.option("--key", default="keeper", show_default=True, help=KEY_OPTION_HELP)
@click.option(
    "--max-round-timeout",
    default=DEFAULT_MAX_ROUND_TIMEOUT_S,
    show_default=True,
    type=click.IntRange(5),
    help="Refuse a task whose rounds may each wait longer than this many seconds.",
)
@click.option(
    "--validation",
    "validation_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder holding the validation sets organizations handed over (a task that pays for measured "
    "contribution is refused unless the set it names is here or in a sub-folder).",
)
@pass_target
def keeper_accept(target: Target, task_id: int, key: str, max_round_timeout: int, validation_dir: Path | None) -> None:
    """Consent to serve a task that names this keeper, bonding the stake the task asks for. The
    bond comes back in full when every round is delivered (or the task never starts); for each
    round never delivered a share of it compensates the organization and the contributors. The
    task's client.py and initial model are fetched, checked against the chain and loaded first:
    a task that cannot be delivered is refused before anything is bonded.

    \b
    Example:
      fedchain keeper accept 4
    """
    task = target.task(task_id)
    wallet = target.keys.wallet(key)
    if task.keeper != str(wallet.address()):
        raise CliFailure(f"task {task_id} names keeper {task.keeper}, not {wallet.address()}")
    if task.status != TaskStatus.PROPOSED:
        raise CliFailure(f"task {task_id} is {task.status}: only a proposed task can be accepted")
    reason = undeliverable(task, target.ipfs, max_round_timeout, validation_dir)
    if reason is not None:
        raise CliFailure(f"task {task_id} not accepted: {reason}")
    result = target.hub.accept_task(wallet, task_id, task.keeper_bond, task.denom)
    console.print(f"accepted task {task_id}, bonded {task.keeper_bond:,} {task.denom} (tx {result.hash})")


@keeper.command("run")
@click.option("--keeper-key", required=True, help="Key name of the keeper (the tasks' keeper address).")
@click.option("--superlink-port", default=9092, show_default=True, help="Loopback port of the keeper's SuperLink.")
@click.option(
    "--public-endpoint",
    metavar="HOST:PORT",
    help="Where trainers on other machines reach this keeper: its TLS gateway listens there and the address "
    "goes on chain (default: the SuperLink on 127.0.0.1, this machine only).",
    callback=lambda _ctx, _param, value: public_endpoint(value),
)
@click.option("--feed-port", default=8765, show_default=True, help="Loopback port of the live WebSocket feed.")
@click.option("--workdir", type=click.Path(path_type=Path), default=None, help="State and logs (default: in the net).")
@click.option(
    "--validation",
    "validation_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Labelled data: every global model is scored on it (recorded on chain). A task that pays for measured "
    "contribution uses the set it names by sha256, found here or in a sub-folder (and is refused without it).",
)
@click.option(
    "--federated-evaluation/--no-federated-evaluation",
    default=True,
    show_default=True,
    help="Also ask trainers to evaluate each global model on their data (one more message round trip).",
)
@click.option(
    "--accept-bond-up-to",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Accept proposed tasks naming this keeper whose bond is at most this much (0: accept none by itself).",
)
@click.option(
    "--max-round-timeout",
    default=DEFAULT_MAX_ROUND_TIMEOUT_S,
    show_default=True,
    type=click.IntRange(5),
    help="Accept no task whose rounds may each wait longer than this many seconds.",
)
@click.option(
    "--validation-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1),
    help="Seconds the task's code may take to score one global model on --validation data.",
)
@click.option(
    "--sandbox/--no-sandbox",
    default=True,
    show_default=True,
    help="Validate with the task's code confined by bubblewrap (no key, no network); --no-sandbox only where "
    "bubblewrap is missing.",
)
@click.option(
    "--feed-origin",
    "feed_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web app origin (e.g. http://127.0.0.1:3000) whose pages may subscribe to the live feed; repeatable. "
    f"Default: {', '.join(WEB_APP_ORIGINS)} (`fedchain web`). Programs may always subscribe.",
    callback=lambda _ctx, _param, values: tuple(web_origin(value) for value in values),
)
@click.option("--once", is_flag=True, help="One pass over the tasks, then exit.")
@pass_target
def keeper_run(
    target: Target,
    keeper_key: str,
    superlink_port: int,
    public_endpoint: str | None,
    feed_port: int,
    workdir: Path | None,
    validation_dir: Path | None,
    federated_evaluation: bool,
    accept_bond_up_to: int,
    max_round_timeout: int,
    validation_timeout: float,
    sandbox: bool,
    feed_origins: tuple[str, ...],
    once: bool,
) -> None:
    """Follow the chain for this keeper's tasks; serve each when ready, finalize when due.

    \b
    Example:
      fedchain keeper run --keeper-key keeper
      fedchain keeper run --keeper-key keeper --validation ./held-out --no-federated-evaluation
      fedchain keeper run --keeper-key keeper --feed-origin http://127.0.0.1:3100
      fedchain keeper run --keeper-key keeper --public-endpoint 203.0.113.7:9443
    """
    home = workdir or ((target.localnet.home if target.localnet else Path.cwd()) / "keeper")
    settings = KeeperSettings(
        superlink_port=superlink_port,
        workdir=home,
        keeper_key_file=target.keys.key_file(keeper_key, home / "keys"),
        ipfs_api=target.ipfs_api,
        feed_port=feed_port,
        validation_dir=validation_dir.resolve() if validation_dir else None,
        federated_evaluation=federated_evaluation,
        accept_bond_up_to=accept_bond_up_to,
        max_round_timeout_s=max_round_timeout,
        validation_timeout_s=validation_timeout,
        sandbox=sandbox,
        feed_origins=feed_origins or WEB_APP_ORIGINS,
        public_endpoint=public_endpoint,
    )
    wallet = target.keys.wallet(keeper_key)
    profile = target.hub.profile(str(wallet.address()))
    if profile is None or profile.keeper is None:  # the service publishes its endpoint in that profile
        raise CliFailure(
            f"{wallet.address()} is not a registered keeper: run `fedchain keeper register --key {keeper_key} "
            "--name NAME --endpoint HOST:PORT` first"
        )
    service = KeeperService(target.chain, target.hub, wallet, settings, report=lambda line: console.print(line))
    console.print(
        f"keeper {service.address} on {target.network.chain_id}; SuperLink 127.0.0.1:{superlink_port}; "
        f"trainers connect to {service.link.endpoint.address} "
        f"(TLS, certificate sha256 {service.link.certificate.sha256})"
    )
    follower = FeedFollower(feed_port, on_event=lambda published: print_event(follower, published))
    follower.start()  # the ServerApp publishes each round on the feed; print what happens as it happens
    if once:
        try:
            for task_id, action in service.step():
                console.print(f"task {task_id}: {action}")
        finally:
            service.close()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        service.run(stop)
    except KeyboardInterrupt:
        stop.set()


def web_origin(value: str) -> str:
    """A browser Origin as pages send it: scheme, host and port, no path (a trailing slash is dropped)."""
    origin = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
        raise click.BadParameter(
            f"{value!r} is not a web origin like http://127.0.0.1:3000", param_hint="--feed-origin"
        )
    return origin


def public_endpoint(value: str | None) -> str | None:
    """HOST:PORT where the gateway listens (an IP address or a DNS name the certificate will carry)."""
    if value is None:
        return None
    try:
        host, port = KeeperEndpoint(value.strip(), None).host_port
    except EndpointError:
        host, port = "", 0
    if not host or not 0 < port < 65536 or not re.fullmatch(r"[A-Za-z0-9.\-:]+", host):
        raise click.BadParameter(f"{value!r} is not HOST:PORT like 203.0.113.7:9443", param_hint="--public-endpoint")
    return value.strip()


def print_event(follower: FeedFollower, published: Published) -> None:
    """A line for each decision worth a keeper operator's eye: rejections, attested rounds with
    where their time went, slashes, finalization. Trainer-supplied text is printed as plain text."""
    event = published.event
    if isinstance(event, UpdateRejected):
        blame = "slashable" if event.malicious else "not slashable"
        who = short_addresses(event.trainer or f"node {event.node_id}")
        line = f"task {event.task_id} round {event.round}: rejected {who}: {event.reason} ({blame})"
    elif isinstance(event, RoundAttested):
        line = round_summary(event, follower.rounds.get((event.task_id, event.round), RoundRow()))
    elif isinstance(event, TrainerSlashed):
        line = f"task {event.task_id}: slashed {event.trainer} ({event.reason}), tx {event.tx_hash[:16]}"
    elif isinstance(event, TaskFinalized):
        line = f"task {event.task_id} finalized, tx {event.tx_hash[:16]}: trainers can claim"
    else:
        return
    console.print(line, highlight=False, markup=False)
