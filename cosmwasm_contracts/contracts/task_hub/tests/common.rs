//! A cw-multi-test harness shared by the suites: accounts, a deployed task_hub, helpers.
#![allow(dead_code)]

use cosmwasm_std::{coin, coins, Addr, Coin, Decimal, Empty, Uint128};
use cw_multi_test::{App, AppResponse, Contract, ContractWrapper, Executor};
use task_hub::msg::{
    Contribution, CreateTaskMsg, ExecuteMsg, InstantiateMsg, QueryMsg, RoundMetricsMsg,
};
use task_hub::state::{Config, Limits, Participant, Task};
use task_hub::ContractError;

pub const DENOM: &str = "ufed";
pub const START_BALANCE: u128 = 1_000_000_000_000;
pub const FEE_BPS: u16 = 200;
pub const GRACE: u64 = 100;
pub const CID: &str = "bafkreih2fjop66isr5si35gmadwgg3mi5fhz5tmcdaht7jjbbd7yzxtbc4";
pub const SHA: &str = "fa2a5cff79128f648df4cc00ec636d88e94f9ecd82180f3fa52108ff8cde6117";

pub fn task_hub_code() -> Box<dyn Contract<Empty>> {
    Box::new(
        ContractWrapper::new(
            task_hub::contract::execute,
            task_hub::contract::instantiate,
            task_hub::contract::query,
        )
        .with_migrate(task_hub::contract::migrate),
    )
}

pub fn limits() -> Limits {
    Limits {
        max_trainers_per_task: 20,
        max_rounds: 10,
        grace_period_secs: GRACE,
        max_string_len: 64,
        max_cid_len: 100,
    }
}

pub struct Suite {
    pub app: App,
    pub hub: Addr,
    pub admin: Addr,
    pub org: Addr,
    pub keeper: Addr,
    pub treasury: Addr,
    pub trainers: Vec<Addr>,
    pub outsider: Addr,
    pub code_id: u64,
}

impl Suite {
    pub fn new(trainers: usize) -> Self {
        let mut app = App::default();
        let api = *app.api();
        let admin = api.addr_make("admin");
        let org = api.addr_make("org");
        let keeper = api.addr_make("keeper");
        let treasury = api.addr_make("treasury");
        let outsider = api.addr_make("outsider");
        let trainers: Vec<Addr> = (0..trainers)
            .map(|i| api.addr_make(&format!("trainer{i}")))
            .collect();
        let funded: Vec<Addr> = [&admin, &org, &keeper, &outsider]
            .into_iter()
            .cloned()
            .chain(trainers.iter().cloned())
            .collect();
        app.init_modules(|router, _, storage| {
            for who in &funded {
                router
                    .bank
                    .init_balance(
                        storage,
                        who,
                        vec![coin(START_BALANCE, DENOM), coin(START_BALANCE, "uother")],
                    )
                    .unwrap();
            }
        });
        let code_id = app.store_code(task_hub_code());
        let hub = app
            .instantiate_contract(
                code_id,
                admin.clone(),
                &InstantiateMsg {
                    admin: None,
                    treasury: treasury.to_string(),
                    fee_bps: FEE_BPS,
                    limits: limits(),
                },
                &[],
                "task_hub",
                Some(admin.to_string()),
            )
            .unwrap();
        let mut suite = Suite {
            app,
            hub,
            admin,
            org,
            keeper,
            treasury,
            trainers,
            outsider,
            code_id,
        };
        let org = suite.org.clone();
        suite
            .exec(
                &org,
                &ExecuteMsg::Register {
                    name: "org".into(),
                    organization: true,
                    trainer: false,
                },
                &[],
            )
            .unwrap();
        for t in suite.trainers.clone() {
            suite
                .exec(
                    &t,
                    &ExecuteMsg::Register {
                        name: "t".into(),
                        organization: false,
                        trainer: true,
                    },
                    &[],
                )
                .unwrap();
        }
        suite
    }

    pub fn now(&self) -> u64 {
        self.app.block_info().time.seconds()
    }

    pub fn advance(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += 1;
        });
    }

    pub fn exec(
        &mut self,
        sender: &Addr,
        msg: &ExecuteMsg,
        funds: &[Coin],
    ) -> Result<AppResponse, ContractError> {
        self.app
            .execute_contract(sender.clone(), self.hub.clone(), msg, funds)
            .map_err(|e| e.downcast().unwrap())
    }

    pub fn task_msg(&self) -> CreateTaskMsg {
        CreateTaskMsg {
            model_name: "digits".into(),
            description: "logistic regression on digits".into(),
            client_cid: CID.into(),
            client_sha256: SHA.into(),
            initial_model_cid: CID.into(),
            initial_model_sha256: SHA.into(),
            rounds: 2,
            min_trainers: 2,
            max_trainers: 5,
            stake: Uint128::new(1_000),
            join_deadline: self.now() + 100,
            training_deadline: self.now() + 1_000,
            keeper: self.keeper.to_string(),
            no_show_penalty_bps: 1_000,
            slash_bps: 5_000,
        }
    }

    pub fn create(&mut self, msg: CreateTaskMsg, pool: u128) -> Result<u64, ContractError> {
        let org = self.org.clone();
        let response = self.exec(&org, &ExecuteMsg::CreateTask(msg), &coins(pool, DENOM))?;
        let id = response
            .events
            .iter()
            .flat_map(|e| e.attributes.iter())
            .find(|a| a.key == "task_id")
            .unwrap()
            .value
            .parse()
            .unwrap();
        Ok(id)
    }

    pub fn join(
        &mut self,
        trainer: usize,
        task_id: u64,
        stake: u128,
    ) -> Result<AppResponse, ContractError> {
        let who = self.trainers[trainer].clone();
        self.exec(
            &who,
            &ExecuteMsg::JoinTask { task_id },
            &coins(stake, DENOM),
        )
    }

    pub fn round(
        &mut self,
        task_id: u64,
        round: u32,
        contributors: &[(usize, u128)],
    ) -> Result<AppResponse, ContractError> {
        let keeper = self.keeper.clone();
        let contributors = contributors
            .iter()
            .map(|(i, w)| Contribution {
                trainer: self.trainers[*i].to_string(),
                weight: Uint128::new(*w),
            })
            .collect();
        self.exec(
            &keeper,
            &ExecuteMsg::SubmitRound {
                task_id,
                round,
                model_cid: CID.into(),
                model_sha256: SHA.into(),
                metrics: metrics(),
                contributors,
            },
            &[],
        )
    }

    pub fn task(&self, task_id: u64) -> Task {
        self.app
            .wrap()
            .query_wasm_smart(&self.hub, &QueryMsg::Task { task_id })
            .unwrap()
    }

    pub fn participant(&self, task_id: u64, who: &Addr) -> Option<Participant> {
        self.app
            .wrap()
            .query_wasm_smart(
                &self.hub,
                &QueryMsg::Participant {
                    task_id,
                    trainer: who.to_string(),
                },
            )
            .unwrap()
    }

    pub fn config(&self) -> Config {
        self.app
            .wrap()
            .query_wasm_smart(&self.hub, &QueryMsg::Config {})
            .unwrap()
    }

    pub fn balance(&self, who: &Addr) -> u128 {
        self.app
            .wrap()
            .query_balance(who, DENOM)
            .unwrap()
            .amount
            .u128()
    }

    pub fn claimable(&self, task_id: u64, who: &Addr) -> u128 {
        let r: task_hub::msg::ClaimableResponse = self
            .app
            .wrap()
            .query_wasm_smart(
                &self.hub,
                &QueryMsg::Claimable {
                    task_id,
                    address: who.to_string(),
                },
            )
            .unwrap();
        r.amount.u128()
    }
}

pub fn metrics() -> RoundMetricsMsg {
    RoundMetricsMsg {
        loss: Decimal::percent(50),
        accuracy: Decimal::percent(80),
        examples: 100,
    }
}
