"""Rounds across hosts: 10 trainers, each on a host of its own, with and without a 100 Mbit/s link.

The whole federation runs across network namespaces (`keepers.multihost`): four validators, IPFS,
the keeper behind its TLS gateway, the organization and ten trainer hosts. The same task runs
twice on it: first with the links as the kernel gives them (veth pairs, no limit: the "loopback"
reference), then with every trainer host's link shaped to 100 Mbit/s each way by `tc tbf`. This
kernel has no `netem`, so no delay or loss is emulated: only bandwidth.

A round's wall time is measured from the chain, as anyone would see it: the observer polls the
task every 50 ms and notes when each round's attestation lands; a round is the time between two
attestations (rounds 2..R, so first contact is left out). Before each task, 25 MB are fetched from
the IPFS host's gateway on trainer1's host with curl, to show what the link really carries.

The target: the shaped round is at most 1.5 x the unshaped round plus the transfer time the rate
implies: each trainer downloads the global model and uploads its update over its own link
(2 x model bytes at 100 Mbit/s; federated evaluation off, so no third transfer).

Run (root): python -m bench multihost
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.report import write_results
from client_kit.ipfs import KuboStore
from client_kit.task_hub import TaskHub
from keepers.multihost import Federation, TaskShape
from localnet.hosts import HostLayout, HostNetwork

TRAINERS = 10
RATE_MBIT = 100.0
HIDDEN = 8192  # digits MLP 64 -> 8192 -> 10: 615,434 parameters, 2.46 MB of float32
DIGITS_MLP = Path(__file__).resolve().parent.parent / "keepers" / "examples" / "digits_mlp.py"
MODEL = ("--model", f"{DIGITS_MLP}:DigitsMLP", "--model-args", f'{{"hidden": {HIDDEN}}}', "--epochs", "1")
PARAMETERS = 64 * HIDDEN + HIDDEN + HIDDEN * 10 + 10


def _round_times(fed: Federation, hub: TaskHub, task_id: int, rounds: int) -> list[float]:
    """When each round's attestation became visible on chain, polled every 50 ms; then the gaps."""
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 900
    while len(seen) < rounds and time.monotonic() < deadline:
        done = hub.task(task_id).rounds_completed
        now = time.monotonic()
        for number in range(1, done + 1):
            seen.setdefault(number, now)
        time.sleep(0.05)
    if len(seen) < rounds:
        raise RuntimeError(f"only {len(seen)} of {rounds} rounds attested in 15 minutes; logs in {fed.work / 'logs'}")
    return [round(seen[n] - seen[n - 1], 3) for n in range(2, rounds + 1)]


def _link_mbit(fed: Federation, blob_cid: str) -> float:
    """What trainer1's link really carries: 25 MB from the IPFS host's gateway, timed by curl there."""
    gateway = f"http://{fed.config.kubo_host}:{fed.config.kubo_ports.gateway}/ipfs/{blob_cid}"
    command = [*fed.network.prefix(fed.layout.host("trainer1").address), "curl", "-sf", "-o", "/dev/null"]
    done = subprocess.run([*command, "-w", "%{speed_download}", gateway], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"curl from trainer1's host failed: {done.stderr}")
    return round(float(done.stdout) * 8 / 1e6, 1)


def _one_task(fed: Federation, hub: TaskHub, shape: TaskShape, first: bool) -> list[float]:
    task_id = fed.create_task(shape, TRAINERS, MODEL)
    fed.await_acceptance(task_id)
    fed.enroll(task_id, shape, register=first)
    trainers = [fed.train(task_id, host.name) for host in fed.layout.named("trainer")]
    gaps = _round_times(fed, hub, task_id, shape.rounds)
    for trainer in trainers:
        trainer.process.wait(300)
    return gaps


def run(results_dir: Path, rounds: int = 6) -> dict:
    reason = HostNetwork.available()
    if reason:
        raise RuntimeError(f"the multi-host benchmark needs network namespaces: {reason}")
    layout = HostLayout.standard(tag="fcb", subnet="10.79.0", trainers=TRAINERS)
    shape = TaskShape(rounds=rounds, per_trainer=150, round_timeout_secs=120)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fedchain-bench-hosts-") as work:
        with Federation(layout, Path(work), say=print) as fed:
            hub = fed.observer
            fed.start_keeper(10**9, "--no-federated-evaluation")
            blob = KuboStore(fed.config.kubo_api_url).add(os.urandom(25_000_000), "link-check").cid
            measured = {}
            for link, mbit in (("unshaped veth", None), (f"{RATE_MBIT:.0f} Mbit/s per trainer host", RATE_MBIT)):
                if mbit is not None:
                    for host in layout.named("trainer"):
                        fed.network.limit_rate(host, mbit)
                measured[link] = _link_mbit(fed, blob)
                gaps = _one_task(fed, hub, shape, first=mbit is None)
                for number, seconds in enumerate(gaps, start=2):
                    rows.append({"link": link, "round": number, "round_s": seconds})
                print(f"{link}: rounds {gaps}", flush=True)
    unshaped = statistics.mean(r["round_s"] for r in rows if r["link"].startswith("unshaped"))
    shaped = statistics.mean(r["round_s"] for r in rows if not r["link"].startswith("unshaped"))
    model_bytes = PARAMETERS * 4
    transfer = 2 * model_bytes * 8 / (RATE_MBIT * 1e6)
    bound = 1.5 * unshaped + transfer
    summary = {
        "trainers": TRAINERS,
        "hosts": len(layout.hosts),
        "model": f"digits MLP 64-{HIDDEN}-10, {PARAMETERS:,} parameters ({model_bytes / 1e6:.2f} MB)",
        "rate_emulated": f"{RATE_MBIT:.0f} Mbit/s each way per trainer host (tc tbf); delay not emulated (no netem)",
        "link_check_mbit": measured,  # 25 MB through trainer1's link, as curl saw it
        "mean_round_unshaped_s": round(unshaped, 3),
        "mean_round_shaped_s": round(shaped, 3),
        "transfer_implied_s": round(transfer, 3),
        "target_s": round(bound, 3),
        "target_met": shaped <= bound,
    }
    write_results(results_dir, "multihost", rows, summary, ["link", "round", "round_s"])
    return summary
