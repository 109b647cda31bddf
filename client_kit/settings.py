"""The public task parameters a rendered client.py embeds: which chain and contract, and
how the task's model is trained. Nothing secret: everything here is covered by the client's hash
on chain, so every trainer of a task runs exactly the same settings — including the task's
preprocessing, which trainers and the keeper's validation therefore apply identically."""

from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from chain_config import Network
from client_kit.metrics import Objective, TaskMetric


class SettingsError(ValueError):
    """Settings that cannot make a working client, or a client.py whose settings cannot be read."""


MIN_STD, MAX_SCALE = 1e-12, 1e30  # what a standardization may hold


@dataclass(frozen=True)
class Standardization:
    """Per-feature standardization the task declares: x' = (x - mean) / std over the flattened
    features, with the organization's mean and std (computed on its own data). Tabular features on
    wildly different scales train badly behind one input scale; this makes them comparable."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or not self.mean:
            raise SettingsError("standardization needs as many means as standard deviations, at least one")
        try:
            means, stds = np.asarray(self.mean, np.float64), np.asarray(self.std, np.float64)
        except (TypeError, ValueError, OverflowError):
            raise SettingsError("standardization needs numbers") from None
        # Within float32's comfortable range: the features are standardized in float32.
        if not (np.abs(means) <= MAX_SCALE).all() or not ((stds >= MIN_STD) & (stds <= MAX_SCALE)).all():
            raise SettingsError(
                f"standardization needs means within ±{MAX_SCALE:g} and standard deviations from {MIN_STD:g} "
                f"to {MAX_SCALE:g}"
            )

    @staticmethod
    def fit(x: np.ndarray) -> Standardization:
        """The mean and std of each feature of `x` (a constant feature gets std 1: it stays 0)."""
        flat = x.reshape(len(x), -1).astype(np.float64)
        std = flat.std(axis=0)
        std[std < 1e-12] = 1.0
        return Standardization(tuple(float(m) for m in flat.mean(axis=0)), tuple(float(s) for s in std))

    def apply(self, x: np.ndarray) -> np.ndarray:
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != len(self.mean):
            raise SettingsError(f"the task standardizes {len(self.mean)} features; the data has {flat.shape[1]}")
        scaled = (flat.astype(np.float64) - np.asarray(self.mean)) / np.asarray(self.std)
        return scaled.astype(np.float32).reshape(x.shape)


@dataclass(frozen=True)
class FlowerAppConfig:
    """How the runtime serves an organization's own Flower ClientApp (the `flower` template).

    `run_config` reaches the app as `context.run_config` and `train_config` in every train
    message's "config" record, as a Flower ServerApp would send them; the reply metrics named here
    are read as the training loss, the evaluation loss and the task's metric (Flower's quickstart
    apps say train_loss, eval_loss and eval_acc)."""

    app: str  # module:attribute of the ClientApp among the embedded sources, e.g. "digitsapp.client_app:app"
    run_config: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    train_loss_key: str = "train_loss"
    eval_loss_key: str = "eval_loss"
    metric_key: str = "eval_acc"


@dataclass(frozen=True)
class ClientSettings:
    """What a rendered client.py embeds: public task parameters, nothing secret."""

    template: str
    model_name: str
    chain_id: str
    contract: str
    prefix: str  # the chain's address prefix
    input_shape: tuple[int, ...]
    classes: int
    input_scale: float
    epochs: int
    learning_rate: float
    batch_size: int
    model: dict[str, Any] = field(default_factory=dict)  # template-specific (class, constructor args)
    runtime: str = "fedchain>=0.1"
    objective: Objective = Objective.CLASSIFICATION  # what the runtime's own training loop minimizes
    metric: TaskMetric = field(default_factory=TaskMetric)  # what the rounds report besides the loss
    standardize: Standardization | None = None  # the task's declared preprocessing, if any
    flower: FlowerAppConfig | None = None  # the flower template: the organization's own ClientApp

    @staticmethod
    def for_network(
        network: Network,
        contract: str,
        model_name: str,
        input_shape: tuple[int, ...],
        classes: int,
        input_scale: float = 1.0,
        epochs: int = 5,
        learning_rate: float = 0.1,
        batch_size: int = 32,
    ) -> ClientSettings:
        """Settings for a task on `network`; the template and model are filled in by the builder."""
        return ClientSettings(
            template="",
            model_name=model_name,
            chain_id=network.chain_id,
            contract=contract,
            prefix=network.bech32_prefix,
            input_shape=tuple(input_shape),
            classes=classes,
            input_scale=input_scale,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> ClientSettings:
        data = json.loads(text)
        data["input_shape"] = tuple(data["input_shape"])
        data["objective"] = Objective(data.get("objective", Objective.CLASSIFICATION))
        data["metric"] = TaskMetric(**data["metric"]) if data.get("metric") else TaskMetric()
        if data.get("standardize"):
            data["standardize"] = Standardization(tuple(data["standardize"]["mean"]), tuple(data["standardize"]["std"]))
        if data.get("flower"):
            data["flower"] = FlowerAppConfig(**data["flower"])
        return ClientSettings(**data)


def settings_from_source(source: bytes) -> ClientSettings:
    """The settings a client.py embeds (`SETTINGS = ClientSettings.from_json(r\"\"\"…\"\"\")`),
    read from its text: the process holding a key never runs the file to learn them. The file must
    bind SETTINGS exactly once at its top level: a second binding would have the task's code run
    with settings other than the ones read here."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise SettingsError(f"client.py is not valid Python: {type(error).__name__}") from None
    bindings = [node for node in tree.body if "SETTINGS" in _bound_names(node)]
    if len(bindings) > 1:
        raise SettingsError(
            "client.py binds SETTINGS more than once: refusing to guess which settings its code runs with"
        )
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["SETTINGS"]
            and isinstance(node.value, ast.Call)
            and len(node.value.args) == 1
            and isinstance(node.value.args[0], ast.Constant)
            and isinstance(node.value.args[0].value, str)
        ):
            try:
                return ClientSettings.from_json(node.value.args[0].value)
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as error:
                raise SettingsError(f"client.py's SETTINGS cannot be read: {type(error).__name__}: {error}") from None
    raise SettingsError("client.py embeds no SETTINGS = ClientSettings.from_json(...) literal")


def _bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds (assignments, imports, definitions, loops, with…)."""
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        names = {node.name}  # a definition binds its own name; names inside it are its own
    elif isinstance(node, ast.Import | ast.ImportFrom):
        names = {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names
