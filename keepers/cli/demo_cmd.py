"""`fedchain demo`: the end-to-end main job."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from chain_config import MAX_VALIDATORS, localnet_from_env
from keepers.cli.common import CliFailure, console
from keepers.demo import DemoOptions, run_demo
from keepers.multihost import run_demo_across_hosts
from keepers.web_server import WebError
from localnet.hosts import HostNetwork


@click.command()
@click.option("--trainers", default=7, show_default=True, type=click.IntRange(3, 10), help="Trainers who join.")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1, 50), help="Training rounds.")
@click.option("--validators", type=click.Choice(["1", str(MAX_VALIDATORS)]), default="1", show_default=True)
@click.option(
    "--model",
    type=click.Choice(["torch", "sklearn"]),
    default="torch",
    show_default=True,
    help="The task's model: a small PyTorch MLP, or NumPy softmax regression.",
)
@click.option("--keep-running", is_flag=True, help="Leave the localnet and Kubo running afterwards.")
@click.option(
    "--web",
    is_flag=True,
    help="Serve the web app on 127.0.0.1 while the demo runs (the task page shows the rounds live); "
    "with --keep-running it serves until Ctrl-C.",
)
@click.option("--web-port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="Port of --web.")
@click.option(
    "--hosts",
    is_flag=True,
    help="Every role on a host of its own (Linux network namespaces, needs root): 4 validators, IPFS, the "
    "keeper behind its TLS gateway, the organization and the trainers, talking only over the network.",
)
def demo(
    trainers: int, rounds: int, validators: str, model: str, keep_running: bool, web: bool, web_port: int, hosts: bool
) -> None:
    """Run the whole platform end to end on the localnet and reconcile every coin.

    An organization funds a digits task, trainers stake and train on private non-IID shards (one
    never shows up, one poisons round 2), the keeper aggregates with Flower and attests each round
    on chain, the poisoner is slashed, everyone claims, and the totals are checked to the coin.

    \b
    Example:
      fedchain demo --trainers 7 --rounds 5
      fedchain demo --web          # then open the printed URL
      fedchain demo --hosts        # across namespaced hosts, over TLS
    """
    if hosts:
        reason = HostNetwork.available()
        if reason:
            raise CliFailure(f"--hosts: {reason}")
        with tempfile.TemporaryDirectory(prefix="fedchain-hosts-") as work:
            if not run_demo_across_hosts(Path(work), console, rounds=rounds, trainers=trainers):
                raise CliFailure("the task across hosts did not settle with every trainer paid")
        return
    options = DemoOptions(
        trainers=trainers,
        rounds=rounds,
        validators=int(validators),
        model=model,
        keep_running=keep_running,
        web_port=web_port if web else None,
    )
    try:
        report = run_demo(options, localnet_from_env(), console)
    except WebError as error:
        raise CliFailure(str(error)) from None
    if not report.reconciled:
        raise CliFailure("the settlement did not reconcile: see the table above")
