"""The one error type of localnet operations."""


class LocalnetError(RuntimeError):
    """A localnet operation failed; the message names the cause and, where useful, the log file."""
