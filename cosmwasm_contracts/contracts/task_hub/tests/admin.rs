//! Review finding 4: the admin's powers are capped and never reach into a live task; migration
//! only accepts this contract, from a compatible version, upwards.

mod common;

use common::*;
use cosmwasm_schema::cw_serde;
use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env};
use cosmwasm_std::{
    coins, to_json_binary, Binary, Deps, DepsMut, Empty, Env, MessageInfo, Response, StdResult,
};
use cw_multi_test::{ContractWrapper, Executor};
use task_hub::msg::{ExecuteMsg, InstantiateMsg, Limits, MigrateMsg};
use task_hub::ContractError;

fn update(
    treasury: Option<String>,
    fee_bps: Option<u16>,
    limits: Option<Limits>,
    admin: Option<String>,
) -> ExecuteMsg {
    ExecuteMsg::UpdateConfig {
        treasury,
        fee_bps,
        limits,
        admin,
    }
}

fn out_of_range(field: &str, value: u64, min: u64, max: u64) -> ContractError {
    ContractError::OutOfRange {
        field: field.into(),
        value,
        min,
        max,
    }
}

/// Every limit outside its cap, with the error it answers.
fn bad_limits() -> Vec<(Limits, ContractError)> {
    let day = 86_400;
    let l = limits();
    vec![
        (
            Limits {
                max_trainers_per_task: 0,
                ..l.clone()
            },
            out_of_range("max_trainers_per_task", 0, 1, 10_000),
        ),
        (
            Limits {
                max_trainers_per_task: 10_001,
                ..l.clone()
            },
            out_of_range("max_trainers_per_task", 10_001, 1, 10_000),
        ),
        (
            Limits {
                max_rounds: 1_001,
                ..l.clone()
            },
            out_of_range("max_rounds", 1_001, 1, 1_000),
        ),
        (
            Limits {
                grace_period_secs: 59,
                ..l.clone()
            },
            out_of_range("grace_period_secs", 59, 60, 30 * day),
        ),
        (
            Limits {
                grace_period_secs: 30 * day + 1,
                ..l.clone()
            },
            out_of_range("grace_period_secs", 30 * day + 1, 60, 30 * day),
        ),
        (
            Limits {
                claim_window_secs: 59,
                ..l.clone()
            },
            out_of_range("claim_window_secs", 59, 60, 365 * day),
        ),
        (
            Limits {
                claim_window_secs: 365 * day + 1,
                ..l.clone()
            },
            out_of_range("claim_window_secs", 365 * day + 1, 60, 365 * day),
        ),
        (
            Limits {
                max_string_len: 15,
                ..l.clone()
            },
            out_of_range("max_string_len", 15, 16, 1_024),
        ),
        (
            Limits {
                max_string_len: 1_025,
                ..l.clone()
            },
            out_of_range("max_string_len", 1_025, 16, 1_024),
        ),
        (
            Limits {
                max_cid_len: 45,
                ..l.clone()
            },
            out_of_range("max_cid_len", 45, 46, 256),
        ),
        (
            Limits {
                max_cid_len: 257,
                ..l
            },
            out_of_range("max_cid_len", 257, 46, 256),
        ),
    ]
}

#[test]
fn instantiate_caps_every_setting_and_refuses_the_contract_as_treasury() {
    let mut deps = mock_dependencies();
    let env = mock_env();
    let creator = deps.api.addr_make("creator");
    let msg = |treasury: String, fee_bps: u16, limits: Limits| InstantiateMsg {
        admin: None,
        treasury,
        fee_bps,
        limits,
    };
    let treasury = deps.api.addr_make("treasury").to_string();
    let instantiate = |deps: DepsMut, m: InstantiateMsg| {
        task_hub::contract::instantiate(deps, env.clone(), message_info(&creator, &[]), m)
    };
    assert_eq!(
        instantiate(deps.as_mut(), msg(treasury.clone(), 1_001, limits())).unwrap_err(),
        ContractError::BpsTooHigh {
            field: "fee_bps".into(),
            value: 1_001,
            max: 1_000
        }
    );
    assert_eq!(
        instantiate(
            deps.as_mut(),
            msg(env.contract.address.to_string(), 0, limits())
        )
        .unwrap_err(),
        ContractError::TreasuryIsContract {}
    );
    for (limits, error) in bad_limits() {
        assert_eq!(
            instantiate(deps.as_mut(), msg(treasury.clone(), 0, limits)).unwrap_err(),
            error
        );
    }
    instantiate(deps.as_mut(), msg(treasury, 1_000, limits())).unwrap();
}

#[test]
fn update_config_is_admin_only_and_capped() {
    let mut suite = Suite::new(0);
    let (admin, outsider, hub) = (
        suite.admin.clone(),
        suite.outsider.clone(),
        suite.hub.clone(),
    );
    assert_eq!(
        suite
            .exec(&outsider, &update(None, Some(0), None, None), &[])
            .unwrap_err(),
        ContractError::NotAdmin {}
    );
    assert_eq!(
        suite
            .exec(&admin, &update(None, Some(1_001), None, None), &[])
            .unwrap_err(),
        ContractError::BpsTooHigh {
            field: "fee_bps".into(),
            value: 1_001,
            max: 1_000
        }
    );
    assert_eq!(
        suite
            .exec(
                &admin,
                &update(Some(hub.to_string()), None, None, None),
                &[]
            )
            .unwrap_err(),
        ContractError::TreasuryIsContract {}
    );
    for (limits, error) in bad_limits() {
        assert_eq!(
            suite
                .exec(&admin, &update(None, None, Some(limits), None), &[])
                .unwrap_err(),
            error
        );
    }
    assert_eq!(
        suite
            .exec(&admin, &update(None, None, None, None), &coins(1, DENOM))
            .unwrap_err(),
        ContractError::FundsNotAllowed {}
    );
    assert_eq!(suite.config().fee_bps, FEE_BPS);

    // The admin hands over; the old admin is out.
    let new_admin = suite.addr("new-admin");
    suite
        .exec(
            &admin,
            &update(None, None, None, Some(new_admin.to_string())),
            &[],
        )
        .unwrap();
    assert_eq!(suite.config().admin, new_admin);
    assert_eq!(
        suite
            .exec(&admin, &update(None, Some(0), None, None), &[])
            .unwrap_err(),
        ContractError::NotAdmin {}
    );
}

/// Review finding 4: fee, treasury, grace period and claim window are the task's own from its
/// creation; raising the fee, moving the treasury or stretching the grace does not touch it.
#[test]
fn the_admin_cannot_change_a_live_tasks_fee_treasury_grace_or_claim_window() {
    let mut suite = Suite::new(2);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 1)]).unwrap();
    let (admin, old_treasury) = (suite.admin.clone(), suite.treasury.clone());
    let new_treasury = suite.addr("new-treasury");
    let day = 86_400;
    let stretched = Limits {
        grace_period_secs: 30 * day,
        claim_window_secs: 365 * day,
        max_cid_len: 46,
        ..limits()
    };
    suite
        .exec(
            &admin,
            &update(
                Some(new_treasury.to_string()),
                Some(1_000),
                Some(stretched),
                None,
            ),
            &[],
        )
        .unwrap();
    let task = suite.task(id);
    assert_eq!(
        (
            task.fee_bps,
            &task.treasury,
            task.grace_period_secs,
            task.claim_window_secs
        ),
        (FEE_BPS, &old_treasury, GRACE, CLAIM_WINDOW)
    );
    // The task expires on its own grace, not the new 30 days.
    suite.advance_to(task.training_deadline + GRACE);
    let old_before = suite.balance(&old_treasury);
    suite.finalize(id).unwrap();
    // One productive round of two: delivered 5,000, fee 2 % = 100 (not 10 %) to the old
    // treasury, with trainer 1's no-show penalty 25 % × 1/2 = 125.
    assert_eq!(suite.balance(&old_treasury) - old_before, 100 + 125);
    assert_eq!(suite.balance(&new_treasury), 0);
    suite.advance(CLAIM_WINDOW);
    suite.sweep(id).unwrap();
    assert_eq!(suite.balance(&new_treasury), 0);
    // A new task takes the new settings.
    let msg = task_hub::msg::CreateTaskMsg {
        client_cid: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG".into(),
        initial_model_cid: "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG".into(),
        ..suite.task_msg()
    };
    let new = suite.create(msg, POOL).unwrap();
    let task = suite.task(new);
    assert_eq!(
        (task.fee_bps, task.treasury, task.grace_period_secs),
        (1_000, new_treasury, 30 * day)
    );
}

#[test]
fn a_keeper_of_a_live_task_keeps_attesting_after_the_cid_limit_shrinks() {
    let mut suite = Suite::new(2);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(id);
    let admin = suite.admin.clone();
    let short = Limits {
        max_cid_len: 46,
        ..limits()
    };
    suite
        .exec(&admin, &update(None, None, Some(short), None), &[])
        .unwrap();
    assert!(CID.len() > 46);
    suite.round(id, 1, &[(0, 1)]).unwrap();
}

// ----- migration -----

/// A stand-in for whatever is deployed at the address: it only records a cw2 name and version.
#[cw_serde]
struct FakeInit {
    name: String,
    version: String,
}

fn fake_instantiate(
    deps: DepsMut,
    _env: Env,
    _info: MessageInfo,
    msg: FakeInit,
) -> StdResult<Response> {
    cw2::set_contract_version(deps.storage, msg.name, msg.version)?;
    Ok(Response::new())
}

fn fake_execute(_deps: DepsMut, _env: Env, _info: MessageInfo, _msg: Empty) -> StdResult<Response> {
    Ok(Response::new())
}

fn fake_query(_deps: Deps, _env: Env, _msg: Empty) -> StdResult<Binary> {
    to_json_binary(&Empty {})
}

fn migrate_from(name: &str, version: &str) -> Result<(), ContractError> {
    let mut suite = Suite::new(0);
    let fake = suite.app.store_code(Box::new(ContractWrapper::new(
        fake_execute,
        fake_instantiate,
        fake_query,
    )));
    let admin = suite.admin.clone();
    let old = suite
        .app
        .instantiate_contract(
            fake,
            admin.clone(),
            &FakeInit {
                name: name.into(),
                version: version.into(),
            },
            &[],
            "old",
            Some(admin.to_string()),
        )
        .unwrap();
    suite
        .app
        .migrate_contract(admin, old, &MigrateMsg {}, suite.code_id)
        .map(|_| ())
        .map_err(|e| e.downcast().unwrap())
}

#[test]
fn migrate_refuses_another_contract_the_0_1_layout_and_downgrades() {
    const NAME: &str = "crates.io:fedchain-task-hub";
    assert_eq!(
        migrate_from("crates.io:cw20-base", "0.2.0").unwrap_err(),
        ContractError::WrongContract {
            expected: NAME.into(),
            found: "crates.io:cw20-base".into()
        }
    );
    assert_eq!(
        migrate_from(NAME, "0.1.0").unwrap_err(),
        ContractError::MigrationUnsupported {
            from: "0.1.0".into(),
            min: "0.2.0".into()
        }
    );
    assert_eq!(
        migrate_from(NAME, "0.3.0").unwrap_err(),
        ContractError::CannotDowngrade {
            from: "0.3.0".into(),
            to: "0.2.0".into()
        }
    );
    assert_eq!(
        migrate_from(NAME, "0.2").unwrap_err(),
        ContractError::InvalidVersion {
            version: "0.2".into()
        }
    );
    assert_eq!(
        migrate_from(NAME, "0.2.0-rc1").unwrap_err(),
        ContractError::InvalidVersion {
            version: "0.2.0-rc1".into()
        }
    );
    migrate_from(NAME, "0.2.0").unwrap();
}

#[test]
fn migrate_in_place_keeps_state_and_sets_the_version() {
    let mut suite = Suite::new(2);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    let admin = suite.admin.clone();
    let (hub, code_id) = (suite.hub.clone(), suite.code_id);
    let response = suite
        .app
        .migrate_contract(admin, hub.clone(), &MigrateMsg {}, code_id)
        .unwrap();
    assert_eq!(attr(&response, "to_version"), "0.2.0");
    let version = cw2::query_contract_info(&suite.app.wrap(), hub).unwrap();
    assert_eq!(
        (version.contract.as_str(), version.version.as_str()),
        ("crates.io:fedchain-task-hub", "0.2.0")
    );
    assert_eq!(suite.task(id).participants, 2);
}
