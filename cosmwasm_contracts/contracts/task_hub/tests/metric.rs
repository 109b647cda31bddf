//! A task names the metric its rounds report (issue 17): accuracy by default, or any other
//! (MSE for a regression, F1, perplexity), with its direction and, if it has one, its upper bound.

mod common;

use common::*;
use cosmwasm_std::{Decimal, Uint128};
use task_hub::msg::{
    Contribution, CreateTaskMsg, ExecuteMsg, RoundMetrics, SubmitRoundMsg, TaskMetric,
};
use task_hub::ContractError;

fn mse() -> TaskMetric {
    TaskMetric {
        name: "mse".into(),
        higher_is_better: false,
        at_most: None,
    }
}

fn submit(suite: &mut Suite, id: u64, metric: &str, value: Decimal) -> Result<(), ContractError> {
    let keeper = suite.task(id).keeper;
    let msg = ExecuteMsg::SubmitRound(SubmitRoundMsg {
        task_id: id,
        round: 1,
        model_cid: CID.into(),
        model_sha256: SHA.into(),
        metrics: RoundMetrics {
            loss: Decimal::percent(50),
            metric: metric.into(),
            value,
            examples: 10,
        },
        contributors: vec![Contribution {
            trainer: suite.trainers[0].to_string(),
            weight: Uint128::new(10),
        }],
        scores_cid: None,
    });
    suite.exec(&keeper, &msg, &[]).map(|_| ())
}

#[test]
fn a_task_without_a_metric_reports_accuracy_at_most_one() {
    let mut suite = Suite::new(3);
    let mut body = serde_json::to_value(suite.task_msg()).unwrap();
    body.as_object_mut().unwrap().remove("metric");
    let msg: CreateTaskMsg = serde_json::from_value(body).unwrap();
    let id = suite.open_task(msg, POOL, &[0, 1]);
    assert_eq!(suite.task(id).metric, TaskMetric::default());
    suite.close_joins(id);
    assert_eq!(
        submit(&mut suite, id, "accuracy", Decimal::percent(101)).unwrap_err(),
        ContractError::MetricOutOfRange {
            metric: "accuracy".into()
        }
    );
    submit(&mut suite, id, "accuracy", Decimal::one()).unwrap();
}

#[test]
fn a_regression_task_reports_its_unbounded_error_under_its_own_name() {
    let mut suite = Suite::new(3);
    let mut msg = suite.task_msg();
    msg.metric = mse();
    let id = suite.open_task(msg, POOL, &[0, 1]);
    assert_eq!(suite.task(id).metric, mse());
    suite.close_joins(id);
    assert_eq!(
        submit(&mut suite, id, "accuracy", Decimal::percent(90)).unwrap_err(),
        ContractError::WrongMetric {
            expected: "mse".into()
        }
    );
    let value = Decimal::from_ratio(291_325u128, 100u128); // an MSE of 2913.25: no bound applies
    submit(&mut suite, id, "mse", value).unwrap();
    let rounds = suite.rounds(id);
    assert_eq!(rounds.rounds[0].metrics.metric, "mse");
    assert_eq!(rounds.rounds[0].metrics.value, value);
}

#[test]
fn a_metric_needs_a_short_lowercase_name_and_a_positive_bound() {
    let mut suite = Suite::new(3);
    let bad = [
        ("", None),
        ("Accuracy", None),
        ("mean squared error", None),
        ("a_name_longer_than_thirty_two_chars", None),
        ("f1", Some(Decimal::zero())),
    ];
    for (name, at_most) in bad {
        let mut msg = suite.task_msg();
        msg.metric = TaskMetric {
            name: name.into(),
            higher_is_better: true,
            at_most,
        };
        assert_eq!(
            suite.create(msg, POOL).unwrap_err(),
            ContractError::InvalidMetric {},
            "{name:?}"
        );
    }
    let mut msg = suite.task_msg();
    msg.metric = TaskMetric {
        name: "f1".into(),
        higher_is_better: true,
        at_most: Some(Decimal::one()),
    };
    suite.create(msg, POOL).unwrap();
}
