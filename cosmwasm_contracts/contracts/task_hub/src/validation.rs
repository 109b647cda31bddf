//! Input checks shared by the execute handlers.

use cosmwasm_std::{Coin, MessageInfo, Uint128};

use crate::error::ContractError;
use crate::state::Limits;

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
        [] => Err(ContractError::InvalidFunds(
            "send exactly one coin; none was sent".into(),
        )),
        [_] => Err(ContractError::InvalidFunds(
            "the amount sent must be positive".into(),
        )),
        _ => Err(ContractError::InvalidFunds(
            "send exactly one coin, in one denom".into(),
        )),
    }
}

pub fn exact_funds(info: &MessageInfo, amount: Uint128, denom: &str) -> Result<(), ContractError> {
    let coin = single_coin(info)
        .map_err(|_| ContractError::InvalidFunds(format!("send exactly {amount}{denom}")))?;
    if coin.denom != denom || coin.amount != amount {
        return Err(ContractError::InvalidFunds(format!(
            "send exactly {amount}{denom}, got {}{}",
            coin.amount, coin.denom
        )));
    }
    Ok(())
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

/// CIDv1 in base32 ("b" + [a-z2-7]) or CIDv0 ("Qm" + 44 base58 characters).
pub fn cid(field: &str, value: &str, limits: &Limits) -> Result<(), ContractError> {
    let invalid = || ContractError::InvalidCid {
        field: field.into(),
        value: value.chars().take(80).collect(),
    };
    if value.is_empty() || value.len() > limits.max_cid_len as usize {
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

pub fn bps(field: &str, value: u16) -> Result<(), ContractError> {
    if value <= 10_000 {
        Ok(())
    } else {
        Err(ContractError::InvalidBps {
            field: field.into(),
        })
    }
}
