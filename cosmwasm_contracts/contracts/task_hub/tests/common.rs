//! A cw-multi-test harness shared by the suites: a chain with the `wasm` address prefix, a
//! deployed task_hub, an organization, a registered keeper, a treasury, and trainers whose
//! addresses are derived from real secp256k1 keys (ripemd160(sha256(compressed key)), bech32),
//! so that the contract's on-chain check of a trainer's signed claim is exercised for real.
#![allow(dead_code)]

use cosmwasm_std::{coin, coins, Addr, Binary, CanonicalAddr, Coin, Decimal, Uint128};
use cw_multi_test::{
    App, AppBuilder, AppResponse, BankKeeper, ContractWrapper, Executor, MockApiBech32,
};
use k256::ecdsa::signature::Signer;
use k256::ecdsa::{Signature, SigningKey};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use task_hub::msg::{
    ClaimableResponse, ConfigResponse, Contribution, CreateTaskMsg, ExecuteMsg, InstantiateMsg,
    Limits, ParticipantResponse, ProfileResponse, QueryMsg, RoundMetrics, RoundsResponse, Scoring,
    SignedClaim, SlashEvidence, SlashMsg, SlashReason, SubmitRoundMsg, TaskMetric, TaskResponse,
};
use task_hub::ContractError;

pub type ChainApp = App<BankKeeper, MockApiBech32>;

pub const DENOM: &str = "ufed";
pub const PREFIX: &str = "wasm";
pub const CHAIN_ID: &str = "fedchain-test";
pub const START_BALANCE: u128 = 1_000_000_000_000;
pub const FEE_BPS: u16 = 200;
pub const KEEPER_FEE_BPS: u16 = 500;
pub const GRACE: u64 = 100;
pub const CLAIM_WINDOW: u64 = 1_000;
pub const POOL: u128 = 10_000;
pub const STAKE: u128 = 1_000;
pub const BOND: u128 = 2_000;
pub const CID: &str = "bafkreih2fjop66isr5si35gmadwgg3mi5fhz5tmcdaht7jjbbd7yzxtbc4";
pub const SHA: &str = "fa2a5cff79128f648df4cc00ec636d88e94f9ecd82180f3fa52108ff8cde6117";

pub fn limits() -> Limits {
    Limits {
        max_trainers_per_task: 20,
        max_rounds: 10,
        grace_period_secs: GRACE,
        claim_window_secs: CLAIM_WINDOW,
        max_string_len: 64,
        max_cid_len: 100,
    }
}

/// The compressed secp256k1 public key of `key` (33 bytes).
pub fn public_key(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_encoded_point(true)
        .as_bytes()
        .to_vec()
}

/// A Cosmos account address's bytes: ripemd160(sha256(compressed public key)).
pub fn account_bytes(key: &SigningKey) -> Vec<u8> {
    Ripemd160::digest(Sha256::digest(public_key(key))).to_vec()
}

/// A deterministic key per name, so every run (and the Python cross-check) sees the same keys.
/// A trainer's Flower node key (P-256), distinct per `seed`.
pub fn node_signing_key(seed: usize) -> p256::ecdsa::SigningKey {
    let mut secret = [0x11u8; 32];
    secret[31] = seed as u8 + 1;
    p256::ecdsa::SigningKey::from_bytes(&secret.into()).unwrap()
}

/// The node key of `seed` as task_hub takes it: base64 of its SubjectPublicKeyInfo.
pub fn node_key(seed: usize) -> String {
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    let point = node_signing_key(seed)
        .verifying_key()
        .to_encoded_point(false);
    der.extend_from_slice(point.as_bytes());
    Binary::from(der).to_base64()
}

/// The node key of `seed`'s proof that `trainer` names it in `task_id` of `contract`.
pub fn node_key_proof(seed: usize, contract: &Addr, task_id: u64, trainer: &Addr) -> String {
    let statement = format!("fedchain node key v1\n{contract}\n{task_id}\n{trainer}");
    let signature: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(&node_signing_key(seed), statement.as_bytes());
    Binary::from(
        signature
            .normalize_s()
            .unwrap_or(signature)
            .to_bytes()
            .to_vec(),
    )
    .to_base64()
}

pub fn key_for(name: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(name.as_bytes())).unwrap()
}

/// The ADR-036 sign doc of `data` by `signer`, built independently of the contract's code.
pub fn adr036_sign_doc(signer: &str, data: &[u8]) -> Vec<u8> {
    let doc = serde_json::json!({
        "account_number": "0",
        "chain_id": "",
        "fee": {"amount": [], "gas": "0"},
        "memo": "",
        "msgs": [{"type": "sign/MsgSignData", "value": {"data": Binary::from(data).to_base64(), "signer": signer}}],
        "sequence": "0",
    });
    // serde_json's map is ordered by key (no preserve_order feature): canonical JSON.
    serde_json::to_vec(&doc).unwrap()
}

/// sha256 of the sign doc, RFC 6979 deterministic, low-S: what cosmpy's PrivateKey.sign does.
pub fn sign_bytes(key: &SigningKey, signer: &str, data: &[u8]) -> Vec<u8> {
    let signature: Signature = key.sign(&adr036_sign_doc(signer, data));
    let signature = signature.normalize_s().unwrap_or(signature);
    signature.to_bytes().to_vec()
}

/// The sha256 of the global model a test claim says it trained from.
pub const BASE: &str = "5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f";

/// The claim payload as fedchain's Python signs it: canonical JSON, sorted keys, no spaces.
pub fn claim_payload(
    chain_id: &str,
    contract: &str,
    task_id: u64,
    round: u32,
    digest: &str,
    num_examples: u64,
) -> Vec<u8> {
    format!(
        r#"{{"base":"{BASE}","chain_id":"{chain_id}","contract":"{contract}","digest":"{digest}","kind":"update","num_examples":{num_examples},"round":{round},"task_id":{task_id},"v":2}}"#
    )
    .into_bytes()
}

pub struct Suite {
    pub app: ChainApp,
    pub hub: Addr,
    pub code_id: u64,
    pub admin: Addr,
    pub org: Addr,
    pub keeper: Addr,
    pub treasury: Addr,
    pub outsider: Addr,
    pub trainers: Vec<Addr>,
    pub keys: Vec<SigningKey>,
}

impl Suite {
    pub fn new(trainers: usize) -> Self {
        let api = MockApiBech32::new(PREFIX);
        let admin = api.addr_make("admin");
        let org = api.addr_make("org");
        let keeper = api.addr_make("keeper");
        let treasury = api.addr_make("treasury");
        let outsider = api.addr_make("outsider");
        let keys: Vec<SigningKey> = (0..trainers)
            .map(|i| key_for(&format!("trainer{i}")))
            .collect();
        let trainers: Vec<Addr> = keys
            .iter()
            .map(|k| {
                use cosmwasm_std::Api;
                api.addr_humanize(&CanonicalAddr::from(account_bytes(k)))
                    .unwrap()
            })
            .collect();
        let funded: Vec<Addr> = [&admin, &org, &keeper, &outsider]
            .into_iter()
            .cloned()
            .chain(trainers.iter().cloned())
            .collect();
        let mut app = AppBuilder::new().with_api(api).build(|router, _, storage| {
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
        app.update_block(|b| b.chain_id = CHAIN_ID.into());
        let code_id = app.store_code(Box::new(
            ContractWrapper::new(
                task_hub::contract::execute,
                task_hub::contract::instantiate,
                task_hub::contract::query,
            )
            .with_migrate(task_hub::contract::migrate),
        ));
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
            code_id,
            admin,
            org,
            keeper,
            treasury,
            outsider,
            trainers,
            keys,
        };
        let org = suite.org.clone();
        suite.register(&org, true, false).unwrap();
        let keeper = suite.keeper.clone();
        suite.register_keeper(&keeper, KEEPER_FEE_BPS).unwrap();
        for t in suite.trainers.clone() {
            suite.register(&t, false, true).unwrap();
        }
        suite
    }

    pub fn addr(&self, name: &str) -> Addr {
        self.app.api().addr_make(name)
    }

    pub fn now(&self) -> u64 {
        self.app.block_info().time.seconds()
    }

    pub fn height(&self) -> u64 {
        self.app.block_info().height
    }

    /// Moves to a later block, `seconds` later.
    pub fn advance(&mut self, seconds: u64) {
        self.app.update_block(|b| {
            b.time = b.time.plus_seconds(seconds);
            b.height += 1;
        });
    }

    /// Moves to the first block at or after `time`.
    pub fn advance_to(&mut self, time: u64) {
        let now = self.now();
        self.advance(time.saturating_sub(now));
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

    pub fn register(
        &mut self,
        who: &Addr,
        organization: bool,
        trainer: bool,
    ) -> Result<AppResponse, ContractError> {
        let msg = ExecuteMsg::Register {
            name: "someone".into(),
            organization,
            trainer,
        };
        self.exec(who, &msg, &[])
    }

    pub fn register_keeper(
        &mut self,
        who: &Addr,
        fee_bps: u16,
    ) -> Result<AppResponse, ContractError> {
        let msg = ExecuteMsg::RegisterKeeper {
            name: "keeper".into(),
            endpoint: "keeper.example.org:9092".into(),
            tls_cert_sha256: Some(SHA.into()),
            fee_bps,
        };
        self.exec(who, &msg, &[])
    }

    /// Two rounds, 2..=5 trainers, stake 1,000, bond 2,000, joins close in 100 s, training in
    /// 1,000 s, no-show 25 %, slash 50 %.
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
            stake: Uint128::new(STAKE),
            join_deadline: self.now() + 100,
            training_deadline: self.now() + 1_000,
            keeper: self.keeper.to_string(),
            keeper_bond: Uint128::new(BOND),
            max_keeper_fee_bps: 2_000,
            no_show_penalty_bps: 2_500,
            slash_bps: 5_000,
            max_examples_per_trainer: 1_000,
            max_update_norm: Decimal::from_ratio(50u128, 1u128),
            round_timeout_secs: 60,
            scoring: Scoring::ClaimedExamples,
            validation_sha256: None,
            metric: TaskMetric::default(),
        }
    }

    pub fn create_by(
        &mut self,
        org: &Addr,
        msg: CreateTaskMsg,
        pool: u128,
    ) -> Result<u64, ContractError> {
        let response = self.exec(org, &ExecuteMsg::CreateTask(msg), &coins(pool, DENOM))?;
        Ok(attr(&response, "task_id").parse().unwrap())
    }

    pub fn create(&mut self, msg: CreateTaskMsg, pool: u128) -> Result<u64, ContractError> {
        let org = self.org.clone();
        self.create_by(&org, msg, pool)
    }

    pub fn accept(&mut self, task_id: u64) -> Result<AppResponse, ContractError> {
        let task = self.task(task_id);
        let keeper = task.keeper.clone();
        self.exec(
            &keeper,
            &ExecuteMsg::AcceptTask { task_id },
            &coins(task.keeper_bond.u128(), DENOM),
        )
    }

    pub fn join(&mut self, trainer: usize, task_id: u64) -> Result<AppResponse, ContractError> {
        let stake = self.task(task_id).stake.u128();
        self.join_with(trainer, task_id, &coins(stake, DENOM))
    }

    pub fn join_with(
        &mut self,
        trainer: usize,
        task_id: u64,
        funds: &[Coin],
    ) -> Result<AppResponse, ContractError> {
        let who = self.trainers[trainer].clone();
        let msg = ExecuteMsg::JoinTask {
            task_id,
            node_public_key: Some(node_key(trainer)),
            node_key_proof: Some(node_key_proof(trainer, &self.hub, task_id, &who)),
        };
        self.exec(&who, &msg, funds)
    }

    pub fn leave(&mut self, trainer: usize, task_id: u64) -> Result<AppResponse, ContractError> {
        let who = self.trainers[trainer].clone();
        self.exec(&who, &ExecuteMsg::LeaveTask { task_id }, &[])
    }

    /// `trainer` names the node key of `seed`, proving it holds that key.
    pub fn set_node_key(
        &mut self,
        trainer: usize,
        task_id: u64,
        seed: usize,
    ) -> Result<AppResponse, ContractError> {
        let who = self.trainers[trainer].clone();
        let proof = node_key_proof(seed, &self.hub, task_id, &who);
        self.set_node_key_with(trainer, task_id, &node_key(seed), &proof)
    }

    pub fn set_node_key_with(
        &mut self,
        trainer: usize,
        task_id: u64,
        key: &str,
        proof: &str,
    ) -> Result<AppResponse, ContractError> {
        let who = self.trainers[trainer].clone();
        let msg = ExecuteMsg::SetNodeKey {
            task_id,
            node_public_key: key.into(),
            node_key_proof: proof.into(),
        };
        self.exec(&who, &msg, &[])
    }

    pub fn cancel(&mut self, task_id: u64) -> Result<AppResponse, ContractError> {
        let org = self.task(task_id).organization;
        self.exec(&org, &ExecuteMsg::CancelTask { task_id }, &[])
    }

    /// Creates with `pool`, accepts, and joins `trainers`.
    pub fn open_task(&mut self, msg: CreateTaskMsg, pool: u128, trainers: &[usize]) -> u64 {
        let id = self.create(msg, pool).unwrap();
        self.accept(id).unwrap();
        for &t in trainers {
            self.join(t, id).unwrap();
        }
        id
    }

    /// Every round the contract records for the task, in order.
    pub fn rounds(&self, task_id: u64) -> RoundsResponse {
        let query = QueryMsg::Rounds {
            task_id,
            start_after: None,
            limit: None,
        };
        self.app.wrap().query_wasm_smart(&self.hub, &query).unwrap()
    }

    /// Moves past the task's join deadline, so round 1 may be attested.
    pub fn close_joins(&mut self, task_id: u64) {
        let deadline = self.task(task_id).join_deadline;
        self.advance_to(deadline);
    }

    pub fn round(
        &mut self,
        task_id: u64,
        round: u32,
        contributors: &[(usize, u128)],
    ) -> Result<AppResponse, ContractError> {
        self.scored_round(task_id, round, contributors, None)
    }

    /// A round naming its score table on IPFS (a measured task's keeper pins one per round).
    pub fn scored_round(
        &mut self,
        task_id: u64,
        round: u32,
        contributors: &[(usize, u128)],
        scores_cid: Option<&str>,
    ) -> Result<AppResponse, ContractError> {
        let contributors = contributors
            .iter()
            .map(|(i, w)| Contribution {
                trainer: self.trainers[*i].to_string(),
                weight: Uint128::new(*w),
            })
            .collect();
        let keeper = self.task(task_id).keeper;
        self.exec(
            &keeper,
            &ExecuteMsg::SubmitRound(SubmitRoundMsg {
                task_id,
                round,
                model_cid: CID.into(),
                model_sha256: SHA.into(),
                metrics: metrics(),
                contributors,
                scores_cid: scores_cid.map(String::from),
            }),
            &[],
        )
    }

    /// The payload trainer `i` signs for its update in `round` of `task_id` on this chain.
    pub fn payload(&self, i: usize, task_id: u64, round: u32, variant: u8) -> Vec<u8> {
        let digest = hex(&Sha256::digest([i as u8, round as u8, variant]));
        claim_payload(
            CHAIN_ID,
            self.hub.as_str(),
            task_id,
            round,
            &digest,
            100 + i as u64,
        )
    }

    /// Trainer `i`'s signed claim of `payload`.
    pub fn sign(&self, i: usize, payload: Vec<u8>) -> SignedClaim {
        let key = &self.keys[i];
        SignedClaim {
            signature: Binary::from(sign_bytes(key, self.trainers[i].as_str(), &payload)),
            pub_key: Binary::from(public_key(key)),
            payload: Binary::from(payload),
        }
    }

    pub fn claim_of(&self, i: usize, task_id: u64, round: u32) -> SignedClaim {
        self.sign(i, self.payload(i, task_id, round, 0))
    }

    /// A slash of trainer `i` for `round` with its genuine claim (and, for equivocation, a
    /// second genuine claim with another digest).
    pub fn slash_msg(&self, task_id: u64, round: u32, i: usize, reason: SlashReason) -> SlashMsg {
        let conflicting_claim = (reason == SlashReason::Equivocation)
            .then(|| self.sign(i, self.payload(i, task_id, round, 1)));
        SlashMsg {
            task_id,
            round,
            trainer: self.trainers[i].to_string(),
            reason,
            detail: "update norm 1e9 > 1e3".into(),
            evidence: SlashEvidence {
                claim: self.claim_of(i, task_id, round),
                conflicting_claim,
                update_cid: CID.into(),
            },
        }
    }

    pub fn slash_with(&mut self, msg: SlashMsg) -> Result<AppResponse, ContractError> {
        let keeper = self.task(msg.task_id).keeper;
        self.exec(&keeper, &ExecuteMsg::Slash(msg), &[])
    }

    pub fn slash(
        &mut self,
        task_id: u64,
        round: u32,
        i: usize,
        reason: SlashReason,
    ) -> Result<AppResponse, ContractError> {
        let msg = self.slash_msg(task_id, round, i, reason);
        self.slash_with(msg)
    }

    pub fn finalize(&mut self, task_id: u64) -> Result<AppResponse, ContractError> {
        let outsider = self.outsider.clone();
        self.exec(&outsider, &ExecuteMsg::FinalizeTask { task_id }, &[])
    }

    pub fn claim(&mut self, trainer: usize, task_id: u64) -> Result<AppResponse, ContractError> {
        let who = self.trainers[trainer].clone();
        self.exec(&who, &ExecuteMsg::Claim { task_id }, &[])
    }

    pub fn sweep(&mut self, task_id: u64) -> Result<AppResponse, ContractError> {
        let outsider = self.outsider.clone();
        self.exec(&outsider, &ExecuteMsg::Sweep { task_id }, &[])
    }

    pub fn task(&self, task_id: u64) -> TaskResponse {
        self.app
            .wrap()
            .query_wasm_smart(&self.hub, &QueryMsg::Task { task_id })
            .unwrap()
    }

    pub fn participant(&self, task_id: u64, who: &Addr) -> Option<ParticipantResponse> {
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

    pub fn claimable(&self, task_id: u64, who: &Addr) -> ClaimableResponse {
        self.app
            .wrap()
            .query_wasm_smart(
                &self.hub,
                &QueryMsg::Claimable {
                    task_id,
                    address: who.to_string(),
                },
            )
            .unwrap()
    }

    pub fn profile(&self, who: &Addr) -> Option<ProfileResponse> {
        self.app
            .wrap()
            .query_wasm_smart(
                &self.hub,
                &QueryMsg::Profile {
                    address: who.to_string(),
                },
            )
            .unwrap()
    }

    pub fn config(&self) -> ConfigResponse {
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

    pub fn trainer_balance(&self, i: usize) -> u128 {
        self.balance(&self.trainers[i])
    }

    /// Claims for trainer `i`, checking first that `claimable` announces exactly what is paid;
    /// returns the amount received.
    pub fn claim_checked(&mut self, i: usize, task_id: u64) -> u128 {
        let announced = self.claimable(task_id, &self.trainers[i].clone());
        let before = self.trainer_balance(i);
        let response = self.claim(i, task_id).unwrap();
        let received = self.trainer_balance(i) - before;
        assert_eq!(announced.amount.u128(), received, "claimable == claim");
        assert_eq!(
            announced.amount,
            announced.stake_back + announced.reward + announced.compensation
        );
        assert_eq!(
            announced.stake_back + announced.penalty,
            self.task(task_id).stake
        );
        assert_eq!(attr(&response, "amount"), received.to_string());
        assert_eq!(
            self.claimable(task_id, &self.trainers[i].clone())
                .amount
                .u128(),
            0
        );
        received
    }
}

pub fn metrics() -> RoundMetrics {
    RoundMetrics {
        loss: Decimal::percent(50),
        metric: "accuracy".into(),
        value: Decimal::percent(80),
        examples: 100,
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of the first wasm attribute named `key`.
pub fn attr(response: &AppResponse, key: &str) -> String {
    response
        .events
        .iter()
        .filter(|e| e.ty == "wasm")
        .flat_map(|e| e.attributes.iter())
        .find(|a| a.key == key)
        .unwrap_or_else(|| panic!("no attribute {key}"))
        .value
        .clone()
}
