"""Keeper services and the `fedchain` CLI: chain client, watcher, aggregator, IPFS store."""
