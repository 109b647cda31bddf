//! Queries: typed errors, *Response shapes, and the bounded task list (review finding 7).

mod common;

use std::cell::Cell;

use common::*;
use cosmwasm_std::testing::{message_info, mock_dependencies, mock_env, MockApi};
use cosmwasm_std::{coins, from_json, Addr, Decimal, Deps, Order, QuerierWrapper, Record, Storage};
use cw_multi_test::Executor;
use task_hub::msg::{
    CreateTaskMsg, ExecuteMsg, InstantiateMsg, ParticipantsResponse, QueryMsg, Scoring,
    TasksResponse,
};
use task_hub::state::TaskStatus;
use task_hub::ContractError;

fn tasks_query(
    status: Option<TaskStatus>,
    organization: Option<&Addr>,
    keeper: Option<&Addr>,
    start_after: Option<u64>,
    limit: Option<u32>,
) -> QueryMsg {
    QueryMsg::Tasks {
        status,
        organization: organization.map(Addr::to_string),
        keeper: keeper.map(Addr::to_string),
        start_after,
        limit,
    }
}

fn ids(suite: &Suite, msg: &QueryMsg) -> (Vec<u64>, Option<u64>) {
    let r: TasksResponse = suite.app.wrap().query_wasm_smart(&suite.hub, msg).unwrap();
    (r.tasks.iter().map(|t| t.id).collect(), r.next_start_after)
}

#[test]
fn an_unknown_task_is_a_typed_not_found() {
    let suite = Suite::new(0);
    let err = suite
        .app
        .wrap()
        .query_wasm_smart::<task_hub::msg::TaskResponse>(&suite.hub, &QueryMsg::Task { task_id: 7 })
        .unwrap_err();
    assert!(err.to_string().contains("task 7 not found"), "{err}");

    let deps = mock_dependencies();
    let someone = deps.api.addr_make("someone").to_string();
    for msg in [
        QueryMsg::Task { task_id: 7 },
        QueryMsg::Participants {
            task_id: 7,
            start_after: None,
            limit: None,
        },
        QueryMsg::Participant {
            task_id: 7,
            trainer: someone.clone(),
        },
        QueryMsg::Rounds {
            task_id: 7,
            start_after: None,
            limit: None,
        },
        QueryMsg::Slashes {
            task_id: 7,
            start_after: None,
            limit: None,
        },
        QueryMsg::Claimable {
            task_id: 7,
            address: someone.clone(),
        },
    ] {
        assert_eq!(
            task_hub::contract::query(deps.as_ref(), mock_env(), msg).unwrap_err(),
            ContractError::TaskNotFound { task_id: 7 }
        );
    }
    assert_eq!(
        ContractError::TaskNotFound { task_id: 7 }.to_string(),
        "task 7 not found"
    );
}

#[test]
fn task_lists_filter_by_status_organization_and_keeper_and_follow_status_changes() {
    let mut suite = Suite::new(2);
    let org2 = suite.addr("org2");
    let keeper2 = suite.addr("keeper2");
    let org = suite.org.clone();
    for who in [&org2, &keeper2] {
        suite
            .app
            .send_tokens(org.clone(), who.clone(), &coins(10 * POOL, DENOM))
            .unwrap();
    }
    suite.register(&org2, true, false).unwrap();
    suite.register_keeper(&keeper2, 0).unwrap();
    let keeper = suite.keeper.clone();
    let t1 = suite.create(suite.task_msg(), POOL).unwrap(); // org, keeper: proposed
    let t2 = suite.open_task(suite.task_msg(), POOL, &[0, 1]); // org, keeper: -> running
    let with_keeper2 = CreateTaskMsg {
        keeper: keeper2.to_string(),
        ..suite.task_msg()
    };
    let t3 = suite.create(with_keeper2.clone(), POOL).unwrap(); // org, keeper2: -> cancelled
    let t4 = suite.create_by(&org2, with_keeper2, POOL).unwrap(); // org2, keeper2: -> open
    let t5 = suite.create_by(&org2, suite.task_msg(), POOL).unwrap(); // org2, keeper: proposed
    suite.accept(t4).unwrap();
    suite.cancel(t3).unwrap();
    suite.close_joins(t2);
    suite.round(t2, 1, &[(0, 1)]).unwrap();

    use TaskStatus::*;
    let q = |s, o, k| tasks_query(s, o, k, None, Some(100));
    let cases: Vec<(QueryMsg, Vec<u64>)> = vec![
        (q(None, None, None), vec![t1, t2, t3, t4, t5]),
        (q(Some(Proposed), None, None), vec![t1, t5]),
        (q(Some(Running), None, None), vec![t2]),
        (q(Some(Open), None, None), vec![t4]),
        (q(Some(Cancelled), None, None), vec![t3]),
        (q(None, Some(&org), None), vec![t1, t2, t3]),
        (q(None, Some(&org2), None), vec![t4, t5]),
        (q(None, None, Some(&keeper)), vec![t1, t2, t5]),
        (q(None, None, Some(&keeper2)), vec![t3, t4]),
        (q(Some(Proposed), Some(&org2), None), vec![t5]),
        (q(Some(Running), None, Some(&keeper)), vec![t2]),
        (q(None, Some(&org), Some(&keeper2)), vec![t3]),
        (q(Some(Open), Some(&org2), Some(&keeper2)), vec![t4]),
        (q(Some(Finalized), None, None), vec![]),
    ];
    for (msg, expected) in cases {
        assert_eq!(ids(&suite, &msg), (expected, None), "{msg:?}");
    }
    // Paging: a full page says where to go on; the last, short page says nothing more follows.
    assert_eq!(
        ids(&suite, &tasks_query(None, None, None, None, Some(2))),
        (vec![t1, t2], Some(t2))
    );
    assert_eq!(
        ids(&suite, &tasks_query(None, None, None, Some(t2), Some(2))),
        (vec![t3, t4], Some(t4))
    );
    assert_eq!(
        ids(&suite, &tasks_query(None, None, None, Some(t4), Some(2))),
        (vec![t5], None)
    );
    // A limit of 0 still moves on.
    assert_eq!(
        ids(&suite, &tasks_query(None, None, None, None, Some(0))),
        (vec![t1], Some(t1))
    );
    // Finalizing moves a task between status lists.
    suite.round(t2, 2, &[(0, 1)]).unwrap();
    suite.finalize(t2).unwrap();
    assert_eq!(ids(&suite, &q(Some(Running), None, None)), (vec![], None));
    assert_eq!(
        ids(&suite, &q(Some(Finalized), Some(&org), Some(&keeper))),
        (vec![t2], None)
    );
}

/// Counts every key/value the query reads from storage.
struct CountingStorage<'a> {
    inner: &'a dyn Storage,
    reads: &'a Cell<usize>,
}

impl Storage for CountingStorage<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(key)
    }

    fn range<'a>(
        &'a self,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        order: Order,
    ) -> Box<dyn Iterator<Item = Record> + 'a> {
        let reads = self.reads;
        Box::new(
            self.inner
                .range(start, end, order)
                .inspect(move |_| reads.set(reads.get() + 1)),
        )
    }

    fn set(&mut self, _key: &[u8], _value: &[u8]) {
        unreachable!("queries do not write")
    }

    fn remove(&mut self, _key: &[u8]) {
        unreachable!("queries do not write")
    }
}

/// Review finding 7: with 600 tasks, a two-filter query with limit 1 examines one index entry
/// per call (an index read plus the task's two records), and pages on with next_start_after
/// until it reaches the one matching task.
#[test]
fn a_two_filter_task_query_examines_at_most_limit_entries() {
    let mut deps = mock_dependencies();
    let api = MockApi::default();
    let (admin, org_a, org_b, keeper) = (
        api.addr_make("admin"),
        api.addr_make("org-a"),
        api.addr_make("org-b"),
        api.addr_make("keeper"),
    );
    let env = mock_env();
    let exec =
        |deps: &mut cosmwasm_std::OwnedDeps<_, _, _>, who: &Addr, msg: ExecuteMsg, funds: u128| {
            let funds = if funds == 0 {
                vec![]
            } else {
                coins(funds, DENOM)
            };
            task_hub::contract::execute(deps.as_mut(), env.clone(), message_info(who, &funds), msg)
                .unwrap();
        };
    task_hub::contract::instantiate(
        deps.as_mut(),
        env.clone(),
        message_info(&admin, &[]),
        InstantiateMsg {
            admin: None,
            treasury: api.addr_make("treasury").to_string(),
            fee_bps: FEE_BPS,
            limits: limits(),
        },
    )
    .unwrap();
    for org in [&org_a, &org_b] {
        let msg = ExecuteMsg::Register {
            name: "org".into(),
            organization: true,
            trainer: false,
        };
        exec(&mut deps, org, msg, 0);
    }
    let msg = ExecuteMsg::RegisterKeeper {
        name: "keeper".into(),
        endpoint: "keeper.example.org:9092".into(),
        tls_cert_sha256: None,
        fee_bps: 0,
    };
    exec(&mut deps, &keeper, msg, 0);
    let now = env.block.time.seconds();
    let task = CreateTaskMsg {
        model_name: "m".into(),
        description: "".into(),
        client_cid: CID.into(),
        client_sha256: SHA.into(),
        initial_model_cid: CID.into(),
        initial_model_sha256: SHA.into(),
        rounds: 1,
        min_trainers: 1,
        max_trainers: 1,
        stake: 1u128.into(),
        join_deadline: now + 100,
        training_deadline: now + 200,
        keeper: keeper.to_string(),
        keeper_bond: 1u128.into(),
        max_keeper_fee_bps: 0,
        no_show_penalty_bps: 0,
        slash_bps: 0,
        max_examples_per_trainer: 1,
        max_update_norm: Decimal::one(),
        round_timeout_secs: 5,
        scoring: Scoring::ClaimedExamples,
        validation_sha256: None,
        metric: task_hub::msg::TaskMetric::default(),
    };
    for id in 1..=600u64 {
        let org = if id == 600 { &org_b } else { &org_a };
        exec(&mut deps, org, ExecuteMsg::CreateTask(task.clone()), 1);
    }

    let reads = Cell::new(0);
    let counting = CountingStorage {
        inner: &deps.storage,
        reads: &reads,
    };
    // An examined entry costs its index key and the task's terms (to check the organization);
    // a returned task also its state, model description and settlement: at most 5 reads per
    // call with limit 1, whatever the number of tasks.
    let query = |start_after: Option<u64>| -> TasksResponse {
        reads.set(0);
        let counted = Deps {
            storage: &counting,
            api: &deps.api,
            querier: QuerierWrapper::new(&deps.querier),
        };
        let msg = tasks_query(None, Some(&org_b), Some(&keeper), start_after, Some(1));
        let page: TasksResponse =
            from_json(task_hub::contract::query(counted, mock_env(), msg).unwrap()).unwrap();
        let most = if page.tasks.is_empty() { 2 } else { 5 };
        assert!(reads.get() <= most, "read {} entries", reads.get());
        page
    };
    let first = query(None);
    assert_eq!((first.tasks.len(), first.next_start_after), (0, Some(1)));
    let mut start_after = first.next_start_after;
    let mut pages = 1;
    let mut found = vec![];
    while let Some(after) = start_after {
        let page = query(Some(after));
        found.extend(page.tasks.iter().map(|t| t.id));
        start_after = page.next_start_after;
        pages += 1;
    }
    assert_eq!(found, vec![600]);
    assert_eq!(
        pages, 601,
        "600 entries one by one, then an empty last page"
    );

    // The single-filter and status lists walk their own index directly.
    let counted = Deps {
        storage: &counting,
        api: &deps.api,
        querier: QuerierWrapper::new(&deps.querier),
    };
    reads.set(0);
    let msg = tasks_query(
        Some(TaskStatus::Proposed),
        Some(&org_b),
        None,
        None,
        Some(1),
    );
    let page: TasksResponse =
        from_json(task_hub::contract::query(counted, mock_env(), msg).unwrap()).unwrap();
    assert_eq!(page.tasks[0].id, 600);
    assert!(reads.get() <= 5);
    // The limit is capped at 100.
    let msg = tasks_query(Some(TaskStatus::Proposed), None, None, None, Some(1_000));
    let page: TasksResponse =
        from_json(task_hub::contract::query(counted, mock_env(), msg).unwrap()).unwrap();
    assert_eq!((page.tasks.len(), page.next_start_after), (100, Some(100)));
}

#[test]
fn participants_page_by_address_and_profiles_show_the_keeper() {
    let mut suite = Suite::new(5);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2, 3, 4]);
    let page = |suite: &Suite, start_after: Option<String>| -> ParticipantsResponse {
        suite
            .app
            .wrap()
            .query_wasm_smart(
                &suite.hub,
                &QueryMsg::Participants {
                    task_id: id,
                    start_after,
                    limit: Some(2),
                },
            )
            .unwrap()
    };
    let mut seen = vec![];
    let mut start_after = None;
    loop {
        let p = page(&suite, start_after.clone());
        if p.participants.is_empty() {
            break;
        }
        start_after = Some(p.participants.last().unwrap().trainer.to_string());
        seen.extend(p.participants.into_iter().map(|p| p.trainer));
    }
    let mut expected = suite.trainers.clone();
    expected.sort();
    assert_eq!(seen, expected);

    let keeper = suite.profile(&suite.keeper.clone()).unwrap();
    let info = keeper.keeper.unwrap();
    assert_eq!((info.tasks_accepted, info.fee_bps), (1, KEEPER_FEE_BPS));
    let trainer = suite.profile(&suite.trainers[0].clone()).unwrap();
    assert_eq!((trainer.tasks_joined, trainer.is_trainer), (1, true));
    assert!(suite.profile(&suite.outsider.clone()).is_none());
    let config = suite.config();
    assert_eq!(
        (
            config.treasury,
            config.fee_bps,
            config.next_task_id,
            config.limits
        ),
        (suite.treasury.clone(), FEE_BPS, 2, limits())
    );
}
