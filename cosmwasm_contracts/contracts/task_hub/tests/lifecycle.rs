//! Registration and the task lifecycle: create, accept, join, leave, cancel, rounds, finalize.
//! Each rule's success path and each refusal, with the typed error it answers.

mod common;

use common::*;
use cosmwasm_std::{coin, coins, Decimal, Uint128};
use cw_multi_test::Executor;
use task_hub::msg::{Contribution, CreateTaskMsg, ExecuteMsg, RoundMetrics, SubmitRoundMsg};
use task_hub::state::TaskStatus;
use task_hub::ContractError;

#[test]
fn register_adds_roles_and_validates_the_name() {
    let mut suite = Suite::new(1);
    let t = suite.trainers[0].clone();
    suite.register(&t, true, false).unwrap();
    let profile = suite.profile(&t).unwrap();
    assert!(profile.is_trainer && profile.is_organization && profile.keeper.is_none());

    let o = suite.outsider.clone();
    let reg = |name: &str, org: bool, tr: bool| ExecuteMsg::Register {
        name: name.into(),
        organization: org,
        trainer: tr,
    };
    assert_eq!(
        suite.exec(&o, &reg("x", false, false), &[]).unwrap_err(),
        ContractError::NoRole {}
    );
    assert_eq!(
        suite.exec(&o, &reg(" ", true, false), &[]).unwrap_err(),
        ContractError::EmptyField {
            field: "name".into()
        }
    );
    assert_eq!(
        suite
            .exec(&o, &reg(&"n".repeat(65), true, false), &[])
            .unwrap_err(),
        ContractError::StringTooLong {
            field: "name".into(),
            max: 64
        }
    );
    assert_eq!(
        suite
            .exec(&o, &reg("x", true, false), &coins(1, DENOM))
            .unwrap_err(),
        ContractError::FundsNotAllowed {}
    );
    assert!(suite.profile(&o).is_none());
}

#[test]
fn register_keeper_creates_and_updates_the_keeper_profile() {
    let mut suite = Suite::new(0);
    let keeper = suite.keeper.clone();
    let profile = suite.profile(&keeper).unwrap();
    let info = profile.keeper.unwrap();
    assert_eq!(
        (info.endpoint.as_str(), info.fee_bps, info.tls_cert_sha256),
        (
            "keeper.example.org:9092",
            KEEPER_FEE_BPS,
            Some(SHA.to_string())
        )
    );
    assert!(!profile.is_organization && !profile.is_trainer);

    let msg = |endpoint: &str, cert: Option<&str>, fee_bps: u16| ExecuteMsg::RegisterKeeper {
        name: "k".into(),
        endpoint: endpoint.into(),
        tls_cert_sha256: cert.map(String::from),
        fee_bps,
    };
    let cases = [
        (
            msg("", None, 0),
            ContractError::EmptyField {
                field: "endpoint".into(),
            },
        ),
        (
            msg("host :9092", None, 0),
            ContractError::WhitespaceInEndpoint {},
        ),
        (
            msg("host:9092", Some("ABCD"), 0),
            ContractError::InvalidSha256 {
                field: "tls_cert_sha256".into(),
            },
        ),
        (
            msg("host:9092", None, 2_001),
            ContractError::BpsTooHigh {
                field: "fee_bps".into(),
                value: 2_001,
                max: 2_000,
            },
        ),
    ];
    for (msg, error) in cases {
        assert_eq!(suite.exec(&keeper, &msg, &[]).unwrap_err(), error);
    }

    // A task snapshots the keeper's fee: a later change never touches it.
    let first = suite.open_task(suite.task_msg(), POOL, &[]);
    suite
        .exec(&keeper, &msg("other.example.org:443", None, 2_000), &[])
        .unwrap();
    let second = suite.create(suite.task_msg(), POOL).unwrap();
    assert_eq!(suite.task(first).keeper_fee_bps, KEEPER_FEE_BPS);
    assert_eq!(suite.task(second).keeper_fee_bps, 2_000);
    // An organization that agreed to the old fee is not caught by the raise (a keeper front-running
    // a task it saw coming): the task is refused, nothing is escrowed.
    let agreed = CreateTaskMsg {
        max_keeper_fee_bps: KEEPER_FEE_BPS,
        ..suite.task_msg()
    };
    assert_eq!(
        suite.create(agreed, POOL).unwrap_err(),
        ContractError::KeeperFeeAboveAgreed {
            fee_bps: 2_000,
            agreed: KEEPER_FEE_BPS,
        }
    );
    let info = suite.profile(&keeper).unwrap().keeper.unwrap();
    assert_eq!(
        (
            info.endpoint.as_str(),
            info.tls_cert_sha256,
            info.tasks_accepted
        ),
        ("other.example.org:443", Some(SHA.to_string()), 1),
        "an update keeps the keeper's statistics, and its certificate unless it names a new one"
    );
    let rotated = "ab".repeat(32);
    suite
        .exec(
            &keeper,
            &msg("other.example.org:443", Some(&rotated), 2_000),
            &[],
        )
        .unwrap();
    let info = suite.profile(&keeper).unwrap().keeper.unwrap();
    assert_eq!(info.tls_cert_sha256, Some(rotated));
}

#[test]
fn create_task_validates_every_field_with_a_typed_error() {
    let mut suite = Suite::new(0);
    let now = suite.now();
    let base = suite.task_msg();
    let day = 86_400;
    let with = |f: &dyn Fn(&mut CreateTaskMsg)| {
        let mut m = base.clone();
        f(&mut m);
        m
    };
    let cases: Vec<(CreateTaskMsg, ContractError)> = vec![
        (
            with(&|m| m.client_cid = "not-a-cid".into()),
            ContractError::InvalidCid {
                field: "client_cid".into(),
                value: "not-a-cid".into(),
            },
        ),
        (
            with(&|m| m.initial_model_sha256 = "ABC".into()),
            ContractError::InvalidSha256 {
                field: "initial_model_sha256".into(),
            },
        ),
        (
            with(&|m| m.model_name = "".into()),
            ContractError::EmptyField {
                field: "model_name".into(),
            },
        ),
        (
            with(&|m| m.rounds = 0),
            ContractError::OutOfRange {
                field: "rounds".into(),
                value: 0,
                min: 1,
                max: 10,
            },
        ),
        (
            with(&|m| m.rounds = 11),
            ContractError::OutOfRange {
                field: "rounds".into(),
                value: 11,
                min: 1,
                max: 10,
            },
        ),
        (
            with(&|m| m.min_trainers = 6),
            ContractError::InvalidTrainerBounds {
                min_trainers: 6,
                max_trainers: 5,
                limit: 20,
            },
        ),
        (
            with(&|m| m.max_trainers = 21),
            ContractError::InvalidTrainerBounds {
                min_trainers: 2,
                max_trainers: 21,
                limit: 20,
            },
        ),
        (
            with(&|m| m.stake = Uint128::zero()),
            ContractError::ZeroValue {
                field: "stake".into(),
            },
        ),
        (
            with(&|m| m.keeper_bond = Uint128::zero()),
            ContractError::ZeroValue {
                field: "keeper_bond".into(),
            },
        ),
        (
            with(&|m| m.max_examples_per_trainer = 0),
            ContractError::OutOfRange {
                field: "max_examples_per_trainer".into(),
                value: 0,
                min: 1,
                max: 1_000_000_000_000,
            },
        ),
        // Review: a cap of u64::MAX let a round's example count overflow the attestation.
        (
            with(&|m| m.max_examples_per_trainer = u64::MAX),
            ContractError::OutOfRange {
                field: "max_examples_per_trainer".into(),
                value: u64::MAX,
                min: 1,
                max: 1_000_000_000_000,
            },
        ),
        // Review: a window that cannot hold every round at its timeout (here 2 rounds of a day in
        // two hours, or one second) could only end with the keeper's bond handed over.
        (
            with(&|m| {
                m.round_timeout_secs = day;
                m.training_deadline = m.join_deadline + 2 * 3_600;
            }),
            ContractError::TrainingWindowTooShort {
                secs: 2 * 3_600,
                needed: 2 * day,
            },
        ),
        (
            with(&|m| m.training_deadline = m.join_deadline + 1),
            ContractError::TrainingWindowTooShort {
                secs: 1,
                needed: 120,
            },
        ),
        // Review: the norm bound is public so signers can refuse beyond it; zero would refuse all.
        (
            with(&|m| m.max_update_norm = Decimal::zero()),
            ContractError::ZeroValue {
                field: "max_update_norm".into(),
            },
        ),
        (
            with(&|m| m.round_timeout_secs = 4),
            ContractError::OutOfRange {
                field: "round_timeout_secs".into(),
                value: 4,
                min: 5,
                max: day,
            },
        ),
        (
            with(&|m| m.round_timeout_secs = day + 1),
            ContractError::OutOfRange {
                field: "round_timeout_secs".into(),
                value: day + 1,
                min: 5,
                max: day,
            },
        ),
        // Review finding 1: no 100 % penalties.
        (
            with(&|m| m.no_show_penalty_bps = 10_000),
            ContractError::BpsTooHigh {
                field: "no_show_penalty_bps".into(),
                value: 10_000,
                max: 2_500,
            },
        ),
        (
            with(&|m| m.slash_bps = 5_001),
            ContractError::BpsTooHigh {
                field: "slash_bps".into(),
                value: 5_001,
                max: 5_000,
            },
        ),
        (
            with(&|m| m.join_deadline = now),
            ContractError::InvalidDeadlines {
                now,
                join_deadline: now,
                training_deadline: now + 1_000,
            },
        ),
        (
            with(&|m| m.training_deadline = m.join_deadline),
            ContractError::InvalidDeadlines {
                now,
                join_deadline: now + 100,
                training_deadline: now + 100,
            },
        ),
        // Review finding 9: deadlines beyond the maxima.
        (
            with(&|m| {
                m.join_deadline = now + 90 * day + 1;
                m.training_deadline = m.join_deadline + 1;
            }),
            ContractError::JoinWindowTooLong {
                secs: 90 * day + 1,
                max: 90 * day,
            },
        ),
        (
            with(&|m| m.training_deadline = m.join_deadline + 365 * day + 1),
            ContractError::TrainingWindowTooLong {
                secs: 365 * day + 1,
                max: 365 * day,
            },
        ),
        (
            with(&|m| {
                m.stake = Uint128::MAX;
                m.max_trainers = 2;
            }),
            ContractError::EscrowTooLarge {},
        ),
    ];
    for (msg, error) in cases {
        assert_eq!(suite.create(msg, POOL).unwrap_err(), error);
    }
    // The longest windows allowed are accepted.
    let longest = with(&|m| {
        m.join_deadline = now + 90 * day;
        m.training_deadline = m.join_deadline + 365 * day;
    });
    suite.create(longest, POOL).unwrap();

    let org = suite.org.clone();
    let create = ExecuteMsg::CreateTask(base.clone());
    let funds_cases = [
        (vec![], ContractError::NoFunds {}),
        (
            vec![coin(1, DENOM), coin(1, "uother")],
            ContractError::MultipleDenoms {},
        ),
    ];
    for (funds, error) in funds_cases {
        assert_eq!(suite.exec(&org, &create, &funds).unwrap_err(), error);
    }
    let outsider = suite.outsider.clone();
    assert_eq!(
        suite.create_by(&outsider, base, POOL).unwrap_err(),
        ContractError::NotOrganization {
            address: outsider.to_string()
        }
    );
    assert_eq!(
        suite.config().next_task_id,
        2,
        "only the valid task was created"
    );
}

/// Review findings 1 and 5: the organization cannot name itself (or the treasury) keeper, and a
/// keeper must have registered as one.
#[test]
fn a_task_needs_a_registered_independent_keeper() {
    let mut suite = Suite::new(0);
    let org = suite.org.clone();
    let treasury = suite.treasury.clone();
    let outsider = suite.outsider.clone();
    suite.register_keeper(&org, 0).unwrap();
    let msg = |keeper: &cosmwasm_std::Addr| CreateTaskMsg {
        keeper: keeper.to_string(),
        ..suite.task_msg()
    };
    let (own, unregistered, treasury_keeper) = (msg(&org), msg(&outsider), msg(&treasury));
    assert_eq!(
        suite.create(own, POOL).unwrap_err(),
        ContractError::KeeperIsOrganization {}
    );
    assert_eq!(
        suite.create(unregistered, POOL).unwrap_err(),
        ContractError::NotKeeper {
            address: outsider.to_string()
        }
    );
    assert_eq!(
        suite.create(treasury_keeper, POOL).unwrap_err(),
        ContractError::KeeperIsTreasury {}
    );
    // Nor can the treasury act as an organization: it receives the forfeits.
    suite.register(&treasury, true, false).unwrap();
    suite
        .app
        .send_tokens(org.clone(), treasury.clone(), &coins(POOL, DENOM))
        .unwrap();
    let m = suite.task_msg();
    assert_eq!(
        suite.create_by(&treasury, m, POOL).unwrap_err(),
        ContractError::OrganizationIsTreasury {}
    );
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
}

#[test]
fn the_keeper_accepts_by_bonding_exactly_the_bond() {
    let mut suite = Suite::new(1);
    let id = suite.create(suite.task_msg(), POOL).unwrap();
    let task = suite.task(id);
    assert_eq!(
        (task.status, task.bonded, task.held.u128()),
        (TaskStatus::Proposed, false, POOL)
    );
    assert_eq!(
        (
            task.fee_bps,
            task.keeper_fee_bps,
            task.grace_period_secs,
            task.claim_window_secs
        ),
        (FEE_BPS, KEEPER_FEE_BPS, GRACE, CLAIM_WINDOW)
    );
    assert_eq!(
        suite.join(0, id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Proposed,
            expected: "open".into()
        },
        "nobody joins before the keeper consents"
    );
    let (keeper, outsider) = (suite.keeper.clone(), suite.outsider.clone());
    let accept = ExecuteMsg::AcceptTask { task_id: id };
    assert_eq!(
        suite
            .exec(&outsider, &accept, &coins(BOND, DENOM))
            .unwrap_err(),
        ContractError::NotTaskKeeper { task_id: id }
    );
    assert_eq!(
        suite
            .exec(&keeper, &accept, &coins(BOND - 1, DENOM))
            .unwrap_err(),
        ContractError::WrongFunds {
            expected: "2000ufed".into(),
            got: "1999ufed".into()
        }
    );
    assert_eq!(
        suite.exec(&keeper, &accept, &[]).unwrap_err(),
        ContractError::WrongFunds {
            expected: "2000ufed".into(),
            got: "nothing".into()
        }
    );
    let before = suite.balance(&keeper);
    let response = suite.accept(id).unwrap();
    assert_eq!(attr(&response, "action"), "accept_task");
    assert_eq!(suite.balance(&keeper), before - BOND);
    let task = suite.task(id);
    assert_eq!(
        (task.status, task.bonded, task.held.u128()),
        (TaskStatus::Open, true, POOL + BOND)
    );
    assert_eq!(
        suite.accept(id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Open,
            expected: "proposed".into()
        }
    );
    assert_eq!(
        suite
            .profile(&keeper)
            .unwrap()
            .keeper
            .unwrap()
            .tasks_accepted,
        1
    );

    // Too late to accept once joins have closed.
    let late = suite.create(suite.task_msg(), POOL).unwrap();
    suite.close_joins(late);
    assert_eq!(
        suite.accept(late).unwrap_err(),
        ContractError::JoinDeadlinePassed {
            task_id: late,
            join_deadline: suite.task(late).join_deadline
        }
    );
}

/// Review finding 5: a keeper that never accepts leaves nothing locked.
#[test]
fn a_keeper_that_never_accepts_leaves_nothing_locked() {
    let mut suite = Suite::new(0);
    let org = suite.org.clone();
    let start = suite.balance(&org);
    let id = suite.create(suite.task_msg(), POOL).unwrap();
    let join_deadline = suite.task(id).join_deadline;
    assert_eq!(
        suite.finalize(id).unwrap_err(),
        ContractError::NotFinalizable {
            task_id: id,
            rounds_completed: 0,
            rounds: 2,
            finalizable_at: join_deadline
        }
    );
    suite.advance_to(join_deadline);
    suite.finalize(id).unwrap();
    let task = suite.task(id);
    assert_eq!(task.status, TaskStatus::Finalized);
    assert_eq!(
        (
            task.org_refunded.u128(),
            task.treasury_paid.u128(),
            task.keeper_paid.u128()
        ),
        (POOL, 0, 0)
    );
    assert_eq!(suite.balance(&org), start);
    assert_eq!(task.held.u128(), 0);
    assert_eq!(
        suite
            .profile(&suite.keeper.clone())
            .unwrap()
            .keeper
            .unwrap()
            .tasks_failed,
        0
    );

    // Or the organization simply cancels, any time before it starts.
    let id = suite.create(suite.task_msg(), POOL).unwrap();
    let response = suite.cancel(id).unwrap();
    assert_eq!(attr(&response, "org_refund"), POOL.to_string());
    assert_eq!(attr(&response, "bond_refund"), "0");
    assert_eq!(suite.balance(&org), start);
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
}

#[test]
fn joining_needs_an_open_task_the_exact_stake_and_no_conflict() {
    let mut suite = Suite::new(4);
    let msg = CreateTaskMsg {
        max_trainers: 2,
        ..suite.task_msg()
    };
    let id = suite.open_task(msg, POOL, &[]);
    assert_eq!(
        suite
            .join_with(0, id, &coins(STAKE - 1, DENOM))
            .unwrap_err(),
        ContractError::WrongFunds {
            expected: "1000ufed".into(),
            got: "999ufed".into()
        }
    );
    assert_eq!(
        suite.join_with(0, id, &coins(STAKE, "uother")).unwrap_err(),
        ContractError::WrongFunds {
            expected: "1000ufed".into(),
            got: "1000uother".into()
        }
    );
    suite.join(0, id).unwrap();
    assert_eq!(
        suite.join(0, id).unwrap_err(),
        ContractError::AlreadyJoined {
            task_id: id,
            address: suite.trainers[0].to_string()
        }
    );
    let p = suite.participant(id, &suite.trainers[0].clone()).unwrap();
    assert_eq!(
        (p.stake.u128(), p.node_public_key.as_deref(), p.claimed),
        (STAKE, Some(node_key(0).as_str()), false)
    );
    // The organization and the keeper cannot be trainers of their own task.
    let (org, keeper) = (suite.org.clone(), suite.keeper.clone());
    suite.register(&org, false, true).unwrap();
    suite.register(&keeper, false, true).unwrap();
    let join = ExecuteMsg::JoinTask {
        task_id: id,
        node_public_key: None,
        node_key_proof: None,
    };
    for who in [&org, &keeper] {
        assert_eq!(
            suite.exec(who, &join, &coins(STAKE, DENOM)).unwrap_err(),
            ContractError::TrainerConflict { task_id: id }
        );
    }
    let outsider = suite.outsider.clone();
    assert_eq!(
        suite
            .exec(&outsider, &join, &coins(STAKE, DENOM))
            .unwrap_err(),
        ContractError::NotTrainer {
            address: outsider.to_string()
        }
    );
    let t1 = suite.trainers[1].clone();
    let hub = suite.hub.clone();
    let join_with = |key: Option<String>, proof: Option<String>| ExecuteMsg::JoinTask {
        task_id: id,
        node_public_key: key,
        node_key_proof: proof,
    };
    let proof_1 = node_key_proof(1, &hub, id, &t1);
    let unpadded = node_key(1).trim_end_matches('=').to_string();
    for (key, proof, error) in [
        // malformed keys, and a key spelled another way than canonical base64
        (
            "k".repeat(124),
            proof_1.clone(),
            ContractError::InvalidNodeKey {},
        ),
        (
            node_key(1)[..100].to_string(),
            proof_1.clone(),
            ContractError::InvalidNodeKey {},
        ),
        (unpadded, proof_1.clone(), ContractError::InvalidNodeKey {}),
        // another trainer's key, without its private half: the proof does not verify
        (
            node_key(0),
            proof_1.clone(),
            ContractError::InvalidNodeKeyProof {},
        ),
        // a proof for another task, or another trainer, is no proof here
        (
            node_key(1),
            node_key_proof(1, &hub, id + 1, &t1),
            ContractError::InvalidNodeKeyProof {},
        ),
        (
            node_key(1),
            node_key_proof(1, &hub, id, &suite.trainers[0]),
            ContractError::InvalidNodeKeyProof {},
        ),
        (
            node_key(1),
            "AAAA".into(),
            ContractError::InvalidNodeKeyProof {},
        ),
        // a key held by two addresses serves the first only
        (
            node_key(0),
            node_key_proof(0, &hub, id, &t1),
            ContractError::NodeKeyInUse { task_id: id },
        ),
    ] {
        let message = join_with(Some(key), Some(proof));
        assert_eq!(
            suite.exec(&t1, &message, &coins(STAKE, DENOM)).unwrap_err(),
            error
        );
    }
    let half = join_with(Some(node_key(1)), None);
    assert_eq!(
        suite.exec(&t1, &half, &coins(STAKE, DENOM)).unwrap_err(),
        ContractError::InvalidNodeKeyProof {}
    );
    suite.join(1, id).unwrap();
    assert_eq!(
        suite.join(2, id).unwrap_err(),
        ContractError::TaskFull {
            task_id: id,
            max_trainers: 2
        }
    );
    let other = suite.open_task(suite.task_msg(), POOL, &[]);
    suite.close_joins(other);
    assert_eq!(
        suite.join(3, other).unwrap_err(),
        ContractError::JoinDeadlinePassed {
            task_id: other,
            join_deadline: suite.task(other).join_deadline
        }
    );
    assert_eq!(
        suite.balance(&suite.hub.clone()),
        2 * (POOL + BOND) + 2 * STAKE
    );
}

#[test]
fn a_trainer_names_its_own_unique_node_key_while_the_task_is_live() {
    let mut suite = Suite::new(3);
    let msg = CreateTaskMsg {
        max_trainers: 3,
        ..suite.task_msg()
    };
    let id = suite.open_task(msg, POOL, &[0, 1]);
    let key_of = |suite: &Suite, i: usize| {
        let who = suite.trainers[i].clone();
        suite.participant(id, &who).unwrap().node_public_key
    };
    // Nobody names a key it does not hold (the squat of a published key fails), a malformed one is
    // refused, an outsider has none, a key held by two addresses serves the first.
    let squat_proof = node_key_proof(1, &suite.hub.clone(), id, &suite.trainers[1].clone());
    assert_eq!(
        suite
            .set_node_key_with(1, id, &node_key(0), &squat_proof)
            .unwrap_err(),
        ContractError::InvalidNodeKeyProof {}
    );
    assert_eq!(
        suite
            .set_node_key_with(1, id, "AAAA", &squat_proof)
            .unwrap_err(),
        ContractError::InvalidNodeKey {}
    );
    assert_eq!(
        suite.set_node_key(1, id, 0).unwrap_err(),
        ContractError::NodeKeyInUse { task_id: id }
    );
    assert!(matches!(
        suite.set_node_key(2, id, 2).unwrap_err(),
        ContractError::NotParticipant { .. }
    ));
    assert_eq!(key_of(&suite, 1), Some(node_key(1)));
    // Moving to a new key releases the old one.
    suite.set_node_key(1, id, 7).unwrap();
    suite.set_node_key(1, id, 7).unwrap(); // naming the same key again is a no-op
    assert_eq!(key_of(&suite, 1), Some(node_key(7)));
    suite.set_node_key(0, id, 1).unwrap();
    assert_eq!(key_of(&suite, 0), Some(node_key(1)));
    // A trainer who left comes back and names its own key again: nobody could take it meanwhile.
    suite.leave(1, id).unwrap();
    let who = suite.trainers[1].clone();
    let bare = ExecuteMsg::JoinTask {
        task_id: id,
        node_public_key: None,
        node_key_proof: None,
    };
    suite.exec(&who, &bare, &coins(STAKE, DENOM)).unwrap(); // e.g. from the web app
    assert_eq!(key_of(&suite, 1), None);
    suite.set_node_key(1, id, 7).unwrap();
    assert_eq!(key_of(&suite, 1), Some(node_key(7)));
    // A finished task takes no new keys.
    suite.cancel(id).unwrap();
    assert!(matches!(
        suite.set_node_key(0, id, 9).unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
}

/// Review finding 6: trainers may leave, with their full stake, until the task is committed
/// (joins closed with enough trainers) and so never after round 1.
#[test]
fn trainers_leave_with_their_full_stake_until_the_task_is_committed() {
    let mut suite = Suite::new(4);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    let before = suite.trainer_balance(2);
    let response = suite.leave(2, id).unwrap();
    assert_eq!(attr(&response, "amount"), STAKE.to_string());
    assert_eq!(suite.trainer_balance(2), before + STAKE);
    assert_eq!(suite.task(id).participants, 2);
    assert!(suite.participant(id, &suite.trainers[2].clone()).is_none());
    assert_eq!(
        suite.leave(3, id).unwrap_err(),
        ContractError::NotParticipant {
            task_id: id,
            address: suite.trainers[3].to_string()
        }
    );
    // One may rejoin before the join deadline; after it, with enough trainers, nobody leaves.
    suite.join(2, id).unwrap();
    suite.close_joins(id);
    assert_eq!(
        suite.leave(2, id).unwrap_err(),
        ContractError::TaskCommitted { task_id: id }
    );
    assert_eq!(suite.task(id).held.u128(), POOL + BOND + 3 * STAKE);

    suite.round(id, 1, &[(0, 10), (1, 10)]).unwrap();
    assert_eq!(
        suite.leave(0, id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Running,
            expected: "open".into()
        }
    );
}

/// Review finding 6: the organization may cancel with trainers joined before round 1; everyone
/// gets everything back. Not once the task is committed, nor after round 1.
#[test]
fn the_organization_cancels_with_trainers_joined_and_everyone_is_refunded() {
    let mut suite = Suite::new(3);
    let (org, keeper) = (suite.org.clone(), suite.keeper.clone());
    let (org_start, keeper_start) = (suite.balance(&org), suite.balance(&keeper));
    let starts: Vec<u128> = (0..3).map(|i| suite.trainer_balance(i)).collect();
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    let outsider = suite.outsider.clone();
    assert_eq!(
        suite
            .exec(&outsider, &ExecuteMsg::CancelTask { task_id: id }, &[])
            .unwrap_err(),
        ContractError::NotTaskOrganization { task_id: id }
    );
    assert_eq!(
        suite.claim(0, id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Open,
            expected: "finalized or cancelled".into()
        }
    );
    suite.cancel(id).unwrap();
    assert_eq!(suite.balance(&org), org_start);
    assert_eq!(suite.balance(&keeper), keeper_start);
    for (i, start) in starts.into_iter().enumerate() {
        let claimable = suite.claimable(id, &suite.trainers[i].clone());
        assert_eq!(
            (
                claimable.amount.u128(),
                claimable.stake_back.u128(),
                claimable.penalty.u128()
            ),
            (STAKE, STAKE, 0)
        );
        assert_eq!(suite.claim_checked(i, id), STAKE);
        assert_eq!(suite.trainer_balance(i), start);
    }
    assert_eq!(
        suite.claim(0, id).unwrap_err(),
        ContractError::AlreadyClaimed {
            task_id: id,
            address: suite.trainers[0].to_string()
        }
    );
    assert_eq!(suite.task(id).held.u128(), 0);
    assert_eq!(
        suite.cancel(id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Cancelled,
            expected: "proposed or open".into()
        }
    );

    let running = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(running);
    assert_eq!(
        suite.cancel(running).unwrap_err(),
        ContractError::TaskCommitted { task_id: running }
    );
    suite.round(running, 1, &[(0, 1)]).unwrap();
    assert_eq!(
        suite.cancel(running).unwrap_err(),
        ContractError::WrongStatus {
            task_id: running,
            status: TaskStatus::Running,
            expected: "proposed or open".into()
        }
    );
}

/// Review finding 9: round 1 is attested only once joins are closed.
#[test]
fn round_1_waits_until_the_join_deadline_or_a_full_task() {
    let mut suite = Suite::new(5);
    let msg = CreateTaskMsg {
        max_trainers: 3,
        ..suite.task_msg()
    };
    let id = suite.open_task(msg.clone(), POOL, &[0, 1]);
    let join_deadline = suite.task(id).join_deadline;
    assert_eq!(
        suite.round(id, 1, &[(0, 1)]).unwrap_err(),
        ContractError::JoinsStillOpen { join_deadline }
    );
    suite.join(2, id).unwrap();
    suite.round(id, 1, &[(0, 1)]).unwrap();
    assert_eq!(suite.task(id).status, TaskStatus::Running);

    let other = suite.open_task(msg, POOL, &[3, 4]);
    suite.advance_to(suite.task(other).join_deadline - 1);
    assert!(suite.round(other, 1, &[]).is_err());
    suite.advance(1);
    suite.round(other, 1, &[]).unwrap();
}

#[test]
fn submit_round_is_keeper_only_sequential_and_checks_contributors() {
    let mut suite = Suite::new(4);
    let id = suite.open_task(suite.task_msg(), POOL, &[0]);
    suite.close_joins(id);
    assert_eq!(
        suite.round(id, 1, &[]).unwrap_err(),
        ContractError::NotEnoughTrainers { joined: 1, min: 2 }
    );
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    let outsider = suite.outsider.clone();
    let submit = |round: u32, contributors: Vec<Contribution>, accuracy: u64| {
        ExecuteMsg::SubmitRound(SubmitRoundMsg {
            task_id: id,
            round,
            model_cid: CID.into(),
            model_sha256: SHA.into(),
            metrics: RoundMetrics {
                loss: Decimal::percent(10),
                metric: "accuracy".into(),
                value: Decimal::percent(accuracy),
                examples: 10,
            },
            contributors,
            scores_cid: None,
        })
    };
    let trainers = suite.trainers.clone();
    let c = |i: usize, w: u128| Contribution {
        trainer: trainers[i].to_string(),
        weight: Uint128::new(w),
    };
    assert_eq!(
        suite
            .exec(&outsider, &submit(1, vec![], 50), &[])
            .unwrap_err(),
        ContractError::NotTaskKeeper { task_id: id }
    );
    let keeper = suite.keeper.clone();
    let cases = vec![
        (
            submit(2, vec![], 50),
            ContractError::RoundOutOfOrder {
                expected: 1,
                got: 2,
            },
        ),
        (
            submit(1, vec![], 101),
            ContractError::MetricOutOfRange {
                metric: "accuracy".into(),
            },
        ),
        (
            submit(1, vec![c(0, 1), c(0, 2)], 50),
            ContractError::DuplicateContributor {
                address: suite.trainers[0].to_string(),
            },
        ),
        (
            submit(1, vec![c(0, 0)], 50),
            ContractError::ZeroWeight {
                address: suite.trainers[0].to_string(),
            },
        ),
        (
            submit(1, vec![c(3, 1)], 50),
            ContractError::NotParticipant {
                task_id: id,
                address: suite.trainers[3].to_string(),
            },
        ),
        (
            submit(1, vec![c(0, 1), c(1, 1), c(2, 1), c(3, 1)], 50),
            ContractError::TooManyContributors {
                count: 4,
                participants: 3,
            },
        ),
    ];
    for (msg, error) in cases {
        assert_eq!(suite.exec(&keeper, &msg, &[]).unwrap_err(), error);
    }
    let response = suite
        .exec(&keeper, &submit(1, vec![c(0, 3), c(1, 5)], 80), &[])
        .unwrap();
    assert_eq!(attr(&response, "round"), "1");
    assert_eq!(attr(&response, "contributors"), "2");
    assert_eq!(attr(&response, "model_cid"), CID);
    assert_eq!(attr(&response, "metric"), "accuracy");
    assert_eq!(attr(&response, "value"), "0.8");
    let task = suite.task(id);
    assert_eq!(
        (
            task.status,
            task.rounds_completed,
            task.productive_rounds,
            task.total_weight.u128()
        ),
        (TaskStatus::Running, 1, 1, 8)
    );
    assert_eq!(task.contributors_count, 2);
    // An empty round is attested too: it counts for the keeper, not as productive.
    suite.round(id, 2, &[]).unwrap();
    let task = suite.task(id);
    assert_eq!((task.rounds_completed, task.productive_rounds), (2, 1));
    assert_eq!(
        suite.round(id, 3, &[]).unwrap_err(),
        ContractError::AllRoundsDone { rounds: 2 }
    );
    let rounds = suite.rounds(id);
    assert_eq!(rounds.rounds.len(), 2);
    assert_eq!(
        (
            rounds.rounds[0].contributors_count,
            rounds.rounds[0].total_weight.u128()
        ),
        (2, 8)
    );
    assert_eq!(rounds.rounds[1].height, suite.height());
    assert_eq!(
        suite
            .profile(&keeper)
            .unwrap()
            .keeper
            .unwrap()
            .rounds_attested,
        2
    );

    // No round after the training deadline.
    let late = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    let deadline = suite.task(late).training_deadline;
    suite.advance_to(deadline);
    assert_eq!(
        suite.round(late, 1, &[]).unwrap_err(),
        ContractError::TrainingDeadlinePassed {
            task_id: late,
            training_deadline: deadline
        }
    );
}

#[test]
fn finalize_is_allowed_after_the_last_round_or_the_deadline_and_grace() {
    let mut suite = Suite::new(2);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 1), (1, 1)]).unwrap();
    let expires = suite.task(id).training_deadline + GRACE;
    assert_eq!(
        suite.finalize(id).unwrap_err(),
        ContractError::NotFinalizable {
            task_id: id,
            rounds_completed: 1,
            rounds: 2,
            finalizable_at: expires
        }
    );
    suite.round(id, 2, &[(0, 1), (1, 1)]).unwrap();
    let response = suite.finalize(id).unwrap();
    assert_eq!(attr(&response, "action"), "finalize_task");
    assert_eq!(
        suite.finalize(id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Finalized,
            expected: "proposed or open or running".into()
        }
    );

    // A task that stopped after round 1: anyone, once deadline + grace has passed.
    let stalled = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(stalled);
    suite.round(stalled, 1, &[(0, 1)]).unwrap();
    let expires = suite.task(stalled).training_deadline + GRACE;
    suite.advance_to(expires - 1);
    assert!(suite.finalize(stalled).is_err());
    suite.advance(1);
    suite.finalize(stalled).unwrap();
}

/// A keeper that fails to start a committed task cannot escape its bond with the help of a
/// trainer leaving or the organization cancelling (which would make the task one that "never
/// started" and return the bond).
#[test]
fn a_committed_task_cannot_be_unwound_to_spare_a_failing_keeper() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    // Before the join deadline a leave is fine, even below the minimum: nothing is owed yet.
    suite.leave(1, id).unwrap();
    suite.join(1, id).unwrap();
    suite.close_joins(id);
    assert_eq!(
        suite.leave(1, id).unwrap_err(),
        ContractError::TaskCommitted { task_id: id }
    );
    assert_eq!(
        suite.cancel(id).unwrap_err(),
        ContractError::TaskCommitted { task_id: id }
    );
    suite.advance_to(suite.task(id).training_deadline + GRACE);
    suite.finalize(id).unwrap();
    let task = suite.task(id);
    // The bond compensates the organization; trainers that never contributed (the keeper never
    // started) get none of it, so filling a task with idle addresses earns nothing.
    assert_eq!(
        (task.bond_forfeited.u128(), task.trainer_compensation.u128()),
        (BOND, 0)
    );

    // Without enough trainers at the deadline the task is not committed: leaving and
    // cancelling stay open, and so does finalizing it as never started.
    let short = suite.open_task(suite.task_msg(), POOL, &[2]);
    suite.close_joins(short);
    suite.leave(2, short).unwrap();
    suite.cancel(short).unwrap();
}

/// Review: a full task may start at once, so from the moment it fills neither the organization
/// (cancel, pool back) nor a trainer (leave, stake back) can void the round being trained.
#[test]
fn a_full_task_is_committed_before_its_join_deadline() {
    let mut suite = Suite::new(3);
    let full = CreateTaskMsg {
        min_trainers: 2,
        max_trainers: 2,
        ..suite.task_msg()
    };
    let id = suite.open_task(full, POOL, &[0, 1]);
    assert!(suite.now() < suite.task(id).join_deadline);
    assert_eq!(
        suite.cancel(id).unwrap_err(),
        ContractError::TaskCommitted { task_id: id }
    );
    assert_eq!(
        suite.leave(1, id).unwrap_err(),
        ContractError::TaskCommitted { task_id: id }
    );
    suite.round(id, 1, &[(0, 100), (1, 100)]).unwrap();
    assert_eq!(suite.task(id).rounds_completed, 1);

    // One seat short of full, before the deadline, leaving and cancelling stay open.
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.leave(2, id).unwrap();
    suite.cancel(id).unwrap();
}

/// Review: the keeper cannot credit anyone (an accomplice, say) with more weight than the
/// task's public `max_examples_per_trainer`; at the cap exactly it can.
#[test]
fn a_round_crediting_more_than_the_examples_cap_is_refused() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    let cap = suite.task(id).max_examples_per_trainer as u128;
    assert_eq!(
        suite
            .round(id, 1, &[(0, cap), (1, cap), (2, cap + 1)])
            .unwrap_err(),
        ContractError::WeightAboveCap {
            address: suite.trainers[2].to_string(),
            weight: Uint128::new(cap + 1),
            cap: Uint128::new(cap),
        }
    );
    assert_eq!(suite.task(id).rounds_completed, 0);
    suite.round(id, 1, &[(0, cap), (1, cap), (2, cap)]).unwrap();
    suite.round(id, 2, &[(0, cap), (1, cap), (2, cap)]).unwrap();
    suite.finalize(id).unwrap();
    // distributable 9,300 split three ways: 3,100 each.
    for i in 0..3 {
        assert_eq!(suite.claim_checked(i, id), STAKE + 3_100);
    }
}
