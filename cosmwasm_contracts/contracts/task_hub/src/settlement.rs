//! The money rules, as pure functions of a task's stored totals. Finalize and claim cost the
//! same gas whatever the number of trainers, because nothing here iterates over participants:
//! finalize fixes the totals, each trainer's share is computed from them when it claims.
//!
//! Every division rounds down, so the sum of what is paid never exceeds what is held; the
//! rounding dust stays in the contract until the task is swept to its treasury.

use cosmwasm_std::Uint128;

use crate::error::ContractError;
use crate::state::{Settlement, Standing, Task, TaskStatus};

const BPS: u128 = 10_000;

pub fn bps_of(amount: Uint128, bps: u16) -> Result<Uint128, ContractError> {
    Ok(amount.checked_multiply_ratio(bps as u128, BPS)?)
}

/// Trainers who joined, were not slashed, and never had an accepted update.
fn no_shows(task: &Task) -> u32 {
    task.state.participants - task.state.contributors_count - task.state.slashed_count
}

/// Trainers who contributed and kept their standing: they share the trainers' compensation.
/// Only they: a no-show (for instance one of many addresses that filled a task and never
/// connected) did nothing a failing keeper cost it, and must not profit from the failure.
fn eligible(task: &Task) -> u32 {
    task.state.contributors_count
}

/// The totals of a task being finalized now. `never_started`: no round was attested because the
/// keeper never accepted or too few trainers joined; then the keeper did not fail and keeps its
/// bond.
pub fn settle(task: &Task, never_started: bool) -> Result<Settlement, ContractError> {
    let (terms, state) = (&task.terms, &task.state);
    let rounds = Uint128::from(terms.rounds);
    let delivered_pool = terms
        .pool
        .checked_multiply_ratio(state.productive_rounds, rounds)?;
    let fee = bps_of(delivered_pool, terms.fee_bps)?;
    let keeper_fee = bps_of(delivered_pool, terms.keeper_fee_bps)?;
    let distributable = delivered_pool.checked_sub(fee)?.checked_sub(keeper_fee)?;
    let slashed_reward = if state.total_weight.is_zero() {
        Uint128::zero()
    } else {
        distributable.checked_multiply_ratio(state.slashed_weight, state.total_weight)?
    };
    let no_show_penalty = terms.stake.checked_multiply_ratio(
        terms.no_show_penalty_bps as u128 * state.productive_rounds as u128,
        BPS * terms.rounds as u128,
    )?;
    let no_show_forfeits = no_show_penalty.checked_mul(no_shows(task).into())?;
    let bond_forfeited = if never_started {
        Uint128::zero()
    } else {
        task.bond_deposited()
            .checked_multiply_ratio(terms.rounds - state.rounds_completed, terms.rounds)?
    };
    let eligible = Uint128::from(eligible(task));
    let (org_compensation, trainer_compensation) = if eligible.is_zero() {
        (bond_forfeited, Uint128::zero())
    } else {
        let at_risk = terms.pool.checked_add(terms.stake.checked_mul(eligible)?)?;
        let org = bond_forfeited.checked_multiply_ratio(terms.pool, at_risk)?;
        (org, bond_forfeited.checked_sub(org)?.checked_div(eligible)?)
    };
    Ok(Settlement {
        delivered_pool,
        fee,
        keeper_fee,
        distributable,
        slashed_reward,
        no_show_penalty,
        no_show_forfeits,
        bond_forfeited,
        org_compensation,
        trainer_compensation,
    })
}

/// What finalize pays, from the settlement totals.
impl Settlement {
    /// Fee, every forfeit (slashes so far and no-shows) and the slashed reward share.
    pub fn to_treasury(&self, slash_forfeits: Uint128) -> Result<Uint128, ContractError> {
        Ok(self
            .fee
            .checked_add(slash_forfeits)?
            .checked_add(self.no_show_forfeits)?
            .checked_add(self.slashed_reward)?)
    }

    /// The undelivered pool and the organization's compensation: never a forfeit.
    pub fn to_organization(&self, task: &Task) -> Result<Uint128, ContractError> {
        Ok(task
            .terms
            .pool
            .checked_sub(self.delivered_pool)?
            .checked_add(self.org_compensation)?)
    }

    /// The bond not forfeited and the keeper fee: never a forfeit.
    pub fn to_keeper(&self, task: &Task) -> Result<Uint128, ContractError> {
        Ok(task
            .bond_deposited()
            .checked_sub(self.bond_forfeited)?
            .checked_add(self.keeper_fee)?)
    }
}

/// What a trainer gets from a settled task: amount = stake − penalty + reward + compensation.
#[derive(Debug, Default, PartialEq)]
pub struct Share {
    pub stake_back: Uint128,
    pub penalty: Uint128,
    pub reward: Uint128,
    pub compensation: Uint128,
}

impl Share {
    pub fn amount(&self) -> Result<Uint128, ContractError> {
        Ok(self
            .stake_back
            .checked_add(self.reward)?
            .checked_add(self.compensation)?)
    }
}

/// A participant's share: its full stake from a cancelled task; from a finalized one its stake
/// minus its penalty (slash, or no-show when it never contributed), plus its reward share and
/// its compensation unless it was slashed. Nothing for a task not settled yet.
pub fn share(
    task: &Task,
    settlement: &Settlement,
    standing: &Standing,
) -> Result<Share, ContractError> {
    let (terms, state) = (&task.terms, &task.state);
    match state.status {
        TaskStatus::Cancelled => Ok(Share {
            stake_back: terms.stake,
            ..Share::default()
        }),
        TaskStatus::Finalized if standing.slashed => {
            let penalty = bps_of(terms.stake, terms.slash_bps)?;
            Ok(Share {
                stake_back: terms.stake.checked_sub(penalty)?,
                penalty,
                ..Share::default()
            })
        }
        TaskStatus::Finalized if standing.weight.is_zero() => Ok(Share {
            stake_back: terms.stake.checked_sub(settlement.no_show_penalty)?,
            penalty: settlement.no_show_penalty,
            ..Share::default()
        }),
        TaskStatus::Finalized => Ok(Share {
            stake_back: terms.stake,
            reward: settlement
                .distributable
                .checked_multiply_ratio(standing.weight, state.total_weight)?,
            compensation: settlement.trainer_compensation,
            ..Share::default()
        }),
        _ => Ok(Share::default()),
    }
}
