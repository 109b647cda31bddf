//! The wire API: every message and every query answer. Field names are the JSON names.

use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Addr, Binary, Decimal, Uint128};

use crate::state::TaskStatus;

#[cw_serde]
pub struct InstantiateMsg {
    /// Who may update the config; defaults to the instantiating address.
    pub admin: Option<String>,
    pub treasury: String,
    pub fee_bps: u16,
    pub limits: Limits,
}

/// Operator-set bounds, each within a hard cap (see `validation`). The grace period and claim
/// window are copied into every task at creation, so changing them never moves a live deadline.
#[cw_serde]
pub struct Limits {
    pub max_trainers_per_task: u32,
    pub max_rounds: u32,
    pub grace_period_secs: u64,
    pub claim_window_secs: u64,
    pub max_string_len: u32,
    pub max_cid_len: u32,
}

/// How the keeper weighs accepted updates: a public task parameter.
#[cw_serde]
#[derive(Copy, Eq, Default)]
pub enum Scoring {
    /// Weight = the example count the trainer claims, capped at `max_examples_per_trainer`.
    #[default]
    ClaimedExamples,
    /// Weight = the update's measured value on the organization's validation set (whose sha256
    /// the task records); each round's weights sum to at most `ROUND_WEIGHT`.
    Measured,
}

/// The figure a task's rounds report besides the loss, named by the task: accuracy for a
/// classifier, MSE for a regression, F1, perplexity… Public, so anyone reading a round knows what
/// its number means and which way is better.
#[cw_serde]
pub struct TaskMetric {
    /// Lowercase letters, digits, `_` and `-`, 1 to 32 characters (e.g. `accuracy`, `mse`).
    pub name: String,
    pub higher_is_better: bool,
    /// The largest value the metric can take (1 for accuracy or F1), if any; the contract refuses
    /// a round reporting more.
    pub at_most: Option<Decimal>,
}

impl Default for TaskMetric {
    /// Classification accuracy: what a task that names no metric reports.
    fn default() -> Self {
        TaskMetric {
            name: "accuracy".to_string(),
            higher_is_better: true,
            at_most: Some(Decimal::one()),
        }
    }
}

/// A measured task's budget of weight per round: every delivered round counts the same.
pub const ROUND_WEIGHT: u128 = 1_000_000;

#[cw_serde]
pub struct CreateTaskMsg {
    pub model_name: String,
    pub description: String,
    pub client_cid: String,
    pub client_sha256: String,
    pub initial_model_cid: String,
    pub initial_model_sha256: String,
    pub rounds: u32,
    pub min_trainers: u32,
    pub max_trainers: u32,
    pub stake: Uint128,
    /// Unix seconds; joins are accepted while block time < join_deadline.
    pub join_deadline: u64,
    /// Unix seconds; rounds are accepted while block time < training_deadline.
    pub training_deadline: u64,
    pub keeper: String,
    /// What the keeper must bond (in the pool's denom) to accept the task.
    pub keeper_bond: Uint128,
    /// The highest keeper fee the organization agrees to; the keeper's profile fee at creation
    /// must not exceed it (a keeper cannot raise its fee under a task being created).
    pub max_keeper_fee_bps: u16,
    pub no_show_penalty_bps: u16,
    pub slash_bps: u16,
    /// The keeper caps a contributor's weight at this many examples (public task parameter); the
    /// contract refuses a round that credits anyone with more.
    pub max_examples_per_trainer: u64,
    /// The largest L2 norm of an update (its distance from the global model) the keeper accepts;
    /// public so a trainer's signer can refuse to sign anything beyond it.
    pub max_update_norm: Decimal,
    /// How long the keeper waits for a round's replies (public task parameter).
    pub round_timeout_secs: u64,
    /// How the keeper weighs updates; claimed example counts when omitted.
    #[serde(default)]
    pub scoring: Scoring,
    /// sha256 (hex) of the validation set the organization hands the keeper (its data's
    /// fingerprint, `client_kit.data.LocalData.sha256`); required for measured scoring, so a
    /// keeper cannot score on another set.
    #[serde(default)]
    pub validation_sha256: Option<String>,
    /// What the rounds' `metrics.value` measures; classification accuracy when omitted.
    #[serde(default)]
    pub metric: TaskMetric,
}

#[cw_serde]
pub struct Contribution {
    pub trainer: String,
    pub weight: Uint128,
}

#[cw_serde]
pub struct RoundMetrics {
    pub loss: Decimal,
    /// The task's metric name (`TaskMetric::name`); the contract refuses any other.
    pub metric: String,
    /// The task's metric on the global model after this round.
    pub value: Decimal,
    pub examples: u64,
}

#[cw_serde]
pub struct SubmitRoundMsg {
    pub task_id: u64,
    pub round: u32,
    pub model_cid: String,
    pub model_sha256: String,
    pub metrics: RoundMetrics,
    /// May be empty: the round is attested but pays and penalizes nobody.
    pub contributors: Vec<Contribution>,
    /// The keeper's score table for the round on IPFS: every number behind every weight.
    #[serde(default)]
    pub scores_cid: Option<String>,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum SlashReason {
    NonFinite,
    WrongShape,
    NormExceeded,
    Equivocation,
    InvalidUpdate,
}

impl SlashReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SlashReason::NonFinite => "non_finite",
            SlashReason::WrongShape => "wrong_shape",
            SlashReason::NormExceeded => "norm_exceeded",
            SlashReason::Equivocation => "equivocation",
            SlashReason::InvalidUpdate => "invalid_update",
        }
    }
}

/// A trainer's own signature over its update claim, as the trainer sent it to the keeper.
#[cw_serde]
pub struct SignedClaim {
    /// The exact bytes the trainer signed: canonical JSON of the claim (chain_id, contract,
    /// task_id, round, and fields the contract ignores).
    pub payload: Binary,
    /// 33-byte compressed secp256k1 public key of the trainer's account.
    pub pub_key: Binary,
    /// 64-byte r‖s over sha256 of the ADR-036 sign doc of `payload`.
    pub signature: Binary,
}

#[cw_serde]
pub struct SlashEvidence {
    pub claim: SignedClaim,
    /// Only for `equivocation`: a second claim for the same round with a different payload.
    pub conflicting_claim: Option<SignedClaim>,
    /// The offending update pinned to IPFS, so anyone can re-check the verdict off chain.
    pub update_cid: String,
}

#[cw_serde]
pub struct SlashMsg {
    pub task_id: u64,
    pub round: u32,
    pub trainer: String,
    pub reason: SlashReason,
    pub detail: String,
    pub evidence: SlashEvidence,
}

#[cw_serde]
pub enum ExecuteMsg {
    Register {
        name: String,
        organization: bool,
        trainer: bool,
    },
    RegisterKeeper {
        name: String,
        endpoint: String,
        tls_cert_sha256: Option<String>,
        fee_bps: u16,
    },
    CreateTask(CreateTaskMsg),
    AcceptTask {
        task_id: u64,
    },
    CancelTask {
        task_id: u64,
    },
    JoinTask {
        task_id: u64,
        /// The trainer's Flower node key, with `node_key_proof`: both or neither (then named
        /// later with SetNodeKey).
        node_public_key: Option<String>,
        #[serde(default)]
        node_key_proof: Option<String>,
    },
    LeaveTask {
        task_id: u64,
    },
    /// A joined trainer (re)names the Flower node key its keeper admits, e.g. after joining from
    /// the web app or moving to another machine.
    SetNodeKey {
        task_id: u64,
        node_public_key: String,
        /// The node key's signature of `validation::node_key_statement`: only who holds the key names it.
        node_key_proof: String,
    },
    SubmitRound(SubmitRoundMsg),
    Slash(SlashMsg),
    FinalizeTask {
        task_id: u64,
    },
    Claim {
        task_id: u64,
    },
    Sweep {
        task_id: u64,
    },
    UpdateConfig {
        treasury: Option<String>,
        fee_bps: Option<u16>,
        limits: Option<Limits>,
        admin: Option<String>,
    },
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(ConfigResponse)]
    Config {},
    #[returns(TaskResponse)]
    Task { task_id: u64 },
    /// At most `limit` index entries are examined, whatever the filters; page on with
    /// `next_start_after` while it is set, even after a short or empty page.
    #[returns(TasksResponse)]
    Tasks {
        status: Option<TaskStatus>,
        organization: Option<String>,
        keeper: Option<String>,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(Option<ParticipantResponse>)]
    Participant { task_id: u64, trainer: String },
    #[returns(ParticipantsResponse)]
    Participants {
        task_id: u64,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(RoundsResponse)]
    Rounds {
        task_id: u64,
        start_after: Option<u32>,
        limit: Option<u32>,
    },
    #[returns(SlashesResponse)]
    Slashes {
        task_id: u64,
        start_after: Option<String>,
        limit: Option<u32>,
    },
    #[returns(ClaimableResponse)]
    Claimable { task_id: u64, address: String },
    #[returns(Option<ProfileResponse>)]
    Profile { address: String },
}

#[cw_serde]
pub struct ConfigResponse {
    pub admin: Addr,
    pub treasury: Addr,
    pub fee_bps: u16,
    pub limits: Limits,
    /// The id the next created task gets (ids start at 1).
    pub next_task_id: u64,
}

/// Every stored field of a task, plus `held` (what the contract holds for it right now).
#[cw_serde]
pub struct TaskResponse {
    pub id: u64,
    pub organization: Addr,
    pub keeper: Addr,
    pub treasury: Addr,
    pub denom: String,
    pub pool: Uint128,
    pub keeper_bond: Uint128,
    pub bonded: bool,
    pub status: TaskStatus,
    pub model_name: String,
    pub description: String,
    pub client_cid: String,
    pub client_sha256: String,
    pub initial_model_cid: String,
    pub initial_model_sha256: String,
    pub rounds: u32,
    pub min_trainers: u32,
    pub max_trainers: u32,
    pub stake: Uint128,
    pub join_deadline: u64,
    pub training_deadline: u64,
    pub no_show_penalty_bps: u16,
    pub slash_bps: u16,
    pub fee_bps: u16,
    pub keeper_fee_bps: u16,
    pub grace_period_secs: u64,
    pub claim_window_secs: u64,
    pub max_examples_per_trainer: u64,
    pub max_update_norm: Decimal,
    pub round_timeout_secs: u64,
    pub scoring: Scoring,
    pub validation_sha256: Option<String>,
    pub metric: TaskMetric,
    pub created_at: u64,
    pub participants: u32,
    pub rounds_completed: u32,
    pub productive_rounds: u32,
    pub total_weight: Uint128,
    pub slashed_weight: Uint128,
    pub contributors_count: u32,
    pub slashed_count: u32,
    pub claimed_count: u32,
    pub forfeited: Uint128,
    pub delivered_pool: Uint128,
    pub fee: Uint128,
    pub keeper_fee: Uint128,
    pub distributable: Uint128,
    pub slashed_reward: Uint128,
    pub no_show_penalty: Uint128,
    pub no_show_forfeits: Uint128,
    pub rewards_paid: Uint128,
    pub bond_forfeited: Uint128,
    pub org_compensation: Uint128,
    pub trainer_compensation: Uint128,
    pub treasury_paid: Uint128,
    pub org_refunded: Uint128,
    pub keeper_paid: Uint128,
    pub paid_out: Uint128,
    pub settled_at: Option<u64>,
    pub swept: bool,
    pub held: Uint128,
}

#[cw_serde]
pub struct TasksResponse {
    pub tasks: Vec<TaskResponse>,
    pub next_start_after: Option<u64>,
}

#[cw_serde]
pub struct ParticipantResponse {
    pub trainer: Addr,
    pub joined_at: u64,
    pub stake: Uint128,
    pub weight: Uint128,
    pub slashed: bool,
    pub node_public_key: Option<String>,
    pub claimed: bool,
    pub claimed_amount: Uint128,
}

#[cw_serde]
pub struct ParticipantsResponse {
    pub participants: Vec<ParticipantResponse>,
}

#[cw_serde]
pub struct RoundResponse {
    pub round: u32,
    pub model_cid: String,
    pub model_sha256: String,
    pub metrics: RoundMetrics,
    pub contributors_count: u32,
    pub total_weight: Uint128,
    pub scores_cid: Option<String>,
    pub submitted_at: u64,
    pub height: u64,
}

#[cw_serde]
pub struct RoundsResponse {
    pub rounds: Vec<RoundResponse>,
}

/// Everything needed to re-verify a slash off chain.
#[cw_serde]
pub struct SlashResponse {
    pub trainer: Addr,
    pub round: u32,
    pub reason: SlashReason,
    pub detail: String,
    pub update_cid: String,
    pub claim: SignedClaim,
    pub conflicting_claim: Option<SignedClaim>,
    pub forfeit: Uint128,
    pub slashed_at: u64,
    pub height: u64,
}

#[cw_serde]
pub struct SlashesResponse {
    pub slashes: Vec<SlashResponse>,
}

/// What `claim` would pay `address` now: amount = stake_back + reward + compensation, where
/// stake_back = stake − penalty. All zero when nothing is due (not a participant, already
/// claimed, swept, or the task is not settled yet).
#[cw_serde]
pub struct ClaimableResponse {
    pub amount: Uint128,
    pub denom: String,
    pub stake_back: Uint128,
    pub penalty: Uint128,
    pub reward: Uint128,
    pub compensation: Uint128,
}

#[cw_serde]
pub struct KeeperProfile {
    pub endpoint: String,
    pub tls_cert_sha256: Option<String>,
    pub fee_bps: u16,
    pub tasks_accepted: u64,
    pub rounds_attested: u64,
    pub tasks_failed: u64,
}

#[cw_serde]
pub struct ProfileResponse {
    pub address: Addr,
    pub name: String,
    pub is_organization: bool,
    pub is_trainer: bool,
    pub keeper: Option<KeeperProfile>,
    pub registered_at: u64,
    pub tasks_created: u64,
    pub tasks_joined: u64,
    pub tasks_completed: u64,
    pub no_shows: u64,
    pub slashed: u64,
}
