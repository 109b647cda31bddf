"""A full task lifecycle on the real localnet through the Python binding, reconciled to the coin."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from cosmpy.aerial.wallet import LocalWallet

from chain_config import LocalnetConfig
from client_kit.chain import ChainClient, ChainError, TxResult
from client_kit.envelope import SignedEnvelope, UpdateClaim, sign
from client_kit.ipfs import KuboStore
from client_kit.keys import wallet_from_mnemonic
from client_kit.node_identity import claim_for, node_private_key, prove
from client_kit.task_hub import (
    ROUND_WEIGHT,
    RoundMetrics,
    Scoring,
    SignedClaim,
    SlashEvidence,
    SlashReason,
    TaskHub,
    TaskSpec,
    TaskStatus,
)
from localnet.deploy import Deployment, deploy, module_address
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
        keeper_bond=2_000_000,
        max_keeper_fee_bps=100,
        no_show_penalty_bps=1000,
        slash_bps=5000,
        max_examples_per_trainer=1000,
        max_update_norm=Decimal(50),
        round_timeout_secs=60,
    )
    fields.update(overrides)
    return TaskSpec(**fields)  # type: ignore[arg-type]


def _claim(trainer: LocalWallet, chain: ChainClient, contract: str, task_id: int, task_round: int) -> SignedEnvelope:
    """The update claim a trainer's client.py signs (the evidence a slash must carry)."""
    claim = UpdateClaim(chain.network.chain_id, contract, task_id, task_round, 300, "ab" * 32, "5f" * 32)
    return sign(trainer.signer(), claim)


def test_full_lifecycle_pays_everyone_exactly(localnet: Localnet, chain: ChainClient, hub: TaskHub, kubo: KuboStore):
    config = localnet.config
    denom = config.denom
    org, keeper, treasury = (dev_wallet(config, n) for n in ("organization", "keeper", "treasury"))
    trainers = [dev_wallet(config, f"trainer{i}") for i in (1, 2, 3)]
    address = {w: str(w.address()) for w in [org, keeper, treasury, *trainers]}
    fees: dict[str, int] = {a: 0 for a in address.values()}

    def paid(wallet: LocalWallet, result: TxResult) -> None:
        fees[address[wallet]] += result.fee

    paid(org, hub.register(org, "Acme Health", organization=True))
    paid(keeper, hub.register_keeper(keeper, "Keeper One", "127.0.0.1:9092", fee_bps=100))
    for i, trainer in enumerate(trainers):
        paid(trainer, hub.register(trainer, f"trainer-{i}", trainer=True))
    start = {a: chain.balance(a) for a in address.values()}
    fees = {a: 0 for a in address.values()}  # count only the fees paid from here on

    pool, bond, stake = 50_000_003, 2_000_000, 1_000_000
    first_height = chain.height()
    task_id, result = hub.create_task(org, _spec(chain, kubo, address[keeper]), pool, denom)
    paid(org, result)
    assert hub.task(task_id).status == TaskStatus.PROPOSED
    with pytest.raises(ChainError, match="needs it"):  # nobody joins before the keeper consents
        hub.join_task(trainers[0], task_id, stake, denom)
    paid(keeper, hub.accept_task(keeper, task_id, bond, denom))
    node_key = {t: claim_for(t, chain.network.chain_id, hub.contract, task_id) for t in trainers}
    for trainer in trainers:
        paid(trainer, hub.join_task(trainer, task_id, stake, denom, node_key[trainer]))
        if trainer is trainers[1]:  # while the task is not full a trainer may leave...
            paid(trainer, hub.leave_task(trainer, task_id))
            paid(trainer, hub.join_task(trainer, task_id, stake, denom))  # ...and come back
            # Another trainer's key cannot be named without its private half (the proof is the key's)...
            squat = prove(node_private_key(trainer, chain.network.chain_id, hub.contract, task_id), hub.contract,
                          task_id, address[trainer])  # fmt: skip
            forged = type(squat)(node_key[trainers[0]].public_key, squat.proof)
            with pytest.raises(ChainError, match="node_key_proof must be the node key's P-256 signature"):
                hub.set_node_key(trainer, task_id, forged)
            paid(trainer, hub.set_node_key(trainer, task_id, node_key[trainer]))  # ...naming its key again
    with pytest.raises(ChainError, match="is full"):  # full: round 1 may start now, nobody backs out
        hub.leave_task(trainers[2], task_id)
    task = hub.task(task_id)
    assert (task.status, task.participants, task.pool, task.bonded) == (TaskStatus.OPEN, 3, pool, True)
    named = {hub.participant(task_id, address[t]).node_public_key for t in trainers}
    assert named == {claim.public_key for claim in node_key.values()}
    assert task.keeper_fee_bps == 100 and task.treasury == address[treasury]

    metrics = RoundMetrics(Decimal("0.61"), "accuracy", Decimal("0.83"), 900)
    cid, sha = task.initial_model_cid, task.initial_model_sha256
    t1, t2, t3 = (address[t] for t in trainers)
    paid(keeper, hub.submit_round(keeper, task_id, 1, cid, sha, metrics, [(t1, 300), (t2, 100)]))
    with pytest.raises(ChainError, match="round out of order"):
        hub.submit_round(keeper, task_id, 3, cid, sha, metrics, [(t1, 1)])
    with pytest.raises(ChainError, match="needs it"):  # once a round is attested, nobody leaves
        hub.leave_task(trainers[2], task_id)
    # Round 2: trainer2's update exceeded the norm bound; the keeper slashes it in the round's own
    # transaction, with trainer2's own signed claim for round 2 and the update pinned to IPFS.
    evidence = SlashEvidence(SignedClaim.of(_claim(trainers[1], chain, hub.contract, task_id, 2)), cid)
    forged = SlashEvidence(SignedClaim.of(_claim(trainers[0], chain, hub.contract, task_id, 2)), cid)
    keeper_address = address[keeper]
    round_two = hub.message(keeper_address, TaskHub.submit_round_body(task_id, 2, cid, sha, metrics, [(t1, 200)]))
    with pytest.raises(ChainError, match="does not belong to"):  # trainer1's claim does not convict trainer2
        slash = TaskHub.slash_body(task_id, 2, t2, SlashReason.NORM_EXCEEDED, "norm 41.2 > 10", forged)
        chain.broadcast(keeper, [round_two, hub.message(keeper_address, slash)])
    slash = TaskHub.slash_body(task_id, 2, t2, SlashReason.NORM_EXCEEDED, "norm 41.2 > 10", evidence)
    paid(keeper, chain.broadcast(keeper, [round_two, hub.message(keeper_address, slash)]))
    records = hub.rounds(task_id)
    assert [r.round for r in records] == [1, 2] and records[1].metrics.value == Decimal("0.83")
    paid(keeper, hub.finalize_task(keeper, task_id))

    task = hub.task(task_id)
    fee, keeper_fee = pool * 200 // 10_000, pool * 100 // 10_000
    distributable = pool - fee - keeper_fee
    slashed_reward = distributable * 100 // 600  # trainer2's round-1 weight: its share goes to the treasury
    no_show = stake * 1000 // 10_000  # trainer3, both rounds delivered
    assert (task.status, task.fee, task.keeper_fee, task.distributable) == (
        TaskStatus.FINALIZED,
        fee,
        keeper_fee,
        distributable,
    )
    assert task.treasury_paid == fee + stake // 2 + no_show + slashed_reward
    assert (task.keeper_paid, task.bond_forfeited, task.org_refunded) == (bond + keeper_fee, 0, 0)

    expected = {t1: stake + distributable * 500 // 600, t2: stake // 2, t3: stake - no_show}
    for trainer in trainers:
        owed = hub.claimable(task_id, address[trainer])
        assert owed.amount == expected[address[trainer]] == owed.stake_back + owed.reward + owed.compensation
        paid(trainer, hub.claim(trainer, task_id))
    with pytest.raises(ChainError, match="already claimed"):
        hub.claim(trainers[0], task_id)
    with pytest.raises(ChainError, match="can be swept from"):  # the claim window is still open
        hub.sweep(org, task_id)
    assert hub.task(task_id).held == distributable - distributable * 500 // 600 - slashed_reward  # rounding dust

    end = {a: chain.balance(a) for a in address.values()}
    assert end[address[treasury]] - start[address[treasury]] == task.treasury_paid
    assert end[address[org]] - start[address[org]] == -pool - fees[address[org]]
    assert end[keeper_address] - start[keeper_address] == keeper_fee - fees[keeper_address]
    for trainer in trainers:
        a = address[trainer]
        assert end[a] - start[a] == expected[a] - stake - fees[a]
    (record,) = hub.slashes(task_id)
    assert (record.trainer, record.round, record.reason, record.update_cid) == (t2, 2, SlashReason.NORM_EXCEEDED, cid)
    assert json.loads(record.claim.payload)["task_id"] == task_id  # anyone can re-verify it off chain
    profile = hub.profile(t3)
    assert profile is not None and profile.no_shows >= 1
    keeper_profile = hub.profile(keeper_address)
    assert keeper_profile is not None and keeper_profile.keeper is not None
    assert keeper_profile.keeper.endpoint == "127.0.0.1:9092" and keeper_profile.keeper.rounds_attested >= 2

    # A watcher following the contract from a height sees this task's whole life, in order.
    mine = [
        e.attributes
        for e in chain.contract_events(hub.contract, first_height)
        if e.attributes.get("task_id") == str(task_id)
    ]
    actions = [a["action"] for a in mine]
    assert actions == [
        "create_task",
        "accept_task",
        "join_task",
        "join_task",
        "leave_task",
        "join_task",
        "set_node_key",
        "join_task",
        "submit_round",
        "submit_round",
        "slash",
        "finalize_task",
        "claim",
        "claim",
        "claim",
    ]
    assert [a["round"] for a in mine if a["action"] == "submit_round"] == ["1", "2"]


def test_a_keeper_that_never_delivers_compensates_and_an_organization_can_cancel(
    localnet: Localnet, chain: ChainClient, hub: TaskHub, kubo: KuboStore
) -> None:
    config = localnet.config
    org, keeper = dev_wallet(config, "organization"), dev_wallet(config, "keeper")
    trainer = dev_wallet(config, "trainer4")
    hub.register(org, "Acme Health", organization=True)
    hub.register_keeper(keeper, "Keeper One", "127.0.0.1:9092")
    hub.register(trainer, "trainer-4", trainer=True)
    spec = _spec(chain, kubo, str(keeper.address()), min_trainers=1, max_trainers=2)  # not full with one
    task_id, _ = hub.create_task(org, spec, 10_000, config.denom)
    hub.accept_task(keeper, task_id, spec.keeper_bond, config.denom)
    hub.join_task(trainer, task_id, spec.stake, config.denom)
    before = {w: chain.balance(str(w.address())) for w in (org, keeper, trainer)}
    cancelled = hub.cancel_task(org, task_id)  # joined, yet still cancellable: not full, joins still open
    task = hub.task(task_id)
    assert task.status == TaskStatus.CANCELLED and task.org_refunded == 10_000 and task.keeper_paid == spec.keeper_bond
    assert chain.balance(str(org.address())) == before[org] + 10_000 - cancelled.fee
    assert chain.balance(str(keeper.address())) == before[keeper] + spec.keeper_bond
    assert hub.claimable(task_id, str(trainer.address())).amount == spec.stake
    claimed = hub.claim(trainer, task_id)
    assert chain.balance(str(trainer.address())) == before[trainer] + spec.stake - claimed.fee
    assert hub.task(task_id).held == 0


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
    with pytest.raises(ChainError, match="deadline"):
        hub.create_task(org, late, 1_000, config.denom)
    assert hub.config().next_task_id == before_tasks
    assert chain.balance(str(org.address())) == before_balance  # refused in simulation: no fee either


def test_a_measured_task_names_its_validation_set_and_each_round_its_score_table(
    localnet: Localnet, chain: ChainClient, hub: TaskHub, kubo: KuboStore
) -> None:
    """Measured scoring: the validation set's fingerprint is on chain before anyone stakes, a
    round's weights share a fixed budget (not the example cap), and its score table's CID is kept."""
    config = localnet.config
    org, keeper = dev_wallet(config, "organization"), dev_wallet(config, "keeper")
    trainers = [dev_wallet(config, f"trainer{i}") for i in (5, 6)]
    hub.register(org, "Acme Health", organization=True)
    hub.register_keeper(keeper, "Keeper One", "127.0.0.1:9092")
    for i, trainer in enumerate(trainers):
        hub.register(trainer, f"trainer-{5 + i}", trainer=True)
    keeper_address = str(keeper.address())
    unnamed = _spec(chain, kubo, keeper_address, scoring=Scoring.MEASURED)
    with pytest.raises(ChainError, match="must name its validation set"):
        hub.create_task(org, unnamed, 10_000, config.denom)

    validation_sha256 = "5e" * 32
    spec = _spec(
        chain, kubo, keeper_address, max_trainers=2, scoring=Scoring.MEASURED, validation_sha256=validation_sha256
    )
    task_id, _ = hub.create_task(org, spec, 10_000, config.denom)
    task = hub.task(task_id)
    assert (task.scoring, task.validation_sha256) == (Scoring.MEASURED, validation_sha256)
    hub.accept_task(keeper, task_id, spec.keeper_bond, config.denom)
    for trainer in trainers:
        hub.join_task(trainer, task_id, spec.stake, config.denom)  # two of two: full, round 1 may start

    t5, t6 = (str(t.address()) for t in trainers)
    metrics = RoundMetrics(Decimal("0.4"), "accuracy", Decimal("0.9"), 600)
    model_cid, model_sha = task.initial_model_cid, task.initial_model_sha256
    over = [(t5, 600_000), (t6, ROUND_WEIGHT - 600_000 + 1)]
    with pytest.raises(ChainError, match="above its budget of 1000000"):
        hub.submit_round(keeper, task_id, 1, model_cid, model_sha, metrics, over)
    scores = kubo.add(json.dumps({"round": 1, "trainers": [t5, t6]}).encode(), "scores.json")
    shares = [(t5, 600_000), (t6, ROUND_WEIGHT - 600_000)]  # far above the 1,000-example cap: shares, not counts
    attested = hub.submit_round(keeper, task_id, 1, model_cid, model_sha, metrics, shares, scores_cid=scores.cid)
    assert attested.wasm_attributes()[0]["scores_cid"] == scores.cid
    (record,) = hub.rounds(task_id)
    assert (record.scores_cid, record.total_weight) == (scores.cid, ROUND_WEIGHT)
    credited = hub.participant(task_id, t5)
    assert credited is not None and credited.weight == 600_000


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


def test_deploy_chooses_who_can_ever_replace_the_escrow_code(localnet: Localnet, chain: ChainClient, tmp_path) -> None:
    """The chain-level admin of the contract is the one party that could migrate it to code that
    drains the escrow: `deploy --admin` makes that choice explicit (nobody, governance, a key)."""
    beside = LocalnetConfig(home=tmp_path, port_offset=localnet.config.port_offset)  # same net, own record
    deployer = str(wallet_from_mnemonic(beside.validator_mnemonic(0)).address())
    for choice, admin in (("none", ""), ("gov", module_address("gov", "wasm")), ("deployer", deployer)):
        deployment, action = deploy(beside, admin=choice)
        assert (action, deployment.admin, chain.contract_admin(deployment.contract)) == ("instantiated", admin, admin)
    assert deploy(beside, admin="deployer")[1] == "unchanged"
    with pytest.raises(ChainError, match="--admin must be"):
        deploy(beside, admin="my-friend")
