"""Scripts that build the pinned node binaries and run a 1- or 4-validator localnet plus Kubo."""
