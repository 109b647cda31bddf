"""What every command shares: output helpers, the error type, and targeting of a localnet."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from keepers.chain import ChainError
from localnet.install import InstallError
from localnet.network import LocalnetError

console = Console()
error_console = Console(stderr=True)


class CliFailure(Exception):
    """A command failed for a reason the user can act on; printed as one line, exit code 1."""


def console_error(message: str) -> None:
    first, _, rest = message.partition("\n")
    error_console.print(f"[bold red]error:[/] {first}", highlight=False)
    if rest:
        error_console.print(rest, highlight=False, markup=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


USER_ERRORS: tuple[type[Exception], ...] = (CliFailure, ChainError, LocalnetError, InstallError)
