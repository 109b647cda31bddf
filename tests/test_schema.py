"""The Python binding speaks the contract's language: every name it sends or reads is in the
contract's own JSON schema (generated from the Rust types), and every field the contract answers
with is read."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from client_kit.task_hub import (
    Claimable,
    KeeperProfile,
    Limits,
    Participant,
    Profile,
    RoundRecord,
    Scoring,
    SlashReason,
    Task,
    TaskSpec,
    TaskStatus,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "cosmwasm_contracts/contracts/task_hub/schema/task_hub.json").read_text()
)


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)} - {"raw"}


def _properties(section: dict, definition: str | None = None) -> set[str]:
    body = section["definitions"][definition] if definition else section
    if "anyOf" in body:  # Option<T>: the T
        body = next(part for part in body["anyOf"] if part.get("$ref"))
        return _properties(section, body["$ref"].split("/")[-1])
    return set(body["properties"])


def test_every_message_the_binding_sends_is_in_the_schema() -> None:
    variants = {required for variant in SCHEMA["execute"]["oneOf"] for required in variant["required"]}
    assert variants == {
        "register",
        "register_keeper",
        "create_task",
        "accept_task",
        "cancel_task",
        "join_task",
        "leave_task",
        "set_node_key",
        "submit_round",
        "slash",
        "finalize_task",
        "claim",
        "sweep",
        "update_config",
    }
    assert _names(TaskSpec) == _properties(SCHEMA["execute"], "CreateTaskMsg")
    assert _names(Limits) == _properties(SCHEMA["execute"], "Limits")
    assert [r.value for r in SlashReason] == SCHEMA["execute"]["definitions"]["SlashReason"]["enum"]
    scorings = SCHEMA["execute"]["definitions"]["Scoring"]["oneOf"]  # documented variants
    assert [s.value for s in Scoring] == [value for variant in scorings for value in variant["enum"]]


@pytest.mark.parametrize(
    ("cls", "response", "definition"),
    [
        (Task, "task", None),
        (Participant, "participant", "ParticipantResponse"),
        (Claimable, "claimable", None),
        (Profile, "profile", "ProfileResponse"),
        (KeeperProfile, "profile", "KeeperProfile"),
    ],
)
def test_every_field_the_contract_answers_is_read(cls: type, response: str, definition: str | None) -> None:
    answered = _properties(SCHEMA["responses"][response], definition)
    ignored = {"registered_at"} if cls is Profile else set()  # kept on chain for explorers, unused here
    assert _names(cls) == answered - ignored


def test_round_records_and_task_statuses_match() -> None:
    rounds = SCHEMA["responses"]["rounds"]
    assert _names(RoundRecord) == _properties(rounds, "RoundResponse")
    statuses = SCHEMA["responses"]["task"]["definitions"]["TaskStatus"]["oneOf"]  # documented variants
    assert {s.value for s in TaskStatus} == {value for variant in statuses for value in variant["enum"]}
