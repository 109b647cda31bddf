//! The money rules, as pure functions of a task's stored totals: finalize and claim cost the same
//! gas whatever the number of trainers, because nothing here iterates over participants.

use cosmwasm_std::{StdError, StdResult, Uint128};

use crate::state::{Participant, Settlement, Task};

const BPS: u128 = 10_000;

pub fn bps_of(amount: Uint128, bps: u16) -> StdResult<Uint128> {
    amount
        .checked_multiply_ratio(bps as u128, BPS)
        .map_err(|e| StdError::generic_err(e.to_string()))
}

/// Trainers who joined, were not slashed, and never had an accepted update.
pub fn no_shows(task: &Task) -> u32 {
    task.participants - task.contributors_count - task.slashed_count
}

pub fn path_for(task: &Task) -> Settlement {
    if task.rounds_completed == 0 {
        Settlement::Refund
    } else if task.total_weight.is_zero() {
        Settlement::NoContributors
    } else {
        Settlement::Normal
    }
}

/// Totals fixed at finalization: (no-show forfeits, fee, distributable reward pool).
pub fn finalize_totals(task: &Task, path: Settlement) -> StdResult<(Uint128, Uint128, Uint128)> {
    let no_show_forfeit = match path {
        Settlement::Refund => Uint128::zero(),
        _ => bps_of(task.stake, task.no_show_penalty_bps)?
            .checked_mul(Uint128::from(no_shows(task)))?,
    };
    let forfeited = task.forfeited.checked_add(no_show_forfeit)?;
    match path {
        Settlement::Normal => {
            let fee = bps_of(task.pool, task.fee_bps)?;
            let distributable = task.pool.checked_sub(fee)?.checked_add(forfeited)?;
            Ok((no_show_forfeit, fee, distributable))
        }
        _ => Ok((no_show_forfeit, Uint128::zero(), Uint128::zero())),
    }
}

/// What a participant loses from its stake.
pub fn penalty(task: &Task, participant: &Participant) -> StdResult<Uint128> {
    if participant.slashed {
        return bps_of(participant.stake, task.slash_bps);
    }
    match task.settlement {
        Some(Settlement::Normal) | Some(Settlement::NoContributors)
            if participant.weight.is_zero() =>
        {
            bps_of(participant.stake, task.no_show_penalty_bps)
        }
        _ => Ok(Uint128::zero()),
    }
}

/// A participant's reward share: distributable × own weight / total weight.
pub fn reward(task: &Task, participant: &Participant) -> StdResult<Uint128> {
    if participant.slashed || participant.weight.is_zero() || task.total_weight.is_zero() {
        return Ok(Uint128::zero());
    }
    task.distributable
        .checked_multiply_ratio(participant.weight, task.total_weight)
        .map_err(|e| StdError::generic_err(e.to_string()))
}

/// Stake back minus penalty, plus reward.
pub fn payout(task: &Task, participant: &Participant) -> StdResult<(Uint128, Uint128)> {
    let reward = reward(task, participant)?;
    let total = participant
        .stake
        .checked_sub(penalty(task, participant)?)?
        .checked_add(reward)?;
    Ok((total, reward))
}

/// Everything the organization may still withdraw.
pub fn owed_to_organization(task: &Task) -> StdResult<Uint128> {
    let entitled = match task.settlement {
        None => return Ok(Uint128::zero()),
        Some(Settlement::Refund) | Some(Settlement::NoContributors) => {
            task.pool.checked_add(task.forfeited)?
        }
        Some(Settlement::Normal) => {
            if task.claimed_count == task.participants {
                // Rounding dust of the reward shares, known once every share was paid.
                task.distributable.checked_sub(task.rewards_paid)?
            } else {
                Uint128::zero()
            }
        }
    };
    Ok(entitled.checked_sub(task.org_refunded)?)
}
