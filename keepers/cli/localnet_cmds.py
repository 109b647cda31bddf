"""`fedchain localnet ...`: build, start, inspect, stop and reset the embedded localnet."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

import click
from rich.table import Table

from chain_config import MAX_VALIDATORS, LocalnetConfig, localnet_from_env
from keepers.cli.common import console, emit_json
from localnet.deploy import deploy as deploy_contracts
from localnet.deploy import load_deployment
from localnet.genesis import write_hosts_file, write_kubo_repo, write_network
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
@click.option(
    "--hosts",
    metavar="ADDR,ADDR,…",
    help="Give each validator its own address on this machine (one per validator, then optionally one for "
    "Kubo); peers find each other by these addresses. Kept for later commands.",
)
def up(validators: str, hosts: str | None) -> None:
    """Create (if needed) and start the localnet and Kubo; exits 0 if already running.

    \b
    Example:
      fedchain localnet up --validators 4
      fedchain localnet up --validators 4 --hosts 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6
    """
    config = localnet_from_env()
    if hosts:
        config = with_hosts(config, int(validators), hosts)
    net = Localnet(config)
    with console.status("starting localnet…"):
        report = net.up(int(validators))
    console.print(report)


def with_hosts(config: LocalnetConfig, validators: int, hosts: str) -> LocalnetConfig:
    """The config with one address per validator (and optionally Kubo's) from a comma list."""
    addresses = [value.strip() for value in hosts.split(",") if value.strip()]
    for address in addresses:
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise click.BadParameter(f"{address!r} is not an IPv4 address", param_hint="--hosts") from None
    if len(addresses) not in (validators, validators + 1) or len(set(addresses[:validators])) != validators:
        raise click.BadParameter(
            f"give {validators} distinct validator addresses (and optionally one more for Kubo)", param_hint="--hosts"
        )
    ipfs = addresses[validators] if len(addresses) > validators else addresses[0]
    return replace(config, validator_hosts=tuple(addresses[:validators]), ipfs_host=ipfs)


@localnet.command()
@click.option(
    "--validators", type=click.Choice(["1", str(MAX_VALIDATORS)]), default=str(MAX_VALIDATORS), show_default=True
)
@click.option("--hosts", required=True, metavar="ADDR,ADDR,…", help="Each validator's machine, then Kubo's.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Folder to write.")
def layout(validators: str, hosts: str, out: Path) -> None:
    """Write a net for separate machines: one folder per validator (keys, genesis, peers by
    address) and Kubo's repo; copy each to its machine and start it there.

    \b
    Example:
      fedchain localnet layout --hosts 10.0.0.11,10.0.0.12,10.0.0.13,10.0.0.14,10.0.0.20 --out net/
    """
    count = int(validators)
    config = with_hosts(replace(localnet_from_env(), home=out.resolve()), count, hosts)
    if out.exists() and any(out.iterdir()):
        raise click.ClickException(f"{out} is not empty")
    with console.status("writing genesis and node configs…"):
        write_network(config, count)
        write_kubo_repo(config)
        write_hosts_file(config)
    console.print(f"wrote {count} validator folder(s) and a Kubo repo to {out}; on each machine:")
    for i in range(count):
        home = config.validator_home(i)
        console.print(f"  {config.validator_host(i)}: wasmd start --home {home.relative_to(config.home.parent)}")
    console.print(f"  {config.kubo_host}: IPFS_PATH={config.kubo_home.relative_to(config.home.parent)} ipfs daemon")


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
