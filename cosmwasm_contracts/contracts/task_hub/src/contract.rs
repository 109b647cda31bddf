//! Entry points: instantiate, execute, query, migrate — dispatch only.

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{to_json_binary, Binary, Deps, DepsMut, Env, MessageInfo, Response, StdResult};

use crate::error::ContractError;
use crate::execute::{self, validate_limits, MAX_FEE_BPS};
use crate::msg::{ExecuteMsg, InstantiateMsg, MigrateMsg, QueryMsg};
use crate::query;
use crate::state::{Config, CONFIG};

pub const CONTRACT_NAME: &str = "crates.io:fedchain-task-hub";
pub const CONTRACT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    msg: InstantiateMsg,
) -> Result<Response, ContractError> {
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    if msg.fee_bps > MAX_FEE_BPS {
        return Err(ContractError::FeeTooHigh {
            fee_bps: msg.fee_bps,
            max: MAX_FEE_BPS,
        });
    }
    validate_limits(&msg.limits)?;
    let admin = match msg.admin {
        Some(a) => deps.api.addr_validate(&a)?,
        None => info.sender,
    };
    let config = Config {
        admin,
        treasury: deps.api.addr_validate(&msg.treasury)?,
        fee_bps: msg.fee_bps,
        limits: msg.limits,
        next_task_id: 1,
    };
    CONFIG.save(deps.storage, &config)?;
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("admin", config.admin)
        .add_attribute("treasury", config.treasury))
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
        ExecuteMsg::CreateTask(create) => execute::create_task(deps, env, info, create),
        ExecuteMsg::CancelTask { task_id } => execute::cancel_task(deps, info, task_id),
        ExecuteMsg::JoinTask { task_id } => execute::join_task(deps, env, info, task_id),
        ExecuteMsg::SubmitRound {
            task_id,
            round,
            model_cid,
            model_sha256,
            metrics,
            contributors,
        } => execute::submit_round(
            deps,
            env,
            info,
            task_id,
            round,
            model_cid,
            model_sha256,
            metrics,
            contributors,
        ),
        ExecuteMsg::Slash {
            task_id,
            trainer,
            reason,
        } => execute::slash(deps, info, task_id, trainer, reason),
        ExecuteMsg::FinalizeTask { task_id } => execute::finalize_task(deps, env, info, task_id),
        ExecuteMsg::Claim { task_id } => execute::claim(deps, info, task_id),
        ExecuteMsg::ClaimRefund { task_id } => execute::claim_refund(deps, info, task_id),
        ExecuteMsg::UpdateConfig {
            treasury,
            fee_bps,
            limits,
            admin,
        } => execute::update_config(deps, info, treasury, fee_bps, limits, admin),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, _env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Config {} => to_json_binary(&query::config(deps)?),
        QueryMsg::Task { task_id } => to_json_binary(&query::task(deps, task_id)?),
        QueryMsg::Tasks {
            status,
            organization,
            keeper,
            start_after,
            limit,
        } => to_json_binary(&query::list_tasks(
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
        QueryMsg::Claimable { task_id, address } => {
            to_json_binary(&query::claimable(deps, task_id, address)?)
        }
        QueryMsg::Profile { address } => to_json_binary(&query::profile(deps, address)?),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(deps: DepsMut, _env: Env, _msg: MigrateMsg) -> Result<Response, ContractError> {
    cw2::set_contract_version(deps.storage, CONTRACT_NAME, CONTRACT_VERSION)?;
    Ok(Response::new()
        .add_attribute("action", "migrate")
        .add_attribute("version", CONTRACT_VERSION))
}
