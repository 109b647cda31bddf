"""Render a task's client.py from a template, and the initial model that exactly that file builds.

The model spec picks the template: `softmax` renders the NumPy template; `FILE.py:Class` or
`package.module:Class` renders the PyTorch template around the organization's `nn.Module`,
optionally with the organization's own `train`/`evaluate` functions (`--training FILE.py`). A
model or training file's source is embedded into client.py, so the hash on chain covers every line
of task code a trainer runs; an importable module path is imported from the trainer's installed
packages instead. The initial model is made by loading the rendered file itself and calling its
`build_model()`, so its layer names and shapes are, by construction, the ones trainers produce.

An organization's own Flower app (`build_flower_client`) renders the Flower template instead: the
app's sources embedded unchanged, served by the runtime through `client_kit.flower_host`; its
initial model comes from a factory among those sources (say the `Net` class of its task module).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
from flwr.app import ArrayRecord

from client_kit.flower_bundle import AppBundle, AppError, load_attribute
from client_kit.metrics import MetricError
from client_kit.model_format import encode
from client_kit.models import TrainableModel
from client_kit.settings import ClientSettings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
TEMPLATES = ("numpy", "torch", "flower")


class BuildError(ValueError):
    """The model spec or a parameter cannot make a working client; nothing was written."""


@dataclass(frozen=True)
class ModelSpec:
    template: str
    reference: str  # "softmax", "path/to/file.py:Class" or "package.module:Class"
    args: dict[str, Any] = field(default_factory=dict)
    training: str | None = None  # a .py file defining the organization's train(...) and evaluate(...)

    @staticmethod
    def parse(spec: str, args: dict[str, Any] | None = None, training: str | None = None) -> ModelSpec:
        spec = spec.strip()
        if training is not None and not (training.endswith(".py") and Path(training).is_file()):
            raise BuildError(f"training file {training} is not an existing .py file")
        if spec in ("softmax", "sklearn", "numpy"):
            if training is not None:
                raise BuildError("--training needs a PyTorch model (--model FILE.py:Class): softmax has its own loop")
            return ModelSpec("numpy", "softmax", {})
        where, _, class_name = spec.rpartition(":")
        if not where or not _IDENTIFIER.match(class_name):
            raise BuildError(
                f"model {spec!r} is not a model spec: use softmax, path/to/model.py:ClassName or "
                "package.module:ClassName"
            )
        if where.endswith(".py"):
            if not Path(where).is_file():
                raise BuildError(f"model file {where} does not exist")
        elif not _MODULE_PATH.match(where):
            raise BuildError(f"{where!r} is neither a .py file nor an importable module path")
        return ModelSpec("torch", spec, dict(args or {}), training)

    @property
    def class_name(self) -> str:
        return self.reference.rpartition(":")[2]


@dataclass(frozen=True)
class BuiltClient:
    source: bytes
    names: list[str]
    arrays: list[np.ndarray]
    metadata: dict[str, str]
    build_model: Callable[[], TrainableModel] | None  # the rendered file's own factory (templates only)

    def initial_model(self) -> bytes:
        return encode(self.names, self.arrays, self.metadata)

    @property
    def parameters(self) -> int:
        return int(sum(a.size for a in self.arrays))


def render(settings: ClientSettings, spec: ModelSpec) -> bytes:
    """client.py for these settings and this model; deterministic (same inputs, same bytes)."""
    text = resources.files("client_kit").joinpath(f"templates/{spec.template}_client.py.tmpl").read_text()
    values = {
        "model_name": settings.model_name,
        "runtime": settings.runtime,
        "settings_json": settings.to_json(),
        "model_reference": spec.reference,
        "model_block": _model_block(spec) if spec.template == "torch" else "",
        "training_reference": spec.training or "the runtime's own loop",
        "training_block": _training_block(spec) if spec.template == "torch" else "",
    }
    return Template(text).substitute(values).encode()


def _literal(source: str) -> str:
    """Python source as a readable string literal when it can be one, else as its repr."""
    if "'''" in source or source.endswith("\\"):
        return repr(source)
    return "r'''\n" + source.rstrip("\n") + "\n'''"


def _model_block(spec: ModelSpec) -> str:
    """The code that finds the organization's model class, run only when a model is built (so the
    organization's code never runs at import, only inside the task worker)."""
    where, _, class_name = spec.reference.rpartition(":")
    if not where.endswith(".py"):
        return (
            "def model_class() -> type:\n"
            f'    """{class_name} from the trainer\'s installed packages."""\n'
            f"    from {where} import {class_name}\n\n"
            f"    return {class_name}\n"
        )
    return (
        f"MODEL_SOURCE = {_literal(Path(where).read_text())}\n\n\n"
        "def model_class() -> type:\n"
        f'    """{class_name}, defined by the model source above (covered by the hash on chain)."""\n'
        f'    return load_embedded_module("fedchain_task_model", MODEL_SOURCE).{class_name}\n'
    )


def _training_block(spec: ModelSpec) -> str:
    """The organization's train/evaluate pair (embedded like the model; the same file is embedded
    once), or None: the runtime's own loop."""
    if spec.training is None:
        return (
            "def training_functions() -> TrainingFunctions | None:\n"
            '    """None: the runtime\'s own loop (SGD with momentum; cross-entropy or squared error)."""\n'
            "    return None\n"
        )
    same_file = Path(spec.reference.rpartition(":")[0]).resolve() == Path(spec.training).resolve()
    embedded = "" if same_file else f"TRAINING_SOURCE = {_literal(Path(spec.training).read_text())}\n\n\n"
    module = (
        'load_embedded_module("fedchain_task_model", MODEL_SOURCE)'
        if same_file
        else 'load_embedded_module("fedchain_task_training", TRAINING_SOURCE)'
    )
    return (
        f"{embedded}def training_functions() -> TrainingFunctions | None:\n"
        '    """The organization\'s own train(model, x, y, config) and evaluate(model, x, y)."""\n'
        f"    module = {module}\n"
        "    return TrainingFunctions(module.train, module.evaluate)\n"
    )


def build_client(settings: ClientSettings, spec: ModelSpec, seed: int = 0) -> BuiltClient:
    """Render client.py, load it, and take its freshly built (seeded) model as the initial model."""
    model = {"class": spec.reference, "args": spec.args} if spec.template == "torch" else {}
    settings = replace(settings, template=spec.template, model=model)
    source = render(settings, spec)
    module = load_client(source)
    if spec.template == "torch":
        import torch

        torch.manual_seed(seed)
    try:
        model = module.build_model()
    except ImportError as error:
        raise BuildError(f"the rendered client cannot import its model: {error}") from None
    except (AttributeError, MetricError) as error:  # no train/evaluate in the training file; a metric it cannot compute
        raise BuildError(f"{error}") from None
    except Exception as error:  # the organization's model code failed: say so plainly
        raise BuildError(f"building model {spec.reference} failed: {type(error).__name__}: {error}") from None
    arrays = [np.asarray(a) for a in model.get_arrays()]
    _check_forward(model, settings)
    metadata = {"model": settings.model_name, "template": spec.template, "reference": spec.reference}
    return BuiltClient(source, list(model.names), arrays, metadata, module.build_model)


def build_flower_client(settings: ClientSettings, bundle: AppBundle, model_factory: str, seed: int = 0) -> BuiltClient:
    """client.py serving the organization's Flower app (`settings.flower`), with the app's sources
    embedded unchanged, and the initial model `model_factory` ("module:callable" among those sources,
    returning an nn.Module, a state dict or an ArrayRecord) builds."""
    if settings.flower is None:
        raise BuildError("a Flower client needs the app's settings (settings.flower)")
    settings = replace(settings, template="flower", model={"factory": model_factory})
    sources = "".join(f"    {path!r}: {_literal(text)},\n" for path, text in sorted(bundle.sources.items()))
    text = resources.files("client_kit").joinpath("templates/flower_client.py.tmpl").read_text()
    values = {
        "model_name": settings.model_name,
        "runtime": settings.runtime,
        "settings_json": settings.to_json(),
        "app_reference": settings.flower.app,
        "app_sources": sources,
    }
    source = Template(text).substitute(values).encode()
    try:
        load_client(source).client_app()  # the app imports and is a ClientApp, as trainers will load it
        names, arrays = _initial_arrays(load_attribute(bundle.sources, model_factory), seed)
    except AppError as error:
        raise BuildError(str(error)) from None
    except Exception as error:  # the organization's code failed at import or in its factory
        raise BuildError(f"the Flower app failed to load or build its model: {type(error).__name__}: {error}") from None
    metadata = {"model": settings.model_name, "template": "flower", "reference": model_factory}
    return BuiltClient(source, names, arrays, metadata, None)


def _initial_arrays(factory: Any, seed: int) -> tuple[list[str], list[np.ndarray]]:
    """Layer names and arrays of what the app's model factory returns (seeded, if it uses PyTorch)."""
    if "torch" in sys.modules:  # the app's modules, already imported, use PyTorch: seed its weights
        sys.modules["torch"].manual_seed(seed)
    made = factory() if callable(factory) else factory
    if hasattr(made, "state_dict"):
        made = made.state_dict()
    if isinstance(made, ArrayRecord):
        return list(made.keys()), [np.array(made[name].numpy()) for name in made]
    if isinstance(made, dict) and made:
        return list(made), [np.array(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for v in made.values()]
    raise BuildError(
        f"the model factory returned a {type(made).__name__}: expected an nn.Module, a state dict or an ArrayRecord"
    )


def _check_forward(model: Any, settings: ClientSettings) -> None:
    """One forward pass on zeros of the declared input shape, so a wrong shape fails here, not on trainers."""
    x = np.zeros((2, *settings.input_shape), np.float32)
    try:
        model.evaluate(x, np.zeros(2, np.int64))
    except Exception as error:
        raise BuildError(
            f"the model does not accept inputs of shape {settings.input_shape} with {settings.classes} classes: "
            f"{type(error).__name__}: {error}"
        ) from None


def load_client(source: bytes) -> Any:
    """Import a client.py's bytes as a module (its `SETTINGS` and `build_model` or `client_app`)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "client.py"
        path.write_bytes(source)
        name = f"fedchain_rendered_client_{abs(hash(source))}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except ImportError as error:
            raise BuildError(f"the rendered client cannot import its model: {error}") from None
        finally:
            sys.modules.pop(name, None)
    return module


def parse_model_args(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise BuildError(f"--model-args must be a JSON object: {error}") from None
    if not isinstance(value, dict):
        raise BuildError("--model-args must be a JSON object, e.g. '{\"hidden\": 64}'")
    return value
