//! State-changing handlers. Each checks everything first and only then writes, so a refusal
//! leaves state untouched (the VM also reverts on error, but handlers never rely on that).

use std::collections::BTreeSet;

use cosmwasm_std::{
    coins, Addr, BankMsg, Decimal, DepsMut, Env, MessageInfo, Response, Storage, Uint128,
};

use crate::error::ContractError;
use crate::msg::{Contribution, CreateTaskMsg, RoundMetricsMsg};
use crate::settlement;
use crate::state::{
    load_participant, save_participant, tasks, Config, Limits, Participant, Profile, RoundRecord,
    Settlement, Task, TaskStatus, CONFIG, MEMBERSHIPS, PROFILES, ROUNDS, STANDINGS,
};
use crate::validation;

pub const MAX_FEE_BPS: u16 = 1_000;

fn load_task(storage: &dyn Storage, task_id: u64) -> Result<Task, ContractError> {
    tasks()
        .may_load(storage, task_id)?
        .ok_or(ContractError::TaskNotFound { id: task_id })
}

fn expect_status(task: &Task, allowed: &[TaskStatus]) -> Result<(), ContractError> {
    if allowed.contains(&task.status) {
        return Ok(());
    }
    let expected: Vec<&str> = allowed.iter().map(|s| s.name()).collect();
    Err(ContractError::WrongStatus {
        id: task.id,
        status: task.status.name().into(),
        expected: expected.join(" or "),
    })
}

fn save_task(storage: &mut dyn Storage, task: &Task) -> Result<(), ContractError> {
    tasks().save(storage, task.id, task)?;
    Ok(())
}

fn require_role(
    storage: &dyn Storage,
    address: &Addr,
    organization: bool,
) -> Result<Profile, ContractError> {
    let role = if organization {
        "organization"
    } else {
        "trainer"
    };
    match PROFILES.may_load(storage, address)? {
        Some(p) if (organization && p.is_organization) || (!organization && p.is_trainer) => Ok(p),
        _ => Err(ContractError::NotRegistered {
            address: address.to_string(),
            role: role.into(),
        }),
    }
}

fn update_profile(
    storage: &mut dyn Storage,
    address: &Addr,
    change: impl FnOnce(&mut Profile),
) -> Result<(), ContractError> {
    if let Some(mut profile) = PROFILES.may_load(storage, address)? {
        change(&mut profile);
        PROFILES.save(storage, address, &profile)?;
    }
    Ok(())
}

pub fn validate_limits(limits: &Limits) -> Result<(), ContractError> {
    if limits.max_trainers_per_task == 0
        || limits.max_rounds == 0
        || limits.max_string_len == 0
        || limits.max_cid_len < 46
    {
        return Err(ContractError::Std(cosmwasm_std::StdError::generic_err(
            "limits must be positive and max_cid_len at least 46",
        )));
    }
    Ok(())
}

pub fn register(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    name: String,
    organization: bool,
    trainer: bool,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let config = CONFIG.load(deps.storage)?;
    if !organization && !trainer {
        return Err(ContractError::NoRole {});
    }
    validation::text("name", &name, &config.limits, false)?;
    let profile = match PROFILES.may_load(deps.storage, &info.sender)? {
        Some(mut existing) => {
            existing.name = name;
            existing.is_organization |= organization;
            existing.is_trainer |= trainer;
            existing
        }
        None => Profile {
            address: info.sender.clone(),
            name,
            is_organization: organization,
            is_trainer: trainer,
            registered_at: env.block.time.seconds(),
            tasks_created: 0,
            tasks_joined: 0,
            tasks_completed: 0,
            no_shows: 0,
            slashed: 0,
        },
    };
    PROFILES.save(deps.storage, &info.sender, &profile)?;
    Ok(Response::new()
        .add_attribute("action", "register")
        .add_attribute("address", info.sender)
        .add_attribute("organization", profile.is_organization.to_string())
        .add_attribute("trainer", profile.is_trainer.to_string()))
}

pub fn create_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: CreateTaskMsg,
) -> Result<Response, ContractError> {
    let mut config = CONFIG.load(deps.storage)?;
    let limits = &config.limits;
    require_role(deps.storage, &info.sender, true)?;
    let pool = validation::single_coin(&info)?;
    validation::text("model_name", &msg.model_name, limits, false)?;
    validation::text("description", &msg.description, limits, true)?;
    validation::cid("client_cid", &msg.client_cid, limits)?;
    validation::cid("initial_model_cid", &msg.initial_model_cid, limits)?;
    validation::sha256_hex("client_sha256", &msg.client_sha256)?;
    validation::sha256_hex("initial_model_sha256", &msg.initial_model_sha256)?;
    if msg.rounds == 0 || msg.rounds > limits.max_rounds {
        return Err(ContractError::InvalidRounds {
            max: limits.max_rounds,
        });
    }
    if msg.min_trainers == 0
        || msg.min_trainers > msg.max_trainers
        || msg.max_trainers > limits.max_trainers_per_task
    {
        return Err(ContractError::InvalidTrainerBounds {
            max: limits.max_trainers_per_task,
        });
    }
    if msg.stake.is_zero() {
        return Err(ContractError::InvalidFunds("stake must be positive".into()));
    }
    // Every stake plus the pool must stay representable: the escrow of a full task fits in u128.
    msg.stake
        .checked_mul(Uint128::from(msg.max_trainers))?
        .checked_add(pool.amount)?;
    let now = env.block.time.seconds();
    if !(now < msg.join_deadline && msg.join_deadline < msg.training_deadline) {
        return Err(ContractError::InvalidDeadlines {});
    }
    msg.training_deadline
        .checked_add(limits.grace_period_secs)
        .ok_or(ContractError::InvalidDeadlines {})?;
    validation::bps("no_show_penalty_bps", msg.no_show_penalty_bps)?;
    validation::bps("slash_bps", msg.slash_bps)?;
    let keeper = deps.api.addr_validate(&msg.keeper)?;

    let id = config.next_task_id;
    let task = Task {
        id,
        organization: info.sender.clone(),
        keeper: keeper.clone(),
        denom: pool.denom.clone(),
        pool: pool.amount,
        status: TaskStatus::Open,
        model_name: msg.model_name,
        description: msg.description,
        client_cid: msg.client_cid,
        client_sha256: msg.client_sha256,
        initial_model_cid: msg.initial_model_cid,
        initial_model_sha256: msg.initial_model_sha256,
        rounds: msg.rounds,
        min_trainers: msg.min_trainers,
        max_trainers: msg.max_trainers,
        stake: msg.stake,
        join_deadline: msg.join_deadline,
        training_deadline: msg.training_deadline,
        no_show_penalty_bps: msg.no_show_penalty_bps,
        slash_bps: msg.slash_bps,
        fee_bps: config.fee_bps,
        created_at: now,
        participants: 0,
        rounds_completed: 0,
        total_weight: Uint128::zero(),
        contributors_count: 0,
        slashed_count: 0,
        claimed_count: 0,
        forfeited: Uint128::zero(),
        fee: Uint128::zero(),
        distributable: Uint128::zero(),
        rewards_paid: Uint128::zero(),
        paid_out: Uint128::zero(),
        org_refunded: Uint128::zero(),
        settlement: None,
        finalized_at: None,
    };
    config.next_task_id += 1;
    CONFIG.save(deps.storage, &config)?;
    save_task(deps.storage, &task)?;
    update_profile(deps.storage, &info.sender, |p| p.tasks_created += 1)?;
    Ok(Response::new()
        .add_attribute("action", "create_task")
        .add_attribute("task_id", id.to_string())
        .add_attribute("organization", info.sender)
        .add_attribute("keeper", keeper)
        .add_attribute("pool", pool.to_string()))
}

pub fn cancel_task(
    deps: DepsMut,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = load_task(deps.storage, task_id)?;
    if info.sender != task.organization {
        return Err(ContractError::Unauthorized(
            "only the task's organization can cancel it".into(),
        ));
    }
    expect_status(&task, &[TaskStatus::Open])?;
    if task.participants > 0 {
        return Err(ContractError::WrongStatus {
            id: task_id,
            status: format!("joined by {} trainer(s)", task.participants),
            expected: "without trainers".into(),
        });
    }
    task.status = TaskStatus::Cancelled;
    task.paid_out = task.paid_out.checked_add(task.pool)?;
    task.org_refunded = task.org_refunded.checked_add(task.pool)?;
    save_task(deps.storage, &task)?;
    Ok(Response::new()
        .add_message(BankMsg::Send {
            to_address: task.organization.to_string(),
            amount: coins(task.pool.u128(), &task.denom),
        })
        .add_attribute("action", "cancel_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("amount", task.pool))
}

pub fn join_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    let mut task = load_task(deps.storage, task_id)?;
    require_role(deps.storage, &info.sender, false)?;
    expect_status(&task, &[TaskStatus::Open])?;
    if env.block.time.seconds() >= task.join_deadline {
        return Err(ContractError::JoinDeadlinePassed {});
    }
    if task.participants >= task.max_trainers {
        return Err(ContractError::TaskFull {});
    }
    if info.sender == task.organization || info.sender == task.keeper {
        return Err(ContractError::ConflictOfInterest {});
    }
    if MEMBERSHIPS.has(deps.storage, (task_id, &info.sender)) {
        return Err(ContractError::AlreadyJoined {
            address: info.sender.to_string(),
        });
    }
    validation::exact_funds(&info, task.stake, &task.denom)?;
    let participant = Participant {
        trainer: info.sender.clone(),
        joined_at: env.block.time.seconds(),
        stake: task.stake,
        weight: Uint128::zero(),
        slashed: false,
        slash_reason: None,
        claimed: false,
        claimed_amount: Uint128::zero(),
    };
    save_participant(deps.storage, task_id, &participant)?;
    task.participants += 1;
    save_task(deps.storage, &task)?;
    update_profile(deps.storage, &info.sender, |p| p.tasks_joined += 1)?;
    Ok(Response::new()
        .add_attribute("action", "join_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", info.sender)
        .add_attribute("participants", task.participants.to_string()))
}

#[allow(clippy::too_many_arguments)]
pub fn submit_round(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
    round: u32,
    model_cid: String,
    model_sha256: String,
    metrics: RoundMetricsMsg,
    contributors: Vec<Contribution>,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let config = CONFIG.load(deps.storage)?;
    let mut task = load_task(deps.storage, task_id)?;
    if info.sender != task.keeper {
        return Err(ContractError::Unauthorized(
            "only the task's keeper can submit rounds".into(),
        ));
    }
    expect_status(&task, &[TaskStatus::Open, TaskStatus::Running])?;
    if task.participants < task.min_trainers {
        return Err(ContractError::NotEnoughTrainers {
            joined: task.participants,
            min: task.min_trainers,
        });
    }
    let expected = task.rounds_completed + 1;
    if round != expected || round > task.rounds {
        return Err(ContractError::RoundOutOfOrder {
            expected,
            got: round,
        });
    }
    if env.block.time.seconds() >= task.training_deadline {
        return Err(ContractError::TrainingDeadlinePassed {});
    }
    validation::cid("model_cid", &model_cid, &config.limits)?;
    validation::sha256_hex("model_sha256", &model_sha256)?;
    if metrics.accuracy > Decimal::one() {
        return Err(ContractError::InvalidAccuracy {});
    }
    if contributors.len() > task.participants as usize {
        return Err(ContractError::NotParticipant {
            address: "more contributors than participants".into(),
        });
    }
    let mut seen = BTreeSet::new();
    let mut round_weight = Uint128::zero();
    let mut updates = Vec::with_capacity(contributors.len());
    for contribution in &contributors {
        // Keys were stored from validated addresses, so an exact-match lookup needs no re-validation:
        // a malformed or non-canonical string simply is not a participant.
        let address = Addr::unchecked(&contribution.trainer);
        if !seen.insert(address.clone()) {
            return Err(ContractError::DuplicateContributor {
                address: address.into(),
            });
        }
        if contribution.weight.is_zero() {
            return Err(ContractError::ZeroWeight {
                address: address.into(),
            });
        }
        // Only the tiny (weight, slashed) record is read and written per contributor.
        let mut standing = STANDINGS
            .may_load(deps.storage, (task_id, &address))?
            .ok_or_else(|| ContractError::NotParticipant {
                address: address.to_string(),
            })?;
        if standing.s {
            return Err(ContractError::AlreadySlashed {
                address: address.into(),
            });
        }
        if standing.w.is_zero() {
            task.contributors_count += 1;
        }
        standing.w = standing.w.checked_add(contribution.weight)?;
        round_weight = round_weight.checked_add(contribution.weight)?;
        updates.push((address, standing));
    }
    task.total_weight = task.total_weight.checked_add(round_weight)?;
    for (address, standing) in &updates {
        STANDINGS.save(deps.storage, (task_id, address), standing)?;
    }
    task.rounds_completed = round;
    task.status = TaskStatus::Running;
    let record = RoundRecord {
        round,
        model_cid: model_cid.clone(),
        model_sha256,
        metrics: metrics.into(),
        contributors_count: contributors.len() as u32,
        total_weight: round_weight,
        submitted_at: env.block.time.seconds(),
        height: env.block.height,
    };
    ROUNDS.save(deps.storage, (task_id, round), &record)?;
    save_task(deps.storage, &task)?;
    Ok(Response::new()
        .add_attribute("action", "submit_round")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("round", round.to_string())
        .add_attribute("model_cid", model_cid)
        .add_attribute("contributors", contributors.len().to_string())
        .add_attribute("accuracy", record.metrics.accuracy.to_string()))
}

pub fn slash(
    deps: DepsMut,
    info: MessageInfo,
    task_id: u64,
    trainer: String,
    reason: String,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let config = CONFIG.load(deps.storage)?;
    let mut task = load_task(deps.storage, task_id)?;
    if info.sender != task.keeper {
        return Err(ContractError::Unauthorized(
            "only the task's keeper can slash".into(),
        ));
    }
    expect_status(&task, &[TaskStatus::Open, TaskStatus::Running])?;
    validation::text("reason", &reason, &config.limits, false)?;
    let address = deps.api.addr_validate(&trainer)?;
    let mut participant = load_participant(deps.storage, task_id, &address)?.ok_or_else(|| {
        ContractError::NotParticipant {
            address: address.to_string(),
        }
    })?;
    if participant.slashed {
        return Err(ContractError::AlreadySlashed {
            address: address.into(),
        });
    }
    let forfeit = settlement::bps_of(participant.stake, task.slash_bps)?;
    if !participant.weight.is_zero() {
        task.total_weight = task.total_weight.checked_sub(participant.weight)?;
        task.contributors_count -= 1;
    }
    participant.slashed = true;
    participant.slash_reason = Some(reason.clone());
    task.slashed_count += 1;
    task.forfeited = task.forfeited.checked_add(forfeit)?;
    save_participant(deps.storage, task_id, &participant)?;
    save_task(deps.storage, &task)?;
    update_profile(deps.storage, &address, |p| p.slashed += 1)?;
    Ok(Response::new()
        .add_attribute("action", "slash")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", address)
        .add_attribute("amount", forfeit)
        .add_attribute("reason", reason))
}

pub fn finalize_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let config = CONFIG.load(deps.storage)?;
    let mut task = load_task(deps.storage, task_id)?;
    expect_status(&task, &[TaskStatus::Open, TaskStatus::Running])?;
    let now = env.block.time.seconds();
    let by_keeper = info.sender == task.keeper && task.rounds_completed == task.rounds;
    let expired = now
        >= task
            .training_deadline
            .saturating_add(config.limits.grace_period_secs);
    let never_started = now >= task.join_deadline
        && task.participants < task.min_trainers
        && task.rounds_completed == 0;
    if !(by_keeper || expired || never_started) {
        return Err(ContractError::NotFinalizable(format!(
            "the keeper may finalize after round {}; anyone after {} (training deadline + grace)",
            task.rounds,
            task.training_deadline
                .saturating_add(config.limits.grace_period_secs)
        )));
    }
    let path = settlement::path_for(&task);
    let (no_show_forfeit, fee, distributable) = settlement::finalize_totals(&task, path)?;
    task.forfeited = task.forfeited.checked_add(no_show_forfeit)?;
    task.fee = fee;
    task.distributable = distributable;
    task.paid_out = task.paid_out.checked_add(fee)?;
    task.status = TaskStatus::Finalized;
    task.settlement = Some(path);
    task.finalized_at = Some(now);
    save_task(deps.storage, &task)?;
    let path_name = match path {
        Settlement::Normal => "normal",
        Settlement::NoContributors => "no_contributors",
        Settlement::Refund => "refund",
    };
    let mut response = Response::new()
        .add_attribute("action", "finalize_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("path", path_name)
        .add_attribute("fee", fee)
        .add_attribute("distributable", distributable);
    if !fee.is_zero() {
        response = response.add_message(BankMsg::Send {
            to_address: config.treasury.to_string(),
            amount: coins(fee.u128(), &task.denom),
        });
    }
    Ok(response)
}

pub fn claim(deps: DepsMut, info: MessageInfo, task_id: u64) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = load_task(deps.storage, task_id)?;
    expect_status(&task, &[TaskStatus::Finalized])?;
    let mut participant =
        load_participant(deps.storage, task_id, &info.sender)?.ok_or_else(|| {
            ContractError::NotParticipant {
                address: info.sender.to_string(),
            }
        })?;
    if participant.claimed {
        return Err(ContractError::AlreadyClaimed {
            address: info.sender.to_string(),
        });
    }
    let (amount, reward) = settlement::payout(&task, &participant)?;
    let no_show = !participant.slashed
        && participant.weight.is_zero()
        && task.settlement != Some(Settlement::Refund);
    let completed = !participant.slashed && !participant.weight.is_zero();
    participant.claimed = true;
    participant.claimed_amount = amount;
    task.claimed_count += 1;
    task.rewards_paid = task.rewards_paid.checked_add(reward)?;
    task.paid_out = task.paid_out.checked_add(amount)?;
    save_participant(deps.storage, task_id, &participant)?;
    save_task(deps.storage, &task)?;
    update_profile(deps.storage, &info.sender, |p| {
        if completed {
            p.tasks_completed += 1;
        }
        if no_show {
            p.no_shows += 1;
        }
    })?;
    let mut response = Response::new()
        .add_attribute("action", "claim")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", info.sender.clone())
        .add_attribute("amount", amount)
        .add_attribute("reward", reward);
    if !amount.is_zero() {
        response = response.add_message(BankMsg::Send {
            to_address: info.sender.to_string(),
            amount: coins(amount.u128(), &task.denom),
        });
    }
    Ok(response)
}

pub fn claim_refund(
    deps: DepsMut,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = load_task(deps.storage, task_id)?;
    if info.sender != task.organization {
        return Err(ContractError::Unauthorized(
            "only the task's organization can claim its refund".into(),
        ));
    }
    expect_status(&task, &[TaskStatus::Finalized])?;
    let amount = settlement::owed_to_organization(&task)?;
    if amount.is_zero() {
        return Err(ContractError::NothingToClaim {});
    }
    task.org_refunded = task.org_refunded.checked_add(amount)?;
    task.paid_out = task.paid_out.checked_add(amount)?;
    save_task(deps.storage, &task)?;
    Ok(Response::new()
        .add_message(BankMsg::Send {
            to_address: task.organization.to_string(),
            amount: coins(amount.u128(), &task.denom),
        })
        .add_attribute("action", "claim_refund")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("amount", amount))
}

pub fn update_config(
    deps: DepsMut,
    info: MessageInfo,
    treasury: Option<String>,
    fee_bps: Option<u16>,
    limits: Option<Limits>,
    admin: Option<String>,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut config: Config = CONFIG.load(deps.storage)?;
    if info.sender != config.admin {
        return Err(ContractError::Unauthorized(
            "only the admin can update the config".into(),
        ));
    }
    if let Some(treasury) = treasury {
        config.treasury = deps.api.addr_validate(&treasury)?;
    }
    if let Some(fee_bps) = fee_bps {
        if fee_bps > MAX_FEE_BPS {
            return Err(ContractError::FeeTooHigh {
                fee_bps,
                max: MAX_FEE_BPS,
            });
        }
        config.fee_bps = fee_bps;
    }
    if let Some(limits) = limits {
        validate_limits(&limits)?;
        config.limits = limits;
    }
    if let Some(admin) = admin {
        config.admin = deps.api.addr_validate(&admin)?;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new().add_attribute("action", "update_config"))
}
