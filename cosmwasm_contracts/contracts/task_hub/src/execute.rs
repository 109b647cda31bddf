//! State-changing handlers, one per message. Each checks everything first (with the `require_*`
//! guards) and only then writes, so a refusal leaves state untouched even before the VM reverts.

use std::collections::BTreeSet;

use cosmwasm_std::{
    coins, Addr, BankMsg, Binary, Deps, DepsMut, Env, MessageInfo, Response, Storage, Uint128,
};
use sha2::{Digest, Sha256};

use crate::contract::{CONTRACT_NAME, CONTRACT_VERSION};
use crate::error::ContractError;
use crate::evidence;
use crate::msg::{
    CreateTaskMsg, InstantiateMsg, Limits, Scoring, SlashMsg, SlashReason, SubmitRoundMsg,
    ROUND_WEIGHT,
};
use crate::settlement;
use crate::state::{
    Config, KeeperInfo, Membership, Profile, RoundRecord, SlashRecord, Standing, Task, TaskModel,
    TaskStatus, TaskTerms, CONFIG, MEMBERSHIPS, NEXT_TASK_ID, NODE_KEYS, PROFILES, ROUNDS,
    SETTLEMENTS, SLASHES, STANDINGS,
};
use crate::validation::{
    self, MAX_CID_LEN, MAX_EXAMPLES_PER_TRAINER, MAX_FEE_BPS, MAX_JOIN_WINDOW_SECS,
    MAX_KEEPER_FEE_BPS, MAX_NO_SHOW_BPS, MAX_SLASH_BPS, MAX_STRING_LEN, MAX_TRAINING_WINDOW_SECS,
    ROUND_TIMEOUT_SECS,
};

/// The oldest stored version `migrate` accepts: 0.1 kept tasks in an incompatible layout.
const MIN_MIGRATE_VERSION: &str = "0.2.0";

// ----- guards -----

fn require_admin(config: &Config, sender: &Addr) -> Result<(), ContractError> {
    if *sender == config.admin {
        Ok(())
    } else {
        Err(ContractError::NotAdmin {})
    }
}

fn require_org(task: &Task, sender: &Addr) -> Result<(), ContractError> {
    if *sender == task.terms.organization {
        Ok(())
    } else {
        Err(ContractError::NotTaskOrganization {
            task_id: task.terms.id,
        })
    }
}

fn require_keeper(task: &Task, sender: &Addr) -> Result<(), ContractError> {
    if *sender == task.terms.keeper {
        Ok(())
    } else {
        Err(ContractError::NotTaskKeeper {
            task_id: task.terms.id,
        })
    }
}

fn require_status(task: &Task, allowed: &[TaskStatus]) -> Result<(), ContractError> {
    if allowed.contains(&task.state.status) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
    Err(ContractError::WrongStatus {
        task_id: task.terms.id,
        status: task.state.status,
        expected: names.join(" or "),
    })
}

/// Once joins have closed with enough trainers, or the task is full (round 1 may then start at
/// any moment), the keeper must run the task or forfeit its bond: from then on neither a cancel
/// nor a leave may turn its failure into a task that "never started" (which returns the bond),
/// nor void a round being trained, so the task is committed.
fn require_not_committed(task: &Task, now: u64) -> Result<(), ContractError> {
    let (terms, state) = (&task.terms, &task.state);
    let joins_closed = now >= terms.join_deadline && state.participants >= terms.min_trainers;
    if state.status == TaskStatus::Open
        && (joins_closed || state.participants >= terms.max_trainers)
    {
        return Err(ContractError::TaskCommitted { task_id: terms.id });
    }
    Ok(())
}

/// A task's organization and keeper decide who is paid: neither may also be paid as a trainer.
fn require_independent_trainer(task: &Task, address: &Addr) -> Result<(), ContractError> {
    if *address == task.terms.organization || *address == task.terms.keeper {
        return Err(ContractError::TrainerConflict {
            task_id: task.terms.id,
        });
    }
    Ok(())
}

/// The membership and standing of a participant of `task`.
fn require_participant(
    storage: &dyn Storage,
    task: &Task,
    address: &Addr,
) -> Result<(Membership, Standing), ContractError> {
    let key = (task.terms.id, address);
    match MEMBERSHIPS.may_load(storage, key)? {
        Some(membership) => Ok((membership, STANDINGS.load(storage, key)?)),
        None => Err(ContractError::NotParticipant {
            task_id: task.terms.id,
            address: address.to_string(),
        }),
    }
}

fn require_organization_profile(
    storage: &dyn Storage,
    address: &Addr,
) -> Result<(), ContractError> {
    match PROFILES.may_load(storage, address)? {
        Some(p) if p.is_organization => Ok(()),
        _ => Err(ContractError::NotOrganization {
            address: address.to_string(),
        }),
    }
}

fn require_trainer_profile(storage: &dyn Storage, address: &Addr) -> Result<(), ContractError> {
    match PROFILES.may_load(storage, address)? {
        Some(p) if p.is_trainer => Ok(()),
        _ => Err(ContractError::NotTrainer {
            address: address.to_string(),
        }),
    }
}

fn require_keeper_profile(
    storage: &dyn Storage,
    address: &Addr,
) -> Result<KeeperInfo, ContractError> {
    PROFILES
        .may_load(storage, address)?
        .and_then(|p| p.keeper)
        .ok_or_else(|| ContractError::NotKeeper {
            address: address.to_string(),
        })
}

/// Statistics only: a missing profile (never the case for a registered role) is skipped.
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

fn update_keeper_stats(
    storage: &mut dyn Storage,
    address: &Addr,
    change: impl FnOnce(&mut KeeperInfo),
) -> Result<(), ContractError> {
    update_profile(storage, address, |p| {
        if let Some(keeper) = p.keeper.as_mut() {
            change(keeper)
        }
    })
}

fn send(to: &Addr, amount: Uint128, denom: &str) -> Option<BankMsg> {
    (!amount.is_zero()).then(|| BankMsg::Send {
        to_address: to.to_string(),
        amount: coins(amount.u128(), denom),
    })
}

fn new_profile(name: String, now: u64) -> Profile {
    Profile {
        name,
        is_organization: false,
        is_trainer: false,
        keeper: None,
        registered_at: now,
        tasks_created: 0,
        tasks_joined: 0,
        tasks_completed: 0,
        no_shows: 0,
        slashed: 0,
    }
}

fn validate_treasury(deps: &DepsMut, env: &Env, treasury: &str) -> Result<Addr, ContractError> {
    let treasury = deps.api.addr_validate(treasury)?;
    if treasury == env.contract.address {
        return Err(ContractError::TreasuryIsContract {});
    }
    Ok(treasury)
}

// ----- lifecycle of the contract -----

pub fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    validation::bps("fee_bps", msg.fee_bps, MAX_FEE_BPS)?;
    validation::limits(&msg.limits)?;
    let treasury = validate_treasury(&deps, &env, &msg.treasury)?;
    let admin = match msg.admin {
        Some(a) => deps.api.addr_validate(&a)?,
        None => info.sender,
    };
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    CONFIG.save(
        deps.storage,
        &Config {
            admin: admin.clone(),
            treasury: treasury.clone(),
            fee_bps: msg.fee_bps,
            limits: msg.limits,
        },
    )?;
    NEXT_TASK_ID.save(deps.storage, &1)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("admin", admin)
        .add_attribute("treasury", treasury))
}

fn parse_version(version: &str) -> Result<(u64, u64, u64), ContractError> {
    let invalid = || ContractError::InvalidVersion {
        version: version.into(),
    };
    let parts: Vec<u64> = version
        .split('.')
        .map(|p| p.parse().map_err(|_| invalid()))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [major, minor, patch] => Ok((major, minor, patch)),
        _ => Err(invalid()),
    }
}

/// Only this contract, only from a version with the same storage layout, never downwards.
pub fn migrate(deps: DepsMut) -> Result<Response, ContractError> {
    let stored = cw2::get_contract_version(deps.storage)?;
    if stored.contract != CONTRACT_NAME {
        return Err(ContractError::WrongContract {
            expected: CONTRACT_NAME.into(),
            found: stored.contract,
        });
    }
    let from = parse_version(&stored.version)?;
    if from < parse_version(MIN_MIGRATE_VERSION)? {
        return Err(ContractError::MigrationUnsupported {
            from: stored.version,
            min: MIN_MIGRATE_VERSION.into(),
        });
    }
    if from > parse_version(CONTRACT_VERSION)? {
        return Err(ContractError::CannotDowngrade {
            from: stored.version,
            to: CONTRACT_VERSION.into(),
        });
    }
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("from_version", stored.version)
        .add_attribute("to_version", CONTRACT_VERSION))
}

pub fn update_config(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    treasury: Option<String>,
    fee_bps: Option<u16>,
    limits: Option<Limits>,
    admin: Option<String>,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut config = CONFIG.load(deps.storage)?;
    require_admin(&config, &info.sender)?;
    if let Some(treasury) = treasury {
        config.treasury = validate_treasury(&deps, &env, &treasury)?;
    }
    if let Some(fee_bps) = fee_bps {
        validation::bps("fee_bps", fee_bps, MAX_FEE_BPS)?;
        config.fee_bps = fee_bps;
    }
    if let Some(limits) = limits {
        validation::limits(&limits)?;
        config.limits = limits;
    }
    if let Some(admin) = admin {
        config.admin = deps.api.addr_validate(&admin)?;
    }
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "update_config")
        .add_attribute("admin", config.admin)
        .add_attribute("treasury", config.treasury)
        .add_attribute("fee_bps", config.fee_bps.to_string()))
}

// ----- profiles -----

/// Adds roles (never removes them) and sets the display name.
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
    let mut profile = PROFILES
        .may_load(deps.storage, &info.sender)?
        .unwrap_or_else(|| new_profile(name.clone(), env.block.time.seconds()));
    profile.name = name;
    profile.is_organization |= organization;
    profile.is_trainer |= trainer;
    PROFILES.save(deps.storage, &info.sender, &profile)?;
    Ok(Response::new()
        .add_attribute("action", "register")
        .add_attribute("address", info.sender)
        .add_attribute("organization", profile.is_organization.to_string())
        .add_attribute("trainer", profile.is_trainer.to_string()))
}

/// Creates or updates the sender's keeper profile (a keeper rotating its TLS certificate or
/// moving its endpoint sends it again); its statistics are kept. The fee applies to tasks
/// created from now on: each task snapshots it.
pub fn register_keeper(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    name: String,
    endpoint: String,
    tls_cert_sha256: Option<String>,
    fee_bps: u16,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let config = CONFIG.load(deps.storage)?;
    validation::text("name", &name, &config.limits, false)?;
    validation::endpoint(&endpoint, &config.limits)?;
    if let Some(sha) = &tls_cert_sha256 {
        validation::sha256_hex("tls_cert_sha256", sha)?;
    }
    validation::bps("fee_bps", fee_bps, MAX_KEEPER_FEE_BPS)?;
    let mut profile = PROFILES
        .may_load(deps.storage, &info.sender)?
        .unwrap_or_else(|| new_profile(name.clone(), env.block.time.seconds()));
    profile.name = name;
    let (tasks_accepted, rounds_attested, tasks_failed) =
        profile.keeper.as_ref().map_or((0, 0, 0), |k| {
            (k.tasks_accepted, k.rounds_attested, k.tasks_failed)
        });
    // A fingerprint once published is only ever replaced, never dropped: trainers refuse a keeper
    // without one, and an update that forgot it must not take the keeper's TLS away.
    let tls_cert_sha256 = tls_cert_sha256.or_else(|| {
        profile
            .keeper
            .as_ref()
            .and_then(|k| k.tls_cert_sha256.clone())
    });
    profile.keeper = Some(KeeperInfo {
        endpoint: endpoint.clone(),
        tls_cert_sha256,
        fee_bps,
        tasks_accepted,
        rounds_attested,
        tasks_failed,
    });
    PROFILES.save(deps.storage, &info.sender, &profile)?;
    Ok(Response::new()
        .add_attribute("action", "register_keeper")
        .add_attribute("address", info.sender)
        .add_attribute("endpoint", endpoint)
        .add_attribute("fee_bps", fee_bps.to_string()))
}

// ----- task lifecycle -----

pub fn create_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: CreateTaskMsg,
) -> Result<Response, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    let limits = &config.limits;
    let pool = validation::single_coin(&info)?;
    require_organization_profile(deps.storage, &info.sender)?;
    if info.sender == config.treasury {
        return Err(ContractError::OrganizationIsTreasury {});
    }
    let keeper = deps.api.addr_validate(&msg.keeper)?;
    if keeper == info.sender {
        return Err(ContractError::KeeperIsOrganization {});
    }
    if keeper == config.treasury {
        return Err(ContractError::KeeperIsTreasury {});
    }
    let keeper_info = require_keeper_profile(deps.storage, &keeper)?;

    validation::text("model_name", &msg.model_name, limits, false)?;
    validation::text("description", &msg.description, limits, true)?;
    validation::cid("client_cid", &msg.client_cid, limits.max_cid_len)?;
    validation::cid(
        "initial_model_cid",
        &msg.initial_model_cid,
        limits.max_cid_len,
    )?;
    validation::sha256_hex("client_sha256", &msg.client_sha256)?;
    validation::sha256_hex("initial_model_sha256", &msg.initial_model_sha256)?;
    if let Some(sha) = &msg.validation_sha256 {
        validation::sha256_hex("validation_sha256", sha)?;
    } else if msg.scoring == Scoring::Measured {
        // Without the set named on chain, a keeper could measure on any data it likes.
        return Err(ContractError::MeasuredScoringNeedsValidationSet {});
    }
    validation::metric(&msg.metric)?;
    validation::in_range("rounds", msg.rounds.into(), (1, limits.max_rounds.into()))?;
    if msg.min_trainers == 0
        || msg.min_trainers > msg.max_trainers
        || msg.max_trainers > limits.max_trainers_per_task
    {
        return Err(ContractError::InvalidTrainerBounds {
            min_trainers: msg.min_trainers,
            max_trainers: msg.max_trainers,
            limit: limits.max_trainers_per_task,
        });
    }
    for (field, zero) in [
        ("stake", msg.stake.is_zero()),
        ("keeper_bond", msg.keeper_bond.is_zero()),
        ("max_update_norm", msg.max_update_norm.is_zero()),
    ] {
        if zero {
            return Err(ContractError::ZeroValue {
                field: field.into(),
            });
        }
    }
    validation::in_range(
        "max_examples_per_trainer",
        msg.max_examples_per_trainer,
        MAX_EXAMPLES_PER_TRAINER,
    )?;
    validation::in_range(
        "round_timeout_secs",
        msg.round_timeout_secs,
        ROUND_TIMEOUT_SECS,
    )?;
    validation::bps(
        "no_show_penalty_bps",
        msg.no_show_penalty_bps,
        MAX_NO_SHOW_BPS,
    )?;
    validation::bps("slash_bps", msg.slash_bps, MAX_SLASH_BPS)?;
    let now = env.block.time.seconds();
    if !(now < msg.join_deadline && msg.join_deadline < msg.training_deadline) {
        return Err(ContractError::InvalidDeadlines {
            now,
            join_deadline: msg.join_deadline,
            training_deadline: msg.training_deadline,
        });
    }
    if msg.join_deadline - now > MAX_JOIN_WINDOW_SECS {
        return Err(ContractError::JoinWindowTooLong {
            secs: msg.join_deadline - now,
            max: MAX_JOIN_WINDOW_SECS,
        });
    }
    if msg.training_deadline - msg.join_deadline > MAX_TRAINING_WINDOW_SECS {
        return Err(ContractError::TrainingWindowTooLong {
            secs: msg.training_deadline - msg.join_deadline,
            max: MAX_TRAINING_WINDOW_SECS,
        });
    }
    // Every round must fit in the training window even if each waits its whole timeout: a task
    // the keeper cannot possibly deliver would only hand its bond to the organization.
    let needed = u64::from(msg.rounds).saturating_mul(msg.round_timeout_secs);
    if msg.training_deadline - msg.join_deadline < needed {
        return Err(ContractError::TrainingWindowTooShort {
            secs: msg.training_deadline - msg.join_deadline,
            needed,
        });
    }
    // The keeper's fee is read from its profile now; the organization names the most it agreed to,
    // so a keeper that raises its fee just before the task lands cannot take more than agreed.
    if keeper_info.fee_bps > msg.max_keeper_fee_bps {
        return Err(ContractError::KeeperFeeAboveAgreed {
            fee_bps: keeper_info.fee_bps,
            agreed: msg.max_keeper_fee_bps,
        });
    }
    // The escrow of a full task must stay representable, so no later sum can overflow.
    msg.stake
        .checked_mul(Uint128::from(msg.max_trainers))
        .and_then(|stakes| stakes.checked_add(pool.amount))
        .and_then(|escrow| escrow.checked_add(msg.keeper_bond))
        .map_err(|_| ContractError::EscrowTooLarge {})?;

    let id = NEXT_TASK_ID.load(deps.storage)?;
    NEXT_TASK_ID.save(deps.storage, &(id + 1))?;
    let task = Task::create(
        deps.storage,
        TaskTerms {
            id,
            organization: info.sender.clone(),
            keeper: keeper.clone(),
            treasury: config.treasury.clone(),
            denom: pool.denom.clone(),
            pool: pool.amount,
            keeper_bond: msg.keeper_bond,
            rounds: msg.rounds,
            min_trainers: msg.min_trainers,
            max_trainers: msg.max_trainers,
            stake: msg.stake,
            join_deadline: msg.join_deadline,
            training_deadline: msg.training_deadline,
            no_show_penalty_bps: msg.no_show_penalty_bps,
            slash_bps: msg.slash_bps,
            fee_bps: config.fee_bps,
            keeper_fee_bps: keeper_info.fee_bps,
            grace_period_secs: limits.grace_period_secs,
            claim_window_secs: limits.claim_window_secs,
            max_examples_per_trainer: msg.max_examples_per_trainer,
            max_update_norm: msg.max_update_norm,
            round_timeout_secs: msg.round_timeout_secs,
            created_at: now,
            scoring: msg.scoring,
            validation_sha256: msg.validation_sha256,
            metric: msg.metric,
        },
        &TaskModel {
            model_name: msg.model_name,
            description: msg.description,
            client_cid: msg.client_cid,
            client_sha256: msg.client_sha256,
            initial_model_cid: msg.initial_model_cid,
            initial_model_sha256: msg.initial_model_sha256,
        },
    )?;
    update_profile(deps.storage, &info.sender, |p| p.tasks_created += 1)?;
    let terms = &task.terms;
    Ok(Response::new()
        .add_attribute("action", "create_task")
        .add_attribute("task_id", id.to_string())
        .add_attribute("organization", info.sender)
        .add_attribute("keeper", keeper)
        .add_attribute("amount", pool.amount)
        .add_attribute("denom", pool.denom)
        .add_attribute("keeper_bond", terms.keeper_bond)
        .add_attribute("keeper_fee_bps", terms.keeper_fee_bps.to_string())
        .add_attribute("stake", terms.stake)
        .add_attribute("rounds", terms.rounds.to_string())
        .add_attribute("join_deadline", terms.join_deadline.to_string())
        .add_attribute("training_deadline", terms.training_deadline.to_string()))
}

/// The keeper consents to the task and bonds its delivery.
pub fn accept_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    let mut task = Task::load(deps.storage, task_id)?;
    require_keeper(&task, &info.sender)?;
    require_status(&task, &[TaskStatus::Proposed])?;
    if env.block.time.seconds() >= task.terms.join_deadline {
        return Err(ContractError::JoinDeadlinePassed {
            task_id,
            join_deadline: task.terms.join_deadline,
        });
    }
    validation::exact_funds(&info, task.terms.keeper_bond, &task.terms.denom)?;
    task.state.bonded = true;
    task.set_status(deps.storage, TaskStatus::Open)?;
    task.save(deps.storage)?;
    update_keeper_stats(deps.storage, &info.sender, |k| k.tasks_accepted += 1)?;
    Ok(Response::new()
        .add_attribute("action", "accept_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("keeper", info.sender)
        .add_attribute("amount", task.terms.keeper_bond))
}

/// Before the task is committed (joins closed with enough trainers) the organization may call
/// it off: pool and bond go back now, joined trainers take their full stake back with `claim`.
pub fn cancel_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = Task::load(deps.storage, task_id)?;
    require_org(&task, &info.sender)?;
    require_status(&task, &[TaskStatus::Proposed, TaskStatus::Open])?;
    require_not_committed(&task, env.block.time.seconds())?;
    let (pool, bond) = (task.terms.pool, task.bond_deposited());
    task.state.org_refunded = pool;
    task.state.keeper_paid = bond;
    task.state.paid_out = task.state.paid_out.checked_add(pool)?.checked_add(bond)?;
    task.state.settled_at = Some(env.block.time.seconds());
    task.set_status(deps.storage, TaskStatus::Cancelled)?;
    task.save(deps.storage)?;
    let terms = &task.terms;
    Ok(Response::new()
        .add_messages(send(&terms.organization, pool, &terms.denom))
        .add_messages(send(&terms.keeper, bond, &terms.denom))
        .add_attribute("action", "cancel_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("organization", terms.organization.as_str())
        .add_attribute("keeper", terms.keeper.as_str())
        .add_attribute("org_refund", pool)
        .add_attribute("bond_refund", bond))
}

pub fn join_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
    node_key: Option<(String, String)>,
) -> Result<Response, ContractError> {
    let mut task = Task::load(deps.storage, task_id)?;
    require_trainer_profile(deps.storage, &info.sender)?;
    require_status(&task, &[TaskStatus::Open])?;
    let now = env.block.time.seconds();
    if now >= task.terms.join_deadline {
        return Err(ContractError::JoinDeadlinePassed {
            task_id,
            join_deadline: task.terms.join_deadline,
        });
    }
    if task.state.participants >= task.terms.max_trainers {
        return Err(ContractError::TaskFull {
            task_id,
            max_trainers: task.terms.max_trainers,
        });
    }
    require_independent_trainer(&task, &info.sender)?;
    if MEMBERSHIPS.has(deps.storage, (task_id, &info.sender)) {
        return Err(ContractError::AlreadyJoined {
            task_id,
            address: info.sender.to_string(),
        });
    }
    if let Some((key, proof)) = &node_key {
        require_node_key_proof(deps.as_ref(), &env, task_id, &info.sender, key, proof)?;
        require_free_node_key(deps.storage, task_id, key)?;
    }
    validation::exact_funds(&info, task.terms.stake, &task.terms.denom)?;
    let node_public_key = node_key.map(|(key, _)| key);
    if let Some(key) = &node_public_key {
        NODE_KEYS.save(deps.storage, (task_id, key), &info.sender)?;
    }
    let membership = Membership {
        joined_at: now,
        node_public_key,
        claimed_amount: None,
    };
    MEMBERSHIPS.save(deps.storage, (task_id, &info.sender), &membership)?;
    STANDINGS.save(deps.storage, (task_id, &info.sender), &Standing::default())?;
    task.state.participants += 1;
    task.save(deps.storage)?;
    update_profile(deps.storage, &info.sender, |p| p.tasks_joined += 1)?;
    Ok(Response::new()
        .add_attribute("action", "join_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", info.sender)
        .add_attribute("amount", task.terms.stake)
        .add_attribute("participants", task.state.participants.to_string()))
}

/// Until the task is committed (joins closed with enough trainers) a trainer may change its
/// mind: its stake comes back in full.
pub fn leave_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = Task::load(deps.storage, task_id)?;
    require_status(&task, &[TaskStatus::Open])?;
    require_not_committed(&task, env.block.time.seconds())?;
    let (membership, _) = require_participant(deps.storage, &task, &info.sender)?;
    if let Some(key) = &membership.node_public_key {
        NODE_KEYS.remove(deps.storage, (task_id, key));
    }
    MEMBERSHIPS.remove(deps.storage, (task_id, &info.sender));
    STANDINGS.remove(deps.storage, (task_id, &info.sender));
    task.state.participants -= 1;
    task.save(deps.storage)?;
    update_profile(deps.storage, &info.sender, |p| {
        p.tasks_joined = p.tasks_joined.saturating_sub(1)
    })?;
    let terms = &task.terms;
    Ok(Response::new()
        .add_messages(send(&info.sender, terms.stake, &terms.denom))
        .add_attribute("action", "leave_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", info.sender)
        .add_attribute("amount", terms.stake)
        .add_attribute("participants", task.state.participants.to_string()))
}

/// A joined, unslashed trainer of a live task names the Flower node key its keeper admits; the old
/// key (if any) is released. Nothing else of its membership changes.
pub fn set_node_key(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
    node_public_key: String,
    node_key_proof: String,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let task = Task::load(deps.storage, task_id)?;
    require_status(&task, &[TaskStatus::Open, TaskStatus::Running])?;
    let (mut membership, standing) = require_participant(deps.storage, &task, &info.sender)?;
    if standing.slashed {
        return Err(ContractError::AlreadySlashed {
            address: info.sender.to_string(),
        });
    }
    require_node_key_proof(
        deps.as_ref(),
        &env,
        task_id,
        &info.sender,
        &node_public_key,
        &node_key_proof,
    )?;
    if membership.node_public_key.as_deref() != Some(node_public_key.as_str()) {
        require_free_node_key(deps.storage, task_id, &node_public_key)?;
        if let Some(old) = &membership.node_public_key {
            NODE_KEYS.remove(deps.storage, (task_id, old));
        }
        NODE_KEYS.save(deps.storage, (task_id, &node_public_key), &info.sender)?;
        membership.node_public_key = Some(node_public_key);
        MEMBERSHIPS.save(deps.storage, (task_id, &info.sender), &membership)?;
    }
    Ok(Response::new()
        .add_attribute("action", "set_node_key")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", info.sender))
}

/// The key is a P-256 key and `proof` its signature of this contract, task and trainer: a key
/// is named only by whoever holds it, so nobody can take (squat) another trainer's key.
fn require_node_key_proof(
    deps: Deps,
    env: &Env,
    task_id: u64,
    trainer: &Addr,
    key: &str,
    proof: &str,
) -> Result<(), ContractError> {
    let point = validation::node_public_key(key)?;
    let signature =
        Binary::from_base64(proof).map_err(|_| ContractError::InvalidNodeKeyProof {})?;
    if signature.len() != 64 {
        return Err(ContractError::InvalidNodeKeyProof {});
    }
    let statement =
        validation::node_key_statement(env.contract.address.as_str(), task_id, trainer.as_str());
    let hash = Sha256::digest(statement);
    match deps.api.secp256r1_verify(&hash, &signature, &point) {
        Ok(true) => Ok(()),
        _ => Err(ContractError::InvalidNodeKeyProof {}),
    }
}

fn require_free_node_key(
    storage: &dyn Storage,
    task_id: u64,
    key: &str,
) -> Result<(), ContractError> {
    if NODE_KEYS.has(storage, (task_id, key)) {
        return Err(ContractError::NodeKeyInUse { task_id });
    }
    Ok(())
}

/// The keeper attests one aggregation round: the new model and the accepted contributors with
/// their weights. Only the contributors' tiny standings are read and written.
pub fn submit_round(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: SubmitRoundMsg,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let task_id = msg.task_id;
    let mut task = Task::load(deps.storage, task_id)?;
    require_keeper(&task, &info.sender)?;
    require_status(&task, &[TaskStatus::Open, TaskStatus::Running])?;
    let (terms, now) = (&task.terms, env.block.time.seconds());
    if task.state.participants < terms.min_trainers {
        return Err(ContractError::NotEnoughTrainers {
            joined: task.state.participants,
            min: terms.min_trainers,
        });
    }
    if task.state.rounds_completed >= terms.rounds {
        return Err(ContractError::AllRoundsDone {
            rounds: terms.rounds,
        });
    }
    let expected = task.state.rounds_completed + 1;
    if msg.round != expected {
        return Err(ContractError::RoundOutOfOrder {
            expected,
            got: msg.round,
        });
    }
    if now >= terms.training_deadline {
        return Err(ContractError::TrainingDeadlinePassed {
            task_id,
            training_deadline: terms.training_deadline,
        });
    }
    // Training starts once the set of trainers is final, so nobody joins a task whose first
    // rounds already ran without it, and nobody can leave after training started.
    if msg.round == 1 && now < terms.join_deadline && task.state.participants < terms.max_trainers {
        return Err(ContractError::JoinsStillOpen {
            join_deadline: terms.join_deadline,
        });
    }
    // A live task's keeper is held to the hard cap, not the current config, so an admin change
    // of max_cid_len can never stop it from attesting (and make it forfeit its bond).
    validation::cid("model_cid", &msg.model_cid, MAX_CID_LEN.1 as u32)?;
    if let Some(cid) = &msg.scores_cid {
        validation::cid("scores_cid", cid, MAX_CID_LEN.1 as u32)?;
    }
    validation::sha256_hex("model_sha256", &msg.model_sha256)?;
    let metric = &terms.metric;
    if msg.metrics.metric != metric.name {
        return Err(ContractError::WrongMetric {
            expected: metric.name.clone(),
        });
    }
    if metric
        .at_most
        .is_some_and(|at_most| msg.metrics.value > at_most)
    {
        return Err(ContractError::MetricOutOfRange {
            metric: metric.name.clone(),
        });
    }
    let count = u32::try_from(msg.contributors.len()).unwrap_or(u32::MAX);
    if count > task.state.participants {
        return Err(ContractError::TooManyContributors {
            count,
            participants: task.state.participants,
        });
    }
    let mut seen = BTreeSet::new();
    let mut round_weight = Uint128::zero();
    let mut updates = Vec::with_capacity(msg.contributors.len());
    for contribution in &msg.contributors {
        // Keys were stored from validated addresses, so an exact-match lookup needs no
        // re-validation: a malformed or non-canonical string simply is not a participant.
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
        // The task's public cap on one update's weight binds the keeper too: it cannot credit
        // an accomplice with more than any honest trainer can earn in a round. A measured
        // task's round shares a fixed budget instead (checked for the whole round below).
        let cap = match task.terms.scoring {
            Scoring::ClaimedExamples => Uint128::from(task.terms.max_examples_per_trainer),
            Scoring::Measured => Uint128::from(ROUND_WEIGHT),
        };
        if contribution.weight > cap {
            return Err(ContractError::WeightAboveCap {
                address: address.into(),
                weight: contribution.weight,
                cap,
            });
        }
        let mut standing = STANDINGS
            .may_load(deps.storage, (task_id, &address))?
            .ok_or_else(|| ContractError::NotParticipant {
                task_id,
                address: address.to_string(),
            })?;
        if standing.slashed {
            return Err(ContractError::AlreadySlashed {
                address: address.into(),
            });
        }
        if standing.weight.is_zero() {
            task.state.contributors_count += 1;
        }
        standing.weight = standing.weight.checked_add(contribution.weight)?;
        standing.last_round = msg.round;
        round_weight = round_weight.checked_add(contribution.weight)?;
        updates.push((address, standing));
    }
    if task.terms.scoring == Scoring::Measured && round_weight > Uint128::from(ROUND_WEIGHT) {
        return Err(ContractError::RoundWeightAboveBudget {
            total: round_weight,
            budget: Uint128::from(ROUND_WEIGHT),
        });
    }
    for (address, standing) in &updates {
        STANDINGS.save(deps.storage, (task_id, address), standing)?;
    }
    task.state.total_weight = task.state.total_weight.checked_add(round_weight)?;
    task.state.rounds_completed = msg.round;
    if count > 0 {
        task.state.productive_rounds += 1;
    }
    task.set_status(deps.storage, TaskStatus::Running)?;
    task.save(deps.storage)?;
    let record = RoundRecord {
        model_cid: msg.model_cid,
        model_sha256: msg.model_sha256,
        metrics: msg.metrics,
        contributors_count: count,
        total_weight: round_weight,
        scores_cid: msg.scores_cid,
        submitted_at: now,
        height: env.block.height,
    };
    ROUNDS.save(deps.storage, (task_id, msg.round), &record)?;
    update_keeper_stats(deps.storage, &info.sender, |k| k.rounds_attested += 1)?;
    let response = Response::new()
        .add_attribute("action", "submit_round")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("round", msg.round.to_string())
        .add_attribute("model_cid", record.model_cid)
        .add_attribute("contributors", count.to_string())
        .add_attribute("weight", round_weight)
        .add_attribute("metric", record.metrics.metric.clone())
        .add_attribute("value", record.metrics.value.to_string());
    // Only a round that names a score table says so: an empty value would read as a CID.
    Ok(match record.scores_cid {
        Some(cid) => response.add_attribute("scores_cid", cid),
        None => response,
    })
}

/// The keeper slashes a trainer whose update for the round it just attested was bad, proven by
/// the trainer's own signature on its claim. The forfeit and the trainer's reward share go to the
/// task's treasury at settlement: nobody who can cause a slash gains from it.
pub fn slash(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: SlashMsg,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let config = CONFIG.load(deps.storage)?;
    let task_id = msg.task_id;
    let mut task = Task::load(deps.storage, task_id)?;
    require_keeper(&task, &info.sender)?;
    require_status(&task, &[TaskStatus::Running])?;
    let current = task.state.rounds_completed;
    if msg.round != current {
        return Err(ContractError::SlashRoundNotCurrent {
            round: msg.round,
            current,
        });
    }
    // The keeper sends a round and its slashes in one transaction. Being in the round's block
    // also keeps slashes before the training deadline (the round itself had to be).
    let attested_at = ROUNDS.load(deps.storage, (task_id, current))?.height;
    if attested_at != env.block.height {
        return Err(ContractError::SlashTooLate {
            round: msg.round,
            attested_at,
            height: env.block.height,
        });
    }
    let trainer = deps.api.addr_validate(&msg.trainer)?;
    let (_, mut standing) = require_participant(deps.storage, &task, &trainer)?;
    if standing.slashed {
        return Err(ContractError::AlreadySlashed {
            address: trainer.into(),
        });
    }
    if standing.last_round == msg.round {
        return Err(ContractError::SlashedContributor {
            address: trainer.into(),
            round: msg.round,
        });
    }
    // Held to the hard cap, not the admin's current limit: a limit lowered after the task was
    // created must not make the round's attestation (sent with its slashes) fail.
    let hard_cap = Limits {
        max_string_len: MAX_STRING_LEN.1 as u32,
        ..config.limits.clone()
    };
    validation::text("detail", &msg.detail, &hard_cap, true)?;
    validation::cid("update_cid", &msg.evidence.update_cid, MAX_CID_LEN.1 as u32)?;
    let evidence = &msg.evidence;
    match (msg.reason, &evidence.conflicting_claim) {
        (SlashReason::Equivocation, None) => {
            return Err(ContractError::ConflictingClaimRequired {})
        }
        (SlashReason::Equivocation, Some(other)) => {
            if other.payload == evidence.claim.payload {
                return Err(ContractError::IdenticalClaims {});
            }
            evidence::verify_claim(deps.api, &env, task_id, msg.round, &trainer, other)?;
        }
        (_, Some(_)) => return Err(ContractError::ConflictingClaimNotAllowed {}),
        (_, None) => {}
    }
    evidence::verify_claim(
        deps.api,
        &env,
        task_id,
        msg.round,
        &trainer,
        &evidence.claim,
    )?;

    let forfeit = settlement::bps_of(task.terms.stake, task.terms.slash_bps)?;
    if !standing.weight.is_zero() {
        // The weight stays in the total, so every other contributor's share is unchanged.
        task.state.slashed_weight = task.state.slashed_weight.checked_add(standing.weight)?;
        task.state.contributors_count -= 1;
    }
    standing.slashed = true;
    task.state.slashed_count += 1;
    task.state.forfeited = task.state.forfeited.checked_add(forfeit)?;
    STANDINGS.save(deps.storage, (task_id, &trainer), &standing)?;
    task.save(deps.storage)?;
    let record = SlashRecord {
        round: msg.round,
        reason: msg.reason,
        detail: msg.detail,
        update_cid: msg.evidence.update_cid,
        claim: msg.evidence.claim,
        conflicting_claim: msg.evidence.conflicting_claim,
        forfeit,
        slashed_at: env.block.time.seconds(),
        height: env.block.height,
    };
    SLASHES.save(deps.storage, (task_id, &trainer), &record)?;
    update_profile(deps.storage, &trainer, |p| p.slashed += 1)?;
    Ok(Response::new()
        .add_attribute("action", "slash")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", trainer)
        .add_attribute("round", msg.round.to_string())
        .add_attribute("reason", msg.reason.as_str())
        .add_attribute("update_cid", record.update_cid)
        .add_attribute("amount", forfeit))
}

/// Whether `task` may be finalized now, and whether it never started (no round attested because
/// the keeper never accepted or too few trainers joined: then the keeper keeps its bond).
fn require_finalizable(task: &Task, now: u64) -> Result<bool, ContractError> {
    let (terms, state) = (&task.terms, &task.state);
    require_status(
        task,
        &[TaskStatus::Proposed, TaskStatus::Open, TaskStatus::Running],
    )?;
    let could_not_start = state.rounds_completed == 0
        && (state.status == TaskStatus::Proposed || state.participants < terms.min_trainers);
    let never_started = could_not_start && now >= terms.join_deadline;
    let all_rounds = state.status == TaskStatus::Running && state.rounds_completed == terms.rounds;
    let expires_at = terms
        .training_deadline
        .saturating_add(terms.grace_period_secs);
    let expired = state.status != TaskStatus::Proposed && now >= expires_at;
    if all_rounds || expired || never_started {
        return Ok(never_started);
    }
    Err(ContractError::NotFinalizable {
        task_id: terms.id,
        rounds_completed: state.rounds_completed,
        rounds: terms.rounds,
        finalizable_at: if could_not_start {
            terms.join_deadline
        } else {
            expires_at
        },
    })
}

/// Settles the task in O(1): treasury, organization and keeper are paid here; each trainer's
/// share is fixed by the stored totals and paid by its own `claim`.
pub fn finalize_task(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = Task::load(deps.storage, task_id)?;
    let now = env.block.time.seconds();
    let never_started = require_finalizable(&task, now)?;
    let s = settlement::settle(&task, never_started)?;
    let to_treasury = s.to_treasury(task.state.forfeited)?;
    let to_organization = s.to_organization(&task)?;
    let to_keeper = s.to_keeper(&task)?;
    let state = &mut task.state;
    state.forfeited = state.forfeited.checked_add(s.no_show_forfeits)?;
    state.treasury_paid = to_treasury;
    state.org_refunded = to_organization;
    state.keeper_paid = to_keeper;
    state.paid_out = state
        .paid_out
        .checked_add(to_treasury)?
        .checked_add(to_organization)?
        .checked_add(to_keeper)?;
    state.settled_at = Some(now);
    task.set_status(deps.storage, TaskStatus::Finalized)?;
    task.save(deps.storage)?;
    SETTLEMENTS.save(deps.storage, task_id, &s)?;
    if !s.bond_forfeited.is_zero() {
        update_keeper_stats(deps.storage, &task.terms.keeper, |k| k.tasks_failed += 1)?;
    }
    let terms = &task.terms;
    Ok(Response::new()
        .add_messages(send(&terms.treasury, to_treasury, &terms.denom))
        .add_messages(send(&terms.organization, to_organization, &terms.denom))
        .add_messages(send(&terms.keeper, to_keeper, &terms.denom))
        .add_attribute("action", "finalize_task")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("rounds_completed", task.state.rounds_completed.to_string())
        .add_attribute(
            "productive_rounds",
            task.state.productive_rounds.to_string(),
        )
        .add_attribute("delivered_pool", s.delivered_pool)
        .add_attribute("fee", s.fee)
        .add_attribute("keeper_fee", s.keeper_fee)
        .add_attribute("distributable", s.distributable)
        .add_attribute("bond_forfeit", s.bond_forfeited)
        .add_attribute("treasury_amount", to_treasury)
        .add_attribute("organization_amount", to_organization)
        .add_attribute("keeper_amount", to_keeper))
}

/// A trainer takes its share of a settled task, once, until the task is swept.
pub fn claim(deps: DepsMut, info: MessageInfo, task_id: u64) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = Task::load(deps.storage, task_id)?;
    require_status(&task, &[TaskStatus::Finalized, TaskStatus::Cancelled])?;
    if task.state.swept {
        return Err(ContractError::ClaimWindowClosed { task_id });
    }
    let (mut membership, standing) = require_participant(deps.storage, &task, &info.sender)?;
    if membership.claimed_amount.is_some() {
        return Err(ContractError::AlreadyClaimed {
            task_id,
            address: info.sender.to_string(),
        });
    }
    let share = settlement::share(&task, &task.settlement(deps.storage)?, &standing)?;
    let amount = share.amount()?;
    membership.claimed_amount = Some(amount);
    MEMBERSHIPS.save(deps.storage, (task_id, &info.sender), &membership)?;
    task.state.claimed_count += 1;
    task.state.rewards_paid = task.state.rewards_paid.checked_add(share.reward)?;
    task.state.paid_out = task.state.paid_out.checked_add(amount)?;
    task.save(deps.storage)?;
    if task.state.status == TaskStatus::Finalized && !standing.slashed {
        let no_show = standing.weight.is_zero() && !share.penalty.is_zero();
        let completed = !standing.weight.is_zero();
        update_profile(deps.storage, &info.sender, |p| {
            p.tasks_completed += u64::from(completed);
            p.no_shows += u64::from(no_show);
        })?;
    }
    Ok(Response::new()
        .add_messages(send(&info.sender, amount, &task.terms.denom))
        .add_attribute("action", "claim")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("trainer", info.sender)
        .add_attribute("amount", amount)
        .add_attribute("penalty", share.penalty)
        .add_attribute("reward", share.reward)
        .add_attribute("compensation", share.compensation))
}

/// After the claim window anyone may send what is left of a settled task (rounding dust and
/// unclaimed shares) to its treasury, so no coin stays locked forever.
pub fn sweep(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    task_id: u64,
) -> Result<Response, ContractError> {
    validation::no_funds(&info)?;
    let mut task = Task::load(deps.storage, task_id)?;
    require_status(&task, &[TaskStatus::Finalized, TaskStatus::Cancelled])?;
    if task.state.swept {
        return Err(ContractError::AlreadySwept { task_id });
    }
    let sweepable_at = task
        .state
        .settled_at
        .unwrap_or_default()
        .saturating_add(task.terms.claim_window_secs);
    if env.block.time.seconds() < sweepable_at {
        return Err(ContractError::ClaimWindowOpen {
            task_id,
            sweepable_at,
        });
    }
    let amount = task.held()?;
    task.state.treasury_paid = task.state.treasury_paid.checked_add(amount)?;
    task.state.paid_out = task.state.paid_out.checked_add(amount)?;
    task.state.swept = true;
    task.save(deps.storage)?;
    let terms = &task.terms;
    Ok(Response::new()
        .add_messages(send(&terms.treasury, amount, &terms.denom))
        .add_attribute("action", "sweep")
        .add_attribute("task_id", task_id.to_string())
        .add_attribute("treasury", terms.treasury.as_str())
        .add_attribute("amount", amount))
}
