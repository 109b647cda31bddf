"""Chain cost: gas and inclusion latency of every task_hub message on a real localnet, and how
SubmitRound, FinalizeTask and Claim grow with the number of contributors (1 → 500).

Run: python -m bench chain_cost   (starts its own localnet on shifted ports, then removes it)
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cosmpy.aerial.wallet import LocalWallet
from rich.progress import Progress

from bench.accounts import derive_wallets, fund, register_and_join
from bench.report import write_results
from chain_config import LocalnetConfig
from client_kit.chain import ChainClient, TxResult
from client_kit.keys import wallet_from_mnemonic
from client_kit.task_hub import RoundMetrics, TaskHub, TaskSpec
from localnet.deploy import deploy
from localnet.network import Localnet

SIZES = (1, 10, 100, 500)
STAKE = 1_000
CID = "bafkreih2fjop66isr5si35gmadwgg3mi5fhz5tmcdaht7jjbbd7yzxtbc4"
SHA = "fa2a5cff79128f648df4cc00ec636d88e94f9ecd82180f3fa52108ff8cde6117"


@dataclass
class Measured:
    message: str
    contributors: int
    gas_used: int
    fee: int
    latency_s: float


def _timed(call) -> tuple[TxResult, float]:  # any zero-argument chain call
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def _spec(chain: ChainClient, keeper: str, trainers: int) -> TaskSpec:
    now = int(chain.block_time())
    return TaskSpec(
        model_name="bench",
        description="chain cost benchmark",
        client_cid=CID,
        client_sha256=SHA,
        initial_model_cid=CID,
        initial_model_sha256=SHA,
        rounds=2,
        min_trainers=1,
        max_trainers=trainers,
        stake=STAKE,
        join_deadline=now + 3600,
        training_deadline=now + 7200,
        keeper=keeper,
        no_show_penalty_bps=1000,
        slash_bps=5000,
    )


class _Recorder:
    """Runs one chain call, timing it, and keeps its gas, fee and latency."""

    def __init__(self) -> None:
        self.rows: list[Measured] = []

    def __call__(self, name: str, contributors: int, call):  # returns what `call` returns
        outcome, latency = _timed(call)
        result = outcome[1] if isinstance(outcome, tuple) else outcome
        self.rows.append(Measured(name, contributors, result.gas_used, result.fee, round(latency, 3)))
        return outcome


def _measure_size(
    record: _Recorder,
    chain: ChainClient,
    hub: TaskHub,
    org: LocalWallet,
    keeper: LocalWallet,
    size: int,
    progress: Progress,
) -> None:
    denom = chain.network.denom
    metrics = RoundMetrics(Decimal("0.5"), Decimal("0.9"), 100)
    # One extra trainer per task is slashed, so slash is measured on a populated task.
    wallets = derive_wallets(size + 1, f"n{size}")
    fund(chain, org, wallets, 200_000)
    spec = _spec(chain, str(keeper.address()), size + 1)
    task_id, _ = record("create_task", size, lambda: hub.create_task(org, spec, 1_000_000, denom))
    register_and_join(chain, hub, wallets, task_id, STAKE, progress)
    contributors = [(str(w.address()), 10 + i) for i, w in enumerate(wallets[:size])]
    record("submit_round", size, lambda: hub.submit_round(keeper, task_id, 1, CID, SHA, metrics, contributors))
    record("slash", size, lambda: hub.slash(keeper, task_id, str(wallets[-1].address()), "bench"))
    record("submit_round", size, lambda: hub.submit_round(keeper, task_id, 2, CID, SHA, metrics, contributors))
    record("finalize_task", size, lambda: hub.finalize_task(keeper, task_id))
    record("claim", size, lambda: hub.claim(wallets[0], task_id))
    if size > 1:
        record("claim", size, lambda: hub.claim(wallets[size - 1], task_id))


def measure(config: LocalnetConfig) -> list[Measured]:
    chain = ChainClient(config.network())
    deployment, _ = deploy(config)
    hub = TaskHub(chain, deployment.contract)
    org = wallet_from_mnemonic(config.dev_account("organization").mnemonic)
    keeper = wallet_from_mnemonic(config.dev_account("keeper").mnemonic)
    record = _Recorder()
    record("register", 0, lambda: hub.register(org, "bench org", organization=True))
    cancelled, _ = hub.create_task(org, _spec(chain, str(keeper.address()), 1), 10_000, config.denom)
    record("cancel_task", 0, lambda: hub.cancel_task(org, cancelled))
    with Progress() as progress:
        sizes = progress.add_task("contributor counts", total=len(SIZES))
        for size in SIZES:
            _measure_size(record, chain, hub, org, keeper, size, progress)
            progress.advance(sizes)
    record.rows.append(_join_cost(chain, hub, org, keeper, config.denom))
    _refund_path(record, chain, hub, org, keeper)
    admin = wallet_from_mnemonic(config.validator_mnemonic(0))  # the deployer administers the contract
    record("update_config", 0, lambda: hub.update_config(admin, fee_bps=hub.config().fee_bps))
    return record.rows


def _refund_path(record: _Recorder, chain: ChainClient, hub: TaskHub, org: LocalWallet, keeper: LocalWallet) -> None:
    """A task whose only round had no acceptable update: finalized with no contributors, and the
    organization takes its pool back with ClaimRefund."""
    task_id, _ = hub.create_task(org, _spec(chain, str(keeper.address()), 1), 10_000, chain.network.denom)
    trainer = derive_wallets(1, "refund")
    fund(chain, org, trainer, 200_000)
    with Progress() as progress:
        register_and_join(chain, hub, trainer, task_id, STAKE, progress)
    metrics = RoundMetrics(Decimal("2.3"), Decimal("0.1"), 0)
    for round_number in (1, 2):
        hub.submit_round(keeper, task_id, round_number, CID, SHA, metrics, [])
    record("finalize_task_no_contributors", 0, lambda: hub.finalize_task(keeper, task_id))
    record("claim_refund", 0, lambda: hub.claim_refund(org, task_id))


def _join_cost(chain: ChainClient, hub: TaskHub, org: LocalWallet, keeper: LocalWallet, denom: str) -> Measured:
    task_id, _ = hub.create_task(org, _spec(chain, str(keeper.address()), 2), 10_000, denom)
    trainer = derive_wallets(1, "join")[0]
    fund(chain, org, [trainer], 100_000)
    hub.register(trainer, "joiner", trainer=True)
    result, latency = _timed(lambda: hub.join_task(trainer, task_id, STAKE, denom))
    return Measured("join_task", 0, result.gas_used, result.fee, round(latency, 3))


def run(results_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="fedchain-bench-") as home:
        config = LocalnetConfig(home=Path(home), port_offset=5000)
        net = Localnet(config)
        try:
            net.up(1)
            rows = measure(config)
        finally:
            net.down()
    submit = {r.contributors: r.gas_used for r in rows if r.message == "submit_round"}
    marginal = (submit[max(SIZES)] - submit[min(SIZES)]) / (max(SIZES) - min(SIZES))
    summary = {
        "block_time_ms": config.block_time_ms,
        "submit_round_marginal_gas_per_contributor": round(marginal, 1),
        "finalize_gas_by_contributors": {r.contributors: r.gas_used for r in rows if r.message == "finalize_task"},
        "claim_gas_by_contributors": {r.contributors: r.gas_used for r in rows if r.message == "claim"},
    }
    write_results(
        results_dir,
        "chain_cost",
        [r.__dict__ for r in rows],
        summary,
        columns=["message", "contributors", "gas_used", "fee", "latency_s"],
        plot={
            "x": "contributors",
            "y": "gas_used",
            "series": "message",
            "series_values": ["submit_round", "finalize_task", "claim"],
            "logx": True,
            "logy": True,
            "title": "task_hub gas vs contributors",
        },
    )
    return summary
