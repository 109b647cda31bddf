"""What every command shares: output helpers, the error type, and targeting of a localnet."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from client_kit.builder import BuildError
from client_kit.chain import ChainError
from client_kit.data import DataError
from client_kit.envelope import EnvelopeError
from client_kit.ipfs import IpfsError
from client_kit.keys import KeysError
from client_kit.sandbox import SandboxError
from client_kit.settings import SettingsError
from client_kit.signer_app import TrainerError
from client_kit.worker import WorkerError
from localnet.errors import LocalnetError
from localnet.install import InstallError

# Piped output (scripts, CI logs) must not be cut at 80 columns: addresses are longer than that.
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(width=_WIDTH)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 400)


class CliFailure(Exception):
    """A command failed for a reason the user can act on; printed as one line, exit code 1."""


def console_error(message: str) -> None:
    first, _, rest = message.partition("\n")
    error_console.print(f"[bold red]error:[/] {escape(first)}", highlight=False)  # may quote others' text
    if rest:
        error_console.print(rest, highlight=False, markup=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


USER_ERRORS: tuple[type[Exception], ...] = (
    CliFailure,
    ChainError,
    LocalnetError,
    InstallError,
    KeysError,
    IpfsError,
    DataError,
    EnvelopeError,
    BuildError,
    TrainerError,
    WorkerError,
    SandboxError,
    SettingsError,
)
