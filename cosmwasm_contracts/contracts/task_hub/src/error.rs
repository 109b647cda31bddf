use cosmwasm_std::{OverflowError, StdError};
use thiserror::Error;

/// Every way task_hub refuses a message. A refusal changes nothing.
#[derive(Error, Debug, PartialEq)]
pub enum ContractError {
    #[error("{0}")]
    Std(#[from] StdError),

    #[error("arithmetic overflow: {0}")]
    Overflow(#[from] OverflowError),

    #[error("unauthorized: {0}")]
    Unauthorized(String),

    #[error("{address} is not registered as {role}")]
    NotRegistered { address: String, role: String },

    #[error("register needs at least one role (organization or trainer)")]
    NoRole {},

    #[error("invalid funds: {0}")]
    InvalidFunds(String),

    #[error("this message takes no funds")]
    FundsNotAllowed {},

    #[error("{field}: {value:?} is not a valid CID (CIDv1 base32 or CIDv0)")]
    InvalidCid { field: String, value: String },

    #[error("{field} must be 64 lowercase hex characters (a sha256 digest)")]
    InvalidSha256 { field: String },

    #[error("{field} is longer than {max} characters")]
    StringTooLong { field: String, max: u32 },

    #[error("{field} must not be empty")]
    EmptyField { field: String },

    #[error("invalid deadlines: need now < join_deadline < training_deadline")]
    InvalidDeadlines {},

    #[error("rounds must be between 1 and {max}")]
    InvalidRounds { max: u32 },

    #[error("need 1 <= min_trainers <= max_trainers <= {max}")]
    InvalidTrainerBounds { max: u32 },

    #[error("{field} must be at most 10000 basis points")]
    InvalidBps { field: String },

    #[error("platform fee {fee_bps} bps exceeds the maximum of {max} bps")]
    FeeTooHigh { fee_bps: u16, max: u16 },

    #[error("task {id} not found")]
    TaskNotFound { id: u64 },

    #[error("task {id} is {status}; this needs it to be {expected}")]
    WrongStatus {
        id: u64,
        status: String,
        expected: String,
    },

    #[error("the join deadline has passed")]
    JoinDeadlinePassed {},

    #[error("task is full")]
    TaskFull {},

    #[error("{address} already joined this task")]
    AlreadyJoined { address: String },

    #[error("the task's organization and keeper cannot join it as trainers")]
    ConflictOfInterest {},

    #[error("{address} is not a participant of this task")]
    NotParticipant { address: String },

    #[error("task has {joined} trainers, fewer than its minimum of {min}")]
    NotEnoughTrainers { joined: u32, min: u32 },

    #[error("round out of order: expected round {expected}, got {got}")]
    RoundOutOfOrder { expected: u32, got: u32 },

    #[error("the training deadline has passed")]
    TrainingDeadlinePassed {},

    #[error("{address} is listed twice among the round's contributors")]
    DuplicateContributor { address: String },

    #[error("contribution weight of {address} must be positive")]
    ZeroWeight { address: String },

    #[error("accuracy must be between 0 and 1")]
    InvalidAccuracy {},

    #[error("{address} was slashed and cannot contribute or be slashed again")]
    AlreadySlashed { address: String },

    #[error("task cannot be finalized yet: {0}")]
    NotFinalizable(String),

    #[error("{address} already claimed from this task")]
    AlreadyClaimed { address: String },

    #[error("nothing to claim")]
    NothingToClaim {},
}
