"""The keeper and the `fedchain` command line: the keeper service and its Flower ServerApp, the
chain-bound FedAvg strategy and update verification, the live feed, and the end-to-end demo."""
