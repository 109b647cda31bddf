use cosmwasm_std::{
    CheckedMultiplyRatioError, DivideByZeroError, OverflowError, StdError, Uint128,
};
use thiserror::Error;

use crate::state::TaskStatus;

/// Every way task_hub refuses a message. A refusal changes nothing, and each variant names the
/// rule that was broken with the values involved, so a client can show the reason as is.
#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    /// Storage and address-validation failures reported by cosmwasm-std itself.
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("arithmetic overflow: {0}")]
    Overflow(#[from] OverflowError),

    #[error("arithmetic overflow: {0}")]
    MultiplyRatio(#[from] CheckedMultiplyRatioError),

    #[error("division by zero: {0}")]
    DivideByZero(#[from] DivideByZeroError),

    // ----- who may send it -----
    #[error("only the admin may change the config")]
    NotAdmin {},

    #[error("only the organization of task {task_id} may do this")]
    NotTaskOrganization { task_id: u64 },

    #[error("only the keeper of task {task_id} may do this")]
    NotTaskKeeper { task_id: u64 },

    #[error("{address} is not registered as an organization")]
    NotOrganization { address: String },

    #[error("{address} is not registered as a trainer")]
    NotTrainer { address: String },

    #[error("{address} is not registered as a keeper")]
    NotKeeper { address: String },

    #[error("register needs at least one role (organization or trainer)")]
    NoRole {},

    #[error("{address} is not a participant of task {task_id}")]
    NotParticipant { task_id: u64, address: String },

    // ----- conflicts of interest -----
    #[error("a task's keeper cannot be its organization")]
    KeeperIsOrganization {},

    #[error("a task's keeper cannot be the treasury")]
    KeeperIsTreasury {},

    #[error("the treasury cannot create tasks: it receives their forfeits")]
    OrganizationIsTreasury {},

    #[error("the organization and the keeper of task {task_id} cannot join it as trainers")]
    TrainerConflict { task_id: u64 },

    #[error("the treasury cannot be the contract itself")]
    TreasuryIsContract {},

    // ----- funds -----
    #[error("this message takes no funds")]
    FundsNotAllowed {},

    #[error("send exactly one coin; none was sent")]
    NoFunds {},

    #[error("send exactly one coin, in one denom")]
    MultipleDenoms {},

    #[error("the amount sent must be positive")]
    ZeroFunds {},

    #[error("send exactly {expected}, got {got}")]
    WrongFunds { expected: String, got: String },

    #[error("pool + stake × max_trainers + keeper_bond does not fit in 128 bits")]
    EscrowTooLarge {},

    // ----- parameters -----
    #[error("{field} must not be empty")]
    EmptyField { field: String },

    #[error("{field} is longer than {max} characters")]
    StringTooLong { field: String, max: u32 },

    #[error("endpoint must not contain whitespace")]
    WhitespaceInEndpoint {},

    #[error(
        "node_public_key must be a P-256 public key: base64 of its 91-byte SubjectPublicKeyInfo"
    )]
    InvalidNodeKey {},

    #[error("node_key_proof must be the node key's P-256 signature (base64 of r||s) of this contract, task and trainer")]
    InvalidNodeKeyProof {},

    #[error("another trainer of task {task_id} already registered this node key")]
    NodeKeyInUse { task_id: u64 },

    #[error("{field}: {value:?} is not a valid CID (CIDv1 base32 or CIDv0)")]
    InvalidCid { field: String, value: String },

    #[error("{field} must be 64 lowercase hex characters (a sha256 digest)")]
    InvalidSha256 { field: String },

    #[error("{field} is {value} bps, above the maximum of {max} bps")]
    BpsTooHigh { field: String, value: u16, max: u16 },

    #[error(
        "the keeper's fee is now {fee_bps} bps, above the {agreed} bps the organization agreed to"
    )]
    KeeperFeeAboveAgreed { fee_bps: u16, agreed: u16 },

    #[error("{field} = {value} is outside {min}..={max}")]
    OutOfRange {
        field: String,
        value: u64,
        min: u64,
        max: u64,
    },

    #[error("{field} must be positive")]
    ZeroValue { field: String },

    #[error("need 1 <= min_trainers ({min_trainers}) <= max_trainers ({max_trainers}) <= {limit}")]
    InvalidTrainerBounds {
        min_trainers: u32,
        max_trainers: u32,
        limit: u32,
    },

    #[error(
        "need now ({now}) < join_deadline ({join_deadline}) < training_deadline ({training_deadline})"
    )]
    InvalidDeadlines {
        now: u64,
        join_deadline: u64,
        training_deadline: u64,
    },

    #[error("the join window is {secs} s, longer than the maximum of {max} s")]
    JoinWindowTooLong { secs: u64, max: u64 },

    #[error("the training window is {secs} s, longer than the maximum of {max} s")]
    TrainingWindowTooLong { secs: u64, max: u64 },

    #[error("the training window of {secs} s cannot hold every round at its timeout ({needed} s)")]
    TrainingWindowTooShort { secs: u64, needed: u64 },

    #[error(
        "a metric name is 1 to 32 lowercase letters, digits, '_' or '-'; an upper bound is above 0"
    )]
    InvalidMetric {},

    #[error("this task's rounds report {expected}")]
    WrongMetric { expected: String },

    #[error("{metric} is above the task's upper bound for it")]
    MetricOutOfRange { metric: String },

    // ----- task state and timing -----
    #[error("task {task_id} not found")]
    TaskNotFound { task_id: u64 },

    #[error("task {task_id} is {status}; this needs it {expected}")]
    WrongStatus {
        task_id: u64,
        status: TaskStatus,
        expected: String,
    },

    #[error("the join deadline of task {task_id} ({join_deadline}) has passed")]
    JoinDeadlinePassed { task_id: u64, join_deadline: u64 },

    #[error("the training deadline of task {task_id} ({training_deadline}) has passed")]
    TrainingDeadlinePassed {
        task_id: u64,
        training_deadline: u64,
    },

    #[error("task {task_id} is full ({max_trainers} trainers)")]
    TaskFull { task_id: u64, max_trainers: u32 },

    #[error("{address} already joined task {task_id}")]
    AlreadyJoined { task_id: u64, address: String },

    #[error("task has {joined} trainers, fewer than its minimum of {min}")]
    NotEnoughTrainers { joined: u32, min: u32 },

    #[error(
        "task {task_id} is full, or closed its joins with enough trainers: its keeper is committed to run it, so it can no longer be cancelled or left"
    )]
    TaskCommitted { task_id: u64 },

    #[error("round 1 waits until joins close: the join deadline ({join_deadline}) or a full task")]
    JoinsStillOpen { join_deadline: u64 },

    #[error("round out of order: expected round {expected}, got {got}")]
    RoundOutOfOrder { expected: u32, got: u32 },

    #[error("all {rounds} rounds of the task are already attested")]
    AllRoundsDone { rounds: u32 },

    #[error("{count} contributors listed but the task has only {participants} participants")]
    TooManyContributors { count: u32, participants: u32 },

    #[error("{address} is listed twice among the round's contributors")]
    DuplicateContributor { address: String },

    #[error("contribution weight {weight} of {address} is above the task's cap of {cap} examples")]
    WeightAboveCap {
        address: String,
        weight: Uint128,
        cap: Uint128,
    },

    #[error("a round of a measured task credits {total} in all, above its budget of {budget}")]
    RoundWeightAboveBudget { total: Uint128, budget: Uint128 },

    #[error(
        "a task paying for measured contribution must name its validation set (validation_sha256)"
    )]
    MeasuredScoringNeedsValidationSet {},

    #[error("contribution weight of {address} must be positive")]
    ZeroWeight { address: String },

    #[error("{address} was slashed and cannot contribute or be slashed again")]
    AlreadySlashed { address: String },

    #[error(
        "task {task_id} cannot be finalized yet: {rounds_completed} of {rounds} rounds attested; anyone may finalize it from {finalizable_at}"
    )]
    NotFinalizable {
        task_id: u64,
        rounds_completed: u32,
        rounds: u32,
        finalizable_at: u64,
    },

    #[error("{address} already claimed from task {task_id}")]
    AlreadyClaimed { task_id: u64, address: String },

    #[error("the claim window of task {task_id} is closed: its funds were swept to the treasury")]
    ClaimWindowClosed { task_id: u64 },

    #[error("task {task_id} can be swept from {sweepable_at}")]
    ClaimWindowOpen { task_id: u64, sweepable_at: u64 },

    #[error("task {task_id} was already swept")]
    AlreadySwept { task_id: u64 },

    // ----- slashing evidence -----
    #[error("only the round just attested (round {current}) can carry slashes, not round {round}")]
    SlashRoundNotCurrent { round: u32, current: u32 },

    #[error(
        "round {round} was attested at height {attested_at}; its slashes must come in that block, not at height {height}"
    )]
    SlashTooLate {
        round: u32,
        attested_at: u64,
        height: u64,
    },

    #[error("{address} contributed to round {round} and cannot be slashed for it")]
    SlashedContributor { address: String, round: u32 },

    #[error("the claim's public key is not a 33-byte compressed secp256k1 key")]
    InvalidPublicKey {},

    #[error("the claim's signature is not a valid signature of its payload by its public key")]
    InvalidSignature {},

    #[error("the claim's public key does not belong to {trainer}")]
    ClaimSignerMismatch { trainer: String },

    #[error("the claim's payload is not a claim object: {reason}")]
    InvalidClaimPayload { reason: String },

    #[error("the claim was signed for {field} {got}, not {expected}")]
    ClaimMismatch {
        field: String,
        expected: String,
        got: String,
    },

    #[error("an equivocation slash needs a second, conflicting claim")]
    ConflictingClaimRequired {},

    #[error("only an equivocation slash takes a conflicting claim")]
    ConflictingClaimNotAllowed {},

    #[error("the conflicting claim signs the same payload as the claim")]
    IdenticalClaims {},

    // ----- migration -----
    #[error("cannot migrate {found}: this is {expected}")]
    WrongContract { expected: String, found: String },

    #[error("stored version {version} is not MAJOR.MINOR.PATCH")]
    InvalidVersion { version: String },

    #[error("cannot migrate from version {from}: the layout before {min} is incompatible")]
    MigrationUnsupported { from: String, min: String },

    #[error("cannot migrate from version {from} down to {to}")]
    CannotDowngrade { from: String, to: String },
}
