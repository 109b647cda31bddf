"""Running an organization's code with nothing else in reach: no key, no network, no home folder.

A task's client.py carries the organization's model code (and, later, its training loop). Trainers
run it on their private data and keepers run it on their validation sets; a hash on chain only
proves whose code it is, not that it is harmless. So that code runs in a process of its own,
confined with Linux's bubblewrap (`bwrap`, Debian's `bubblewrap` package): fresh namespaces (no
network at all, not even the host's loopback), a read-only view of the system and of exactly the
paths it needs (Python, the installed packages, the data it works on), an empty /tmp as its home,
and a clean environment. Keys, key folders, other users' files and every service on the machine
stay out of reach; only numbers and model bytes come back, and the caller checks them.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import chain_config
import client_kit

_SYSTEM = ("/usr", "/etc", "/sys")
_MERGED = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # links into /usr on merged-/usr systems
_PASSED_ENV = ("LANG", "LC_ALL", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TZ")


class SandboxError(RuntimeError):
    """The sandbox cannot be set up here; the message says what to install or which flag to use."""


def bwrap() -> str | None:
    """bubblewrap's path: on PATH, else where Debian installs it (a trimmed PATH must not disable it)."""
    return shutil.which("bwrap") or shutil.which("bwrap", path="/usr/bin:/bin")


def sandboxed(command: Sequence[str], readable: Sequence[Path]) -> list[str]:
    """`command` wrapped in bubblewrap, seeing only the system, Python and `readable` (read-only)."""
    binary = bwrap()
    if binary is None:
        raise SandboxError(
            "bubblewrap is not installed: install it (apt-get install bubblewrap) so the organization's code "
            "runs without your key and without network, or pass --no-sandbox to run it unconfined"
        )
    arguments = [binary, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    for path in _SYSTEM:
        if Path(path).exists():
            arguments += ["--ro-bind", path, path]
    for path in _MERGED:
        link = Path(path)
        if link.is_symlink():
            arguments += ["--symlink", os.readlink(link), path]
        elif link.exists():
            arguments += ["--ro-bind", path, path]
    arguments += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in _dedupe([*python_paths(), *readable]):
        arguments += ["--ro-bind", str(path), str(path)]
    arguments += ["--chdir", "/tmp", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
    arguments += ["--setenv", "PATH", "/usr/bin:/bin"]
    for name in _PASSED_ENV:
        if name in os.environ:
            arguments += ["--setenv", name, os.environ[name]]
    return [*arguments, "--", *command]


def python_executable() -> str:
    """The running Python as the sandbox sees it: through the virtualenv's own folder (which is
    bound), not through a link elsewhere (such as a `.venv` link inside the repository)."""
    inside = Path(sys.prefix).resolve() / "bin" / Path(sys.executable).name
    return str(inside if inside.exists() else Path(sys.executable).resolve())


def python_paths() -> list[Path]:
    """What the Python running fedchain needs to start again inside the sandbox: its installation,
    the virtualenv, and fedchain's own packages (which an editable install keeps outside both)."""
    paths = [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent]
    paths += [Path(client_kit.__file__).resolve().parent, Path(chain_config.__file__).resolve().parent]
    return [p.resolve() for p in paths if p.exists()]


def _dedupe(paths: Sequence[Path]) -> list[Path]:
    """Each path once, and none inside another that is already bound."""
    resolved = sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept
