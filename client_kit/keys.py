"""Account keys for trainers, organizations and keepers — loaded, never printed.

A key comes from (in this order): a named key in the key folder (a mnemonic file, mode 0600), the
OS keyring (service `fedchain`, when the optional `keyring` package has a backend), or — only on a
localnet — one of the well-known test-only dev accounts (`organization`, `keeper`, `trainer1`…).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from cosmpy.aerial.wallet import LocalWallet
from cosmpy.mnemonic import entropy_to_mnemonic, validate_mnemonic_and_normalise

from chain_config import TEST_ONLY_MNEMONICS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEYRING_SERVICE = "fedchain"


class KeysError(LookupError):
    """A key is unknown, malformed or unreadable; the message says which and where it looked."""


@dataclass(frozen=True)
class KeyInfo:
    name: str
    address: str
    source: str  # "file", "keyring" or "test-only dev account"


def wallet_from_mnemonic(mnemonic: str, prefix: str = "wasm") -> LocalWallet:
    try:
        normalised = validate_mnemonic_and_normalise(mnemonic.strip())
    except Exception:  # cosmpy raises plain ValueError/KeyError variants
        raise KeysError("the mnemonic is not a valid BIP-39 phrase") from None
    return LocalWallet.from_mnemonic(normalised, prefix)


def read_mnemonic_file(path: Path) -> str:
    """A mnemonic from a file only its owner can read: a key others can read is already lost."""
    if not path.is_file():
        raise KeysError(f"mnemonic file {path} does not exist")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeysError(
            f"mnemonic file {path} can be read by others (mode {mode:04o}): restrict it with `chmod 600 {path}`"
        )
    return path.read_text().strip()


class KeyStore:
    """Named keys in one folder, plus the localnet's dev accounts when `allow_dev_accounts`."""

    def __init__(self, folder: Path, prefix: str = "wasm", allow_dev_accounts: bool = True) -> None:
        self.folder = folder
        self.prefix = prefix
        self.allow_dev_accounts = allow_dev_accounts

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise KeysError(f"invalid key name {name!r}: use letters, digits, '.', '_' or '-'")
        return self.folder / f"{name}.mnemonic"

    def add(self, name: str, mnemonic: str | None = None) -> tuple[KeyInfo, str]:
        """Store a new (or imported) key; returns its info and the mnemonic to back up once."""
        path = self._path(name)
        if path.exists() or (self.allow_dev_accounts and name in TEST_ONLY_MNEMONICS):
            raise KeysError(f"a key named {name!r} already exists")
        phrase = mnemonic.strip() if mnemonic else entropy_to_mnemonic(os.urandom(32))
        wallet = wallet_from_mnemonic(phrase, self.prefix)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(phrase + "\n")
        return KeyInfo(name, str(wallet.address()), "file"), phrase

    def wallet(self, name: str) -> LocalWallet:
        path = self._path(name)
        if path.exists():
            return wallet_from_mnemonic(read_mnemonic_file(path), self.prefix)
        from_keyring = _keyring_mnemonic(name)
        if from_keyring:
            return wallet_from_mnemonic(from_keyring, self.prefix)
        if self.allow_dev_accounts and name in TEST_ONLY_MNEMONICS:
            return wallet_from_mnemonic(TEST_ONLY_MNEMONICS[name], self.prefix)
        raise KeysError(f"no key named {name!r} (looked in {self.folder}, the OS keyring and the dev accounts)")

    def key_file(self, name: str, scratch: Path) -> Path:
        """A 0600 mnemonic file for `name`, for processes that load the key themselves."""
        path = self._path(name)
        if path.exists():
            return path
        if self.allow_dev_accounts and name in TEST_ONLY_MNEMONICS:
            scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
            copy = scratch / f"{name}.mnemonic"
            descriptor = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(TEST_ONLY_MNEMONICS[name] + "\n")
            return copy
        raise KeysError(f"no key file for {name!r} in {self.folder}")

    def list(self) -> list[KeyInfo]:
        found = []
        if self.folder.is_dir():
            for path in sorted(self.folder.glob("*.mnemonic")):
                wallet = wallet_from_mnemonic(read_mnemonic_file(path), self.prefix)
                found.append(KeyInfo(path.stem, str(wallet.address()), "file"))
        if self.allow_dev_accounts:
            for name, phrase in TEST_ONLY_MNEMONICS.items():
                address = str(wallet_from_mnemonic(phrase, self.prefix).address())
                found.append(KeyInfo(name, address, "test-only dev account"))
        return found

    def info(self, name: str) -> KeyInfo:
        for key in self.list():
            if key.name == name:
                return key
        wallet = self.wallet(name)  # raises with a clear message when unknown
        return KeyInfo(name, str(wallet.address()), "keyring")


def _keyring_mnemonic(name: str) -> str | None:
    try:
        import keyring  # optional: only when the user installed it with a working backend
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, name)
    except Exception:  # a missing backend is "no key here", not an error
        return None
