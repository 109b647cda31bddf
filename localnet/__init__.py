"""The embedded network: builds the pinned node binaries, writes and runs a 1- or 4-validator
wasmd localnet plus Kubo, deploys task_hub, and starts and stops background programs."""
