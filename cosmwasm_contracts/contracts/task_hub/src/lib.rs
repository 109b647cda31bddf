//! task_hub: escrowed federated-learning tasks on CosmWasm.
//!
//! An organization funds a task's reward pool; trainers stake to join; the task's keeper attests
//! each aggregation round with the accepted contributors and their weights, and slashes malicious
//! trainers; after finalization each trainer claims its stake (minus penalties) and its share.
//! Finalize and claim are O(1): totals are stored, shares are computed at claim time.

pub mod contract;
pub mod error;
pub mod execute;
pub mod msg;
pub mod query;
pub mod settlement;
pub mod state;
pub mod validation;

pub use crate::error::ContractError;
