//! Paying for measured contribution: the task names its scoring method and validation set, and a
//! measured round shares a fixed budget of weight (issue 16).

mod common;

use common::*;
use cosmwasm_std::Uint128;
use task_hub::msg::{Scoring, ROUND_WEIGHT};
use task_hub::ContractError;

const VALIDATION_SHA: &str = "aa2a5cff79128f648df4cc00ec636d88e94f9ecd82180f3fa52108ff8cde6117";

fn measured(suite: &Suite) -> task_hub::msg::CreateTaskMsg {
    let mut msg = suite.task_msg();
    msg.scoring = Scoring::Measured;
    msg.validation_sha256 = Some(VALIDATION_SHA.into());
    msg
}

#[test]
fn a_measured_task_must_name_a_well_formed_validation_set() {
    let mut suite = Suite::new(3);
    let mut msg = measured(&suite);
    msg.validation_sha256 = None;
    assert_eq!(
        suite.create(msg, POOL).unwrap_err(),
        ContractError::MeasuredScoringNeedsValidationSet {}
    );
    let mut msg = measured(&suite);
    msg.validation_sha256 = Some("not-a-sha".into());
    assert!(matches!(
        suite.create(msg, POOL).unwrap_err(),
        ContractError::InvalidSha256 { .. }
    ));
    let id = suite.create(measured(&suite), POOL).unwrap();
    let task = suite.task(id);
    assert_eq!(task.scoring, Scoring::Measured);
    assert_eq!(task.validation_sha256.as_deref(), Some(VALIDATION_SHA));
}

#[test]
fn omitted_scoring_fields_mean_claimed_examples() {
    let mut suite = Suite::new(3);
    let mut body = serde_json::to_value(suite.task_msg()).unwrap();
    body.as_object_mut().unwrap().remove("scoring");
    body.as_object_mut().unwrap().remove("validation_sha256");
    let msg = serde_json::from_value(body).unwrap();
    let id = suite.create(msg, POOL).unwrap();
    assert_eq!(suite.task(id).scoring, Scoring::ClaimedExamples);
    assert_eq!(suite.task(id).validation_sha256, None);
}

#[test]
fn a_measured_round_shares_a_fixed_budget_and_is_not_held_to_the_example_cap() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(measured(&suite), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    let budget = ROUND_WEIGHT;
    assert_eq!(
        suite
            .round(id, 1, &[(0, 600_000), (1, 400_001)])
            .unwrap_err(),
        ContractError::RoundWeightAboveBudget {
            total: Uint128::new(budget + 1),
            budget: Uint128::new(budget),
        }
    );
    assert!(matches!(
        suite.round(id, 1, &[(0, budget + 1)]).unwrap_err(),
        ContractError::WeightAboveCap { .. }
    ));
    assert!(matches!(
        suite.round(id, 1, &[(0, 0), (1, 400_000)]).unwrap_err(),
        ContractError::ZeroWeight { .. }
    ));
    // 600,000 is far above the task's example cap of 1,000: measured weights are shares of the budget
    suite.round(id, 1, &[(0, 600_000), (1, 400_000)]).unwrap();
    suite.round(id, 2, &[(1, budget)]).unwrap();
    let task = suite.task(id);
    assert_eq!(task.total_weight, Uint128::new(2 * budget));
    assert_eq!(task.contributors_count, 2); // trainer 2 never added anything: a no-show
}

#[test]
fn a_claimed_examples_round_keeps_the_example_cap() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    assert!(matches!(
        suite.round(id, 1, &[(0, 1_001)]).unwrap_err(),
        ContractError::WeightAboveCap { .. }
    ));
    suite
        .round(id, 1, &[(0, 1_000), (1, 1_000), (2, 1_000)])
        .unwrap();
}

#[test]
fn a_round_records_its_score_table_and_refuses_a_bad_cid() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(measured(&suite), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    assert!(matches!(
        suite
            .scored_round(id, 1, &[(0, 10)], Some("not a cid"))
            .unwrap_err(),
        ContractError::InvalidCid { .. }
    ));
    let response = suite.scored_round(id, 1, &[(0, 10)], Some(CID)).unwrap();
    assert_eq!(attr(&response, "scores_cid"), CID);
    let unscored = suite.round(id, 2, &[(0, 10)]).unwrap();
    let keys = unscored.events.iter().flat_map(|e| e.attributes.iter());
    assert!(keys.clone().any(|a| a.key == "model_cid"));
    assert!(!keys.clone().any(|a| a.key == "scores_cid"));
    let recorded = suite.rounds(id).rounds;
    assert_eq!(recorded[0].scores_cid.as_deref(), Some(CID));
    assert_eq!(recorded[1].scores_cid, None);
}
