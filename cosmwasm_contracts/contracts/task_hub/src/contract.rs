//! Entry points: instantiate, execute, query, migrate. Dispatch only; the handlers live in
//! `execute` and `query`.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Response};

use crate::error::ContractError;
use crate::execute;
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use crate::query;

pub const CONTRACT_NAME: &str = "crates.io:fedchain-task-hub";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    execute::instantiate(deps, env, info, msg)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(
    deps: DepsMut,
    env: Env,
    info: MessageInfo,
    msg: ExecuteMsg,
) -> Result<Response, ContractError> {
    match msg {
        ExecuteMsg::Register {
            name,
            organization,
            trainer,
        } => execute::register(deps, env, info, name, organization, trainer),
        ExecuteMsg::RegisterKeeper {
            name,
            endpoint,
            tls_cert_sha256,
            fee_bps,
        } => execute::register_keeper(deps, env, info, name, endpoint, tls_cert_sha256, fee_bps),
        ExecuteMsg::CreateTask(msg) => execute::create_task(deps, env, info, msg),
        ExecuteMsg::AcceptTask { task_id } => execute::accept_task(deps, env, info, task_id),
        ExecuteMsg::CancelTask { task_id } => execute::cancel_task(deps, env, info, task_id),
        ExecuteMsg::JoinTask {
            task_id,
            node_public_key,
            node_key_proof,
        } => {
            let node_key = match (node_public_key, node_key_proof) {
                (Some(key), Some(proof)) => Some((key, proof)),
                (None, None) => None,
                _ => return Err(ContractError::InvalidNodeKeyProof {}),
            };
            execute::join_task(deps, env, info, task_id, node_key)
        }
        ExecuteMsg::LeaveTask { task_id } => execute::leave_task(deps, env, info, task_id),
        ExecuteMsg::SetNodeKey {
            task_id,
            node_public_key,
            node_key_proof,
        } => execute::set_node_key(deps, env, info, task_id, node_public_key, node_key_proof),
        ExecuteMsg::SubmitRound(msg) => execute::submit_round(deps, env, info, msg),
        ExecuteMsg::Slash(msg) => execute::slash(deps, env, info, msg),
        ExecuteMsg::FinalizeTask { task_id } => execute::finalize_task(deps, env, info, task_id),
        ExecuteMsg::Claim { task_id } => execute::claim(deps, info, task_id),
        ExecuteMsg::Sweep { task_id } => execute::sweep(deps, env, info, task_id),
        ExecuteMsg::UpdateConfig {
            treasury,
            fee_bps,
            limits,
            admin,
        } => execute::update_config(deps, env, info, treasury, fee_bps, limits, admin),
    }
}

/// Errors are typed here too, so an unknown task answers "task 7 not found".
#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> Result<Binary, ContractError> {
    Ok(match msg {
        QueryMsg::Config {} => to_json_binary(&query::config(deps)?),
        QueryMsg::Task { task_id } => to_json_binary(&query::task(deps, task_id)?),
        QueryMsg::Tasks {
            status,
            organization,
            keeper,
            start_after,
            limit,
        } => to_json_binary(&query::tasks(
            deps,
            status,
            organization,
            keeper,
            start_after,
            limit,
        )?),
        QueryMsg::Participant { task_id, trainer } => {
            to_json_binary(&query::participant(deps, task_id, trainer)?)
        }
        QueryMsg::Participants {
            task_id,
            start_after,
            limit,
        } => to_json_binary(&query::participants(deps, task_id, start_after, limit)?),
        QueryMsg::Rounds {
            task_id,
            start_after,
            limit,
        } => to_json_binary(&query::rounds(deps, task_id, start_after, limit)?),
        QueryMsg::Slashes {
            task_id,
            start_after,
            limit,
        } => to_json_binary(&query::slashes(deps, task_id, start_after, limit)?),
        QueryMsg::Claimable { task_id, address } => {
            to_json_binary(&query::claimable(deps, task_id, address)?)
        }
        QueryMsg::Profile { address } => to_json_binary(&query::profile(deps, address)?),
    }?)
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    execute::migrate(deps)
}
