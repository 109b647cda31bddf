//! Property test: random operation sequences over several tasks, valid and invalid alike.
//! After every step the contract's balance equals what its tasks hold, nothing is paid twice, and
//! a refused operation changes nothing; at the end every coin is claimed and the contract is empty.

mod common;

use std::collections::HashMap;

use common::*;
use cosmwasm_std::Uint128;
use proptest::prelude::*;
use task_hub::msg::{CreateTaskMsg, ExecuteMsg, QueryMsg, TasksResponse};
use task_hub::state::{Task, TaskStatus};

const TRAINERS: usize = 5;

#[derive(Debug, Clone)]
enum Op {
    Create {
        pool: u128,
        min: u32,
        extra: u32,
        stake: u128,
        rounds: u32,
        no_show_bps: u16,
        slash_bps: u16,
    },
    Join {
        task: u8,
        trainer: usize,
        exact: bool,
    },
    Round {
        task: u8,
        contributors: Vec<(usize, u128)>,
    },
    Slash {
        task: u8,
        trainer: usize,
    },
    Advance {
        seconds: u64,
    },
    Finalize {
        task: u8,
        by_keeper: bool,
    },
    Claim {
        task: u8,
        trainer: usize,
    },
    ClaimRefund {
        task: u8,
    },
    Cancel {
        task: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            1u128..1_000_000_000,
            1u32..3,
            0u32..3,
            1u128..1_000_000,
            1u32..4,
            0u16..=10_000,
            0u16..=10_000
        )
            .prop_map(
                |(pool, min, extra, stake, rounds, no_show_bps, slash_bps)| Op::Create {
                    pool,
                    min,
                    extra,
                    stake,
                    rounds,
                    no_show_bps,
                    slash_bps
                }
            ),
        (0u8..4, 0..TRAINERS, prop::bool::weighted(0.9)).prop_map(|(task, trainer, exact)| {
            Op::Join {
                task,
                trainer,
                exact,
            }
        }),
        (
            0u8..4,
            prop::collection::vec((0..TRAINERS, 0u128..1_000), 0..4)
        )
            .prop_map(|(task, contributors)| Op::Round { task, contributors }),
        (0u8..4, 0..TRAINERS).prop_map(|(task, trainer)| Op::Slash { task, trainer }),
        (0u64..700).prop_map(|seconds| Op::Advance { seconds }),
        (0u8..4, any::<bool>()).prop_map(|(task, by_keeper)| Op::Finalize { task, by_keeper }),
        (0u8..4, 0..TRAINERS).prop_map(|(task, trainer)| Op::Claim { task, trainer }),
        (0u8..4).prop_map(|task| Op::ClaimRefund { task }),
        (0u8..4).prop_map(|task| Op::Cancel { task }),
    ]
}

fn all_tasks(suite: &Suite) -> Vec<Task> {
    let response: TasksResponse = suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.hub,
            &QueryMsg::Tasks {
                status: None,
                organization: None,
                keeper: None,
                start_after: None,
                limit: Some(100),
            },
        )
        .unwrap();
    response.tasks
}

fn total_supply(suite: &Suite) -> u128 {
    let mut everyone = vec![
        suite.org.clone(),
        suite.keeper.clone(),
        suite.treasury.clone(),
        suite.outsider.clone(),
        suite.hub.clone(),
        suite.admin.clone(),
    ];
    everyone.extend(suite.trainers.iter().cloned());
    everyone.iter().map(|a| suite.balance(a)).sum()
}

fn check_invariants(suite: &Suite, claims: &HashMap<(u64, usize), u32>) {
    let tasks = all_tasks(suite);
    let held: u128 = tasks.iter().map(|t| t.held().u128()).sum();
    assert_eq!(
        suite.balance(&suite.hub),
        held,
        "contract balance must equal what its tasks hold"
    );
    for task in &tasks {
        let funds_in = task.pool + task.stake * Uint128::from(task.participants);
        assert!(
            task.paid_out <= funds_in,
            "task {} paid out more than came in",
            task.id
        );
        assert!(task.rewards_paid <= task.distributable || task.settlement.is_none());
    }
    assert!(
        claims.values().all(|n| *n <= 1),
        "an address was paid twice for one task"
    );
}

/// Applies one operation; returns whether the contract accepted it.
fn apply(suite: &mut Suite, op: &Op, claims: &mut HashMap<(u64, usize), u32>) -> bool {
    let task_id = |t: u8| u64::from(t) + 1;
    let outcome = match op.clone() {
        Op::Create {
            pool,
            min,
            extra,
            stake,
            rounds,
            no_show_bps,
            slash_bps,
        } => {
            let msg = CreateTaskMsg {
                rounds,
                min_trainers: min,
                max_trainers: min + extra,
                stake: Uint128::new(stake),
                no_show_penalty_bps: no_show_bps,
                slash_bps,
                ..suite.task_msg()
            };
            suite.create(msg, pool).map(|_| ())
        }
        Op::Join {
            task,
            trainer,
            exact,
        } => {
            let id = task_id(task);
            let stake = if exact && (id as usize) <= all_tasks(suite).len() {
                suite.task(id).stake.u128()
            } else {
                7
            };
            suite.join(trainer, id, stake).map(|_| ())
        }
        Op::Round { task, contributors } => {
            let id = task_id(task);
            let round = if (id as usize) <= all_tasks(suite).len() {
                suite.task(id).rounds_completed + 1
            } else {
                1
            };
            suite.round(id, round, &contributors).map(|_| ())
        }
        Op::Slash { task, trainer } => {
            let keeper = suite.keeper.clone();
            let msg = ExecuteMsg::Slash {
                task_id: task_id(task),
                trainer: suite.trainers[trainer].to_string(),
                reason: "bad".into(),
            };
            suite.exec(&keeper, &msg, &[]).map(|_| ())
        }
        Op::Advance { seconds } => {
            suite.advance(seconds);
            Ok(())
        }
        Op::Finalize { task, by_keeper } => {
            let who = if by_keeper {
                suite.keeper.clone()
            } else {
                suite.outsider.clone()
            };
            suite
                .exec(
                    &who,
                    &ExecuteMsg::FinalizeTask {
                        task_id: task_id(task),
                    },
                    &[],
                )
                .map(|_| ())
        }
        Op::Claim { task, trainer } => {
            let who = suite.trainers[trainer].clone();
            let result = suite.exec(
                &who,
                &ExecuteMsg::Claim {
                    task_id: task_id(task),
                },
                &[],
            );
            if result.is_ok() {
                *claims.entry((task_id(task), trainer)).or_default() += 1;
            }
            result.map(|_| ())
        }
        Op::ClaimRefund { task } => {
            let org = suite.org.clone();
            suite
                .exec(
                    &org,
                    &ExecuteMsg::ClaimRefund {
                        task_id: task_id(task),
                    },
                    &[],
                )
                .map(|_| ())
        }
        Op::Cancel { task } => {
            let org = suite.org.clone();
            suite
                .exec(
                    &org,
                    &ExecuteMsg::CancelTask {
                        task_id: task_id(task),
                    },
                    &[],
                )
                .map(|_| ())
        }
    };
    outcome.is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn money_is_conserved_under_any_sequence(ops in prop::collection::vec(op(), 1..60)) {
        let mut suite = Suite::new(TRAINERS);
        let supply = total_supply(&suite);
        let mut claims = HashMap::new();
        for op in &ops {
            let before = (all_tasks(&suite), suite.balance(&suite.hub));
            let accepted = apply(&mut suite, op, &mut claims);
            let after = (all_tasks(&suite), suite.balance(&suite.hub));
            if !accepted || matches!(op, Op::Advance { .. }) {
                prop_assert_eq!(&before, &after, "a refused operation changed state: {:?}", op);
            }
            check_invariants(&suite, &claims);
            prop_assert_eq!(total_supply(&suite), supply);
        }
        // Settle everything: past every deadline, anyone finalizes, everyone claims.
        suite.advance(10_000);
        let outsider = suite.outsider.clone();
        let org = suite.org.clone();
        for task in all_tasks(&suite) {
            if matches!(task.status, TaskStatus::Open | TaskStatus::Running) {
                suite.exec(&outsider, &ExecuteMsg::FinalizeTask { task_id: task.id }, &[]).unwrap();
            }
            if task.status == TaskStatus::Cancelled {
                continue;
            }
            for (i, trainer) in suite.trainers.clone().iter().enumerate() {
                if let Some(p) = suite.participant(task.id, trainer) {
                    if !p.claimed {
                        suite.exec(trainer, &ExecuteMsg::Claim { task_id: task.id }, &[]).unwrap();
                        *claims.entry((task.id, i)).or_default() += 1;
                    }
                    prop_assert_eq!(suite.claimable(task.id, trainer), 0);
                }
            }
            if suite.claimable(task.id, &org) > 0 {
                suite.exec(&org, &ExecuteMsg::ClaimRefund { task_id: task.id }, &[]).unwrap();
            }
            prop_assert_eq!(suite.claimable(task.id, &org), 0);
            check_invariants(&suite, &claims);
        }
        prop_assert_eq!(suite.balance(&suite.hub), 0, "every coin is claimed in the end");
        prop_assert_eq!(total_supply(&suite), supply);
    }
}
