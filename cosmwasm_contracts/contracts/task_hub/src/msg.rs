use cosmwasm_schema::{cw_serde, QueryResponses};
use cosmwasm_std::{Decimal, Uint128};

use crate::state::{Limits, Participant, RoundMetrics, RoundRecord, Task, TaskStatus};

#[cw_serde]
pub struct InstantiateMsg {
    /// Who may update the config; defaults to the instantiating address.
    pub admin: Option<String>,
    pub treasury: String,
    pub fee_bps: u16,
    pub limits: Limits,
}

#[cw_serde]
pub struct Contribution {
    pub trainer: String,
    pub weight: Uint128,
}

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
    pub no_show_penalty_bps: u16,
    pub slash_bps: u16,
}

#[cw_serde]
pub enum ExecuteMsg {
    Register {
        name: String,
        organization: bool,
        trainer: bool,
    },
    CreateTask(CreateTaskMsg),
    CancelTask {
        task_id: u64,
    },
    JoinTask {
        task_id: u64,
    },
    SubmitRound {
        task_id: u64,
        round: u32,
        model_cid: String,
        model_sha256: String,
        metrics: RoundMetricsMsg,
        contributors: Vec<Contribution>,
    },
    Slash {
        task_id: u64,
        trainer: String,
        reason: String,
    },
    FinalizeTask {
        task_id: u64,
    },
    Claim {
        task_id: u64,
    },
    ClaimRefund {
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
pub struct RoundMetricsMsg {
    pub loss: Decimal,
    pub accuracy: Decimal,
    pub examples: u64,
}

impl From<RoundMetricsMsg> for RoundMetrics {
    fn from(m: RoundMetricsMsg) -> Self {
        RoundMetrics {
            loss: m.loss,
            accuracy: m.accuracy,
            examples: m.examples,
        }
    }
}

#[cw_serde]
pub struct MigrateMsg {}

#[cw_serde]
#[derive(QueryResponses)]
pub enum QueryMsg {
    #[returns(crate::state::Config)]
    Config {},
    #[returns(Task)]
    Task { task_id: u64 },
    #[returns(TasksResponse)]
    Tasks {
        status: Option<TaskStatus>,
        organization: Option<String>,
        keeper: Option<String>,
        start_after: Option<u64>,
        limit: Option<u32>,
    },
    #[returns(Option<Participant>)]
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
    #[returns(ClaimableResponse)]
    Claimable { task_id: u64, address: String },
    #[returns(Option<crate::state::Profile>)]
    Profile { address: String },
}

#[cw_serde]
pub struct TasksResponse {
    pub tasks: Vec<Task>,
}

#[cw_serde]
pub struct ParticipantsResponse {
    pub participants: Vec<Participant>,
}

#[cw_serde]
pub struct RoundsResponse {
    pub rounds: Vec<RoundRecord>,
}

#[cw_serde]
pub struct ClaimableResponse {
    pub amount: Uint128,
    pub denom: String,
}
