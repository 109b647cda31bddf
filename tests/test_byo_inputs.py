"""Hostile input to what bring-your-own training added (issue 17's adversarial review): each case
lost the keeper its bond, crashed a keyed process, or let the two sides of a trainer disagree.
Every test fails on the code before its fix."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from client_kit.builder import ModelSpec, build_client
from client_kit.data import write_npz
from client_kit.metrics import ACCURACY, MetricError, TaskMetric
from client_kit.model_format import ModelFormatError, decode_views, encode
from client_kit.sandbox import bwrap
from client_kit.settings import ClientSettings, SettingsError, Standardization, settings_from_source
from client_kit.task_hub import RoundMetrics
from client_kit.worker import WorkerError
from keepers.evaluation import Evaluation, aggregate
from keepers.validation import Validator

SETTINGS = ClientSettings("numpy", "t", "fedchain-local-1", "wasm1contract", "wasm", (64,), 10, 16.0, 1, 0.1, 32)


def test_negative_zero_never_reaches_the_chain_as_minus_zero() -> None:
    """A trainer's signed evaluation of loss -0.0 passed every range check, won the weighted median
    and went on chain as "-0.000000", which cosmwasm's Decimal cannot parse: every attestation of
    the round failed and the keeper lost its bond. The same from the organization's validation."""
    evaluations = [Evaluation(1, "wasm1a", 1000, -0.0, 0.88), Evaluation(2, "wasm1b", 1000, 0.4, 0.9)]
    summary = aggregate(evaluations)
    assert summary is not None
    wire = RoundMetrics.bounded(summary.loss, ACCURACY, -0.0, summary.examples).wire()
    assert wire["loss"] == "0.000000" and wire["value"] == "0.000000", wire
    assert not any(str(v).startswith("-") for v in wire.values())


def test_a_bound_with_more_places_than_a_round_records_is_never_exceeded() -> None:
    """A bound of 0.1234567 let the keeper round a clamped value up to 0.123457, above the bound:
    the contract refused every round. Bounds now have at most 6 places, values are floored, and a
    chain bound written with more places (an organization calling the contract itself) is read as
    the recordable bound below it."""
    with pytest.raises(MetricError, match="6 decimal places"):
        TaskMetric("score_x", True, 0.1234567)
    chain = TaskMetric.parse({"name": "score_x", "higher_is_better": True, "at_most": "0.099999999999999999"})
    recorded = RoundMetrics.bounded(0.1, chain, 1.0, 10).value
    assert recorded <= Decimal("0.099999999999999999"), recorded
    tiny = TaskMetric.parse({"name": "s", "higher_is_better": False, "at_most": "0.00000000000000000001"})
    assert RoundMetrics.bounded(0.1, tiny, float("nan"), 10).value == 0  # its worst is its bound, floored


def test_a_metric_name_with_a_trailing_newline_is_refused_before_anything_is_sent() -> None:
    """`$` matched before a trailing newline: "mse\\n" passed, and the contract refused the task."""
    with pytest.raises(MetricError):
        TaskMetric("mse\n", False, None)


def _client(settings_json: str, extra: str = "") -> bytes:
    return f'SETTINGS = ClientSettings.from_json(r"""{settings_json}""")\n{extra}'.encode()


@pytest.mark.parametrize(
    "case",
    ["huge integer bound", "deeply nested", "second binding", "rebound by a loop", "tiny std"],
)
def test_settings_the_key_holding_side_cannot_trust_are_refused_as_settings_errors(case: str) -> None:
    """`settings_from_source` runs in the trainer's signer and the keeper's acceptance: an
    OverflowError or RecursionError escaped as a traceback (and the keeper's service re-checked the
    task forever); a second SETTINGS binding had the worker run other settings than those read."""
    good = json.loads(SETTINGS.to_json())
    sources = {
        "huge integer bound": _client(json.dumps({**good, "metric": {**good["metric"], "at_most": 10**400}})),
        "deeply nested": _client("[" * 100_000 + "]" * 100_000),
        "second binding": _client(SETTINGS.to_json(), "SETTINGS = None\n"),
        "rebound by a loop": _client(SETTINGS.to_json(), "for SETTINGS in [None]:\n    pass\n"),
        "tiny std": _client(json.dumps({**good, "standardize": {"mean": [0.0] * 64, "std": [1e-300] * 64}})),
    }
    assert settings_from_source(_client(SETTINGS.to_json())) == SETTINGS
    with pytest.raises(SettingsError):
        settings_from_source(sources[case])


def test_standardization_stays_finite_in_float32() -> None:
    with pytest.raises(SettingsError):
        Standardization((1e300,), (1.0,))
    scaled = Standardization((0.0,), (1e-12,)).apply(np.array([[1.0]], np.float32))
    assert np.isfinite(scaled).all()


def test_a_deeply_nested_layer_order_is_a_format_error_not_a_crash() -> None:
    """The keeper decodes the organization's root update and trainers' updates: a nested `order`
    raised RecursionError past every handler and stopped the run."""
    model = encode(["w"], [np.zeros(2, np.float32)])
    length = int.from_bytes(model[:8], "little")
    header = json.loads(model[8 : 8 + length])
    header["__metadata__"]["order"] = "[" * 100_000 + "]" * 100_000
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    crafted = len(text).to_bytes(8, "little") + text + model[8 + length :]
    with pytest.raises(ModelFormatError):
        decode_views(crafted)


HUGE_ANSWERS = b"""
import sys as _sys
_worker = _sys.modules["__main__"]  # the organization's code shares the worker's process
_evaluate = _worker.TemplateTask.evaluate


def _huge(self, model):
    answer = _evaluate(self, model)
    answer["metric"] = 10**400  # a JSON integer beyond float's range
    return answer


_worker.TemplateTask.evaluate = _huge
_worker.TemplateTask.losses = lambda self, rows, model: [10**400 for _ in rows]
"""


def test_answers_beyond_floats_range_are_the_task_codes_failure_not_the_keepers(tmp_path: Path) -> None:
    """A 400-digit integer in the validation worker's answer raised TypeError / OverflowError past
    the keeper's handlers (which expect WorkerError): no round was attested, and a measured
    task's run stopped. Now the score is refused as the task's code's failure (the trainers'
    figures are recorded instead) and such a loss counts as the worst there is."""
    built = build_client(SETTINGS, ModelSpec.parse("softmax"))
    digits = load_digits()
    write_npz(tmp_path / "validation", digits.data[:100], digits.target[:100])
    validator = Validator(built.source + HUGE_ANSWERS, tmp_path / "validation", ACCURACY, sandbox=bwrap() is not None)
    try:
        with pytest.raises(WorkerError, match="not a finite number"):
            validator.score(built.initial_model())
        assert validator.losses(built.initial_model(), [[0, 1], [2, 3]]) == [1e6, 1e6]  # MAX_LOSS
    finally:
        validator.close()
