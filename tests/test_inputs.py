"""Bad input from a file or a form gets a clear error and changes nothing (review finding 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chain_config import TEST_ONLY_MNEMONICS
from client_kit.data import load_folder, write_npz
from client_kit.keys import KeysError, read_mnemonic_file
from client_kit.task_hub import Scoring
from keepers.task_request import TaskRequest, TaskRequestError, parse_time, scoring_of

BASE = {
    "model_name": "digits",
    "rounds": 3,
    "min_trainers": 1,
    "max_trainers": 2,
    "stake": 5000,
    "pool": 10000,
    "join_deadline": "10m",
    "training_deadline": "2h",
    "keeper": "keeper",
}


def test_a_mnemonic_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trainer.mnemonic"
    path.write_text(TEST_ONLY_MNEMONICS["trainer1"] + "\n")
    path.chmod(0o644)
    with pytest.raises(KeysError, match=r"can be read by others \(mode 0644\).*chmod 600"):
        read_mnemonic_file(path)
    path.chmod(0o600)
    assert read_mnemonic_file(path) == TEST_ONLY_MNEMONICS["trainer1"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("stake", 5000000.9), ("pool", True), ("stake", "5e6"), ("rounds", 2.0), ("pool", "-5"), ("stake", None)],
)
def test_money_and_counts_are_exact_whole_numbers(field: str, value: object) -> None:
    """`stake: 5000000.9` used to become 5000000 and `pool: true` became 1."""
    with pytest.raises(TaskRequestError, match=f"{field} must be a whole number"):
        TaskRequest.from_mapping({**BASE, field: value})
    assert TaskRequest.from_mapping({**BASE, "stake": "5000000"}).stake == 5_000_000


@pytest.mark.parametrize("text", ["²", "١٢٣", "10 parsecs", "1e9", "tomorrow"])
def test_a_deadline_that_is_not_one_is_named(text: str) -> None:
    """'²' passed str.isdigit() and escaped from int() as a traceback."""
    with pytest.raises(TaskRequestError, match="cannot read"):
        parse_time(text, 1_000)
    assert parse_time("90s", 1_000) == 1_090 and parse_time("1700000000", 1_000) == 1_700_000_000


def test_a_measured_task_names_its_validation_set_by_fingerprint(tmp_path: Path) -> None:
    """The request carries the folder the keeper will be handed; the chain gets its sha256."""
    write_npz(tmp_path / "held-out", np.ones((4, 2), np.float32), np.array([0, 1, 0, 1]))
    request = TaskRequest.from_mapping({**BASE, "scoring": "measured", "validation": str(tmp_path / "held-out")})
    assert scoring_of(request) == (Scoring.MEASURED, load_folder(tmp_path / "held-out").sha256())
    with pytest.raises(TaskRequestError, match="scoring must be claimed-examples or measured"):
        scoring_of(TaskRequest.from_mapping({**BASE, "scoring": "by vibes"}))
    with pytest.raises(TaskRequestError, match="is not the sha256 of"):
        scoring_of(
            TaskRequest.from_mapping({**BASE, "validation": str(tmp_path / "held-out"), "validation_sha256": "0" * 64})
        )
    assert scoring_of(TaskRequest.from_mapping(BASE)) == (Scoring.CLAIMED_EXAMPLES, None)
