"""`fedchain localnet ...`: build, start, inspect, stop and reset the embedded localnet."""

from __future__ import annotations

import click
from rich.table import Table

from chain_config import MAX_VALIDATORS, localnet_from_env
from keepers.cli.common import console, emit_json
from localnet.deploy import deploy as deploy_contracts
from localnet.deploy import load_deployment
from localnet.install import main as install_main
from localnet.network import Localnet


def _net() -> Localnet:
    return Localnet(localnet_from_env())


@click.group()
def localnet() -> None:
    """Run a wasmd proof-of-stake localnet and a Kubo IPFS daemon on 127.0.0.1.

    State lives in one folder (.localnet/ in the repo, or $FEDCHAIN_HOME); $FEDCHAIN_PORT_OFFSET
    moves every port at once.
    """


@localnet.command()
def install() -> None:
    """Build the pinned wasmd and Kubo into the per-user cache (no-op when present).

    \b
    Example:
      fedchain localnet install
    """
    if install_main() != 0:
        raise click.ClickException("installing the node binaries failed (see the message above)")


@localnet.command()
@click.option(
    "--validators",
    type=click.Choice(["1", str(MAX_VALIDATORS)]),
    default="1",
    show_default=True,
    help="How many validator processes to run.",
)
def up(validators: str) -> None:
    """Create (if needed) and start the localnet and Kubo; exits 0 if already running.

    \b
    Example:
      fedchain localnet up --validators 4
    """
    net = _net()
    with console.status("starting localnet…"):
        report = net.up(int(validators))
    console.print(report)


@localnet.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Height, validators with voting power, endpoints and the Kubo peer id.

    \b
    Example:
      fedchain localnet status --json
    """
    net = _net()
    cfg = net.config
    count = net.validator_count()
    nodes = [net.node_status(i) for i in range(count)]
    validators = []
    if any(n.running for n in nodes):
        running = next(n.index for n in nodes if n.running)
        try:
            validators = [
                {"address": v["address"], "voting_power": int(v["voting_power"])}
                for v in net.rpc("validators", running)["validators"]
            ]
        except Exception:  # status must print what it can while a node starts
            validators = []
    deployment = load_deployment(cfg)
    data = {
        "home": str(cfg.home),
        "chain_id": cfg.chain_id,
        "created": count > 0,
        "nodes": [
            {
                "name": f"validator{n.index}",
                "running": n.running,
                "height": n.height,
                "catching_up": n.catching_up,
                "rpc": n.rpc,
                "grpc": cfg.grpc_url(n.index),
                "rest": cfg.rest_url(n.index),
            }
            for n in nodes
        ],
        "validators": validators,
        "kubo": {"api": cfg.kubo_api_url, "peer_id": net.kubo_peer_id()},
        "contract": deployment.contract if deployment else None,
    }
    if as_json:
        emit_json(data)
        return
    if not count:
        console.print(f"no localnet in {cfg.home}: run `fedchain localnet up`")
        return
    table = Table(title=f"{cfg.chain_id} ({cfg.home})")
    for column in ("node", "running", "height", "catching up", "rpc", "grpc"):
        table.add_column(column)
    for node in data["nodes"]:
        table.add_row(
            node["name"],
            "yes" if node["running"] else "[red]no[/]",
            str(node["height"] or "-"),
            str(node["catching_up"]),
            node["rpc"],
            node["grpc"],
        )
    console.print(table)
    power = Table(title="validator set")
    power.add_column("consensus address")
    power.add_column("voting power", justify="right")
    for validator in validators:
        power.add_row(validator["address"], str(validator["voting_power"]))
    console.print(power)
    console.print(f"Kubo: {data['kubo']['api']}  peer id: {data['kubo']['peer_id'] or '[red]not running[/]'}")
    console.print(f"task_hub contract: {data['contract'] or 'not deployed (fedchain localnet deploy)'}")


@localnet.command()
def down() -> None:
    """Stop every validator and Kubo (state is kept).

    \b
    Example:
      fedchain localnet down
    """
    stopped = _net().down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@localnet.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Stop everything and delete all localnet state (chain, Kubo repo, logs, deployment).

    \b
    Example:
      fedchain localnet reset --yes
    """
    net = _net()
    if not yes:
        click.confirm(f"delete {net.config.home}?", abort=True)
    net.reset()
    console.print(f"removed {net.config.home}")


@localnet.command()
@click.option(
    "--admin",
    default="deployer",
    show_default=True,
    help="Who may ever migrate the contract (replace the code holding the escrow): deployer, gov "
    "(only a passed governance proposal), none (nobody: the code is final), or an address.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def deploy(admin: str, as_json: bool) -> None:
    """Store and instantiate task_hub (idempotent; migrates when the wasm changed and the deployer
    is the contract's admin, otherwise deploys a new contract beside the old one).

    \b
    Example:
      fedchain localnet deploy
      fedchain localnet deploy --admin gov
    """
    net = _net()
    if not net.is_running():
        raise click.ClickException("the localnet is not running: start it with `fedchain localnet up`")
    with console.status("deploying task_hub…"):
        deployment, action = deploy_contracts(net.config, admin=admin)
    if as_json:
        emit_json({"action": action, **deployment.__dict__})
    else:
        who = deployment.admin or "nobody (the code is final)"
        console.print(
            f"task_hub {action}: code id {deployment.code_id}, contract {deployment.contract}; can be migrated by {who}"
        )


@localnet.command()
@click.argument("process", default="validator0")
@click.option("-n", "--lines", default=40, show_default=True, help="How many lines from the end.")
def logs(process: str, lines: int) -> None:
    """Print the end of a process's log (validator0..3 or kubo).

    \b
    Example:
      fedchain localnet logs kubo -n 20
    """
    path = _net().log_file(process)
    if not path.exists():
        raise click.ClickException(f"no log for {process!r} at {path}")
    click.echo("".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:]), nl=False)
