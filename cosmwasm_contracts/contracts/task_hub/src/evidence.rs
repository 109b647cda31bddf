//! Slash evidence: the trainer's own signed update claim, verified on chain.
//!
//! A keeper can only slash a trainer that provably submitted an update for the round being
//! attested: the trainer signed a claim naming this chain, this contract, the task and the round,
//! with the secp256k1 key of its staked account. The signature is over the ADR-036 sign doc of
//! the claim (what `client_kit/envelope.py: adr036_sign_bytes` and Keplr's signArbitrary sign),
//! so the contract rebuilds those exact bytes.

use cosmwasm_std::{from_json, Addr, Api, Binary, Env};
use ripemd::Ripemd160;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ContractError;
use crate::msg::SignedClaim;

/// The kind of claim a slash may carry: an update. A trainer also signs evaluation and binding
/// claims for the same task and round; those must never pass for an update (two different
/// payloads for one round would otherwise "prove" an equivocation that never happened).
const UPDATE_KIND: &str = "update";

/// The claim fields the contract checks. Other keys of the payload (v, node_id, digest, base,
/// num_examples, …) are ignored, so the claim format can grow without a contract change.
#[derive(Deserialize)]
struct ClaimPayload {
    kind: String,
    chain_id: String,
    contract: String,
    task_id: u64,
    round: u32,
}

/// The ADR-036 StdSignDoc for arbitrary data, as canonical JSON (keys sorted, no spaces):
/// empty chain id, zero account number and sequence, the data as standard base64.
pub fn sign_doc(signer: &str, payload: &[u8]) -> Vec<u8> {
    format!(
        r#"{{"account_number":"0","chain_id":"","fee":{{"amount":[],"gas":"0"}},"memo":"","msgs":[{{"type":"sign/MsgSignData","value":{{"data":"{}","signer":"{}"}}}}],"sequence":"0"}}"#,
        Binary::from(payload).to_base64(),
        signer
    )
    .into_bytes()
}

/// The account address bytes of a public key: ripemd160(sha256(pub_key)).
fn account_bytes(pub_key: &[u8]) -> Vec<u8> {
    Ripemd160::digest(Sha256::digest(pub_key)).to_vec()
}

fn mismatch(field: &str, expected: impl ToString, got: impl ToString) -> ContractError {
    ContractError::ClaimMismatch {
        field: field.into(),
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

/// Checks that `claim` is `trainer`'s signature over a claim for this chain, this contract,
/// `task_id` and `round`. Cheap checks come first; the signature check last.
pub fn verify_claim(
    api: &dyn Api,
    env: &Env,
    task_id: u64,
    round: u32,
    trainer: &Addr,
    claim: &SignedClaim,
) -> Result<(), ContractError> {
    let pub_key = claim.pub_key.as_slice();
    if pub_key.len() != 33 || !matches!(pub_key[0], 0x02 | 0x03) {
        return Err(ContractError::InvalidPublicKey {});
    }
    let payload: ClaimPayload =
        from_json(&claim.payload).map_err(|e| ContractError::InvalidClaimPayload {
            reason: e.to_string(),
        })?;
    if payload.kind != UPDATE_KIND {
        return Err(mismatch("kind", UPDATE_KIND, payload.kind));
    }
    if payload.chain_id != env.block.chain_id {
        return Err(mismatch("chain_id", &env.block.chain_id, payload.chain_id));
    }
    if payload.contract != env.contract.address.as_str() {
        return Err(mismatch(
            "contract",
            &env.contract.address,
            payload.contract,
        ));
    }
    if payload.task_id != task_id {
        return Err(mismatch("task_id", task_id, payload.task_id));
    }
    if payload.round != round {
        return Err(mismatch("round", round, payload.round));
    }
    if api.addr_canonicalize(trainer.as_str())?.as_slice() != account_bytes(pub_key).as_slice() {
        return Err(ContractError::ClaimSignerMismatch {
            trainer: trainer.to_string(),
        });
    }
    let hash = Sha256::digest(sign_doc(trainer.as_str(), claim.payload.as_slice()));
    match api.secp256k1_verify(&hash, claim.signature.as_slice(), pub_key) {
        Ok(true) => Ok(()),
        _ => Err(ContractError::InvalidSignature {}),
    }
}
