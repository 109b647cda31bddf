"""A full task lifecycle on the real localnet through the Python binding, reconciled to the coin."""

from __future__ import annotations

from decimal import Decimal

import pytest

from client_kit.chain import ChainClient, ChainError
from client_kit.ipfs import KuboStore
from client_kit.keys import wallet_from_mnemonic
from client_kit.task_hub import RoundMetrics, Settlement, TaskHub, TaskSpec, TaskStatus
from localnet.deploy import Deployment
from localnet.network import Localnet
from tests.conftest import dev_wallet


@pytest.fixture(scope="module")
def hub(chain: ChainClient, deployment: Deployment) -> TaskHub:
    return TaskHub(chain, deployment.contract)


def _spec(chain: ChainClient, kubo: KuboStore, keeper: str, **overrides: object) -> TaskSpec:
    client = kubo.add(b"print('client.py for the lifecycle test')\n", "client.py")
    model = kubo.add(b"\x00" * 64, "model.safetensors")
    now = int(chain.block_time())
    fields = dict(
        model_name="digits-lifecycle",
        description="on-chain lifecycle test",
        client_cid=client.cid,
        client_sha256=client.sha256,
        initial_model_cid=model.cid,
        initial_model_sha256=model.sha256,
        rounds=2,
        min_trainers=2,
        max_trainers=3,
        stake=1_000_000,
        join_deadline=now + 600,
        training_deadline=now + 1200,
        keeper=keeper,
        no_show_penalty_bps=1000,
        slash_bps=5000,
    )
    fields.update(overrides)
    return TaskSpec(**fields)  # type: ignore[arg-type]


def test_full_lifecycle_pays_everyone_exactly(localnet: Localnet, chain: ChainClient, hub: TaskHub, kubo: KuboStore):
    config = localnet.config
    denom = config.denom
    org, keeper, treasury = (dev_wallet(config, n) for n in ("organization", "keeper", "treasury"))
    trainers = [dev_wallet(config, f"trainer{i}") for i in (1, 2, 3)]
    address = {w: str(w.address()) for w in [org, keeper, treasury, *trainers]}
    fees: dict[str, int] = {a: 0 for a in address.values()}

    def paid(wallet, result) -> None:  # local helper
        fees[address[wallet]] += result.fee

    paid(org, hub.register(org, "Acme Health", organization=True))
    for i, trainer in enumerate(trainers):
        paid(trainer, hub.register(trainer, f"trainer-{i}", trainer=True))
    start = {a: chain.balance(a) for a in address.values()}
    fees = {a: 0 for a in address.values()}  # count only the fees paid from here on

    pool = 50_000_003
    first_height = chain.height()
    task_id, result = hub.create_task(org, _spec(chain, kubo, address[keeper]), pool, denom)
    paid(org, result)
    for trainer in trainers:
        paid(trainer, hub.join_task(trainer, task_id, 1_000_000, denom))
    task = hub.task(task_id)
    assert (task.status, task.participants, task.pool) == (TaskStatus.OPEN, 3, pool)

    metrics = RoundMetrics(Decimal("0.61"), Decimal("0.83"), 900)
    cid, sha = task.initial_model_cid, task.initial_model_sha256
    t1, t2, t3 = (address[t] for t in trainers)
    paid(keeper, hub.submit_round(keeper, task_id, 1, cid, sha, metrics, [(t1, 300), (t2, 100)]))
    with pytest.raises(ChainError, match="round out of order"):
        hub.submit_round(keeper, task_id, 3, cid, sha, metrics, [(t1, 1)])
    paid(keeper, hub.slash(keeper, task_id, t2, "update norm 41.2 exceeds bound 10"))
    paid(keeper, hub.submit_round(keeper, task_id, 2, cid, sha, metrics, [(t1, 200)]))
    records = hub.rounds(task_id)
    assert [r.round for r in records] == [1, 2] and records[1].metrics.accuracy == Decimal("0.83")
    paid(keeper, hub.finalize_task(keeper, task_id))

    task = hub.task(task_id)
    fee = pool * 200 // 10_000
    forfeited = 500_000 + 100_000  # slash 50% of trainer2's stake + no-show 10% of trainer3's
    assert (task.status, task.settlement, task.fee, task.forfeited) == (
        TaskStatus.FINALIZED,
        Settlement.NORMAL,
        fee,
        forfeited,
    )
    assert task.distributable == pool - fee + forfeited

    expected = {t1: 1_000_000 + task.distributable, t2: 500_000, t3: 900_000}
    for trainer in trainers:
        assert hub.claimable(task_id, address[trainer]) == expected[address[trainer]]
        paid(trainer, hub.claim(trainer, task_id))
    with pytest.raises(ChainError, match="already claimed"):
        hub.claim(trainers[0], task_id)
    assert hub.claimable(task_id, address[org]) == 0  # a single contributor leaves no rounding dust

    end = {a: chain.balance(a) for a in address.values()}
    assert end[address[treasury]] - start[address[treasury]] == fee
    assert end[address[org]] - start[address[org]] == -pool - fees[address[org]]
    for trainer in trainers:
        a = address[trainer]
        assert end[a] - start[a] == expected[a] - 1_000_000 - fees[a]
    participants = {p.trainer: p for p in hub.participants(task_id)}
    assert participants[t2].slashed and participants[t2].slash_reason.startswith("update norm")
    assert all(p.claimed for p in participants.values())
    profile = hub.profile(t3)
    assert profile is not None and profile["no_shows"] >= 1

    # A watcher following the contract from a height sees this task's whole life, in order.
    mine = [
        e.attributes
        for e in chain.contract_events(hub.contract, first_height)
        if e.attributes.get("task_id") == str(task_id)
    ]
    actions = [a["action"] for a in mine]
    assert actions == [
        "create_task",
        "join_task",
        "join_task",
        "join_task",
        "submit_round",
        "slash",
        "submit_round",
        "finalize_task",
        "claim",
        "claim",
        "claim",
    ]
    assert [a["round"] for a in mine if a["action"] == "submit_round"] == ["1", "2"]


def test_bad_messages_are_refused_and_change_nothing(
    localnet: Localnet, chain: ChainClient, hub: TaskHub, kubo: KuboStore
) -> None:
    config = localnet.config
    org, keeper = dev_wallet(config, "organization"), dev_wallet(config, "keeper")
    hub.register(org, "Acme Health", organization=True)
    before_tasks = hub.config().next_task_id
    before_balance = chain.balance(str(org.address()))
    bad = _spec(chain, kubo, str(keeper.address()), client_cid="not-a-cid")
    with pytest.raises(ChainError, match="not a valid CID"):
        hub.create_task(org, bad, 1_000, config.denom)
    late = _spec(chain, kubo, str(keeper.address()), join_deadline=int(chain.block_time()) - 5)
    with pytest.raises(ChainError, match="deadlines"):
        hub.create_task(org, late, 1_000, config.denom)
    assert hub.config().next_task_id == before_tasks
    assert chain.balance(str(org.address())) == before_balance  # refused in simulation: no fee either


def test_only_the_admin_changes_the_platform_settings(localnet: Localnet, chain: ChainClient, hub: TaskHub) -> None:
    config = localnet.config
    admin = wallet_from_mnemonic(config.validator_mnemonic(0), config.bech32_prefix)  # the deployer
    before = hub.config()
    assert before.admin == str(admin.address())
    with pytest.raises(ChainError, match="admin"):
        hub.update_config(dev_wallet(config, "organization"), fee_bps=0)
    assert hub.config() == before
    hub.update_config(admin, fee_bps=before.fee_bps + 50)
    try:
        changed = hub.config()
        assert changed.fee_bps == before.fee_bps + 50 and changed.treasury == before.treasury
    finally:
        hub.update_config(admin, fee_bps=before.fee_bps)
    assert hub.config() == before
