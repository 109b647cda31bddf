//! Hard caps and input checks shared by the handlers.
//!
//! The caps bound what any configuration or task may ask for, so neither the admin nor an
//! organization can set a fee or a penalty that turns a failure into confiscation, nor a
//! deadline that locks coins for years.

use cosmwasm_std::{Binary, Coin, MessageInfo, Uint128};

use crate::error::ContractError;
use crate::msg::{Limits, TaskMetric};

/// Platform fee, on the delivered pool.
pub const MAX_FEE_BPS: u16 = 1_000;
/// Keeper fee, on the delivered pool.
pub const MAX_KEEPER_FEE_BPS: u16 = 2_000;
/// Share of a stake a no-show can lose (scaled further by the productive rounds).
pub const MAX_NO_SHOW_BPS: u16 = 2_500;
/// Share of a stake a slashed trainer loses.
pub const MAX_SLASH_BPS: u16 = 5_000;

const DAY: u64 = 86_400;
/// join_deadline − now at creation.
pub const MAX_JOIN_WINDOW_SECS: u64 = 90 * DAY;
/// training_deadline − join_deadline.
pub const MAX_TRAINING_WINDOW_SECS: u64 = 365 * DAY;
pub const GRACE_PERIOD_SECS: (u64, u64) = (60, 30 * DAY);
pub const CLAIM_WINDOW_SECS: (u64, u64) = (60, 365 * DAY);
pub const ROUND_TIMEOUT_SECS: (u64, u64) = (5, DAY);
pub const MAX_TRAINERS_PER_TASK: (u64, u64) = (1, 10_000);
pub const MAX_ROUNDS: (u64, u64) = (1, 1_000);
pub const MAX_STRING_LEN: (u64, u64) = (16, 1_024);
pub const MAX_CID_LEN: (u64, u64) = (46, 256);
/// A contribution's weight cap (a task's `max_examples_per_trainer`): the sum of a round's capped
/// example counts stays far inside u64 whatever the number of trainers.
pub const MAX_EXAMPLES_PER_TRAINER: (u64, u64) = (1, 1_000_000_000_000);

pub const DEFAULT_QUERY_LIMIT: u32 = 10;
pub const MAX_QUERY_LIMIT: u32 = 100;

/// A page size: the default when absent, at least 1 (so paging always moves on), at most the cap.
pub fn query_limit(requested: Option<u32>) -> usize {
    requested
        .unwrap_or(DEFAULT_QUERY_LIMIT)
        .clamp(1, MAX_QUERY_LIMIT) as usize
}

pub fn in_range(field: &str, value: u64, (min, max): (u64, u64)) -> Result<(), ContractError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ContractError::OutOfRange {
            field: field.into(),
            value,
            min,
            max,
        })
    }
}

pub fn bps(field: &str, value: u16, max: u16) -> Result<(), ContractError> {
    if value <= max {
        Ok(())
    } else {
        Err(ContractError::BpsTooHigh {
            field: field.into(),
            value,
            max,
        })
    }
}

pub fn limits(limits: &Limits) -> Result<(), ContractError> {
    in_range(
        "max_trainers_per_task",
        limits.max_trainers_per_task.into(),
        MAX_TRAINERS_PER_TASK,
    )?;
    in_range("max_rounds", limits.max_rounds.into(), MAX_ROUNDS)?;
    in_range(
        "grace_period_secs",
        limits.grace_period_secs,
        GRACE_PERIOD_SECS,
    )?;
    in_range(
        "claim_window_secs",
        limits.claim_window_secs,
        CLAIM_WINDOW_SECS,
    )?;
    in_range(
        "max_string_len",
        limits.max_string_len.into(),
        MAX_STRING_LEN,
    )?;
    in_range("max_cid_len", limits.max_cid_len.into(), MAX_CID_LEN)
}

pub fn no_funds(info: &MessageInfo) -> Result<(), ContractError> {
    if info.funds.is_empty() {
        Ok(())
    } else {
        Err(ContractError::FundsNotAllowed {})
    }
}

/// Exactly one nonzero coin; returns it.
pub fn single_coin(info: &MessageInfo) -> Result<Coin, ContractError> {
    match info.funds.as_slice() {
        [coin] if !coin.amount.is_zero() => Ok(coin.clone()),
        [] => Err(ContractError::NoFunds {}),
        [_] => Err(ContractError::ZeroFunds {}),
        _ => Err(ContractError::MultipleDenoms {}),
    }
}

/// Exactly `amount` of `denom`, nothing else.
pub fn exact_funds(info: &MessageInfo, amount: Uint128, denom: &str) -> Result<(), ContractError> {
    let expected = Coin::new(amount, denom);
    match info.funds.as_slice() {
        [coin] if *coin == expected => Ok(()),
        funds => Err(ContractError::WrongFunds {
            expected: expected.to_string(),
            got: if funds.is_empty() {
                "nothing".into()
            } else {
                funds
                    .iter()
                    .map(Coin::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
        }),
    }
}

pub fn text(
    field: &str,
    value: &str,
    limits: &Limits,
    allow_empty: bool,
) -> Result<(), ContractError> {
    if !allow_empty && value.trim().is_empty() {
        return Err(ContractError::EmptyField {
            field: field.into(),
        });
    }
    if value.chars().count() > limits.max_string_len as usize {
        return Err(ContractError::StringTooLong {
            field: field.into(),
            max: limits.max_string_len,
        });
    }
    Ok(())
}

/// A keeper's public gRPC endpoint (`host:port`): printable, no whitespace.
pub fn endpoint(value: &str, limits: &Limits) -> Result<(), ContractError> {
    text("endpoint", value, limits, false)?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ContractError::WhitespaceInEndpoint {});
    }
    Ok(())
}

/// DER header of a SubjectPublicKeyInfo for an uncompressed P-256 point (id-ecPublicKey, prime256v1),
/// the node keys Flower's SuperNode authentication takes.
const P256_SPKI_HEADER: [u8; 27] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
];
const P256_SPKI_LEN: usize = 91;

/// A trainer's Flower node key: canonical (padded) base64 of an uncompressed P-256
/// SubjectPublicKeyInfo. Returns the SEC1 point (65 bytes), which the proof is checked against.
pub fn node_public_key(value: &str) -> Result<Vec<u8>, ContractError> {
    if value.len() != 4 * P256_SPKI_LEN.div_ceil(3) {
        return Err(ContractError::InvalidNodeKey {});
    }
    match Binary::from_base64(value) {
        Ok(der)
            if der.len() == P256_SPKI_LEN
                && der.starts_with(&P256_SPKI_HEADER)
                && der.to_base64() == value =>
        {
            Ok(der[P256_SPKI_HEADER.len() - 1..].to_vec())
        }
        _ => Err(ContractError::InvalidNodeKey {}),
    }
}

/// What a node key's proof signs: this contract, the task and the trainer naming the key, so a
/// proof cannot be replayed by another trainer, in another task or on another deployment.
pub fn node_key_statement(contract: &str, task_id: u64, trainer: &str) -> Vec<u8> {
    format!("fedchain node key v1\n{contract}\n{task_id}\n{trainer}").into_bytes()
}

/// CIDv1 in base32 ("b" + [a-z2-7]) or CIDv0 ("Qm" + 44 base58 characters), at most `max_len`.
pub fn cid(field: &str, value: &str, max_len: u32) -> Result<(), ContractError> {
    let invalid = || ContractError::InvalidCid {
        field: field.into(),
        value: value.chars().take(80).collect(),
    };
    if value.is_empty() || value.len() > max_len as usize {
        return Err(invalid());
    }
    let v1 = value.len() > 8
        && value.starts_with('b')
        && value[1..]
            .bytes()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c));
    let base58 = |c: u8| c.is_ascii_alphanumeric() && !matches!(c, b'0' | b'O' | b'I' | b'l');
    let v0 = value.len() == 46 && value.starts_with("Qm") && value.bytes().all(base58);
    if v1 || v0 {
        Ok(())
    } else {
        Err(invalid())
    }
}

pub fn sha256_hex(field: &str, value: &str) -> Result<(), ContractError> {
    if value.len() == 64
        && value
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        Ok(())
    } else {
        Err(ContractError::InvalidSha256 {
            field: field.into(),
        })
    }
}

/// A task's metric: a short lowercase name (it labels every round) and, if bounded, a bound above 0.
pub fn metric(metric: &TaskMetric) -> Result<(), ContractError> {
    let name_ok = (1..=32).contains(&metric.name.len())
        && metric
            .name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
    if name_ok && metric.at_most.is_none_or(|at_most| !at_most.is_zero()) {
        Ok(())
    } else {
        Err(ContractError::InvalidMetric {})
    }
}
