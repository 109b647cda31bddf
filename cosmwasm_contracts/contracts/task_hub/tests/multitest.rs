//! Every message's success path and every rejection, on cw-multi-test.

mod common;

use common::*;
use cosmwasm_std::{coin, coins, Decimal, Uint128};
use cw_multi_test::Executor;
use task_hub::msg::{
    Contribution, ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg, RoundMetricsMsg, TasksResponse,
};
use task_hub::state::{Profile, Settlement, TaskStatus};
use task_hub::ContractError;

#[test]
fn instantiate_rejects_a_fee_above_ten_percent() {
    let mut suite = Suite::new(0);
    let admin = suite.admin.clone();
    let err = suite
        .app
        .instantiate_contract(
            suite.code_id,
            admin.clone(),
            &InstantiateMsg {
                admin: None,
                treasury: admin.to_string(),
                fee_bps: 1_001,
                limits: limits(),
            },
            &[],
            "x",
            None,
        )
        .unwrap_err();
    assert_eq!(
        err.downcast::<ContractError>().unwrap(),
        ContractError::FeeTooHigh {
            fee_bps: 1_001,
            max: 1_000
        }
    );
    let config = suite.config();
    assert_eq!(
        (config.admin, config.fee_bps, config.next_task_id),
        (suite.admin.clone(), FEE_BPS, 1)
    );
}

#[test]
fn register_adds_roles_and_rejects_bad_input() {
    let mut suite = Suite::new(1);
    let t = suite.trainers[0].clone();
    suite
        .exec(
            &t,
            &ExecuteMsg::Register {
                name: "both".into(),
                organization: true,
                trainer: false,
            },
            &[],
        )
        .unwrap();
    let profile: Option<Profile> = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.hub,
            &QueryMsg::Profile {
                address: t.to_string(),
            },
        )
        .unwrap();
    let profile = profile.unwrap();
    assert!(profile.is_trainer && profile.is_organization && profile.name == "both");

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
}

#[test]
fn create_task_escrows_the_pool_and_validates_everything() {
    let mut suite = Suite::new(1);
    let id = suite.create(suite.task_msg(), 50_000).unwrap();
    let task = suite.task(id);
    assert_eq!(
        (task.id, task.pool.u128(), task.status, task.fee_bps),
        (1, 50_000, TaskStatus::Open, FEE_BPS)
    );
    assert_eq!(suite.balance(&suite.hub.clone()), 50_000);

    let org = suite.org.clone();
    let base = suite.task_msg();
    let create = |m| ExecuteMsg::CreateTask(m);
    let cases: Vec<(ExecuteMsg, Vec<cosmwasm_std::Coin>, ContractError)> = vec![
        (
            create(base.clone()),
            vec![],
            ContractError::InvalidFunds("send exactly one coin; none was sent".into()),
        ),
        (
            create(base.clone()),
            vec![coin(1, DENOM), coin(1, "uother")],
            ContractError::InvalidFunds("send exactly one coin, in one denom".into()),
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                client_cid: "not-a-cid".into(),
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidCid {
                field: "client_cid".into(),
                value: "not-a-cid".into(),
            },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                initial_model_cid: "Qm0000".into(),
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidCid {
                field: "initial_model_cid".into(),
                value: "Qm0000".into(),
            },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                client_sha256: "ABC".into(),
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidSha256 {
                field: "client_sha256".into(),
            },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                rounds: 0,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidRounds { max: 10 },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                rounds: 11,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidRounds { max: 10 },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                min_trainers: 6,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidTrainerBounds { max: 20 },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                max_trainers: 21,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidTrainerBounds { max: 20 },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                join_deadline: suite.now(),
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidDeadlines {},
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                training_deadline: base.join_deadline,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidDeadlines {},
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                training_deadline: u64::MAX,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidDeadlines {},
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                slash_bps: 10_001,
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidBps {
                field: "slash_bps".into(),
            },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                model_name: "m".repeat(65),
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::StringTooLong {
                field: "model_name".into(),
                max: 64,
            },
        ),
        (
            create(task_hub::msg::CreateTaskMsg {
                stake: Uint128::zero(),
                ..base.clone()
            }),
            coins(1, DENOM),
            ContractError::InvalidFunds("stake must be positive".into()),
        ),
    ];
    for (msg, funds, expected) in cases {
        assert_eq!(suite.exec(&org, &msg, &funds).unwrap_err(), expected);
    }
    // A full task's escrow must fit in u128: refuse instead of overflowing later.
    let huge = task_hub::msg::CreateTaskMsg {
        stake: Uint128::new(u128::MAX / 2),
        max_trainers: 3,
        ..base.clone()
    };
    assert!(matches!(
        suite
            .exec(&org, &create(huge), &coins(1, DENOM))
            .unwrap_err(),
        ContractError::Overflow(_)
    ));
    let t = suite.trainers[0].clone();
    assert_eq!(
        suite.exec(&t, &create(base), &coins(1, DENOM)).unwrap_err(),
        ContractError::NotRegistered {
            address: t.to_string(),
            role: "organization".into()
        }
    );
    assert_eq!(suite.config().next_task_id, 2);
    assert_eq!(suite.balance(&suite.hub.clone()), 50_000);
}

#[test]
fn cancel_refunds_in_full_only_before_anyone_joined() {
    let mut suite = Suite::new(1);
    let first = suite.create(suite.task_msg(), 9_000).unwrap();
    let second = suite.create(suite.task_msg(), 7_000).unwrap();
    let org = suite.org.clone();
    let before = suite.balance(&org);
    let outsider = suite.outsider.clone();
    assert!(matches!(
        suite
            .exec(&outsider, &ExecuteMsg::CancelTask { task_id: first }, &[])
            .unwrap_err(),
        ContractError::Unauthorized(_)
    ));
    suite
        .exec(&org, &ExecuteMsg::CancelTask { task_id: first }, &[])
        .unwrap();
    assert_eq!(suite.balance(&org), before + 9_000);
    assert_eq!(suite.task(first).status, TaskStatus::Cancelled);
    assert!(matches!(
        suite
            .exec(&org, &ExecuteMsg::CancelTask { task_id: first }, &[])
            .unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    suite.join(0, second, 1_000).unwrap();
    assert!(matches!(
        suite
            .exec(&org, &ExecuteMsg::CancelTask { task_id: second }, &[])
            .unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    assert_eq!(
        suite
            .exec(&org, &ExecuteMsg::CancelTask { task_id: 99 }, &[])
            .unwrap_err(),
        ContractError::TaskNotFound { id: 99 }
    );
}

#[test]
fn join_needs_exact_stake_before_deadline_and_a_free_place() {
    let mut suite = Suite::new(4);
    let msg = task_hub::msg::CreateTaskMsg {
        max_trainers: 2,
        ..suite.task_msg()
    };
    let id = suite.create(msg, 10_000).unwrap();
    let join = ExecuteMsg::JoinTask { task_id: id };
    let t0 = suite.trainers[0].clone();
    assert!(matches!(
        suite.join(0, id, 999).unwrap_err(),
        ContractError::InvalidFunds(_)
    ));
    assert!(matches!(
        suite.exec(&t0, &join, &coins(1_000, "uother")).unwrap_err(),
        ContractError::InvalidFunds(_)
    ));
    assert!(matches!(
        suite.exec(&t0, &join, &[]).unwrap_err(),
        ContractError::InvalidFunds(_)
    ));
    let outsider = suite.outsider.clone();
    assert!(matches!(
        suite
            .exec(&outsider, &join, &coins(1_000, DENOM))
            .unwrap_err(),
        ContractError::NotRegistered { .. }
    ));
    let org = suite.org.clone();
    suite
        .exec(
            &org,
            &ExecuteMsg::Register {
                name: "o".into(),
                organization: false,
                trainer: true,
            },
            &[],
        )
        .unwrap();
    assert_eq!(
        suite.exec(&org, &join, &coins(1_000, DENOM)).unwrap_err(),
        ContractError::ConflictOfInterest {}
    );

    suite.join(0, id, 1_000).unwrap();
    assert_eq!(
        suite.join(0, id, 1_000).unwrap_err(),
        ContractError::AlreadyJoined {
            address: t0.to_string()
        }
    );
    suite.join(1, id, 1_000).unwrap();
    assert_eq!(
        suite.join(2, id, 1_000).unwrap_err(),
        ContractError::TaskFull {}
    );

    let late = suite.create(suite.task_msg(), 10_000).unwrap();
    suite.advance(100);
    assert_eq!(
        suite.join(3, late, 1_000).unwrap_err(),
        ContractError::JoinDeadlinePassed {}
    );
    assert_eq!(suite.task(id).participants, 2);
    assert_eq!(suite.balance(&suite.hub.clone()), 22_000);
}

#[test]
fn submit_round_is_keeper_only_sequential_and_checks_contributors() {
    let mut suite = Suite::new(4);
    let id = suite.create(suite.task_msg(), 10_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    assert_eq!(
        suite.round(id, 1, &[(0, 5)]).unwrap_err(),
        ContractError::NotEnoughTrainers { joined: 1, min: 2 }
    );
    suite.join(1, id, 1_000).unwrap();
    suite.join(2, id, 1_000).unwrap();

    let outsider = suite.outsider.clone();
    let msg = ExecuteMsg::SubmitRound {
        task_id: id,
        round: 1,
        model_cid: CID.into(),
        model_sha256: SHA.into(),
        metrics: metrics(),
        contributors: vec![],
    };
    assert!(matches!(
        suite.exec(&outsider, &msg, &[]).unwrap_err(),
        ContractError::Unauthorized(_)
    ));
    let keeper = suite.keeper.clone();
    assert_eq!(
        suite.exec(&keeper, &msg, &coins(1, DENOM)).unwrap_err(),
        ContractError::FundsNotAllowed {}
    );
    assert_eq!(
        suite.round(id, 2, &[(0, 5)]).unwrap_err(),
        ContractError::RoundOutOfOrder {
            expected: 1,
            got: 2
        }
    );
    let t3 = suite.trainers[3].clone();
    assert_eq!(
        suite.round(id, 1, &[(3, 5)]).unwrap_err(),
        ContractError::NotParticipant {
            address: t3.to_string()
        }
    );
    let t0 = suite.trainers[0].clone();
    assert_eq!(
        suite.round(id, 1, &[(0, 5), (0, 5)]).unwrap_err(),
        ContractError::DuplicateContributor {
            address: t0.to_string()
        }
    );
    assert_eq!(
        suite.round(id, 1, &[(0, 0)]).unwrap_err(),
        ContractError::ZeroWeight {
            address: t0.to_string()
        }
    );
    let bad_metrics = ExecuteMsg::SubmitRound {
        task_id: id,
        round: 1,
        model_cid: CID.into(),
        model_sha256: SHA.into(),
        metrics: RoundMetricsMsg {
            loss: Decimal::one(),
            accuracy: Decimal::percent(101),
            examples: 1,
        },
        contributors: vec![],
    };
    assert_eq!(
        suite.exec(&keeper, &bad_metrics, &[]).unwrap_err(),
        ContractError::InvalidAccuracy {}
    );
    let bad_cid = ExecuteMsg::SubmitRound {
        task_id: id,
        round: 1,
        model_cid: "bad cid".into(),
        model_sha256: SHA.into(),
        metrics: metrics(),
        contributors: vec![],
    };
    assert!(matches!(
        suite.exec(&keeper, &bad_cid, &[]).unwrap_err(),
        ContractError::InvalidCid { .. }
    ));
    let overflow = ExecuteMsg::SubmitRound {
        task_id: id,
        round: 1,
        model_cid: CID.into(),
        model_sha256: SHA.into(),
        metrics: metrics(),
        contributors: vec![
            Contribution {
                trainer: suite.trainers[0].to_string(),
                weight: Uint128::MAX,
            },
            Contribution {
                trainer: suite.trainers[1].to_string(),
                weight: Uint128::MAX,
            },
        ],
    };
    assert!(matches!(
        suite.exec(&keeper, &overflow, &[]).unwrap_err(),
        ContractError::Overflow(_)
    ));

    suite.round(id, 1, &[(0, 30), (1, 10)]).unwrap();
    let task = suite.task(id);
    assert_eq!(
        (
            task.status,
            task.rounds_completed,
            task.total_weight.u128(),
            task.contributors_count
        ),
        (TaskStatus::Running, 1, 40, 2)
    );
    // Joins close once training runs, even before the join deadline.
    assert!(matches!(
        suite.join(3, id, 1_000).unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    suite.round(id, 2, &[(0, 10), (2, 10)]).unwrap();
    assert_eq!(
        suite.round(id, 3, &[(0, 10)]).unwrap_err(),
        ContractError::RoundOutOfOrder {
            expected: 3,
            got: 3
        }
    );
    let rounds: task_hub::msg::RoundsResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.hub,
            &QueryMsg::Rounds {
                task_id: id,
                start_after: Some(1),
                limit: None,
            },
        )
        .unwrap();
    assert_eq!(rounds.rounds.len(), 1);
    assert_eq!(
        (rounds.rounds[0].round, rounds.rounds[0].total_weight.u128()),
        (2, 20)
    );
    assert_eq!(suite.participant(id, &t0).unwrap().weight.u128(), 40);
}

#[test]
fn rounds_after_the_training_deadline_are_refused() {
    let mut suite = Suite::new(2);
    let id = suite.create(suite.task_msg(), 10_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    suite.join(1, id, 1_000).unwrap();
    suite.advance(1_000);
    assert_eq!(
        suite.round(id, 1, &[(0, 1)]).unwrap_err(),
        ContractError::TrainingDeadlinePassed {}
    );
}

#[test]
fn slash_is_keeper_only_once_and_removes_weight() {
    let mut suite = Suite::new(3);
    let id = suite.create(suite.task_msg(), 10_000).unwrap();
    for i in 0..3 {
        suite.join(i, id, 1_000).unwrap();
    }
    suite.round(id, 1, &[(0, 10), (1, 30)]).unwrap();
    let t1 = suite.trainers[1].to_string();
    let slash = ExecuteMsg::Slash {
        task_id: id,
        trainer: t1.clone(),
        reason: "norm bound".into(),
    };
    let org = suite.org.clone();
    assert!(matches!(
        suite.exec(&org, &slash, &[]).unwrap_err(),
        ContractError::Unauthorized(_)
    ));
    let keeper = suite.keeper.clone();
    let empty_reason = ExecuteMsg::Slash {
        task_id: id,
        trainer: t1.clone(),
        reason: "".into(),
    };
    assert!(matches!(
        suite.exec(&keeper, &empty_reason, &[]).unwrap_err(),
        ContractError::EmptyField { .. }
    ));
    let stranger = ExecuteMsg::Slash {
        task_id: id,
        trainer: suite.outsider.to_string(),
        reason: "x".into(),
    };
    assert!(matches!(
        suite.exec(&keeper, &stranger, &[]).unwrap_err(),
        ContractError::NotParticipant { .. }
    ));
    suite.exec(&keeper, &slash, &[]).unwrap();
    assert_eq!(
        suite.exec(&keeper, &slash, &[]).unwrap_err(),
        ContractError::AlreadySlashed {
            address: t1.clone()
        }
    );
    let task = suite.task(id);
    assert_eq!(
        (
            task.total_weight.u128(),
            task.contributors_count,
            task.slashed_count,
            task.forfeited.u128()
        ),
        (10, 1, 1, 500)
    );
    assert_eq!(
        suite.round(id, 2, &[(1, 5)]).unwrap_err(),
        ContractError::AlreadySlashed { address: t1 }
    );
    let p = suite.participant(id, &suite.trainers[1].clone()).unwrap();
    assert_eq!(p.slash_reason.as_deref(), Some("norm bound"));
}

#[test]
fn finalize_rules_keeper_after_last_round_anyone_after_grace() {
    let mut suite = Suite::new(2);
    let id = suite.create(suite.task_msg(), 10_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    suite.join(1, id, 1_000).unwrap();
    suite.round(id, 1, &[(0, 1)]).unwrap();
    let keeper = suite.keeper.clone();
    let outsider = suite.outsider.clone();
    let finalize = ExecuteMsg::FinalizeTask { task_id: id };
    assert!(matches!(
        suite.exec(&keeper, &finalize, &[]).unwrap_err(),
        ContractError::NotFinalizable(_)
    ));
    suite.advance(1_000);
    assert!(matches!(
        suite.exec(&outsider, &finalize, &[]).unwrap_err(),
        ContractError::NotFinalizable(_)
    ));
    suite.advance(GRACE);
    suite.exec(&outsider, &finalize, &[]).unwrap();
    assert_eq!(suite.task(id).status, TaskStatus::Finalized);
    assert!(matches!(
        suite.exec(&keeper, &finalize, &[]).unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    assert!(matches!(
        suite.round(id, 2, &[(0, 1)]).unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    let slash = ExecuteMsg::Slash {
        task_id: id,
        trainer: suite.trainers[0].to_string(),
        reason: "late".into(),
    };
    assert!(matches!(
        suite.exec(&keeper, &slash, &[]).unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
}

/// The whole life of a task with a contributor pair, a no-show and a slashed trainer:
/// every party's balance changes by exactly what the rules say, and the contract ends empty.
#[test]
fn full_lifecycle_pays_to_the_coin_and_leaves_nothing_behind() {
    let mut suite = Suite::new(4);
    let pool = 100_003u128;
    let msg = task_hub::msg::CreateTaskMsg {
        max_trainers: 4,
        ..suite.task_msg()
    };
    let org = suite.org.clone();
    let org_start = suite.balance(&org);
    let id = suite.create(msg, pool).unwrap();
    for i in 0..4 {
        suite.join(i, id, 1_000).unwrap();
    }
    suite.round(id, 1, &[(0, 100), (1, 200), (3, 50)]).unwrap();
    let keeper = suite.keeper.clone();
    suite
        .exec(
            &keeper,
            &ExecuteMsg::Slash {
                task_id: id,
                trainer: suite.trainers[3].to_string(),
                reason: "NaN update".into(),
            },
            &[],
        )
        .unwrap();
    suite.round(id, 2, &[(0, 100), (1, 100)]).unwrap();
    let treasury = suite.treasury.clone();
    suite
        .exec(&keeper, &ExecuteMsg::FinalizeTask { task_id: id }, &[])
        .unwrap();

    let task = suite.task(id);
    let fee = pool * 200 / 10_000; // 2000
    let forfeited = 500 + 100; // slash 50% of trainer3 + no-show 10% of trainer2
    let distributable = pool - fee + forfeited;
    assert_eq!(task.settlement, Some(Settlement::Normal));
    assert_eq!(
        (
            task.fee.u128(),
            task.forfeited.u128(),
            task.distributable.u128()
        ),
        (fee, forfeited, distributable)
    );
    assert_eq!(suite.balance(&treasury), fee);

    let share = |w: u128| distributable * w / 500;
    let expected = [1_000 + share(200), 1_000 + share(300), 900, 500];
    for (i, want) in expected.iter().enumerate() {
        let who = suite.trainers[i].clone();
        let before = suite.balance(&who);
        assert_eq!(suite.claimable(id, &who), *want);
        suite
            .exec(&who, &ExecuteMsg::Claim { task_id: id }, &[])
            .unwrap();
        assert_eq!(suite.balance(&who), before + want, "trainer {i}");
        assert_eq!(
            suite
                .exec(&who, &ExecuteMsg::Claim { task_id: id }, &[])
                .unwrap_err(),
            ContractError::AlreadyClaimed {
                address: who.to_string()
            }
        );
    }
    let dust = distributable - share(200) - share(300);
    assert_eq!(suite.claimable(id, &org), dust);
    suite
        .exec(&org, &ExecuteMsg::ClaimRefund { task_id: id }, &[])
        .unwrap();
    assert_eq!(
        suite
            .exec(&org, &ExecuteMsg::ClaimRefund { task_id: id }, &[])
            .unwrap_err(),
        ContractError::NothingToClaim {}
    );
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
    assert_eq!(suite.balance(&org), org_start - pool + dust);
    let outsider = suite.outsider.clone();
    assert_eq!(
        suite
            .exec(&outsider, &ExecuteMsg::Claim { task_id: id }, &[])
            .unwrap_err(),
        ContractError::NotParticipant {
            address: outsider.to_string()
        }
    );

    let profile: Option<Profile> = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.hub,
            &QueryMsg::Profile {
                address: suite.trainers[2].to_string(),
            },
        )
        .unwrap();
    assert_eq!(profile.unwrap().no_shows, 1);
    let profile: Option<Profile> = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.hub,
            &QueryMsg::Profile {
                address: suite.trainers[0].to_string(),
            },
        )
        .unwrap();
    assert_eq!(profile.unwrap().tasks_completed, 1);
}

#[test]
fn a_keeper_that_never_delivers_refunds_everyone_after_grace() {
    let mut suite = Suite::new(2);
    let org = suite.org.clone();
    let start = suite.balance(&org);
    let id = suite.create(suite.task_msg(), 5_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    suite.join(1, id, 1_000).unwrap();
    suite.advance(1_000 + GRACE);
    let outsider = suite.outsider.clone();
    suite
        .exec(&outsider, &ExecuteMsg::FinalizeTask { task_id: id }, &[])
        .unwrap();
    assert_eq!(suite.task(id).settlement, Some(Settlement::Refund));
    for i in 0..2 {
        let who = suite.trainers[i].clone();
        assert_eq!(suite.claimable(id, &who), 1_000);
        suite
            .exec(&who, &ExecuteMsg::Claim { task_id: id }, &[])
            .unwrap();
    }
    suite
        .exec(&org, &ExecuteMsg::ClaimRefund { task_id: id }, &[])
        .unwrap();
    assert_eq!(suite.balance(&org), start);
    assert_eq!(suite.balance(&suite.treasury.clone()), 0);
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
}

#[test]
fn a_task_that_never_reaches_min_trainers_can_be_settled_after_the_join_deadline() {
    let mut suite = Suite::new(1);
    let id = suite.create(suite.task_msg(), 5_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    let outsider = suite.outsider.clone();
    assert!(matches!(
        suite
            .exec(&outsider, &ExecuteMsg::FinalizeTask { task_id: id }, &[])
            .unwrap_err(),
        ContractError::NotFinalizable(_)
    ));
    suite.advance(100);
    suite
        .exec(&outsider, &ExecuteMsg::FinalizeTask { task_id: id }, &[])
        .unwrap();
    let who = suite.trainers[0].clone();
    suite
        .exec(&who, &ExecuteMsg::Claim { task_id: id }, &[])
        .unwrap();
    let org = suite.org.clone();
    suite
        .exec(&org, &ExecuteMsg::ClaimRefund { task_id: id }, &[])
        .unwrap();
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
    assert_eq!(suite.balance(&who), START_BALANCE);
}

#[test]
fn when_every_update_was_rejected_the_pool_and_forfeits_return_to_the_organization() {
    let mut suite = Suite::new(2);
    let org = suite.org.clone();
    let start = suite.balance(&org);
    let id = suite.create(suite.task_msg(), 5_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    suite.join(1, id, 1_000).unwrap();
    suite.round(id, 1, &[]).unwrap();
    suite.round(id, 2, &[]).unwrap();
    let keeper = suite.keeper.clone();
    suite
        .exec(&keeper, &ExecuteMsg::FinalizeTask { task_id: id }, &[])
        .unwrap();
    let task = suite.task(id);
    assert_eq!(
        (task.settlement, task.fee.u128(), task.forfeited.u128()),
        (Some(Settlement::NoContributors), 0, 200)
    );
    assert_eq!(suite.claimable(id, &org), 5_200);
    suite
        .exec(&org, &ExecuteMsg::ClaimRefund { task_id: id }, &[])
        .unwrap();
    for i in 0..2 {
        let who = suite.trainers[i].clone();
        suite
            .exec(&who, &ExecuteMsg::Claim { task_id: id }, &[])
            .unwrap();
        assert_eq!(suite.balance(&who), START_BALANCE - 100);
    }
    assert_eq!(suite.balance(&org), start + 200);
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
}

#[test]
fn claims_wait_for_finalization() {
    let mut suite = Suite::new(2);
    let id = suite.create(suite.task_msg(), 5_000).unwrap();
    suite.join(0, id, 1_000).unwrap();
    let who = suite.trainers[0].clone();
    assert!(matches!(
        suite
            .exec(&who, &ExecuteMsg::Claim { task_id: id }, &[])
            .unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    let org = suite.org.clone();
    assert!(matches!(
        suite
            .exec(&org, &ExecuteMsg::ClaimRefund { task_id: id }, &[])
            .unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    assert_eq!(suite.claimable(id, &who), 0);
}

#[test]
fn task_lists_filter_by_status_organization_and_keeper_and_paginate() {
    let mut suite = Suite::new(1);
    for _ in 0..5 {
        suite.create(suite.task_msg(), 1_000).unwrap();
    }
    let other_keeper = suite.outsider.to_string();
    suite
        .create(
            task_hub::msg::CreateTaskMsg {
                keeper: other_keeper.clone(),
                ..suite.task_msg()
            },
            1_000,
        )
        .unwrap();
    let org = suite.org.clone();
    suite
        .exec(&org, &ExecuteMsg::CancelTask { task_id: 2 }, &[])
        .unwrap();
    let list = |suite: &Suite, q: QueryMsg| -> Vec<u64> {
        let r: TasksResponse = suite.app.wrap().query_wasm_smart(&suite.hub, &q).unwrap();
        r.tasks.iter().map(|t| t.id).collect()
    };
    let q = |status, organization: Option<String>, keeper: Option<String>, start_after, limit| {
        QueryMsg::Tasks {
            status,
            organization,
            keeper,
            start_after,
            limit,
        }
    };
    assert_eq!(
        list(&suite, q(None, None, None, None, None)),
        vec![1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        list(&suite, q(None, None, None, Some(2), Some(2))),
        vec![3, 4]
    );
    assert_eq!(
        list(
            &suite,
            q(Some(TaskStatus::Cancelled), None, None, None, None)
        ),
        vec![2]
    );
    assert_eq!(
        list(&suite, q(Some(TaskStatus::Open), None, None, Some(3), None)),
        vec![4, 5, 6]
    );
    assert_eq!(
        list(&suite, q(None, None, Some(other_keeper), None, None)),
        vec![6]
    );
    assert_eq!(
        list(
            &suite,
            q(
                Some(TaskStatus::Open),
                Some(org.to_string()),
                Some(suite.keeper.to_string()),
                None,
                None
            )
        ),
        vec![1, 3, 4, 5]
    );
    assert!(list(
        &suite,
        q(None, Some(suite.outsider.to_string()), None, None, None)
    )
    .is_empty());
}

#[test]
fn participants_paginate() {
    let mut suite = Suite::new(5);
    let id = suite.create(suite.task_msg(), 1_000).unwrap();
    for i in 0..5 {
        suite.join(i, id, 1_000).unwrap();
    }
    let page = |start: Option<String>| -> Vec<String> {
        let r: task_hub::msg::ParticipantsResponse = suite
            .app
            .wrap()
            .query_wasm_smart(
                &suite.hub,
                &QueryMsg::Participants {
                    task_id: id,
                    start_after: start,
                    limit: Some(2),
                },
            )
            .unwrap();
        r.participants
            .iter()
            .map(|p| p.trainer.to_string())
            .collect()
    };
    let mut seen = vec![];
    let mut start = None;
    loop {
        let batch = page(start.clone());
        if batch.is_empty() {
            break;
        }
        start = batch.last().cloned();
        seen.extend(batch);
    }
    let mut expected: Vec<String> = suite.trainers.iter().map(|a| a.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn config_is_admin_only_and_fee_changes_spare_existing_tasks() {
    let mut suite = Suite::new(0);
    let id = suite.create(suite.task_msg(), 1_000).unwrap();
    let outsider = suite.outsider.clone();
    let update = ExecuteMsg::UpdateConfig {
        treasury: None,
        fee_bps: Some(500),
        limits: None,
        admin: None,
    };
    assert!(matches!(
        suite.exec(&outsider, &update, &[]).unwrap_err(),
        ContractError::Unauthorized(_)
    ));
    let admin = suite.admin.clone();
    let too_high = ExecuteMsg::UpdateConfig {
        treasury: None,
        fee_bps: Some(2_000),
        limits: None,
        admin: None,
    };
    assert!(matches!(
        suite.exec(&admin, &too_high, &[]).unwrap_err(),
        ContractError::FeeTooHigh { .. }
    ));
    suite.exec(&admin, &update, &[]).unwrap();
    assert_eq!(suite.config().fee_bps, 500);
    assert_eq!(suite.task(id).fee_bps, FEE_BPS);
}

#[test]
fn migrate_keeps_state() {
    let mut suite = Suite::new(0);
    let id = suite.create(suite.task_msg(), 1_000).unwrap();
    let (admin, hub, code) = (suite.admin.clone(), suite.hub.clone(), suite.code_id);
    let new_code = suite.app.store_code(task_hub_code());
    suite
        .app
        .migrate_contract(admin, hub, &MigrateMsg {}, new_code)
        .unwrap();
    assert_ne!(code, new_code);
    assert_eq!(suite.task(id).pool.u128(), 1_000);
    let outsider = suite.outsider.clone();
    let (hub, code) = (suite.hub.clone(), suite.code_id);
    assert!(suite
        .app
        .migrate_contract(outsider, hub, &MigrateMsg {}, code)
        .is_err());
}
