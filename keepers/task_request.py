"""An organization's task request: parsed from YAML or flags and checked before anything is sent.

Everything a contract rejection would catch is caught here first with a plainer message, plus what
the contract cannot see: that the CIDs are really pinned, and that the wallet can pay for it all.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from client_kit.data import DataError, load_folder
from client_kit.ipfs import MAX_CLIENT_BYTES, ContentStore, IpfsError, fetch_verified, sha256_hex
from client_kit.metrics import TaskMetric
from client_kit.settings import SettingsError, settings_from_source
from client_kit.task_hub import Scoring, TaskSpec

_DURATION = re.compile(r"^([0-9]+)\s*([smhd])$")
_WHOLE = re.compile(r"^[0-9]+$")
_WHOLE_FIELDS = (
    "rounds",
    "min_trainers",
    "max_trainers",
    "stake",
    "pool",
    "no_show_penalty_bps",
    "slash_bps",
    "keeper_bond",
    "max_examples_per_trainer",
    "round_timeout_secs",
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
DEFAULT_MAX_UPDATE_NORM = Decimal(50)
MAX_DECIMAL = Decimal(10) ** 12  # far beyond any sane bound, far below cosmwasm's Decimal ceiling


class TaskRequestError(ValueError):
    """The request is invalid; nothing was sent."""


@dataclass(frozen=True)
class TaskRequest:
    model_name: str
    rounds: int
    min_trainers: int
    max_trainers: int
    stake: int
    pool: int
    join_deadline: str
    training_deadline: str
    keeper: str
    description: str = ""
    client: str | None = None  # a file to pin, or None when client_cid is given
    client_cid: str | None = None
    client_sha256: str | None = None
    initial_model: str | None = None
    initial_model_cid: str | None = None
    initial_model_sha256: str | None = None
    no_show_penalty_bps: int = 1000
    slash_bps: int = 5000
    keeper_bond: int | None = None  # default: a tenth of the pool
    max_examples_per_trainer: int = 1000  # the cap on one update's example count (its weight)
    max_update_norm: Decimal = DEFAULT_MAX_UPDATE_NORM  # the largest L2 distance of an update from the model
    round_timeout_secs: int = 120  # how long the keeper waits for a round's replies
    scoring: str = "claimed-examples"  # or "measured": paid for measured contribution (keepers.contribution)
    validation: str | None = None  # the validation set's data folder, named on chain by its sha256
    validation_sha256: str | None = None  # or its fingerprint, when the folder is elsewhere

    @staticmethod
    def from_mapping(data: dict[str, Any]) -> TaskRequest:
        known = {f.name for f in fields(TaskRequest)}
        unknown = set(data) - known
        if unknown:
            raise TaskRequestError(f"unknown task fields {sorted(unknown)}; known: {sorted(known)}")
        missing = [f.name for f in fields(TaskRequest) if f.default is MISSING and f.name not in data]
        if missing:
            raise TaskRequestError(f"task is missing required fields {missing}")
        values = dict(data)
        for name in _WHOLE_FIELDS:
            if name in values and not (name == "keeper_bond" and values[name] is None):
                values[name] = _whole_number(name, values[name])
        if "max_update_norm" in values:
            values["max_update_norm"] = _positive_decimal("max_update_norm", values["max_update_norm"])
        for name in ("join_deadline", "training_deadline", "keeper", "model_name", "description", "scoring"):
            if name in values and values[name] is not None:
                values[name] = str(values[name])
        return TaskRequest(**values)

    @staticmethod
    def from_yaml(path: Path) -> TaskRequest:
        if not path.is_file():
            raise TaskRequestError(f"task file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise TaskRequestError(f"task file {path} is not valid YAML: {error}") from None
        if not isinstance(data, dict):
            raise TaskRequestError(f"task file {path} must be a mapping of field: value")
        request = TaskRequest.from_mapping(data)
        # Relative file paths in a task file are relative to the file itself.
        base = path.parent
        updates = {}
        for name in ("client", "initial_model", "validation"):
            value = getattr(request, name)
            if value and not Path(value).is_absolute():
                updates[name] = str(base / value)
        return TaskRequest(**{**request.__dict__, **updates})


def _whole_number(name: str, value: object) -> int:
    """An exact whole number: money and counts are never rounded, and `true` is not 1."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE.match(value.strip()):
        return int(value.strip())
    raise TaskRequestError(f"{name} must be a whole number (no fraction, no quotes around words), got {value!r}")


def _positive_decimal(name: str, value: object) -> Decimal:
    """A positive number the contract can hold exactly (a Decimal with at most 18 fraction digits)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TaskRequestError(f"{name} must be a positive number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise TaskRequestError(f"{name} must be a positive number, got {value!r}") from None
    if not number.is_finite() or number <= 0 or number > MAX_DECIMAL:
        raise TaskRequestError(f"{name} must be a positive number up to {MAX_DECIMAL:,}, got {value!r}")
    if number.as_tuple().exponent < -18:  # type: ignore[operator]
        raise TaskRequestError(f"{name} may have at most 18 digits after the point, got {value!r}")
    return number


def parse_time(value: str, now: float) -> int:
    """A deadline: a duration from now ('90s', '10m', '2h', '1d'), unix seconds, or ISO-8601."""
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        return int(now) + int(match.group(1)) * _UNITS[match.group(2)]
    if _WHOLE.match(text):
        return int(text)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise TaskRequestError(f"cannot read {value!r} as a deadline: use 10m, 2h, unix seconds or ISO-8601") from None
    if stamp.tzinfo is None:
        raise TaskRequestError(f"deadline {value!r} needs a timezone, e.g. 2026-12-01T12:00:00+00:00")
    return int(stamp.timestamp())


def resolve(
    request: TaskRequest,
    keeper_address: str,
    keeper_fee_bps: int,
    chain_now: float,
    store: ContentStore,
    pin_files: bool = True,
) -> TaskSpec:
    """Pin files (or check given CIDs are pinned), turn deadlines into chain time, check bounds.
    `keeper_fee_bps` is the keeper's fee as the organization sees it: the most it agrees to."""
    client_cid, client_sha = _content(
        request.client, request.client_cid, request.client_sha256, "client", store, pin_files
    )
    metric = _metric_of(request, client_cid, client_sha, store)
    model_cid, model_sha = _content(
        request.initial_model,
        request.initial_model_cid,
        request.initial_model_sha256,
        "initial_model",
        store,
        pin_files,
    )
    join = parse_time(request.join_deadline, chain_now)
    training = parse_time(request.training_deadline, chain_now)
    if join <= chain_now:
        raise TaskRequestError(f"join deadline {join} is not in the future (chain time is {int(chain_now)})")
    if training <= join:
        raise TaskRequestError("training deadline must come after the join deadline")
    if not 1 <= request.min_trainers <= request.max_trainers:
        raise TaskRequestError("need 1 <= min_trainers <= max_trainers")
    if request.rounds < 1:
        raise TaskRequestError("rounds must be at least 1")
    if request.stake <= 0 or request.pool <= 0:
        raise TaskRequestError("stake and pool must be positive")
    bond = request.keeper_bond if request.keeper_bond is not None else max(1, request.pool // 10)
    if bond <= 0:
        raise TaskRequestError("keeper_bond must be positive: it is what the keeper loses if it never delivers")
    if request.max_examples_per_trainer < 1:
        raise TaskRequestError("max_examples_per_trainer must be at least 1")
    scoring, validation_sha256 = scoring_of(request)
    for name in ("no_show_penalty_bps", "slash_bps"):
        if not 0 <= getattr(request, name) <= 10_000:
            raise TaskRequestError(f"{name} must be between 0 and 10000 basis points")
    return TaskSpec(
        model_name=request.model_name,
        description=request.description,
        client_cid=client_cid,
        client_sha256=client_sha,
        initial_model_cid=model_cid,
        initial_model_sha256=model_sha,
        rounds=request.rounds,
        min_trainers=request.min_trainers,
        max_trainers=request.max_trainers,
        stake=request.stake,
        join_deadline=join,
        training_deadline=training,
        keeper=keeper_address,
        keeper_bond=bond,
        max_keeper_fee_bps=keeper_fee_bps,
        no_show_penalty_bps=request.no_show_penalty_bps,
        slash_bps=request.slash_bps,
        max_examples_per_trainer=request.max_examples_per_trainer,
        max_update_norm=request.max_update_norm,
        round_timeout_secs=request.round_timeout_secs,
        scoring=scoring,
        validation_sha256=validation_sha256,
        metric=metric,
    )


def _metric_of(request: TaskRequest, client_cid: str, client_sha: str, store: ContentStore) -> TaskMetric:
    """The metric the task's client.py reports (its settings), which the task names on chain."""
    try:
        if request.client:
            source = Path(request.client).read_bytes()
        else:
            source = fetch_verified(store, client_cid, client_sha, MAX_CLIENT_BYTES)
        return settings_from_source(source).metric
    except (SettingsError, IpfsError) as error:
        raise TaskRequestError(f"client.py: {error}") from None


def scoring_of(request: TaskRequest) -> tuple[Scoring, str | None]:
    """The scoring method and the validation set's fingerprint: from its folder (what the keeper
    will be handed) or given as hex; a measured task must name one."""
    try:
        scoring = Scoring(request.scoring.strip().lower().replace("-", "_"))
    except ValueError:
        raise TaskRequestError(f"scoring must be claimed-examples or measured, got {request.scoring!r}") from None
    fingerprint = request.validation_sha256
    if request.validation:
        try:
            found = load_folder(Path(request.validation)).sha256()
        except DataError as error:
            raise TaskRequestError(f"validation set: {error}") from None
        if fingerprint and fingerprint != found:
            raise TaskRequestError(f"validation_sha256 {fingerprint} is not the sha256 of {request.validation}")
        fingerprint = found
    if fingerprint is not None and not _SHA256.match(fingerprint):
        raise TaskRequestError("validation_sha256 must be 64 lowercase hex characters")
    if scoring == Scoring.MEASURED and fingerprint is None:
        raise TaskRequestError(
            "a task paying for measured contribution needs its validation set: give --validation DIR "
            "(the data the keeper will be handed) or validation_sha256"
        )
    return scoring, fingerprint


def _content(
    file: str | None, cid: str | None, sha: str | None, name: str, store: ContentStore, pin_files: bool
) -> tuple[str, str]:
    if file:
        path = Path(file)
        if not path.is_file():
            raise TaskRequestError(f"{name} file {path} does not exist")
        data = path.read_bytes()
        if not pin_files:
            return "", sha256_hex(data)
        pinned = store.add(data, name=path.name)
        return pinned.cid, pinned.sha256
    if not cid or not sha:
        raise TaskRequestError(f"give either {name} (a file) or both {name}_cid and {name}_sha256")
    if not _SHA256.match(sha):
        raise TaskRequestError(f"{name}_sha256 must be 64 lowercase hex characters")
    if not store.is_pinned(cid):
        raise TaskRequestError(f"{name}_cid {cid} is not pinned on the configured IPFS backend; pin it first")
    return cid, sha
