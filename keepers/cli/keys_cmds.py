"""`fedchain keys ...` and `fedchain balance`: accounts and what they hold."""

from __future__ import annotations

import click
from rich.table import Table

from client_kit.keys import wallet_from_mnemonic
from keepers.cli.common import console, emit_json
from keepers.cli.context import Target, pass_target


@click.group()
def keys() -> None:
    """Manage account keys (a key folder; on the localnet also the test-only dev accounts)."""


@keys.command("add")
@click.argument("name")
@click.option("--recover", is_flag=True, help="Import an existing mnemonic (asked for, not echoed).")
@pass_target
def keys_add(target: Target, name: str, recover: bool) -> None:
    """Create a new key, or import one with --recover.

    \b
    Example:
      fedchain keys add alice
      fedchain keys add bob --recover
    """
    mnemonic = None
    if recover:
        mnemonic = click.prompt("mnemonic", hide_input=True)
        wallet_from_mnemonic(mnemonic)  # validate before anything is written
    info, phrase = target.keys.add(name, mnemonic)
    console.print(f"added {info.name}: {info.address}")
    if not recover:
        console.print("[bold yellow]Write this mnemonic down; it is shown only once:[/]")
        click.echo(phrase)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_target
def keys_list(target: Target, as_json: bool) -> None:
    """List known keys and their addresses.

    \b
    Example:
      fedchain keys list --json
    """
    found = target.keys.list()
    if as_json:
        emit_json([k.__dict__ for k in found])
        return
    table = Table("name", "address", "source")
    for key in found:
        table.add_row(key.name, key.address, key.source)
    console.print(table)


@keys.command("show")
@click.argument("name")
@pass_target
def keys_show(target: Target, name: str) -> None:
    """Print the address of a key (never its mnemonic).

    \b
    Example:
      fedchain keys show trainer1
    """
    click.echo(target.keys.info(name).address)


@click.command()
@click.argument("who")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_target
def balance(target: Target, who: str, as_json: bool) -> None:
    """Balance of a key name or an address.

    \b
    Example:
      fedchain balance organization
    """
    address = who if who.startswith(target.network.bech32_prefix + "1") else target.keys.info(who).address
    amount = target.chain.balance(address)
    if as_json:
        emit_json({"address": address, "amount": amount, "denom": target.network.denom})
    else:
        console.print(f"{address}: {amount:,} {target.network.denom}")
