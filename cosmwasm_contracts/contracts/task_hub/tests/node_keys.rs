//! Review (round 3): node keys were first come, first served, with no proof that the trainer naming
//! a key holds its private half. A trainer's node key is derived from its wallet and the task, so it
//! cannot pick another: a staked trainer that named the victim's published key first (after the
//! victim left, or front-running its SetNodeKey) kept the victim's node out of the task for good.
//! Now a key is named only with its own signature of (contract, task, trainer).

mod common;

use common::*;
use cosmwasm_std::coins;
use task_hub::msg::{CreateTaskMsg, ExecuteMsg};
use task_hub::ContractError;

const VICTIM: usize = 0;
const ATTACKER: usize = 1;

fn three_seats(suite: &Suite) -> CreateTaskMsg {
    CreateTaskMsg {
        max_trainers: 3,
        ..suite.task_msg()
    }
}

fn bare_join(suite: &mut Suite, trainer: usize, task_id: u64) {
    let who = suite.trainers[trainer].clone();
    let stake = suite.task(task_id).stake.u128();
    let bare = ExecuteMsg::JoinTask {
        task_id,
        node_public_key: None,
        node_key_proof: None,
    };
    suite.exec(&who, &bare, &coins(stake, DENOM)).unwrap();
}

/// The attacker holds only public things: the victim's key, and proofs made for other senders.
fn squat(suite: &mut Suite, task_id: u64) -> ContractError {
    let hub = suite.hub.clone();
    let victim = suite.trainers[VICTIM].clone();
    let replayed = node_key_proof(VICTIM, &hub, task_id, &victim); // the victim's own proof, replayed
    let err = suite
        .set_node_key_with(ATTACKER, task_id, &node_key(VICTIM), &replayed)
        .unwrap_err();
    let attacker = suite.trainers[ATTACKER].clone();
    let forged = node_key_proof(ATTACKER, &hub, task_id, &attacker); // signed with its own key
    assert_eq!(
        suite
            .set_node_key_with(ATTACKER, task_id, &node_key(VICTIM), &forged)
            .unwrap_err(),
        ContractError::InvalidNodeKeyProof {}
    );
    err
}

#[test]
fn a_staked_trainer_cannot_squat_the_key_of_a_trainer_who_left_and_rejoins() {
    let mut suite = Suite::new(3);
    let id = suite.open_task(three_seats(&suite), POOL, &[VICTIM, ATTACKER]);
    suite.leave(VICTIM, id).unwrap(); // its key was published at its first join
    assert_eq!(squat(&mut suite, id), ContractError::InvalidNodeKeyProof {});
    suite.join(VICTIM, id).unwrap(); // back, with its own key
    let victim = suite.trainers[VICTIM].clone();
    assert_eq!(
        suite.participant(id, &victim).unwrap().node_public_key,
        Some(node_key(VICTIM))
    );
}

#[test]
fn a_front_running_trainer_cannot_take_a_key_named_with_set_node_key() {
    let mut suite = Suite::new(3);
    let id = suite.create(three_seats(&suite), POOL).unwrap();
    suite.accept(id).unwrap();
    bare_join(&mut suite, VICTIM, id); // joined from the web app: names its key later
    suite.join(ATTACKER, id).unwrap();
    assert_eq!(squat(&mut suite, id), ContractError::InvalidNodeKeyProof {});
    suite.set_node_key(VICTIM, id, VICTIM).unwrap();
}
