//! Every storage item of the contract, declared here and nowhere else.
//!
//! A task is stored in four records, so that each handler reads and writes only what it needs
//! and the frequent writes (joins, rounds) stay small: its terms (written once, read by every
//! handler), its model description (written once, read by queries only: the long strings), its
//! state (the counters, rewritten by joins and rounds) and its settlement (written once by
//! finalize, read by claims). Small records also keep every decoder within the wasm VM's limit
//! of 100 locals per function. The task-list indexes are written at creation and on each status
//! change only.

use std::fmt;

use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Decimal, Empty, StdResult, Storage, Uint128};
use cw_storage_plus::{Item, Map};

use crate::error::ContractError;
use crate::msg::{Limits, RoundMetrics, Scoring, SignedClaim, SlashReason, TaskMetric};

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub treasury: Addr,
    pub fee_bps: u16,
    pub limits: Limits,
}

#[cw_serde]
pub struct Profile {
    pub name: String,
    pub is_organization: bool,
    pub is_trainer: bool,
    pub keeper: Option<KeeperInfo>,
    pub registered_at: u64,
    pub tasks_created: u64,
    pub tasks_joined: u64,
    pub tasks_completed: u64,
    pub no_shows: u64,
    pub slashed: u64,
}

#[cw_serde]
pub struct KeeperInfo {
    pub endpoint: String,
    pub tls_cert_sha256: Option<String>,
    pub fee_bps: u16,
    pub tasks_accepted: u64,
    pub rounds_attested: u64,
    pub tasks_failed: u64,
}

#[cw_serde]
#[derive(Copy, Eq, Default)]
pub enum TaskStatus {
    /// Created and funded, waiting for the keeper to accept and bond.
    #[default]
    Proposed,
    /// Bonded by the keeper; trainers join and may leave.
    Open,
    /// At least one round attested: no more joins, leaves or cancel.
    Running,
    Finalized,
    Cancelled,
}

impl TaskStatus {
    /// The status byte in index keys.
    pub fn key(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Proposed => "proposed",
            TaskStatus::Open => "open",
            TaskStatus::Running => "running",
            TaskStatus::Finalized => "finalized",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the organization set up, with the config snapshots taken at creation (fee, treasury,
/// grace, claim window, keeper fee): later config or profile changes never touch a live task.
#[cw_serde]
pub struct TaskTerms {
    pub id: u64,
    pub organization: Addr,
    pub keeper: Addr,
    pub treasury: Addr,
    pub denom: String,
    pub pool: Uint128,
    pub keeper_bond: Uint128,
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
    pub created_at: u64,
    #[serde(default)]
    pub scoring: Scoring,
    #[serde(default)]
    pub validation_sha256: Option<String>,
    #[serde(default)]
    pub metric: TaskMetric,
}

/// What is trained, from what: public, never read by a handler.
#[cw_serde]
pub struct TaskModel {
    pub model_name: String,
    pub description: String,
    pub client_cid: String,
    pub client_sha256: String,
    pub initial_model_cid: String,
    pub initial_model_sha256: String,
}

/// The mutable part of a task: progress counters and the running sums of what was paid out.
#[cw_serde]
#[derive(Default)]
pub struct TaskState {
    pub status: TaskStatus,
    pub bonded: bool,
    pub participants: u32,
    pub rounds_completed: u32,
    /// Rounds with at least one contributor: the pool is delivered in proportion to these.
    pub productive_rounds: u32,
    pub total_weight: Uint128,
    /// Weight of trainers slashed after contributing; its reward share goes to the treasury.
    pub slashed_weight: Uint128,
    /// Non-slashed participants with a positive weight.
    pub contributors_count: u32,
    pub slashed_count: u32,
    pub claimed_count: u32,
    /// Slash forfeits as they happen, plus no-show forfeits at finalization.
    pub forfeited: Uint128,
    pub rewards_paid: Uint128,
    pub treasury_paid: Uint128,
    pub org_refunded: Uint128,
    pub keeper_paid: Uint128,
    /// Everything that left the contract for this task (leaves excepted: they also lower
    /// `participants`, so they leave `held` unchanged).
    pub paid_out: Uint128,
    pub settled_at: Option<u64>,
    pub swept: bool,
}

/// Totals fixed when a task is finalized (R rounds, k attested, p productive, E = participants
/// that were not slashed); see `settlement::settle`.
#[cw_serde]
#[derive(Default)]
pub struct Settlement {
    /// pool × p / R: the organization pays only for rounds that trained something.
    pub delivered_pool: Uint128,
    pub fee: Uint128,
    pub keeper_fee: Uint128,
    /// delivered − fee − keeper fee, shared by weight among contributors.
    pub distributable: Uint128,
    /// The reward share of slashed weight: to the treasury, so a slash enriches no participant.
    pub slashed_reward: Uint128,
    /// Per no-show: stake × no_show_bps × p / R (nothing when no round trained anything).
    pub no_show_penalty: Uint128,
    pub no_show_forfeits: Uint128,
    /// bond × (R − k) / R: the keeper's bond for the rounds it did not attest.
    pub bond_forfeited: Uint128,
    /// The organization's part of the bond forfeit, in proportion of pool to stakes at risk.
    pub org_compensation: Uint128,
    /// Each non-slashed participant's part of the rest of the bond forfeit.
    pub trainer_compensation: Uint128,
}

/// A task's terms and state, loaded together by every handler.
pub struct Task {
    pub terms: TaskTerms,
    pub state: TaskState,
}

impl Task {
    pub fn load(storage: &dyn Storage, task_id: u64) -> Result<Task, ContractError> {
        let terms = TASK_TERMS
            .may_load(storage, task_id)?
            .ok_or(ContractError::TaskNotFound { task_id })?;
        let state = TASK_STATES.load(storage, task_id)?;
        Ok(Task { terms, state })
    }

    /// Stores a new task (status `proposed`) and its index entries.
    pub fn create(
        storage: &mut dyn Storage,
        terms: TaskTerms,
        model: &TaskModel,
    ) -> StdResult<Task> {
        let task = Task {
            terms,
            state: TaskState::default(),
        };
        let id = task.terms.id;
        TASK_TERMS.save(storage, id, &task.terms)?;
        TASK_MODELS.save(storage, id, model)?;
        TASKS_BY_ORG.save(storage, (&task.terms.organization, id), &Empty {})?;
        TASKS_BY_KEEPER.save(storage, (&task.terms.keeper, id), &Empty {})?;
        task.index_status(storage, true)?;
        task.save(storage)?;
        Ok(task)
    }

    /// Saves the state; the terms never change after creation.
    pub fn save(&self, storage: &mut dyn Storage) -> StdResult<()> {
        TASK_STATES.save(storage, self.terms.id, &self.state)
    }

    /// Moves the task to `status`, keeping the status indexes in step.
    pub fn set_status(&mut self, storage: &mut dyn Storage, status: TaskStatus) -> StdResult<()> {
        if self.state.status != status {
            self.index_status(storage, false)?;
            self.state.status = status;
            self.index_status(storage, true)?;
        }
        Ok(())
    }

    fn index_status(&self, storage: &mut dyn Storage, present: bool) -> StdResult<()> {
        let (id, status) = (self.terms.id, self.state.status.key());
        let org = &self.terms.organization;
        let keeper = &self.terms.keeper;
        if present {
            TASKS_BY_STATUS.save(storage, (status, id), &Empty {})?;
            TASKS_BY_ORG_STATUS.save(storage, (org, status, id), &Empty {})?;
            TASKS_BY_KEEPER_STATUS.save(storage, (keeper, status, id), &Empty {})
        } else {
            TASKS_BY_STATUS.remove(storage, (status, id));
            TASKS_BY_ORG_STATUS.remove(storage, (org, status, id));
            TASKS_BY_KEEPER_STATUS.remove(storage, (keeper, status, id));
            Ok(())
        }
    }

    /// The settlement totals: zero until the task is finalized.
    pub fn settlement(&self, storage: &dyn Storage) -> StdResult<Settlement> {
        Ok(SETTLEMENTS
            .may_load(storage, self.terms.id)?
            .unwrap_or_default())
    }

    /// The bond the keeper has deposited (nothing until it accepts).
    pub fn bond_deposited(&self) -> Uint128 {
        if self.state.bonded {
            self.terms.keeper_bond
        } else {
            Uint128::zero()
        }
    }

    /// What the contract holds for this task right now:
    /// pool + bond + stake × participants − everything paid out.
    pub fn held(&self) -> StdResult<Uint128> {
        let escrow = self
            .terms
            .pool
            .checked_add(self.bond_deposited())?
            .checked_add(
                self.terms
                    .stake
                    .checked_mul(Uint128::from(self.state.participants))?,
            )?;
        Ok(escrow.checked_sub(self.state.paid_out)?)
    }
}

/// A trainer's membership of a task: the rarely written part (join and claim).
#[cw_serde]
pub struct Membership {
    pub joined_at: u64,
    pub node_public_key: Option<String>,
    pub claimed_amount: Option<Uint128>,
}

/// The part of a membership every round touches, kept tiny (one-letter JSON keys) because
/// submit_round reads and writes it for every contributor.
#[cw_serde]
#[derive(Default)]
pub struct Standing {
    /// Accumulated contribution weight.
    #[serde(rename = "w")]
    pub weight: Uint128,
    #[serde(rename = "s")]
    pub slashed: bool,
    /// The last round the trainer contributed to (0: none), so a slash can refuse a
    /// contributor of the very round it is for.
    #[serde(rename = "r")]
    pub last_round: u32,
}

#[cw_serde]
pub struct RoundRecord {
    pub model_cid: String,
    pub model_sha256: String,
    pub metrics: RoundMetrics,
    pub contributors_count: u32,
    pub total_weight: Uint128,
    #[serde(default)]
    pub scores_cid: Option<String>,
    pub submitted_at: u64,
    /// Slashes for this round are accepted only in this block.
    pub height: u64,
}

#[cw_serde]
pub struct SlashRecord {
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

pub const CONFIG: Item<Config> = Item::new("config");
pub const NEXT_TASK_ID: Item<u64> = Item::new("next_task_id");
pub const PROFILES: Map<&Addr, Profile> = Map::new("profiles");

pub const TASK_TERMS: Map<u64, TaskTerms> = Map::new("task_terms");
pub const TASK_MODELS: Map<u64, TaskModel> = Map::new("task_models");
pub const TASK_STATES: Map<u64, TaskState> = Map::new("task_states");
pub const SETTLEMENTS: Map<u64, Settlement> = Map::new("settlements");
/// Task-list indexes, keyed so that each filter combination pages by task id.
pub const TASKS_BY_STATUS: Map<(u8, u64), Empty> = Map::new("tasks_by_status");
pub const TASKS_BY_ORG: Map<(&Addr, u64), Empty> = Map::new("tasks_by_org");
pub const TASKS_BY_ORG_STATUS: Map<(&Addr, u8, u64), Empty> = Map::new("tasks_by_org_status");
pub const TASKS_BY_KEEPER: Map<(&Addr, u64), Empty> = Map::new("tasks_by_keeper");
pub const TASKS_BY_KEEPER_STATUS: Map<(&Addr, u8, u64), Empty> = Map::new("tasks_by_keeper_status");

pub const MEMBERSHIPS: Map<(u64, &Addr), Membership> = Map::new("members");
pub const STANDINGS: Map<(u64, &Addr), Standing> = Map::new("standing");
/// Which trainer of a task holds a Flower node key: a key admits one staked trainer only, so nobody
/// can claim another trainer's key and have the keeper refuse (or mix up) that trainer's node.
pub const NODE_KEYS: Map<(u64, &str), Addr> = Map::new("node_keys");
pub const ROUNDS: Map<(u64, u32), RoundRecord> = Map::new("rounds");
/// A trainer is slashed at most once per task, so (task, trainer) is the key.
pub const SLASHES: Map<(u64, &Addr), SlashRecord> = Map::new("slashes");
