//! The money rules, to the coin: pro-rata delivery, fees, penalties, bond forfeits and their
//! compensation, claims (each equal to what `claimable` announced) and the sweep.
//! Pool 10,000, stake 1,000 and bond 2,000 throughout, fee 2 %, keeper fee 5 %, no-show 25 %,
//! slash 50 %.

mod common;

use common::*;
use cosmwasm_std::Addr;
use cw_multi_test::Executor;
use task_hub::msg::{CreateTaskMsg, SlashReason};
use task_hub::state::TaskStatus;
use task_hub::ContractError;

struct Balances {
    org: u128,
    keeper: u128,
    treasury: u128,
}

fn balances(suite: &Suite) -> Balances {
    Balances {
        org: suite.balance(&suite.org),
        keeper: suite.balance(&suite.keeper),
        treasury: suite.balance(&suite.treasury),
    }
}

/// What each of org, keeper and treasury received since `before`.
fn received(suite: &Suite, before: &Balances) -> (u128, u128, u128) {
    let now = balances(suite);
    (
        now.org - before.org,
        now.keeper - before.keeper,
        now.treasury - before.treasury,
    )
}

#[test]
fn a_delivered_task_pays_everyone_to_the_coin() {
    let mut suite = Suite::new(4);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2, 3]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 300), (1, 100), (2, 200)]).unwrap();
    suite.round(id, 2, &[(0, 100), (1, 300)]).unwrap();
    suite.slash(id, 2, 2, SlashReason::NormExceeded).unwrap();
    let before = balances(&suite);
    let response = suite.finalize(id).unwrap();

    // delivered 10,000 (2 of 2 rounds productive): fee 200, keeper fee 500, distributable 9,300.
    // Trainer 2 (weight 200 of 1,000) was slashed: its share 1,860 and forfeit 500 go to the
    // treasury; trainer 3 never contributed: a no-show, 25 % × 2/2 of its stake = 250.
    let task = suite.task(id);
    assert_eq!(
        (
            task.delivered_pool.u128(),
            task.fee.u128(),
            task.keeper_fee.u128(),
            task.distributable.u128(),
            task.slashed_reward.u128(),
            task.no_show_penalty.u128(),
            task.forfeited.u128(),
            task.bond_forfeited.u128(),
        ),
        (10_000, 200, 500, 9_300, 1_860, 250, 750, 0)
    );
    assert_eq!(
        received(&suite, &before),
        (0, 2_000 + 500, 200 + 500 + 250 + 1_860)
    );
    assert_eq!(attr(&response, "treasury_amount"), "2810");
    assert_eq!(attr(&response, "keeper_amount"), "2500");
    assert_eq!(attr(&response, "organization_amount"), "0");

    assert_eq!(suite.claim_checked(0, id), 1_000 + 3_720);
    assert_eq!(suite.claim_checked(1, id), 1_000 + 3_720);
    assert_eq!(suite.claim_checked(2, id), 500);
    assert_eq!(suite.claim_checked(3, id), 750);
    let task = suite.task(id);
    assert_eq!(
        (
            task.held.u128(),
            task.claimed_count,
            task.rewards_paid.u128()
        ),
        (0, 4, 7_440)
    );
    assert_eq!(suite.balance(&suite.hub.clone()), 0);

    let profile = |i: usize| suite.profile(&suite.trainers[i]).unwrap();
    assert_eq!((profile(0).tasks_completed, profile(0).no_shows), (1, 0));
    assert_eq!((profile(2).slashed, profile(2).tasks_completed), (1, 0));
    assert_eq!((profile(3).no_shows, profile(3).tasks_completed), (1, 0));
}

/// Review finding 3: a keeper that delivers 1 round of 10 earns on 1/10 of the pool; the other
/// 9/10 go back to the organization, with its part of the keeper's forfeited bond.
#[test]
fn one_of_ten_rounds_delivered_pays_one_tenth_of_the_pool() {
    let mut suite = Suite::new(2);
    let msg = CreateTaskMsg {
        rounds: 10,
        ..suite.task_msg()
    };
    let id = suite.open_task(msg, POOL, &[0, 1]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 1), (1, 1)]).unwrap();
    suite.advance_to(suite.task(id).training_deadline + GRACE);
    let before = balances(&suite);
    suite.finalize(id).unwrap();

    // delivered 1,000: fee 20, keeper fee 50, distributable 930 (465 each).
    // Bond forfeit 2,000 × 9/10 = 1,800: the organization's part 1,800 × 10,000 / 12,000 = 1,500,
    // each trainer (1,800 − 1,500) / 2 = 150.
    let task = suite.task(id);
    assert_eq!(
        (
            task.delivered_pool.u128(),
            task.bond_forfeited.u128(),
            task.org_compensation.u128(),
            task.trainer_compensation.u128()
        ),
        (1_000, 1_800, 1_500, 150)
    );
    assert_eq!(received(&suite, &before), (9_000 + 1_500, 200 + 50, 20));
    for i in 0..2 {
        let c = suite.claimable(id, &suite.trainers[i].clone());
        assert_eq!(
            (
                c.stake_back.u128(),
                c.reward.u128(),
                c.compensation.u128(),
                c.penalty.u128()
            ),
            (1_000, 465, 150, 0)
        );
        assert_eq!(suite.claim_checked(i, id), 1_615);
    }
    assert_eq!(suite.task(id).held.u128(), 0);
    assert_eq!(
        suite
            .profile(&suite.keeper.clone())
            .unwrap()
            .keeper
            .unwrap()
            .tasks_failed,
        1
    );
}

/// A keeper that accepted, got enough trainers, and never attested a round loses its bond. With
/// no contributor to share it, all of it compensates the organization: trainers get their stakes
/// back but no share, so addresses that fill a task and never connect earn nothing from the
/// keeper's failure (review: sybils collecting the bond).
#[test]
fn a_keeper_that_never_delivers_compensates_the_organization_and_no_idle_trainer() {
    let mut suite = Suite::new(2);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.advance_to(suite.task(id).training_deadline + GRACE);
    let before = balances(&suite);
    suite.finalize(id).unwrap();
    assert_eq!(received(&suite, &before), (10_000 + BOND, 0, 0));
    assert_eq!(suite.claim_checked(0, id), STAKE);
    assert_eq!(suite.claim_checked(1, id), STAKE);
    assert_eq!(suite.task(id).held.u128(), 0);
}

/// Too few trainers by the join deadline: nobody failed, everybody gets everything back.
#[test]
fn a_task_that_never_gets_enough_trainers_refunds_everyone() {
    let mut suite = Suite::new(1);
    let id = suite.open_task(suite.task_msg(), POOL, &[0]);
    suite.close_joins(id);
    let before = balances(&suite);
    suite.finalize(id).unwrap();
    assert_eq!(received(&suite, &before), (POOL, BOND, 0));
    let task = suite.task(id);
    assert_eq!(
        (task.bond_forfeited.u128(), task.status),
        (0, TaskStatus::Finalized)
    );
    assert_eq!(suite.claim_checked(0, id), STAKE);
    assert_eq!(
        suite
            .profile(&suite.keeper.clone())
            .unwrap()
            .keeper
            .unwrap()
            .tasks_failed,
        0
    );
}

/// Review finding 1: with an independent keeper, empty rounds penalize nobody; a no-show is
/// penalized only in proportion of the rounds that trained something.
#[test]
fn empty_rounds_penalize_nobody() {
    let mut suite = Suite::new(4);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(id);
    suite.round(id, 1, &[]).unwrap();
    suite.round(id, 2, &[]).unwrap();
    let before = balances(&suite);
    suite.finalize(id).unwrap();
    assert_eq!(received(&suite, &before), (POOL, BOND, 0));
    assert_eq!(suite.claim_checked(0, id), STAKE);
    assert_eq!(suite.claim_checked(1, id), STAKE);

    // One productive round of two: half the pool is delivered, a no-show loses 25 % × 1/2.
    let id = suite.open_task(suite.task_msg(), POOL, &[2, 3]);
    suite.close_joins(id);
    suite.round(id, 1, &[(2, 7)]).unwrap();
    suite.round(id, 2, &[]).unwrap();
    let before = balances(&suite);
    suite.finalize(id).unwrap();
    // delivered 5,000: fee 100, keeper fee 250, distributable 4,650.
    assert_eq!(received(&suite, &before), (5_000, 2_000 + 250, 100 + 125));
    assert_eq!(suite.claim_checked(2, id), 1_000 + 4_650);
    assert_eq!(suite.claim_checked(3, id), 875);
    assert_eq!(suite.task(id).held.u128(), 0);
}

/// Review finding 1: an organization running its own keeper (a second address) gains nothing
/// from the penalties it can cause: they go to the treasury, and the pool it delivered is paid.
#[test]
fn an_organization_with_its_own_keeper_gains_nothing_from_penalties() {
    let mut suite = Suite::new(2);
    let sybil = suite.addr("org-keeper");
    let org = suite.org.clone();
    suite
        .app
        .send_tokens(
            org.clone(),
            sybil.clone(),
            &cosmwasm_std::coins(BOND, DENOM),
        )
        .unwrap();
    suite.register_keeper(&sybil, 2_000).unwrap();
    let coalition = |s: &Suite| s.balance(&s.org) + s.balance(&sybil);
    let start = coalition(&suite);
    let treasury_start = suite.balance(&suite.treasury.clone());
    let msg = CreateTaskMsg {
        keeper: sybil.to_string(),
        ..suite.task_msg()
    };
    let id = suite.open_task(msg, POOL, &[0, 1]);
    suite.close_joins(id);
    // The sybil keeper leaves trainer 1 out of every round to make it a no-show.
    suite.round(id, 1, &[(0, 1)]).unwrap();
    suite.round(id, 2, &[(0, 1)]).unwrap();
    suite.finalize(id).unwrap();
    // The coalition paid the delivered pool and got back only the 20 % keeper fee.
    assert_eq!(coalition(&suite), start - 10_000 + 2_000);
    // The no-show's 250 went to the treasury, with the fee.
    assert_eq!(
        suite.balance(&suite.treasury.clone()) - treasury_start,
        200 + 250
    );
    assert_eq!(suite.claim_checked(0, id), 1_000 + 7_800);
    assert_eq!(suite.claim_checked(1, id), 750);
}

#[test]
fn the_keeper_fee_is_a_share_of_the_delivered_pool_only() {
    let mut suite = Suite::new(2);
    let msg = CreateTaskMsg {
        rounds: 4,
        ..suite.task_msg()
    };
    let id = suite.open_task(msg, POOL, &[0, 1]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 1), (1, 1)]).unwrap();
    suite.round(id, 2, &[]).unwrap();
    suite.round(id, 3, &[(1, 1)]).unwrap();
    suite.round(id, 4, &[]).unwrap();
    let before = balances(&suite);
    suite.finalize(id).unwrap();
    // 2 productive rounds of 4: delivered 5,000, keeper fee 5 % = 250, all rounds attested.
    let (org, keeper, treasury) = received(&suite, &before);
    assert_eq!((org, keeper, treasury), (5_000, 2_000 + 250, 100));
    // distributable 4,650 by weight 1:2.
    assert_eq!(suite.claim_checked(0, id), 1_000 + 1_550);
    assert_eq!(suite.claim_checked(1, id), 1_000 + 3_100);
}

fn settle_with_dust(suite: &mut Suite) -> u64 {
    let msg = CreateTaskMsg {
        rounds: 1,
        ..suite.task_msg()
    };
    // 10,001 delivered: fee 200, keeper fee 500, distributable 9,301 over 3 equal weights:
    // 3,100 each and 1 of dust.
    let id = suite.open_task(msg, POOL + 1, &[0, 1, 2]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 1), (1, 1), (2, 1)]).unwrap();
    suite.finalize(id).unwrap();
    id
}

/// Review finding 8: dust and unclaimed shares go to the treasury after the claim window, not
/// before; claims after the sweep are refused.
#[test]
fn dust_and_unclaimed_shares_are_swept_to_the_treasury_after_the_claim_window() {
    let mut suite = Suite::new(3);
    let id = settle_with_dust(&mut suite);
    assert_eq!(suite.claim_checked(0, id), 4_100);
    let settled_at = suite.task(id).settled_at.unwrap();
    assert_eq!(
        suite.sweep(id).unwrap_err(),
        ContractError::ClaimWindowOpen {
            task_id: id,
            sweepable_at: settled_at + CLAIM_WINDOW
        }
    );
    suite.advance_to(settled_at + CLAIM_WINDOW - 1);
    assert!(suite.sweep(id).is_err());
    // A claim after the window but before anyone swept is still paid.
    suite.advance(1);
    assert_eq!(suite.claim_checked(1, id), 4_100);
    let treasury = suite.balance(&suite.treasury.clone());
    let response = suite.sweep(id).unwrap();
    // Trainer 2's unclaimed 4,100 and the 1 of dust.
    assert_eq!(attr(&response, "amount"), "4101");
    assert_eq!(suite.balance(&suite.treasury.clone()), treasury + 4_101);
    let task = suite.task(id);
    assert_eq!((task.swept, task.held.u128()), (true, 0));
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
    assert_eq!(
        suite.claim(2, id).unwrap_err(),
        ContractError::ClaimWindowClosed { task_id: id }
    );
    assert_eq!(
        suite
            .claimable(id, &suite.trainers[2].clone())
            .amount
            .u128(),
        0
    );
    assert_eq!(
        suite.sweep(id).unwrap_err(),
        ContractError::AlreadySwept { task_id: id }
    );
}

#[test]
fn a_cancelled_task_is_swept_too_and_only_once_settled() {
    let mut suite = Suite::new(2);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    assert_eq!(
        suite.sweep(id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Open,
            expected: "finalized or cancelled".into()
        }
    );
    suite.cancel(id).unwrap();
    suite.claim_checked(0, id);
    suite.advance(CLAIM_WINDOW);
    let treasury = suite.balance(&suite.treasury.clone());
    suite.sweep(id).unwrap();
    assert_eq!(suite.balance(&suite.treasury.clone()), treasury + STAKE);
    assert_eq!(
        suite.claim(1, id).unwrap_err(),
        ContractError::ClaimWindowClosed { task_id: id }
    );
    assert_eq!(suite.balance(&suite.hub.clone()), 0);
}

/// The claim window and grace are the task's own: an admin change does not shorten them.
#[test]
fn the_claim_window_is_the_one_snapshotted_at_creation() {
    let mut suite = Suite::new(3);
    let id = settle_with_dust(&mut suite);
    let admin = suite.admin.clone();
    let limits = task_hub::msg::Limits {
        claim_window_secs: 60,
        ..limits()
    };
    suite
        .exec(
            &admin,
            &task_hub::msg::ExecuteMsg::UpdateConfig {
                treasury: None,
                fee_bps: None,
                limits: Some(limits),
                admin: None,
            },
            &[],
        )
        .unwrap();
    suite.advance(60);
    assert!(matches!(
        suite.sweep(id).unwrap_err(),
        ContractError::ClaimWindowOpen { .. }
    ));
}

#[test]
fn claims_are_refused_to_non_participants_and_before_settlement() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 1)]).unwrap();
    assert_eq!(
        suite.claim(0, id).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Running,
            expected: "finalized or cancelled".into()
        }
    );
    assert_eq!(
        suite
            .claimable(id, &suite.trainers[0].clone())
            .amount
            .u128(),
        0
    );
    suite.round(id, 2, &[(1, 1)]).unwrap();
    suite.finalize(id).unwrap();
    assert_eq!(
        suite.claim(2, id).unwrap_err(),
        ContractError::NotParticipant {
            task_id: id,
            address: suite.trainers[2].to_string()
        }
    );
    let outsider: Addr = suite.outsider.clone();
    let c = suite.claimable(id, &outsider);
    assert_eq!((c.amount.u128(), c.denom.as_str()), (0, DENOM));
    // The organization and keeper were paid by finalize: nothing for them to claim.
    assert_eq!(suite.claimable(id, &suite.org.clone()).amount.u128(), 0);
    assert_eq!(suite.claim_checked(0, id), 1_000 + 4_650);
    assert_eq!(suite.claim_checked(1, id), 1_000 + 4_650);
}

/// Review: only contributors share a failing keeper's bond. Here the keeper attests round 1 of 2
/// with trainers 0 and 1 and vanishes; trainer 2 never sent an update and gets no compensation
/// (it pays the no-show penalty for the one productive round instead).
#[test]
fn a_vanished_keepers_bond_compensates_contributors_not_no_shows() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 100), (1, 100)]).unwrap();
    suite.advance_to(suite.task(id).training_deadline + GRACE);
    let before = balances(&suite);
    suite.finalize(id).unwrap();
    // Bond forfeited 2,000 × 1/2 = 1,000; at risk 10,000 + 2 × 1,000: the organization 833 and
    // the 5,000 undelivered, the two contributors 83 each. Delivered 5,000: fee 100, keeper fee
    // 250, 4,650 distributable (2,325 each). No-show penalty 1,000 × 25 % × 1/2 = 125.
    assert_eq!(
        received(&suite, &before),
        (5_000 + 833, 1_000 + 250, 100 + 125)
    );
    let no_show = suite.claimable(id, &suite.trainers[2].clone());
    assert_eq!(
        (no_show.penalty.u128(), no_show.compensation.u128()),
        (125, 0)
    );
    assert_eq!(suite.claim_checked(0, id), STAKE + 2_325 + 83);
    assert_eq!(suite.claim_checked(1, id), STAKE + 2_325 + 83);
    assert_eq!(suite.claim_checked(2, id), STAKE - 125);
    // Rounding dust only: 1,000 − 833 − 2 × 83 = 1.
    assert_eq!(suite.task(id).held.u128(), 1);
}
