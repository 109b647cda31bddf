"""Chain cost: gas and inclusion latency of every task_hub message on a real localnet, and how
SubmitRound, FinalizeTask and Claim grow with the number of contributors (1 → 1,000).

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

from bench import BENCH_PORT_OFFSET
from bench.accounts import derive_wallets, fund, register_and_join
from bench.report import write_results
from chain_config import ContractDefaults, LocalnetConfig
from client_kit.chain import ChainClient, TxResult
from client_kit.envelope import UpdateClaim, sign
from client_kit.keys import wallet_from_mnemonic
from client_kit.node_identity import claim_for
from client_kit.task_hub import RoundMetrics, SignedClaim, SlashEvidence, SlashReason, TaskHub, TaskSpec
from localnet.deploy import deploy
from localnet.network import Localnet

SIZES = (1, 10, 100, 500, 1000)
STAKE = 1_000
BOND = 5_000
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


def _spec(chain: ChainClient, keeper: str, trainers: int, join_s: int = 3600, training_s: int = 7200) -> TaskSpec:
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
        join_deadline=now + join_s,
        training_deadline=now + training_s,
        keeper=keeper,
        keeper_bond=BOND,
        max_keeper_fee_bps=100,
        no_show_penalty_bps=1000,
        slash_bps=5000,
        max_examples_per_trainer=1000,
        max_update_norm=Decimal(50),
        round_timeout_secs=10,  # the stalled task's 20-second training window holds two rounds of 10 s
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


def _signed_claim(
    trainer: LocalWallet, chain: ChainClient, contract: str, task_id: int, task_round: int
) -> SignedClaim:
    """The trainer's own signed claim for a round, the evidence a slash carries."""
    claim = UpdateClaim(chain.network.chain_id, contract, task_id, task_round, 100, "ab" * 32, "5f" * 32)
    return SignedClaim.of(sign(trainer.signer(), claim))


def _open_task(
    record: _Recorder,
    chain: ChainClient,
    hub: TaskHub,
    org: LocalWallet,
    keeper: LocalWallet,
    spec: TaskSpec,
    size: int,
) -> int:
    denom = chain.network.denom
    task_id, _ = record("create_task", size, lambda: hub.create_task(org, spec, 1_000_000, denom))
    record("accept_task", size, lambda: hub.accept_task(keeper, task_id, BOND, denom))
    return task_id


def _measure_size(
    record: _Recorder,
    chain: ChainClient,
    hub: TaskHub,
    org: LocalWallet,
    keeper: LocalWallet,
    size: int,
    progress: Progress,
) -> None:
    metrics = RoundMetrics(Decimal("0.5"), "accuracy", Decimal("0.9"), 100)
    # One extra trainer per task is slashed, so slash is measured on a populated task.
    wallets = derive_wallets(size + 1, f"n{size}")
    fund(chain, org, wallets, 200_000)
    task_id = _open_task(record, chain, hub, org, keeper, _spec(chain, str(keeper.address()), size + 1), size)
    register_and_join(chain, hub, wallets, task_id, STAKE, progress)
    contributors = [(str(w.address()), 10 + i % 900) for i, w in enumerate(wallets[:size])]  # within the cap
    record("submit_round", size, lambda: hub.submit_round(keeper, task_id, 1, CID, SHA, metrics, contributors))
    # A slash rides in its round's transaction; its own gas is the difference it makes there.
    sender, culprit = str(keeper.address()), wallets[-1]
    evidence = SlashEvidence(_signed_claim(culprit, chain, hub.contract, task_id, 2), CID)
    slash = TaskHub.slash_body(task_id, 2, str(culprit.address()), SlashReason.NORM_EXCEEDED, "bench", evidence)
    round_two = hub.message(sender, TaskHub.submit_round_body(task_id, 2, CID, SHA, metrics, contributors))
    with_slash = [round_two, hub.message(sender, slash)]
    alone, both = chain.simulate(keeper, [round_two]), chain.simulate(keeper, with_slash)
    result, latency = _timed(lambda: chain.broadcast(keeper, with_slash))
    record.rows.append(Measured("slash", size, both - alone, result.fee, round(latency, 3)))
    record.rows.append(Measured("submit_round+slash", size, result.gas_used, result.fee, round(latency, 3)))
    record("finalize_task", size, lambda: hub.finalize_task(keeper, task_id))
    record("claim", size, lambda: hub.claim(wallets[0], task_id))
    if size > 1:
        record("claim", size, lambda: hub.claim(wallets[size - 1], task_id))


def measure(config: LocalnetConfig) -> list[Measured]:
    """Every task_hub message; the two that need time to pass (settling a task whose keeper never
    delivered, sweeping after the claim window) are set up first and measured last."""
    chain = ChainClient(config.network())
    deployment, _ = deploy(
        config,
        defaults=ContractDefaults(grace_period_secs=60, claim_window_secs=60, max_trainers_per_task=max(SIZES) + 1),
    )
    hub = TaskHub(chain, deployment.contract)
    org = wallet_from_mnemonic(config.dev_account("organization").mnemonic)
    keeper = wallet_from_mnemonic(config.dev_account("keeper").mnemonic)
    denom = config.denom
    record = _Recorder()
    record("register", 0, lambda: hub.register(org, "bench org", organization=True))
    record("register_keeper", 0, lambda: hub.register_keeper(keeper, "bench keeper", "127.0.0.1:9092", 100))
    stalled, swept = _slow_paths(record, chain, hub, org, keeper)
    # Three seats for two joiners: a full task is committed, and could no longer be left or cancelled.
    cancelled = _open_task(record, chain, hub, org, keeper, _spec(chain, str(keeper.address()), 3), 0)
    joiner, leaver = derive_wallets(2, "join")
    fund(chain, org, [joiner, leaver], 100_000)
    for trainer in (joiner, leaver):
        hub.register(trainer, "joiner", trainer=True)
    node_key = claim_for(joiner, hub.chain.network.chain_id, hub.contract, cancelled)
    record("join_task", 0, lambda: hub.join_task(joiner, cancelled, STAKE, denom, node_key))
    hub.join_task(leaver, cancelled, STAKE, denom)
    moved = claim_for(leaver, hub.chain.network.chain_id, hub.contract, cancelled)
    record("set_node_key", 0, lambda: hub.set_node_key(leaver, cancelled, moved))
    record("leave_task", 0, lambda: hub.leave_task(leaver, cancelled))
    record("cancel_task", 0, lambda: hub.cancel_task(org, cancelled))
    record("claim_after_cancel", 0, lambda: hub.claim(joiner, cancelled))
    with Progress() as progress:
        sizes = progress.add_task("contributor counts", total=len(SIZES))
        for size in SIZES:
            _measure_size(record, chain, hub, org, keeper, size, progress)
            progress.advance(sizes)
    admin = wallet_from_mnemonic(config.validator_mnemonic(0))  # the deployer administers the contract
    record("update_config", 0, lambda: hub.update_config(admin, fee_bps=hub.config().fee_bps))
    _wait_until(chain, hub.task(stalled).training_deadline + 61)
    record("finalize_task_keeper_failed", 0, lambda: hub.finalize_task(org, stalled))
    _wait_until(chain, (hub.task(swept).settled_at or 0) + 61)
    record("sweep", 0, lambda: hub.sweep(org, swept))
    return record.rows


def _slow_paths(
    record: _Recorder, chain: ChainClient, hub: TaskHub, org: LocalWallet, keeper: LocalWallet
) -> tuple[int, int]:
    """A task whose keeper accepts, gets a trainer, and never delivers (settled once its deadline
    and grace pass, the bond compensating), and a finalized task to sweep once its window closes."""
    trainers = derive_wallets(2, "slow")
    fund(chain, org, trainers, 200_000)
    stalled = _open_task(record, chain, hub, org, keeper, _spec(chain, str(keeper.address()), 1, 20, 40), 1)
    swept = _open_task(record, chain, hub, org, keeper, _spec(chain, str(keeper.address()), 1), 1)
    with Progress() as progress:
        register_and_join(chain, hub, trainers[:1], stalled, STAKE, progress)
        register_and_join(chain, hub, trainers[1:], swept, STAKE, progress)
    metrics = RoundMetrics(Decimal("2.3"), "accuracy", Decimal("0.1"), 0)
    for round_number in (1, 2):  # empty rounds: attested, paying and penalizing nobody
        hub.submit_round(keeper, swept, round_number, CID, SHA, metrics, [])
    record("finalize_task_empty_rounds", 0, lambda: hub.finalize_task(keeper, swept))
    return stalled, swept


def _wait_until(chain: ChainClient, chain_time: float) -> None:
    while chain.block_time() < chain_time:
        time.sleep(1.0)


def run(results_dir: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="fedchain-bench-") as home:
        config = LocalnetConfig(home=Path(home), port_offset=BENCH_PORT_OFFSET)
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
        "slash_gas_by_contributors": {r.contributors: r.gas_used for r in rows if r.message == "slash"},
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
            "series_values": ["submit_round", "slash", "finalize_task", "claim"],
            "logx": True,
            "logy": True,
            "title": "task_hub gas vs contributors",
        },
    )
    return summary
