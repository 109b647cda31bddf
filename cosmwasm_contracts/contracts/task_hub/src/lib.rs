//! task_hub: escrowed federated-learning tasks on CosmWasm.
//!
//! An organization funds a task's reward pool and names a registered keeper; the keeper accepts
//! by bonding its delivery; trainers stake to join; the keeper attests each aggregation round
//! with the accepted contributors and their weights, and slashes a trainer only with that
//! trainer's own signed claim. Finalization pays the treasury, the organization and the keeper;
//! each trainer claims its own share. Finalize and claim are O(1): totals are stored, shares are
//! computed at claim time. The guiding rule: nobody profits from a failure they can cause, and
//! no coin is locked forever (a settled task is swept to its treasury after its claim window).

pub mod contract;
pub mod error;
pub mod evidence;
pub mod execute;
pub mod msg;
pub mod query;
pub mod settlement;
pub mod state;
pub mod validation;

pub use crate::error::ContractError;
