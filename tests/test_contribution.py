"""The contribution pipeline, stage by stage, on constructed updates scored by a real task worker.

The updates are made the way trainers make them — the task's own softmax model trained on shards
of scikit-learn's digits — and then bent the way free-riders, sybils and poisoners bend them. The
keeper's side is the real thing: the task's client.py in its (sandboxed) worker, holding the
organization's validation set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from chain_config import LocalnetConfig
from client_kit.data import load_folder, write_npz
from client_kit.envelope import SignedEnvelope, UpdateClaim
from client_kit.metrics import ACCURACY
from client_kit.model_format import decode, encode
from client_kit.models import SoftmaxRegression
from client_kit.sandbox import bwrap
from client_kit.task_hub import ROUND_WEIGHT
from client_kit.worker import TaskWorker, WorkerError
from keepers.contribution.ledger import Ledger
from keepers.contribution.pipeline import ClaimedContribution, MeasuredContribution, RoundInput
from keepers.contribution.score import ShapleyScorer, Utility, exact_shapley, gtg_shapley
from keepers.contribution.updates import Candidate, Flattener, UpdateRows
from keepers.strategy import new_global_model
from keepers.validation import Validator, find_validation_set
from keepers.verification import Accepted
from tests.trainers import render_digits_client

NAMES = ["weight", "bias"]
EPOCHS, RATE = 5, 0.5


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    data = load_digits()
    order = np.random.default_rng(7).permutation(len(data.target))
    return data.data[order].astype(np.float32), data.target[order]


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory, digits: tuple[np.ndarray, np.ndarray]) -> Iterator[Validator]:
    folder = tmp_path_factory.mktemp("contribution")
    _, built = render_digits_client(LocalnetConfig(home=folder), "wasm1contract", folder / "client")
    x, y = digits
    write_npz(folder / "validation", x[:300], y[:300])
    validator = Validator(built.source, folder / "validation", ACCURACY, sandbox=bwrap() is not None, timeout=60)
    yield validator
    validator.close()


def global_model(digits: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
    """A partly trained model (round 2 or so): honest updates still have much to add."""
    x, y = digits
    model = SoftmaxRegression(64, 10)
    model.fit(x[300:400] / 16.0, y[300:400], epochs=1, learning_rate=0.1, seed=0)
    return model.get_arrays()


def trained(base: list[np.ndarray], x: np.ndarray, y: np.ndarray, seed: int = 1) -> list[np.ndarray]:
    """What an honest trainer sends: the task's model trained from `base` on its data."""
    model = SoftmaxRegression(64, 10)
    model.set_arrays([a.copy() for a in base])
    model.fit(x / 16.0, y, epochs=EPOCHS, learning_rate=RATE, seed=seed)
    return model.get_arrays()


@dataclass(frozen=True)
class Sent:
    """An update a test round receives: who sent it, its arrays, its claimed examples."""

    address: str
    arrays: list[np.ndarray]
    examples: int


def accepted(address: str, arrays: list[np.ndarray], examples: int) -> Sent:
    return Sent(address, arrays, examples)


def spilled(
    task_round: int, names: list[str], base: list[np.ndarray], updates: list[Sent], rows: UpdateRows | None = None
) -> RoundInput:
    """The round as the strategy hands it to the pipeline: each update verified and spilled."""
    flattener = Flattener(names, base)
    rows = rows or UpdateRows(flattener.size)
    verdicts = []
    for update in updates:
        claim = UpdateClaim("fedchain-local", "wasm1contract", 1, 1, update.examples, f"digest-{update.address}", "b")
        envelope = SignedEnvelope(claim=claim, address=update.address, public_key="", signature="")
        row = rows.append(flattener.delta(update.arrays))
        verdicts.append(Accepted(update.address, 0, update.examples, min(update.examples, 1000), envelope, row))
    return RoundInput(1, task_round, names, base, encode(names, base), verdicts, rows)


def shard(
    digits: tuple[np.ndarray, np.ndarray], start: int, size: int, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    x, y = digits
    xs, ys = x[start : start + size], y[start : start + size].copy()
    flip = np.random.default_rng(start).random(size) < noise
    ys[flip] = np.random.default_rng(start + 1).integers(0, 10, flip.sum())
    return xs, ys


@pytest.fixture(scope="module")
def honest(digits: tuple[np.ndarray, np.ndarray]) -> dict[str, list[np.ndarray]]:
    base = global_model(digits)
    return {
        "big": trained(base, *shard(digits, 400, 400)),
        "medium": trained(base, *shard(digits, 800, 200)),
        "small": trained(base, *shard(digits, 1000, 60)),
        "noisy": trained(base, *shard(digits, 1100, 200, noise=0.6)),
    }


def written(flattener: Flattener, deltas: list[tuple[str, float, np.ndarray]]) -> tuple[UpdateRows, list[Candidate]]:
    """Candidates as the pipeline makes them: each change spilled to the round's rows."""
    rows = UpdateRows(flattener.size)
    return rows, [Candidate(name, prior, rows.append(delta)) for name, prior, delta in deltas]


def round_input(digits: tuple[np.ndarray, np.ndarray], updates: list[Sent]) -> RoundInput:
    return spilled(2, NAMES, global_model(digits), updates)


def delta_norm(arrays: list[np.ndarray], base: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(float(((a - b) ** 2).sum()) for a, b in zip(arrays, base, strict=True))))


def credits_of(weights: object) -> dict[str, int]:
    return dict(weights.credits)  # type: ignore[attr-defined]


def test_free_riders_of_every_kind_earn_nothing_and_honest_trainers_share_the_budget(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    base = global_model(digits)
    previous = SoftmaxRegression(64, 10).get_arrays()  # last round's model: the one before `base`
    noise_norm = delta_norm(honest["medium"], base)
    rng = np.random.default_rng(3)
    noise = [rng.normal(size=a.shape).astype(np.float32) for a in base]
    scale = noise_norm / float(np.sqrt(sum(float((n**2).sum()) for n in noise)))
    updates = [
        accepted("big", honest["big"], 400),
        accepted("medium", honest["medium"], 200),
        accepted("returns-global", [a.copy() for a in base], 1000),
        accepted("adds-noise", [a + scale * n for a, n in zip(base, noise, strict=True)], 1000),
        accepted("stale", previous, 1000),
        accepted("small", honest["small"], 60),
    ]
    weights = MeasuredContribution(validator, "sha").weigh(round_input(digits, updates))
    credits = credits_of(weights)
    assert set(credits) == {"big", "medium", "small"}, weights.table
    assert sum(credits.values()) <= ROUND_WEIGHT and sum(credits.values()) > ROUND_WEIGHT - len(credits)
    rows = {row["address"]: row for row in weights.table["trainers"]}
    for rider in ("returns-global", "adds-noise", "stale"):
        assert rows[rider]["credit"] == 0 and rows[rider]["dropped"], rows[rider]
    assert weights.aggregation[2:5] == [0.0, 0.0, 0.0]  # nor do they move the model
    assert credits["big"] > credits["small"]


def test_poisoners_earn_nothing_and_stay_out_of_the_model(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    base = global_model(digits)
    x, y = shard(digits, 1300, 300)
    flipped = trained(base, x, 9 - y)
    good = honest["big"]
    sign_flipped = [b - 0.8 * (g - b) for g, b in zip(good, base, strict=True)]
    updates = [
        accepted("big", good, 400),
        accepted("label-flipper", flipped, 300),
        accepted("sign-flipper", sign_flipped, 1000),
        accepted("medium", honest["medium"], 200),
    ]
    weights = MeasuredContribution(validator, "sha").weigh(round_input(digits, updates))
    assert set(credits_of(weights)) == {"big", "medium"}, weights.table
    assert weights.aggregation[1] == 0.0 and weights.aggregation[2] == 0.0


def test_a_near_duplicate_from_another_address_gains_nothing(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    copy = [a + np.float32(1e-4) for a in honest["big"]]  # the same update, lightly disguised
    updates = [
        accepted("big", honest["big"], 400),
        accepted("medium", honest["medium"], 200),
        accepted("sybil", copy, 400),
    ]
    weights = MeasuredContribution(validator, "sha").weigh(round_input(digits, updates))
    rows = {row["address"]: row for row in weights.table["trainers"]}
    assert rows["sybil"]["credit"] == 0 and "near-duplicate of big" in rows["sybil"]["dropped"]
    assert weights.aggregation[2] == 0.0  # counted once in the model too
    alone = MeasuredContribution(validator, "sha").weigh(round_input(digits, updates[:2]))
    assert credits_of(weights).keys() == credits_of(alone).keys() == {"big", "medium"}


def test_better_data_earns_more(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """Same claimed example count for all: only the measured value tells them apart."""
    updates = [accepted(name, arrays, 200) for name, arrays in honest.items()]
    pipeline = MeasuredContribution(validator, "sha")
    totals: dict[str, int] = {}
    for _ in range(3):  # three rounds' batches: the smoothed shares decide
        for address, credit in pipeline.weigh(round_input(digits, updates)).credits:
            totals[address] = totals.get(address, 0) + credit
    assert totals["big"] > totals["small"]
    assert totals["medium"] > totals.get("noisy", 0)


def test_claimed_counts_pay_only_updates_that_pass_the_median_screen(
    digits: tuple[np.ndarray, np.ndarray], honest: dict[str, list[np.ndarray]]
) -> None:
    base = global_model(digits)
    flipped = [b - 0.8 * (g - b) for g, b in zip(honest["big"], base, strict=True)]
    updates = [
        accepted("big", honest["big"], 400),
        accepted("medium", honest["medium"], 200),
        accepted("small", honest["small"], 60),
        accepted("sign-flipper", flipped, 5000),
        accepted("returns-global", [a.copy() for a in base], 1000),
    ]
    weights = ClaimedContribution().weigh(round_input(digits, updates))
    assert credits_of(weights) == {"big": 400, "medium": 200, "small": 60}
    assert weights.aggregation == [400.0, 200.0, 60.0, 0.0, 0.0]


def test_shapley_values_add_up_to_the_value_of_everyone_and_sampling_approaches_them(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    base = global_model(digits)
    flattener = Flattener(NAMES, base)
    rows, candidates = written(flattener, [(n, 100.0, flattener.delta(a)) for n, a in honest.items()])
    halves = [list(range(0, 150)), list(range(150, 300))]
    utility = Utility(flattener, rows, candidates, lambda model: validator.losses(model, halves))
    exact = exact_shapley(utility)
    everyone = utility(frozenset(range(len(candidates))))
    assert np.allclose(exact.sum(axis=0), everyone, atol=1e-9)  # efficiency
    sampled = gtg_shapley(utility, budget=10_000, rng=np.random.default_rng(0))  # all cached: exact U
    assert np.argsort(sampled.mean(axis=1)).tolist() == np.argsort(exact.mean(axis=1)).tolist()
    scores = ShapleyScorer(budget=15)(utility)
    assert scores.method == "exact-shapley"


def test_a_bigger_model_gets_proportionally_fewer_evaluations_never_less_than_leave_one_out(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    scorer = ShapleyScorer(budget=160)
    assert scorer.evaluations_for(650) == scorer.evaluations_for(1_000_000) == 160
    assert scorer.evaluations_for(11_000_000) == 14  # an 11M model: about what 160 of 1M cost
    assert scorer.evaluations_for(10**12) == 1
    base = global_model(digits)
    flattener = Flattener(NAMES, base)
    rows, candidates = written(flattener, [(n, 100.0, flattener.delta(a)) for n, a in honest.items()])
    halves = [list(range(0, 150)), list(range(150, 300))]
    # A budget too small for Shapley at this model's size still scores every update by leave-one-out.
    tight = ShapleyScorer(budget=1)(Utility(flattener, rows, candidates, lambda model: validator.losses(model, halves)))
    roomy = ShapleyScorer(budget=160)(Utility(flattener, rows, candidates, lambda m: validator.losses(m, halves)))
    assert (tight.method, roomy.method) == ("leave-one-out", "exact-shapley")
    assert tight.evaluations == len(candidates) + 2  # the global model, everyone, everyone but each
    assert np.allclose(tight.leave_one_out, roomy.leave_one_out)


def test_the_ledger_smooths_and_never_credits_zero_worth() -> None:
    ledger = Ledger(smoothing=0.5)
    everyone = ["a", "b", "rider"]
    assert ledger.credit({"a": 3.0, "b": 1.0, "rider": 0.0}, everyone) == [("a", 750_000), ("b", 250_000)]
    # shares now a 0.375, b 0.125; a adds nothing this round: a 0.1875, b 0.5625 — one round decides little
    assert ledger.credit({"a": 0.0, "b": 1.0, "rider": 0.0}, everyone) == [("b", 750_000), ("a", 250_000)]
    assert ledger.credit({"a": 1.0, "b": 1.0}, ["b"]) == [("b", 1_000_000)]  # a dropped by the screen: nothing
    assert ledger.shares["rider"] == 0.0
    table = {"trainers": [{"address": "a", "smoothed_share": 0.1875}, {"address": "x", "smoothed_share": 7}]}
    assert Ledger.restored(table).shares == {"a": 0.1875}  # an impossible share is not taken over


def test_a_task_names_its_validation_set_by_fingerprint(tmp_path: Path, digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    write_npz(tmp_path / "org-a", x[:50], y[:50])
    write_npz(tmp_path / "org-b", x[50:100], y[50:100])
    wanted = load_folder(tmp_path / "org-b").sha256()
    assert find_validation_set(tmp_path, wanted) == tmp_path / "org-b"
    assert find_validation_set(tmp_path, "0" * 64) is None


def test_the_worker_refuses_rows_outside_its_data(validator: Validator, digits: tuple[np.ndarray, np.ndarray]) -> None:
    model = encode(NAMES, global_model(digits))
    assert len(validator.losses(model, [[0, 1], [2]])) == 2
    with pytest.raises(WorkerError, match="row indices"):
        validator.losses(model, [[300]])
    assert decode(model)[0] == NAMES


def test_scoring_alone_gives_free_riders_nothing(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """Should one slip past the screen, scoring still finds it adds nothing (nor a noisy copy)."""
    base = global_model(digits)
    flattener = Flattener(NAMES, base)
    rng = np.random.default_rng(5)
    noise = rng.normal(size=flattener.size).astype(np.float32)
    honest_delta = flattener.delta(honest["medium"])
    rows, candidates = written(
        flattener,
        [
            ("big", 400.0, flattener.delta(honest["big"])),
            ("medium", 200.0, honest_delta),
            ("returns-global", 1000.0, np.zeros(flattener.size, np.float32)),
            ("adds-noise", 1000.0, noise * float(np.linalg.norm(honest_delta) / np.linalg.norm(noise))),
        ],
    )
    halves = [list(range(0, 150)), list(range(150, 300))]
    scores = ShapleyScorer()(Utility(flattener, rows, candidates, lambda model: validator.losses(model, halves)))
    assert scores.worth[0] > 0 and scores.worth[1] > 0
    assert scores.worth[2] == 0 and scores.worth[3] == 0, scores.values


# --- findings of the adversarial review (each failed on the pipeline before its fix) ----------------


def step(base: list[np.ndarray], towards: list[np.ndarray], factor: float) -> list[np.ndarray]:
    """base + factor · (towards − base)."""
    return [(b + factor * (t - b)).astype(b.dtype) for b, t in zip(base, towards, strict=True)]


def test_scaled_copies_of_an_update_gain_nothing(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """A copy scaled by 0.89 slipped under a norm-ratio test and earned its sybil pair 1.4×."""
    base = global_model(digits)
    updates = [accepted("big", honest["big"], 400), accepted("medium", honest["medium"], 200)]
    updates += [accepted(f"sybil{i}", step(base, honest["big"], 0.89**i), 400) for i in (1, 2, 3)]
    weights = MeasuredContribution(validator, "sha").weigh(round_input(digits, updates))
    assert set(credits_of(weights)) == {"big", "medium"}
    assert weights.aggregation[2:] == [0.0, 0.0, 0.0]


def test_repeating_the_public_trajectory_earns_nothing(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator
) -> None:
    """global + (global − previous global) needs no data; it took 40–48 % of the budget."""
    x, y = digits
    pipeline = MeasuredContribution(validator, "sha")
    previous, current = SoftmaxRegression(64, 10).get_arrays(), global_model(digits)
    pipeline.weigh(spilled(1, NAMES, previous, []))  # round 1: nothing to repeat
    rider_total = everyone = 0
    for task_round in range(2, 6):
        updates = [
            accepted(f"h{i}", trained(current, x[start : start + 300], y[start : start + 300], task_round), 300)
            for i, start in enumerate((400, 700, 1000))
        ]
        updates.append(accepted("rider", step(previous, current, 2.0), 1000))  # one more step the same way
        sent = spilled(task_round, NAMES, current, updates)
        weights = pipeline.weigh(sent)
        rider_total += credits_of(weights).get("rider", 0)
        everyone += sum(credits_of(weights).values())
        assert weights.aggregation[-1] == 0.0
        new = new_global_model(Flattener(NAMES, current), sent.rows, sent.accepted, weights)
        previous, current = current, new
    assert rider_total == 0 and everyone > 0


def test_nothing_hides_where_the_validation_set_cannot_see(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """A backdoor on pixels that are 0 in every digit: invisible to the validation loss, so it was
    paid and entered the model (a lit corner sent 90 % of inputs to class 3)."""
    base = global_model(digits)
    poisoned = [a.copy() for a in honest["medium"]]
    for pixel in (0, 32, 39):
        poisoned[0][pixel, 3] += 14.0
    updates = [accepted("big", honest["big"], 400), accepted("backdoor", poisoned, 200)]
    sent = round_input(digits, updates)
    weights = MeasuredContribution(validator, "sha").weigh(sent)
    assert weights.frozen is not None
    new = new_global_model(Flattener(NAMES, base), sent.rows, sent.accepted, weights)  # the strategy's model
    x, y = digits
    lit = x[:300] / 16.0
    lit[:, 0] = 1.0
    predicted = (lit[y[:300] != 3] @ new[0] + new[1]).argmax(axis=1)
    assert (predicted == 3).mean() < 0.2
    assert np.array_equal(new[0][[0, 32, 39]], base[0][[0, 32, 39]])


@pytest.fixture(scope="module")
def cnn(
    tmp_path_factory: pytest.TempPathFactory, digits: tuple[np.ndarray, np.ndarray]
) -> Iterator[tuple[Path, Validator, Any]]:
    folder = tmp_path_factory.mktemp("cnn")
    _, built = render_digits_client(
        LocalnetConfig(home=folder), "wasm1contract", folder / "client", "cnn", learning_rate=0.05
    )
    x, y = digits
    write_npz(folder / "validation", x[:300], y[:300])
    validator = Validator(built.source, folder / "validation", ACCURACY, sandbox=bwrap() is not None, timeout=60)
    yield folder, validator, built
    validator.close()


def test_a_model_the_code_cannot_score_is_harmful_not_a_scoring_failure(
    digits: tuple[np.ndarray, np.ndarray], cnn: tuple[Path, Validator, Any]
) -> None:
    """One in-bound update with a negative BatchNorm variance made the task's code answer NaN, which
    failed the whole round's scoring: it fell back to claimed counts and kept the update."""
    folder, validator, built = cnn
    x, y = digits
    names, base = built.names, [np.array(a) for a in built.arrays]
    model = encode(names, base)
    trained_on: dict[int, list[np.ndarray]] = {}
    for start, size in ((400, 400), (800, 300)):
        write_npz(folder / f"shard{start}", x[start : start + size], y[start : start + size])
        worker = TaskWorker(built.source, folder / f"shard{start}", sandbox=bwrap() is not None, timeout=60)
        trained_on[start] = decode(worker.train(model, 2)[1])[1]
        worker.close()
    variance = next(i for i, name in enumerate(names) if name.endswith("running_var"))
    trigger = [a.copy() for a in trained_on[800]]
    trigger[variance][0] = -3.0
    updates = [accepted("h1", trained_on[400], 400), accepted("h2", trained_on[800], 300)]
    updates.append(accepted("trigger", trigger, 1000))
    weights = MeasuredContribution(validator, "sha").weigh(spilled(2, names, base, updates))
    assert "failure" not in weights.table
    assert weights.aggregation[2] == 0.0 and "trigger" not in credits_of(weights)
    assert set(credits_of(weights)) <= {"h1", "h2"} and credits_of(weights)


def test_task_code_that_never_trains_on_the_validation_set_cannot_withhold_every_credit(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """Code that leaves the model unchanged when it sees the organization's own set would freeze
    every coordinate: nobody paid, the pool back to its author. That is a scoring failure instead,
    paid by capped counts within the round's budget."""

    class IdleOnValidation:
        examples = validator.examples

        def root_update(self, model: bytes, task_round: int) -> bytes:
            return model

        def losses(self, model: bytes, row_sets: list[list[int]]) -> list[float]:
            return validator.losses(model, row_sets)

    updates = [accepted("big", honest["big"], 400), accepted("medium", honest["medium"], 200)]
    weights = MeasuredContribution(IdleOnValidation(), "sha").weigh(round_input(digits, updates))
    assert "left every parameter unchanged" in weights.table["failure"]
    assert credits_of(weights) == {"big": 666_666, "medium": 333_333}


def test_a_model_never_advances_for_free(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """Code that scores every model alike made every update worth 0 but kept them in the model:
    the organization got the trained model and, with no round productive, its pool back."""

    class Indifferent:
        examples = validator.examples

        def root_update(self, model: bytes, task_round: int) -> bytes:
            return validator.root_update(model, task_round)

        def losses(self, model: bytes, row_sets: list[list[int]]) -> list[float]:
            return [1.0 for _ in row_sets]

    updates = [accepted("big", honest["big"], 400), accepted("medium", honest["medium"], 200)]
    weights = MeasuredContribution(Indifferent(), "sha").weigh(round_input(digits, updates))
    assert weights.aggregation == [400.0, 200.0]
    assert credits_of(weights) == {"big": 666_666, "medium": 333_333}


def test_the_keepers_own_update_is_computed_while_trainers_train_and_never_beside_another_request(
    digits: tuple[np.ndarray, np.ndarray], validator: Validator, honest: dict[str, list[np.ndarray]]
) -> None:
    """`prepare` starts the keeper's update from the round's global model; `weigh` takes it when
    it is for the same bytes (else computes its own), and the worker's one pipe never carries two
    requests at once."""
    busy = threading.Lock()
    calls: list[str] = []

    class OnePipe:
        examples = validator.examples

        def root_update(self, model: bytes, task_round: int) -> bytes:
            if not busy.acquire(blocking=False):
                pytest.fail("two requests on the worker's pipe at once")
            try:
                calls.append(threading.current_thread().name)
                time.sleep(0.2)  # the keeper's training step
                return validator.root_update(model, task_round)
            finally:
                busy.release()

        def losses(self, model: bytes, row_sets: list[list[int]]) -> list[float]:
            assert not busy.locked(), "scoring while the keeper's update is still running"
            return validator.losses(model, row_sets)

    pipeline = MeasuredContribution(OnePipe(), "sha")
    sent = round_input(digits, [accepted("big", honest["big"], 400), accepted("medium", honest["medium"], 200)])
    pipeline.prepare(sent.global_model, sent.round)
    prepared = pipeline.weigh(sent)
    assert calls == ["root-update_0"] and set(credits_of(prepared)) == {"big", "medium"}
    pipeline.prepare(b"another round's model", 9)  # its update fails (not a model): never used here
    pipeline.weigh(sent)
    assert len(calls) == 3 and calls[2] == threading.current_thread().name  # computed for these bytes
