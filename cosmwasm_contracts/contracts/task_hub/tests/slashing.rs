//! Slashing: only with the trainer's own signed claim for the round attested in this very block,
//! verified on chain; every forged, foreign or misdirected claim is refused, and a slash enriches
//! nobody but the treasury.

mod common;

use common::*;
use cosmwasm_std::{Binary, Uint128};
use task_hub::msg::{QueryMsg, SignedClaim, SlashReason, SlashesResponse};
use task_hub::state::TaskStatus;
use task_hub::ContractError;

/// A task with trainers 0..3 joined and round 1 attested in the current block with trainer 0
/// as its only contributor.
fn attested(suite: &mut Suite) -> u64 {
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2, 3]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 10)]).unwrap();
    id
}

fn slashes(suite: &Suite, task_id: u64) -> SlashesResponse {
    suite
        .app
        .wrap()
        .query_wasm_smart(
            &suite.hub,
            &QueryMsg::Slashes {
                task_id,
                start_after: None,
                limit: None,
            },
        )
        .unwrap()
}

#[test]
fn a_slash_with_the_trainers_own_claim_is_recorded_for_re_verification() {
    let mut suite = Suite::new(4);
    let id = attested(&mut suite);
    let msg = suite.slash_msg(id, 1, 1, SlashReason::NormExceeded);
    let response = suite.slash_with(msg.clone()).unwrap();
    assert_eq!(attr(&response, "action"), "slash");
    assert_eq!(attr(&response, "trainer"), suite.trainers[1].to_string());
    assert_eq!(attr(&response, "reason"), "norm_exceeded");
    assert_eq!(attr(&response, "round"), "1");
    assert_eq!(attr(&response, "update_cid"), CID);
    assert_eq!(attr(&response, "amount"), "500");
    let task = suite.task(id);
    assert_eq!((task.slashed_count, task.forfeited.u128()), (1, 500));
    assert!(
        suite
            .participant(id, &suite.trainers[1].clone())
            .unwrap()
            .slashed
    );

    let record = &slashes(&suite, id).slashes[0];
    assert_eq!(record.trainer, suite.trainers[1]);
    assert_eq!(
        (record.round, record.reason),
        (1, SlashReason::NormExceeded)
    );
    assert_eq!(record.claim, msg.evidence.claim);
    assert_eq!(record.conflicting_claim, None);
    assert_eq!(
        (record.forfeit.u128(), record.height),
        (500, suite.height())
    );
    assert_eq!(record.detail, "update norm 1e9 > 1e3");
    // Anyone can re-verify it from the record alone.
    let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(record.claim.pub_key.as_slice()).unwrap();
    let signature = k256::ecdsa::Signature::from_slice(record.claim.signature.as_slice()).unwrap();
    use k256::ecdsa::signature::Verifier;
    key.verify(
        &adr036_sign_doc(record.trainer.as_str(), record.claim.payload.as_slice()),
        &signature,
    )
    .unwrap();

    assert_eq!(
        suite
            .slash(id, 1, 1, SlashReason::NormExceeded)
            .unwrap_err(),
        ContractError::AlreadySlashed {
            address: suite.trainers[1].to_string()
        }
    );
    suite.advance(1);
    assert_eq!(
        suite.round(id, 2, &[(1, 5)]).unwrap_err(),
        ContractError::AlreadySlashed {
            address: suite.trainers[1].to_string()
        },
        "a slashed trainer cannot contribute again"
    );
    assert_eq!(
        suite.profile(&suite.trainers[1].clone()).unwrap().slashed,
        1
    );
}

/// Review finding 2: no slash without the trainer's genuine claim for this chain, contract, task
/// and round.
#[test]
fn forged_foreign_and_misdirected_claims_are_refused() {
    let mut suite = Suite::new(4);
    let id = attested(&mut suite);
    let other_task = suite.open_task(suite.task_msg(), POOL, &[]);
    let good = suite.slash_msg(id, 1, 1, SlashReason::InvalidUpdate);
    let hub = suite.hub.to_string();
    let payload = |chain: &str, contract: &str, task: u64, round: u32| {
        claim_payload(chain, contract, task, round, &"ab".repeat(32), 1)
    };
    let with_claim = |claim: SignedClaim| {
        let mut m = good.clone();
        m.evidence.claim = claim;
        m
    };
    let t1 = suite.trainers[1].to_string();
    let mismatch = |field: &str, expected: &str, got: &str| ContractError::ClaimMismatch {
        field: field.into(),
        expected: expected.into(),
        got: got.into(),
    };
    let forged = SignedClaim {
        signature: Binary::from(vec![7u8; 64]),
        ..good.evidence.claim.clone()
    };
    // Trainer 2 signs, with its own key, a claim presented as trainer 1's.
    let other_key = suite.sign(2, suite.payload(1, id, 1, 0));
    // Trainer 2's signature presented with trainer 1's public key.
    let other_signature = SignedClaim {
        pub_key: good.evidence.claim.pub_key.clone(),
        ..other_key.clone()
    };
    // Trainer 1's key, but the sign doc names trainer 2 as signer.
    let wrong_signer = {
        let data = suite.payload(1, id, 1, 0);
        SignedClaim {
            signature: Binary::from(sign_bytes(
                &suite.keys[1],
                suite.trainers[2].as_str(),
                &data,
            )),
            pub_key: Binary::from(public_key(&suite.keys[1])),
            payload: Binary::from(data),
        }
    };
    let cases: Vec<(task_hub::msg::SlashMsg, ContractError)> = vec![
        (with_claim(forged), ContractError::InvalidSignature {}),
        (
            with_claim(other_key),
            ContractError::ClaimSignerMismatch {
                trainer: t1.clone(),
            },
        ),
        (
            with_claim(other_signature),
            ContractError::InvalidSignature {},
        ),
        (with_claim(wrong_signer), ContractError::InvalidSignature {}),
        (
            with_claim(suite.sign(1, payload(CHAIN_ID, &hub, other_task, 1))),
            mismatch("task_id", &id.to_string(), &other_task.to_string()),
        ),
        (
            with_claim(suite.sign(1, payload(CHAIN_ID, &hub, id, 2))),
            mismatch("round", "1", "2"),
        ),
        (
            with_claim(suite.sign(1, payload(CHAIN_ID, "wasm1other", id, 1))),
            mismatch("contract", &hub, "wasm1other"),
        ),
        (
            with_claim(suite.sign(1, payload("other-chain", &hub, id, 1))),
            mismatch("chain_id", CHAIN_ID, "other-chain"),
        ),
        (
            with_claim(suite.sign(1, br#"{"chain_id":"fedchain-test"}"#.to_vec())),
            ContractError::InvalidClaimPayload {
                reason:
                    "Error parsing into type task_hub::evidence::ClaimPayload: missing field `kind`"
                        .into(),
            },
        ),
        (
            with_claim(SignedClaim {
                pub_key: Binary::from(vec![2u8; 32]),
                ..good.evidence.claim.clone()
            }),
            ContractError::InvalidPublicKey {},
        ),
        (
            {
                let mut m = good.clone();
                m.evidence.update_cid = "not-a-cid".into();
                m
            },
            ContractError::InvalidCid {
                field: "update_cid".into(),
                value: "not-a-cid".into(),
            },
        ),
        (
            {
                let mut m = good.clone();
                m.detail = "d".repeat(1_025); // the hard cap, whatever the admin's current limit
                m
            },
            ContractError::StringTooLong {
                field: "detail".into(),
                max: 1_024,
            },
        ),
        (
            {
                let mut m = good.clone();
                m.evidence.conflicting_claim = Some(suite.claim_of(1, id, 1));
                m
            },
            ContractError::ConflictingClaimNotAllowed {},
        ),
        (
            suite.slash_msg(id, 2, 1, SlashReason::InvalidUpdate),
            ContractError::SlashRoundNotCurrent {
                round: 2,
                current: 1,
            },
        ),
        (
            suite.slash_msg(id, 0, 1, SlashReason::InvalidUpdate),
            ContractError::SlashRoundNotCurrent {
                round: 0,
                current: 1,
            },
        ),
        (
            suite.slash_msg(id, 1, 0, SlashReason::InvalidUpdate),
            ContractError::SlashedContributor {
                address: suite.trainers[0].to_string(),
                round: 1,
            },
        ),
    ];
    for (msg, error) in cases {
        assert_eq!(suite.slash_with(msg).unwrap_err(), error);
    }
    let outsider = suite.outsider.clone();
    assert_eq!(
        suite
            .exec(
                &outsider,
                &task_hub::msg::ExecuteMsg::Slash(good.clone()),
                &[]
            )
            .unwrap_err(),
        ContractError::NotTaskKeeper { task_id: id }
    );
    let task = suite.task(id);
    assert_eq!((task.slashed_count, task.forfeited.u128()), (0, 0));
    assert!(slashes(&suite, id).slashes.is_empty());
    // The genuine claim still works in this block.
    suite.slash_with(good).unwrap();
}

#[test]
fn an_equivocation_needs_two_different_genuine_claims_for_the_round() {
    let mut suite = Suite::new(4);
    let id = attested(&mut suite);
    let base = suite.slash_msg(id, 1, 2, SlashReason::Equivocation);
    let with_conflict = |claim: Option<SignedClaim>| {
        let mut m = base.clone();
        m.evidence.conflicting_claim = claim;
        m
    };
    let cases = [
        (
            with_conflict(None),
            ContractError::ConflictingClaimRequired {},
        ),
        (
            with_conflict(Some(base.evidence.claim.clone())),
            ContractError::IdenticalClaims {},
        ),
        (
            with_conflict(Some(suite.sign(3, suite.payload(3, id, 1, 1)))),
            ContractError::ClaimSignerMismatch {
                trainer: suite.trainers[2].to_string(),
            },
        ),
        (
            with_conflict(Some(suite.sign(2, suite.payload(2, id, 2, 1)))),
            ContractError::ClaimMismatch {
                field: "round".into(),
                expected: "1".into(),
                got: "2".into(),
            },
        ),
    ];
    for (msg, error) in cases {
        assert_eq!(suite.slash_with(msg).unwrap_err(), error);
    }
    suite.slash_with(base.clone()).unwrap();
    let record = &slashes(&suite, id).slashes[0];
    assert_eq!(record.reason, SlashReason::Equivocation);
    assert_eq!(record.conflicting_claim, base.evidence.conflicting_claim);
}

/// Review finding 2: no slash before any round, in a later block, or after the deadline.
#[test]
fn slashes_only_come_in_the_block_that_attests_the_round() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    assert_eq!(
        suite.slash(id, 1, 1, SlashReason::NonFinite).unwrap_err(),
        ContractError::WrongStatus {
            task_id: id,
            status: TaskStatus::Open,
            expected: "running".into()
        }
    );
    suite.round(id, 1, &[(0, 1)]).unwrap();
    let attested_at = suite.height();
    suite.advance(1);
    assert_eq!(
        suite.slash(id, 1, 1, SlashReason::NonFinite).unwrap_err(),
        ContractError::SlashTooLate {
            round: 1,
            attested_at,
            height: attested_at + 1
        }
    );
    // Round 2 in the last second before the deadline; its slashes cannot come later.
    let deadline = suite.task(id).training_deadline;
    suite.advance_to(deadline - 1);
    suite.round(id, 2, &[(0, 1)]).unwrap();
    suite.advance(1);
    assert!(matches!(
        suite.slash(id, 2, 1, SlashReason::NonFinite).unwrap_err(),
        ContractError::SlashTooLate { .. }
    ));
    suite.finalize(id).unwrap();
    assert!(matches!(
        suite.slash(id, 2, 1, SlashReason::NonFinite).unwrap_err(),
        ContractError::WrongStatus { .. }
    ));
    assert_eq!(suite.task(id).slashed_count, 0);
}

/// Review finding 2: a keeper that tries to slash and then vanishes costs the trainers nothing:
/// without a round there is no slash, every stake comes back whole, and the bond goes to the
/// organization (no trainer contributed, so none shares it).
#[test]
fn a_keeper_that_slashes_then_vanishes_costs_the_trainers_nothing() {
    let mut suite = Suite::new(2);
    let starts = [suite.trainer_balance(0), suite.trainer_balance(1)];
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1]);
    suite.close_joins(id);
    assert!(suite.slash(id, 1, 0, SlashReason::NormExceeded).is_err());
    suite.advance_to(suite.task(id).training_deadline + GRACE);
    suite.finalize(id).unwrap();
    for (i, start) in starts.into_iter().enumerate() {
        let c = suite.claimable(id, &suite.trainers[i].clone());
        assert_eq!(
            (c.penalty.u128(), c.compensation.u128(), c.amount.u128()),
            (0, 0, STAKE)
        );
        suite.claim_checked(i, id);
        assert_eq!(suite.trainer_balance(i), start);
    }
}

/// Runs the same task, slashing trainer 2 in round 2 only if `slash`, and returns the net gain
/// of org, keeper, treasury and trainers 0..3.
fn run(slash: bool) -> Vec<i128> {
    let mut suite = Suite::new(3);
    let mut everyone = vec![
        suite.org.clone(),
        suite.keeper.clone(),
        suite.treasury.clone(),
    ];
    everyone.extend(suite.trainers.clone());
    let start: Vec<u128> = everyone.iter().map(|a| suite.balance(a)).collect();
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    suite.round(id, 1, &[(0, 2), (1, 2), (2, 1)]).unwrap();
    suite.round(id, 2, &[(0, 2), (1, 2)]).unwrap();
    if slash {
        suite.slash(id, 2, 2, SlashReason::WrongShape).unwrap();
    }
    suite.finalize(id).unwrap();
    for i in 0..3 {
        suite.claim_checked(i, id);
    }
    // 9,300 × 4/9 rounds down: 1 of dust in both runs, left for the sweep.
    assert_eq!(suite.task(id).held, Uint128::one());
    everyone
        .iter()
        .zip(start)
        .map(|(a, s)| suite.balance(a) as i128 - s as i128)
        .collect()
}

/// Review finding 2: a slash before settlement gives nobody else more; what the slashed trainer
/// loses goes to the treasury alone.
#[test]
fn a_slash_gives_nobody_but_the_treasury_anything() {
    let honest = run(false);
    let slashed = run(true);
    // org, keeper, trainer 0, trainer 1: unchanged.
    for i in [0, 1, 3, 4] {
        assert_eq!(honest[i], slashed[i], "party {i}");
    }
    // Trainer 2 (weight 1 of 9) gains its reward 9,300/9 = 1,033 without the slash, and loses
    // half its stake with it; the difference goes to the treasury.
    assert_eq!((honest[5], slashed[5]), (1_033, -500));
    assert_eq!((honest[2], slashed[2]), (200, 200 + 500 + 1_033));
    assert_eq!(honest.iter().sum::<i128>(), slashed.iter().sum::<i128>());
}

#[test]
fn payloads_may_carry_keys_the_contract_ignores() {
    let mut suite = Suite::new(4);
    let id = attested(&mut suite);
    let payload = format!(
        r#"{{"chain_id":"{CHAIN_ID}","contract":"{}","extra":{{"nested":[1,"x",{{"a":null}}]}},"kind":"update","round":1,"task_id":{id},"v":3}}"#,
        suite.hub
    );
    let mut msg = suite.slash_msg(id, 1, 1, SlashReason::NonFinite);
    msg.evidence.claim = suite.sign(1, payload.into_bytes());
    suite.slash_with(msg).unwrap();
}

/// A trainer signs evaluation (and binding) claims for the same round too. Were those accepted
/// as evidence, a keeper could pair an honest trainer's update and evaluation claims as an
/// "equivocation", or slash on an evaluation claim alone: only update claims count.
#[test]
fn an_evaluation_claim_is_no_evidence() {
    let mut suite = Suite::new(4);
    let id = attested(&mut suite);
    let evaluation = format!(
        r#"{{"accuracy":"0.900000","chain_id":"{CHAIN_ID}","contract":"{}","kind":"evaluation","loss":"0.500000","model":"{BASE}","num_examples":10,"round":1,"task_id":{id},"v":2}}"#,
        suite.hub
    );
    let mut alone = suite.slash_msg(id, 1, 1, SlashReason::NonFinite);
    alone.evidence.claim = suite.sign(1, evaluation.clone().into_bytes());
    let refused = suite.slash_with(alone).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("signed for kind evaluation, not update"),
        "{refused}"
    );
    let mut paired = suite.slash_msg(id, 1, 1, SlashReason::Equivocation);
    paired.evidence.conflicting_claim = Some(suite.sign(1, evaluation.into_bytes()));
    let refused = suite.slash_with(paired).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("signed for kind evaluation, not update"),
        "{refused}"
    );
    assert_eq!(suite.task(id).slashed_count, 0);
}

/// The claim format and signature are exactly those of fedchain's Python envelope code: this
/// vector was produced with `client_kit.envelope.sign` (cosmpy) for the private key
/// sha256("trainer0") and the claim below, and is checked here both ways: Rust reproduces the
/// signature bytes, and the contract accepts the Python-made claim.
#[test]
fn a_claim_signed_by_the_python_envelope_code_is_accepted() {
    const ADDRESS: &str = "wasm1p5qzn0wxllm2l7nvc6u9tmh4kn0q89rev8asss";
    const PUB_KEY: &str = "0234e7c5cc268ebdd5ce0eaf0632288a64054e5e26b5210639e39cac6d048dbb03";
    const PAYLOAD: &str = r#"{"base":"5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f","chain_id":"fedchain-test","contract":"wasm1mzdhwvvh22wrt07w59wxyd58822qavwkx5lcej7aqfkpqqlhaqfsqq5gpq","digest":"faee935763044f124d7526755a5058a33f9402a595994d59eddd4be8546ff201","kind":"update","num_examples":10,"round":1,"task_id":1,"v":2}"#;
    const SIGNATURE: &str =
        "efIMIqobYYLGPzyNAxGHiMwl+f21JsEUj2vnwOUR2odtVZCBh9sfD5Qtu8wCqCm3miD8cikVVqmRL7MjxptgQA==";

    let key = key_for("trainer0");
    assert_eq!(hex(&public_key(&key)), PUB_KEY);
    assert_eq!(
        Binary::from(sign_bytes(&key, ADDRESS, PAYLOAD.as_bytes())).to_base64(),
        SIGNATURE
    );

    let mut suite = Suite::new(3);
    assert_eq!(suite.trainers[0].as_str(), ADDRESS);
    assert_eq!(
        suite.hub.as_str(),
        "wasm1mzdhwvvh22wrt07w59wxyd58822qavwkx5lcej7aqfkpqqlhaqfsqq5gpq"
    );
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    assert_eq!(id, 1);
    suite.close_joins(id);
    suite.round(id, 1, &[(1, 1)]).unwrap();
    let mut msg = suite.slash_msg(id, 1, 0, SlashReason::NormExceeded);
    msg.evidence.claim = SignedClaim {
        payload: Binary::from(PAYLOAD.as_bytes()),
        pub_key: Binary::from(
            (0..33)
                .map(|i| u8::from_str_radix(&PUB_KEY[2 * i..2 * i + 2], 16).unwrap())
                .collect::<Vec<u8>>(),
        ),
        signature: Binary::from_base64(SIGNATURE).unwrap(),
    };
    suite.slash_with(msg).unwrap();
    assert_eq!(suite.task(id).slashed_count, 1);
}

/// Review: the admin lowering `max_string_len` (a setting for future tasks) used to make every
/// live attestation that carries a slash fail, detail too long, so the keeper lost its bond.
#[test]
fn a_lowered_string_limit_does_not_block_a_live_tasks_slash() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(suite.task_msg(), POOL, &[0, 1, 2]);
    suite.close_joins(id);
    let admin = suite.admin.clone();
    let shrunk = task_hub::msg::ExecuteMsg::UpdateConfig {
        treasury: None,
        fee_bps: None,
        limits: Some(task_hub::msg::Limits {
            max_string_len: 16,
            ..limits()
        }),
        admin: None,
    };
    suite.exec(&admin, &shrunk, &[]).unwrap();
    suite.round(id, 1, &[(0, 100), (1, 100)]).unwrap();
    let mut slash = suite.slash_msg(id, 1, 2, SlashReason::NormExceeded);
    slash.detail = "update norm 1000.000 exceeds the bound 50.000".into();
    suite.slash_with(slash).unwrap();
    assert!(
        suite
            .participant(id, &suite.trainers[2].clone())
            .unwrap()
            .slashed
    );
}
