use cosmwasm_schema::cw_serde;
use cosmwasm_std::{Addr, Decimal, Order, StdResult, Storage, Uint128};
use cw_storage_plus::{Bound, Index, IndexList, IndexedMap, Item, Map, MultiIndex};

#[cw_serde]
pub struct Limits {
    pub max_trainers_per_task: u32,
    pub max_rounds: u32,
    pub grace_period_secs: u64,
    pub max_string_len: u32,
    pub max_cid_len: u32,
}

#[cw_serde]
pub struct Config {
    pub admin: Addr,
    pub treasury: Addr,
    pub fee_bps: u16,
    pub limits: Limits,
    pub next_task_id: u64,
}

#[cw_serde]
pub struct Profile {
    pub address: Addr,
    pub name: String,
    pub is_organization: bool,
    pub is_trainer: bool,
    pub registered_at: u64,
    pub tasks_created: u64,
    pub tasks_joined: u64,
    pub tasks_completed: u64,
    pub no_shows: u64,
    pub slashed: u64,
}

#[cw_serde]
#[derive(Copy, Eq)]
pub enum TaskStatus {
    Open,
    Running,
    Finalized,
    Cancelled,
}

impl TaskStatus {
    pub fn key(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Running => "running",
            TaskStatus::Finalized => "finalized",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

/// How a finalized task settles.
#[cw_serde]
#[derive(Copy, Eq)]
pub enum Settlement {
    /// Rounds were recorded and someone contributed: fee, rewards, penalties.
    Normal,
    /// Rounds were recorded but every update was rejected: pool and forfeits go back to the organization.
    NoContributors,
    /// No round was ever recorded (keeper failed or too few trainers): stakes and pool go back.
    Refund,
}

#[cw_serde]
pub struct Task {
    pub id: u64,
    pub organization: Addr,
    pub keeper: Addr,
    pub denom: String,
    pub pool: Uint128,
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
    /// Snapshot of the platform fee when the task was created.
    pub fee_bps: u16,
    pub created_at: u64,
    pub participants: u32,
    pub rounds_completed: u32,
    pub total_weight: Uint128,
    pub contributors_count: u32,
    pub slashed_count: u32,
    pub claimed_count: u32,
    /// Slash forfeits as they happen, plus no-show forfeits once finalized.
    pub forfeited: Uint128,
    pub fee: Uint128,
    pub distributable: Uint128,
    /// Rewards (not stakes) paid to trainers so far.
    pub rewards_paid: Uint128,
    /// Everything that left the contract for this task: fee, claims, refunds.
    pub paid_out: Uint128,
    pub org_refunded: Uint128,
    pub settlement: Option<Settlement>,
    pub finalized_at: Option<u64>,
}

impl Task {
    /// Funds the contract holds for this task right now.
    pub fn held(&self) -> Uint128 {
        self.pool + self.stake * Uint128::from(self.participants) - self.paid_out
    }
}

#[cw_serde]
pub struct Participant {
    pub trainer: Addr,
    pub joined_at: u64,
    pub stake: Uint128,
    pub weight: Uint128,
    pub slashed: bool,
    pub slash_reason: Option<String>,
    pub claimed: bool,
    pub claimed_amount: Uint128,
}

#[cw_serde]
pub struct RoundMetrics {
    pub loss: Decimal,
    pub accuracy: Decimal,
    pub examples: u64,
}

#[cw_serde]
pub struct RoundRecord {
    pub round: u32,
    pub model_cid: String,
    pub model_sha256: String,
    pub metrics: RoundMetrics,
    pub contributors_count: u32,
    pub total_weight: Uint128,
    pub submitted_at: u64,
    pub height: u64,
}

pub const CONFIG: Item<Config> = Item::new("config");
pub const PROFILES: Map<&Addr, Profile> = Map::new("profiles");
/// The rarely written part of a participant: written at join, slash and claim.
#[cw_serde]
pub struct Membership {
    pub joined_at: u64,
    pub stake: Uint128,
    pub slash_reason: Option<String>,
    pub claimed_amount: Option<Uint128>,
}

/// The part SubmitRound touches for every contributor, kept tiny (one-letter JSON keys):
/// `w` is the accumulated weight, `s` whether the trainer was slashed.
#[cw_serde]
pub struct Standing {
    pub w: Uint128,
    pub s: bool,
}

pub const MEMBERSHIPS: Map<(u64, &Addr), Membership> = Map::new("members");
pub const STANDINGS: Map<(u64, &Addr), Standing> = Map::new("standing");

fn assemble(trainer: Addr, membership: Membership, standing: Standing) -> Participant {
    Participant {
        trainer,
        joined_at: membership.joined_at,
        stake: membership.stake,
        weight: standing.w,
        slashed: standing.s,
        slash_reason: membership.slash_reason,
        claimed: membership.claimed_amount.is_some(),
        claimed_amount: membership.claimed_amount.unwrap_or_default(),
    }
}

pub fn load_participant(
    storage: &dyn Storage,
    task_id: u64,
    trainer: &Addr,
) -> StdResult<Option<Participant>> {
    let Some(membership) = MEMBERSHIPS.may_load(storage, (task_id, trainer))? else {
        return Ok(None);
    };
    let standing = STANDINGS.load(storage, (task_id, trainer))?;
    Ok(Some(assemble(trainer.clone(), membership, standing)))
}

pub fn save_participant(
    storage: &mut dyn Storage,
    task_id: u64,
    participant: &Participant,
) -> StdResult<()> {
    let membership = Membership {
        joined_at: participant.joined_at,
        stake: participant.stake,
        slash_reason: participant.slash_reason.clone(),
        claimed_amount: participant.claimed.then_some(participant.claimed_amount),
    };
    MEMBERSHIPS.save(storage, (task_id, &participant.trainer), &membership)?;
    STANDINGS.save(
        storage,
        (task_id, &participant.trainer),
        &Standing {
            w: participant.weight,
            s: participant.slashed,
        },
    )
}

/// Participants of a task in address order, from `start_after`.
pub fn list_participants(
    storage: &dyn Storage,
    task_id: u64,
    start_after: Option<&Addr>,
    limit: usize,
) -> StdResult<Vec<Participant>> {
    MEMBERSHIPS
        .prefix(task_id)
        .range(
            storage,
            start_after.map(Bound::exclusive),
            None,
            Order::Ascending,
        )
        .take(limit)
        .map(|item| {
            let (trainer, membership) = item?;
            let standing = STANDINGS.load(storage, (task_id, &trainer))?;
            Ok(assemble(trainer, membership, standing))
        })
        .collect()
}
pub const ROUNDS: Map<(u64, u32), RoundRecord> = Map::new("rounds");

pub struct TaskIndexes<'a> {
    pub organization: MultiIndex<'a, Addr, Task, u64>,
    pub keeper: MultiIndex<'a, Addr, Task, u64>,
    pub status: MultiIndex<'a, u8, Task, u64>,
}

impl IndexList<Task> for TaskIndexes<'_> {
    fn get_indexes(&'_ self) -> Box<dyn Iterator<Item = &'_ dyn Index<Task>> + '_> {
        let indexes: Vec<&dyn Index<Task>> = vec![&self.organization, &self.keeper, &self.status];
        Box::new(indexes.into_iter())
    }
}

pub fn tasks<'a>() -> IndexedMap<u64, Task, TaskIndexes<'a>> {
    IndexedMap::new(
        "tasks",
        TaskIndexes {
            organization: MultiIndex::new(
                |_, t: &Task| t.organization.clone(),
                "tasks",
                "tasks__organization",
            ),
            keeper: MultiIndex::new(|_, t: &Task| t.keeper.clone(), "tasks", "tasks__keeper"),
            status: MultiIndex::new(|_, t: &Task| t.status.key(), "tasks", "tasks__status"),
        },
    )
}
