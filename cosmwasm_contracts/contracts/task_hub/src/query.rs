//! Read-only handlers; paginated lists follow cw-plus conventions (start_after, limit ≤ 100).

use cosmwasm_std::{Deps, Order, StdResult, Uint128};
use cw_storage_plus::Bound;

use crate::msg::{ClaimableResponse, ParticipantsResponse, RoundsResponse, TasksResponse};
use crate::settlement;
use crate::state::{
    list_participants, load_participant, tasks, Participant, Profile, Task, TaskStatus, CONFIG,
    PROFILES, ROUNDS,
};

const DEFAULT_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 100;

fn limit(requested: Option<u32>) -> usize {
    requested.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT) as usize
}

pub fn task(deps: Deps, task_id: u64) -> StdResult<Task> {
    tasks().load(deps.storage, task_id)
}

pub fn list_tasks(
    deps: Deps,
    status: Option<TaskStatus>,
    organization: Option<String>,
    keeper: Option<String>,
    start_after: Option<u64>,
    requested: Option<u32>,
) -> StdResult<TasksResponse> {
    let organization = organization
        .map(|a| deps.api.addr_validate(&a))
        .transpose()?;
    let keeper = keeper.map(|a| deps.api.addr_validate(&a)).transpose()?;
    let min = start_after.map(Bound::exclusive);
    let map = tasks();
    // Walk the most selective index available, filter the rest.
    let iter: Box<dyn Iterator<Item = StdResult<(u64, Task)>>> = if let Some(org) = &organization {
        map.idx
            .organization
            .prefix(org.clone())
            .range(deps.storage, min, None, Order::Ascending)
    } else if let Some(k) = &keeper {
        map.idx
            .keeper
            .prefix(k.clone())
            .range(deps.storage, min, None, Order::Ascending)
    } else if let Some(s) = status {
        map.idx
            .status
            .prefix(s.key())
            .range(deps.storage, min, None, Order::Ascending)
    } else {
        map.range(deps.storage, min, None, Order::Ascending)
    };
    let found = iter
        .filter(|item| match item {
            Ok((_, t)) => {
                status.is_none_or(|s| t.status == s)
                    && organization.as_ref().is_none_or(|o| t.organization == *o)
                    && keeper.as_ref().is_none_or(|k| t.keeper == *k)
            }
            Err(_) => true,
        })
        .take(limit(requested))
        .map(|item| item.map(|(_, t)| t))
        .collect::<StdResult<Vec<_>>>()?;
    Ok(TasksResponse { tasks: found })
}

pub fn participant(deps: Deps, task_id: u64, trainer: String) -> StdResult<Option<Participant>> {
    let address = deps.api.addr_validate(&trainer)?;
    load_participant(deps.storage, task_id, &address)
}

pub fn participants(
    deps: Deps,
    task_id: u64,
    start_after: Option<String>,
    requested: Option<u32>,
) -> StdResult<ParticipantsResponse> {
    let start = start_after
        .map(|a| deps.api.addr_validate(&a))
        .transpose()?;
    let participants = list_participants(deps.storage, task_id, start.as_ref(), limit(requested))?;
    Ok(ParticipantsResponse { participants })
}

pub fn rounds(
    deps: Deps,
    task_id: u64,
    start_after: Option<u32>,
    requested: Option<u32>,
) -> StdResult<RoundsResponse> {
    let rounds = ROUNDS
        .prefix(task_id)
        .range(
            deps.storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(limit(requested))
        .map(|item| item.map(|(_, r)| r))
        .collect::<StdResult<Vec<_>>>()?;
    Ok(RoundsResponse { rounds })
}

pub fn claimable(deps: Deps, task_id: u64, address: String) -> StdResult<ClaimableResponse> {
    let task = tasks().load(deps.storage, task_id)?;
    let address = deps.api.addr_validate(&address)?;
    let mut amount = Uint128::zero();
    if task.status == TaskStatus::Finalized {
        if address == task.organization {
            amount = settlement::owed_to_organization(&task)?;
        } else if let Some(p) = load_participant(deps.storage, task_id, &address)? {
            if !p.claimed {
                amount = settlement::payout(&task, &p)?.0;
            }
        }
    }
    Ok(ClaimableResponse {
        amount,
        denom: task.denom,
    })
}

pub fn profile(deps: Deps, address: String) -> StdResult<Option<Profile>> {
    let address = deps.api.addr_validate(&address)?;
    PROFILES.may_load(deps.storage, &address)
}

pub fn config(deps: Deps) -> StdResult<crate::state::Config> {
    CONFIG.load(deps.storage)
}
