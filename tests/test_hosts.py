"""The proof across hosts: four validators, IPFS, the keeper, the organization and three trainers,
each in a network namespace that sees only its own loopback and the bridge. A task runs from
creation to settlement over TLS; an impostor endpoint, a node nobody staked for and a validator
going dark are met on the way."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flwr.clientapp import ClientApp

from client_kit.node import TrainerNode
from client_kit.task_hub import TaskStatus
from keepers.certificate import ensure_certificate
from keepers.multihost import GATEWAY_PORT, Federation, HostCommandError, TaskShape, wait_until
from localnet.hosts import HostLayout, HostNetwork

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(HostNetwork.available() is not None, reason=f"{HostNetwork.available()}"),
]


def test_a_task_runs_to_settlement_across_hosts_over_tls(tmp_path: Path) -> None:
    layout = HostLayout.standard(tag="fct", subnet="10.78.0")
    shape = TaskShape(rounds=3)
    with Federation(layout, tmp_path, say=print) as fed:
        hub = fed.observer
        keeper = fed.start_keeper(bond_up_to=10**9)
        task_id = fed.create_task(shape, trainers=3)
        fed.await_acceptance(task_id)
        profile = hub.profile(fed.run("keeper", "keys", "show", "keeper").strip())
        assert profile is not None and profile.keeper is not None
        assert profile.keeper.endpoint == fed.keeper_endpoint  # published by the keeper, with its certificate
        fingerprint = profile.keeper.tls_cert_sha256
        assert fingerprint and len(fingerprint) == 64

        fed.enroll(task_id, shape)
        trainers = [fed.train(task_id, "trainer1"), fed.train(task_id, "trainer2")]

        # An impostor at another address with its own certificate (a real TLS server on the
        # organization's host): trainer3, pointed there, refuses it and sends nothing.
        organization = layout.host("organization")
        fake = ensure_certificate(tmp_path / "impostor", [organization.address])
        impostor = fed.network.spawn(
            organization, "impostor",
            ["openssl", "s_server", "-quiet", "-accept", str(GATEWAY_PORT), "-cert", str(fake.cert_file),
             "-key", str(fake.key_file)],
            tmp_path / "impostor.log", {"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        fed.processes.append(impostor)
        time.sleep(1.0)
        with pytest.raises(HostCommandError, match="refusing it") as refused:
            fed.run("trainer3", "trainer", "train", str(task_id), "--key", "trainer3", "--data", "data",
                    "--superlink", f"{organization.address}:{GATEWAY_PORT}", "--connect-timeout", "6")  # fmt: skip
        assert f"presented TLS certificate sha256 {fake.sha256[:16]}" in str(refused.value)
        trainers.append(fed.train(task_id, "trainer3"))

        # A node nobody staked for, speaking TLS to the right certificate, is refused by the SuperLink.
        stranger = TrainerNode(
            ClientApp(), fed.keeper_endpoint, {}, certificate_sha256=fingerprint,
            node_key=ec.generate_private_key(ec.SECP256R1()),
        )  # fmt: skip
        with pytest.raises(ConnectionError, match="did not admit this node"):
            stranger.run(threading.Event(), connect_timeout=3.0)
        # Only the Fleet API faces the network: Control is not routed, the SuperLink's port is closed.
        pinned = httpx.Client(verify=False, timeout=5)
        assert pinned.post(f"https://{fed.keeper_endpoint}/v1/control/list-runs", content=b"").status_code == 404
        with pytest.raises(httpx.ConnectError):
            pinned.post(f"https://{layout.host('keeper').address}:9092/v1/control/list-runs", content=b"")

        # Once round 1 is attested, validator 3's host goes dark: blocks go on without it.
        wait_until(lambda: hub.task(task_id).rounds_completed >= 1, 300, "round 1")
        fed.network.cut(layout.host("validator3"))
        before = fed.net.height(0)
        wait_until(lambda: fed.net.height(0) >= before + 5, 60, "new blocks without validator 3")

        wait_until(lambda: hub.task(task_id).status == TaskStatus.FINALIZED, 400, "settlement", every=2.0)
        for trainer in trainers:
            assert trainer.process.wait(120) == 0, trainer.log.read_text()[-3000:]
        assert keeper.alive()
        task = hub.task(task_id)
        assert (task.rounds_completed, task.productive_rounds) == (3, 3)
        rounds = hub.rounds(task_id)
        assert all(r.contributors_count >= 2 for r in rounds) and rounds[-1].contributors_count == 3
        for member in hub.participants(task_id):
            assert member.claimed and member.claimed_amount > shape.stake and member.node_public_key

    for trainer in trainers:
        log = " ".join(trainer.log.read_text().split())  # the live table wraps long lines
        assert f"keeper {fed.keeper_endpoint} (TLS certificate {fingerprint[:16]}" in log, log[-2000:]
        assert f"task {task_id} finished: claimed" in log, log[-2000:]
    keeper_log = " ".join(keeper.log.read_text().split())
    assert keeper_log.count("admitted the node of") == 3, keeper_log[-3000:]
    assert f"published endpoint {fed.keeper_endpoint}, TLS certificate sha256 {fingerprint}" in keeper_log
    assert subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.count("fct-") == 0
