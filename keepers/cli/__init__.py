"""`fedchain`: the command line for validators, organizations, trainers and keepers."""

from __future__ import annotations

import signal
import sys

import click

from keepers.cli.common import USER_ERRORS, console_error
from keepers.cli.context import target_options
from keepers.cli.demo_cmd import demo
from keepers.cli.keeper_cmds import keeper
from keepers.cli.keys_cmds import balance, keys
from keepers.cli.localnet_cmds import localnet
from keepers.cli.org_cmds import org
from keepers.cli.tasks_cmds import tasks
from keepers.cli.trainer_cmds import trainer
from keepers.cli.web_cmd import web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fedchain")
@target_options
@click.pass_context
def cli(ctx: click.Context, **target: object) -> None:
    """Federated learning with real money on a proof-of-stake chain.

    \b
    Example:
      fedchain localnet up          # start a 1-validator chain and Kubo on loopback
      fedchain localnet deploy      # store and instantiate the task_hub contract
      fedchain --node grpc+http://10.0.0.5:9090 --chain-id other-1 tasks list
    """
    ctx.meta["target_options"] = target


for command in (demo, localnet, keys, balance, org, tasks, trainer, keeper, web):
    cli.add_command(command)


def main() -> None:
    """Entry point: every failure becomes one plain line on stderr and exit code 1."""
    # Ctrl-C stops a long-running command (`web`, `keeper serve`, `trainer train`) even when the
    # shell that started it ignores SIGINT, as a non-interactive shell does for background jobs:
    # Python then installs no KeyboardInterrupt handler, and SIGINT would do nothing at all.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        console_error("aborted")
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except USER_ERRORS as error:
        console_error(str(error))
        sys.exit(1)
    except SystemExit:
        raise
