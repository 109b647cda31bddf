//! Read-only handlers. Each answers a `*Response` type built from storage; lists page with
//! `start_after` and a limit (default 10, max 100).

use cosmwasm_std::{Addr, Deps, Order, StdResult, Storage};
use cw_storage_plus::Bound;

use crate::error::ContractError;
use crate::msg::{
    ClaimableResponse, ConfigResponse, KeeperProfile, ParticipantResponse, ParticipantsResponse,
    ProfileResponse, RoundResponse, RoundsResponse, SlashResponse, SlashesResponse, TaskResponse,
    TasksResponse,
};
use crate::settlement;
use crate::state::{
    Membership, Standing, Task, TaskStatus, CONFIG, MEMBERSHIPS, NEXT_TASK_ID, PROFILES, ROUNDS,
    SLASHES, STANDINGS, TASKS_BY_KEEPER, TASKS_BY_KEEPER_STATUS, TASKS_BY_ORG, TASKS_BY_ORG_STATUS,
    TASKS_BY_STATUS, TASK_MODELS, TASK_STATES, TASK_TERMS,
};
use crate::validation::query_limit;

pub fn config(deps: Deps) -> Result<ConfigResponse, ContractError> {
    let config = CONFIG.load(deps.storage)?;
    Ok(ConfigResponse {
        admin: config.admin,
        treasury: config.treasury,
        fee_bps: config.fee_bps,
        limits: config.limits,
        next_task_id: NEXT_TASK_ID.load(deps.storage)?,
    })
}

fn task_response(storage: &dyn Storage, task: Task) -> Result<TaskResponse, ContractError> {
    let held = task.held()?;
    let settlement = task.settlement(storage)?;
    let m = TASK_MODELS.load(storage, task.terms.id)?;
    let Task { terms: t, state: s } = task;
    Ok(TaskResponse {
        id: t.id,
        organization: t.organization,
        keeper: t.keeper,
        treasury: t.treasury,
        denom: t.denom,
        pool: t.pool,
        keeper_bond: t.keeper_bond,
        bonded: s.bonded,
        status: s.status,
        model_name: m.model_name,
        description: m.description,
        client_cid: m.client_cid,
        client_sha256: m.client_sha256,
        initial_model_cid: m.initial_model_cid,
        initial_model_sha256: m.initial_model_sha256,
        rounds: t.rounds,
        min_trainers: t.min_trainers,
        max_trainers: t.max_trainers,
        stake: t.stake,
        join_deadline: t.join_deadline,
        training_deadline: t.training_deadline,
        no_show_penalty_bps: t.no_show_penalty_bps,
        slash_bps: t.slash_bps,
        fee_bps: t.fee_bps,
        keeper_fee_bps: t.keeper_fee_bps,
        grace_period_secs: t.grace_period_secs,
        claim_window_secs: t.claim_window_secs,
        max_examples_per_trainer: t.max_examples_per_trainer,
        max_update_norm: t.max_update_norm,
        scoring: t.scoring,
        validation_sha256: t.validation_sha256.clone(),
        metric: t.metric.clone(),
        round_timeout_secs: t.round_timeout_secs,
        created_at: t.created_at,
        participants: s.participants,
        rounds_completed: s.rounds_completed,
        productive_rounds: s.productive_rounds,
        total_weight: s.total_weight,
        slashed_weight: s.slashed_weight,
        contributors_count: s.contributors_count,
        slashed_count: s.slashed_count,
        claimed_count: s.claimed_count,
        forfeited: s.forfeited,
        delivered_pool: settlement.delivered_pool,
        fee: settlement.fee,
        keeper_fee: settlement.keeper_fee,
        distributable: settlement.distributable,
        slashed_reward: settlement.slashed_reward,
        no_show_penalty: settlement.no_show_penalty,
        no_show_forfeits: settlement.no_show_forfeits,
        rewards_paid: s.rewards_paid,
        bond_forfeited: settlement.bond_forfeited,
        org_compensation: settlement.org_compensation,
        trainer_compensation: settlement.trainer_compensation,
        treasury_paid: s.treasury_paid,
        org_refunded: s.org_refunded,
        keeper_paid: s.keeper_paid,
        paid_out: s.paid_out,
        settled_at: s.settled_at,
        swept: s.swept,
        held,
    })
}

pub fn task(deps: Deps, task_id: u64) -> Result<TaskResponse, ContractError> {
    task_response(deps.storage, Task::load(deps.storage, task_id)?)
}

/// Walks the one index that matches the most filters and examines at most `limit` of its
/// entries, so the cost is bounded whatever the filters; a filter the index does not cover
/// (the organization, when a keeper is given too) only drops entries from the page.
pub fn tasks(
    deps: Deps,
    status: Option<TaskStatus>,
    organization: Option<String>,
    keeper: Option<String>,
    start_after: Option<u64>,
    limit: Option<u32>,
) -> Result<TasksResponse, ContractError> {
    let organization = organization
        .map(|a| deps.api.addr_validate(&a))
        .transpose()?;
    let keeper = keeper.map(|a| deps.api.addr_validate(&a)).transpose()?;
    let limit = query_limit(limit);
    let (store, min, asc) = (
        deps.storage,
        start_after.map(Bound::exclusive),
        Order::Ascending,
    );
    let ids: Vec<u64> = match (&keeper, &organization, status) {
        (Some(k), _, Some(s)) => TASKS_BY_KEEPER_STATUS
            .prefix((k, s.key()))
            .keys(store, min, None, asc)
            .take(limit)
            .collect::<StdResult<_>>()?,
        (Some(k), _, None) => TASKS_BY_KEEPER
            .prefix(k)
            .keys(store, min, None, asc)
            .take(limit)
            .collect::<StdResult<_>>()?,
        (None, Some(o), Some(s)) => TASKS_BY_ORG_STATUS
            .prefix((o, s.key()))
            .keys(store, min, None, asc)
            .take(limit)
            .collect::<StdResult<_>>()?,
        (None, Some(o), None) => TASKS_BY_ORG
            .prefix(o)
            .keys(store, min, None, asc)
            .take(limit)
            .collect::<StdResult<_>>()?,
        (None, None, Some(s)) => TASKS_BY_STATUS
            .prefix(s.key())
            .keys(store, min, None, asc)
            .take(limit)
            .collect::<StdResult<_>>()?,
        (None, None, None) => TASK_TERMS
            .keys(store, min, None, asc)
            .take(limit)
            .collect::<StdResult<_>>()?,
    };
    let next_start_after = if ids.len() == limit {
        ids.last().copied()
    } else {
        None
    };
    let mut tasks = Vec::with_capacity(ids.len());
    for id in ids {
        let terms = TASK_TERMS.load(store, id)?;
        if keeper.is_some()
            && organization
                .as_ref()
                .is_some_and(|o| *o != terms.organization)
        {
            continue;
        }
        let state = TASK_STATES.load(store, id)?;
        tasks.push(task_response(store, Task { terms, state })?);
    }
    Ok(TasksResponse {
        tasks,
        next_start_after,
    })
}

fn participant_response(
    task: &Task,
    trainer: Addr,
    membership: Membership,
    standing: Standing,
) -> ParticipantResponse {
    ParticipantResponse {
        trainer,
        joined_at: membership.joined_at,
        stake: task.terms.stake,
        weight: standing.weight,
        slashed: standing.slashed,
        node_public_key: membership.node_public_key,
        claimed: membership.claimed_amount.is_some(),
        claimed_amount: membership.claimed_amount.unwrap_or_default(),
    }
}

fn load_member(
    storage: &dyn Storage,
    task_id: u64,
    trainer: &Addr,
) -> StdResult<Option<(Membership, Standing)>> {
    match MEMBERSHIPS.may_load(storage, (task_id, trainer))? {
        Some(membership) => Ok(Some((
            membership,
            STANDINGS.load(storage, (task_id, trainer))?,
        ))),
        None => Ok(None),
    }
}

pub fn participant(
    deps: Deps,
    task_id: u64,
    trainer: String,
) -> Result<Option<ParticipantResponse>, ContractError> {
    let task = Task::load(deps.storage, task_id)?;
    let trainer = deps.api.addr_validate(&trainer)?;
    Ok(load_member(deps.storage, task_id, &trainer)?
        .map(|(m, s)| participant_response(&task, trainer, m, s)))
}

pub fn participants(
    deps: Deps,
    task_id: u64,
    start_after: Option<String>,
    limit: Option<u32>,
) -> Result<ParticipantsResponse, ContractError> {
    let task = Task::load(deps.storage, task_id)?;
    let start = start_after
        .map(|a| deps.api.addr_validate(&a))
        .transpose()?;
    let participants = MEMBERSHIPS
        .prefix(task_id)
        .range(
            deps.storage,
            start.as_ref().map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(query_limit(limit))
        .map(|item| {
            let (trainer, membership) = item?;
            let standing = STANDINGS.load(deps.storage, (task_id, &trainer))?;
            Ok(participant_response(&task, trainer, membership, standing))
        })
        .collect::<StdResult<_>>()?;
    Ok(ParticipantsResponse { participants })
}

pub fn rounds(
    deps: Deps,
    task_id: u64,
    start_after: Option<u32>,
    limit: Option<u32>,
) -> Result<RoundsResponse, ContractError> {
    Task::load(deps.storage, task_id)?;
    let rounds = ROUNDS
        .prefix(task_id)
        .range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(query_limit(limit))
        .map(|item| {
            let (round, r) = item?;
            Ok(RoundResponse {
                round,
                model_cid: r.model_cid,
                model_sha256: r.model_sha256,
                metrics: r.metrics,
                contributors_count: r.contributors_count,
                total_weight: r.total_weight,
                scores_cid: r.scores_cid,
                submitted_at: r.submitted_at,
                height: r.height,
            })
        })
        .collect::<StdResult<_>>()?;
    Ok(RoundsResponse { rounds })
}

pub fn slashes(
    deps: Deps,
    task_id: u64,
    start_after: Option<String>,
    limit: Option<u32>,
) -> Result<SlashesResponse, ContractError> {
    Task::load(deps.storage, task_id)?;
    let start = start_after
        .map(|a| deps.api.addr_validate(&a))
        .transpose()?;
    let slashes = SLASHES
        .prefix(task_id)
        .range(
            deps.storage,
            start.as_ref().map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(query_limit(limit))
        .map(|item| {
            let (trainer, r) = item?;
            Ok(SlashResponse {
                trainer,
                round: r.round,
                reason: r.reason,
                detail: r.detail,
                update_cid: r.update_cid,
                claim: r.claim,
                conflicting_claim: r.conflicting_claim,
                forfeit: r.forfeit,
                slashed_at: r.slashed_at,
                height: r.height,
            })
        })
        .collect::<StdResult<_>>()?;
    Ok(SlashesResponse { slashes })
}

/// What `claim` would pay `address` now and why; zeros when nothing is due.
pub fn claimable(
    deps: Deps,
    task_id: u64,
    address: String,
) -> Result<ClaimableResponse, ContractError> {
    let task = Task::load(deps.storage, task_id)?;
    let address = deps.api.addr_validate(&address)?;
    let share = match load_member(deps.storage, task_id, &address)? {
        Some((membership, standing))
            if membership.claimed_amount.is_none() && !task.state.swept =>
        {
            settlement::share(&task, &task.settlement(deps.storage)?, &standing)?
        }
        _ => settlement::Share::default(),
    };
    Ok(ClaimableResponse {
        amount: share.amount()?,
        denom: task.terms.denom,
        stake_back: share.stake_back,
        penalty: share.penalty,
        reward: share.reward,
        compensation: share.compensation,
    })
}

pub fn profile(deps: Deps, address: String) -> Result<Option<ProfileResponse>, ContractError> {
    let address = deps.api.addr_validate(&address)?;
    Ok(PROFILES
        .may_load(deps.storage, &address)?
        .map(|p| ProfileResponse {
            address,
            name: p.name,
            is_organization: p.is_organization,
            is_trainer: p.is_trainer,
            keeper: p.keeper.map(|k| KeeperProfile {
                endpoint: k.endpoint,
                tls_cert_sha256: k.tls_cert_sha256,
                fee_bps: k.fee_bps,
                tasks_accepted: k.tasks_accepted,
                rounds_attested: k.rounds_attested,
                tasks_failed: k.tasks_failed,
            }),
            registered_at: p.registered_at,
            tasks_created: p.tasks_created,
            tasks_joined: p.tasks_joined,
            tasks_completed: p.tasks_completed,
            no_shows: p.no_shows,
            slashed: p.slashed,
        }))
}
