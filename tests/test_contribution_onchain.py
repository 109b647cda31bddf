"""Paying for measured contribution, end to end: a free-rider joins, "trains", and earns nothing.

Real localnet, Kubo, the keeper's TLS SuperLink and ServerApp, and three trainers started as
`fedchain trainer train` starts them (sandboxed task workers): two honest, one sending the global
model back, signed and well-formed, every round. The task names the organization's validation set
by sha256; the keeper scores on it and pins a score table per round.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from client_kit.chain import ChainClient
from client_kit.data import load_folder, write_npz
from client_kit.ipfs import KuboStore
from client_kit.task_hub import Scoring, TaskHub, TaskStatus
from localnet.deploy import Deployment
from localnet.network import Localnet
from localnet.processes import ManagedProcess, free_port
from tests.conftest import dev_wallet
from tests.trainers import (
    KeeperUnderTest,
    create_task,
    keeper_run_config,
    key_file,
    render_digits_client,
    start_trainers,
    write_digits_shards,
)


@pytest.mark.slow
def test_a_free_rider_earns_nothing_while_honest_trainers_are_paid(
    localnet: Localnet, chain: ChainClient, deployment: Deployment, kubo: KuboStore, tmp_path: Path
) -> None:
    config = localnet.config
    hub = TaskHub(chain, deployment.contract)
    names = ["trainer1", "trainer2", "trainer3"]
    faults = {"trainer3": "freeride"}
    digits = load_digits()
    held_out = np.random.default_rng(1).permutation(len(digits.target))[:300]
    write_npz(tmp_path / "validation" / "acme", digits.data[held_out], digits.target[held_out])
    fingerprint = load_folder(tmp_path / "validation" / "acme").sha256()
    client_file, built = render_digits_client(config, deployment.contract, tmp_path / "org")
    task_id = create_task(
        chain, hub, kubo, config, built, names, rounds=2, scoring=Scoring.MEASURED, validation_sha256=fingerprint
    )
    task = hub.task(task_id)
    assert (task.scoring, task.validation_sha256) == (Scoring.MEASURED, fingerprint)
    write_digits_shards(config, names, tmp_path, per_trainer=300)
    run = keeper_run_config(config, deployment.contract, task_id, key_file(config, "keeper", tmp_path))
    run = replace(run, validation_dir=tmp_path / "validation")  # the keeper finds the set by its sha256
    processes: list[ManagedProcess] = []
    try:
        with KeeperUnderTest(chain, hub, config, task_id, tmp_path / "keeper", free_port()) as keeper:
            processes += start_trainers(config, client_file, deployment.contract, task_id, names, tmp_path, faults)
            code = keeper.submit(run)
            assert code == 0, (tmp_path / "keeper" / "runs.log").read_text()[-4000:]
    finally:
        for process in processes:
            process.stop()

    address = {name: str(dev_wallet(config, name).address()) for name in names}
    task = hub.task(task_id)
    assert task.status == TaskStatus.FINALIZED and task.rounds_completed == 2
    for record in hub.rounds(task_id):
        assert record.scores_cid, "every round names its score table"
        table = json.loads(kubo.cat(record.scores_cid))
        rows = {row["address"]: row for row in table["trainers"]}
        assert table["scoring"] == "measured" and table["validation_sha256"] == fingerprint
        assert rows[address["trainer3"]]["credit"] == 0 and rows[address["trainer3"]]["dropped"]
        assert sum(row["credit"] for row in rows.values()) == int(record.total_weight)
    participants = {p.trainer: p for p in hub.participants(task_id)}

    def paid(name: str) -> int:
        """What the trainer got or gets: its process claims by itself once the task is finalized."""
        member = participants[address[name]]
        return member.claimed_amount if member.claimed else hub.claimable(task_id, address[name]).amount

    assert participants[address["trainer3"]].weight == 0 and not participants[address["trainer3"]].slashed
    assert task.no_show_penalty > 0 and paid("trainer3") == task.stake - task.no_show_penalty  # a no-show
    for name in ("trainer1", "trainer2"):
        assert participants[address[name]].weight > 0 and paid(name) > task.stake  # stake back plus reward
