"""An organization's Flower app as source embedded in client.py: read at build time, imported at run time.

A Flower app is a module or a package (`flwr new` makes one: `pyproject.toml` naming the ClientApp
under `[tool.flwr.app.components] clientapp = "pkg.client_app:app"`, its defaults under
`[tool.flwr.app.config]`, and the package's modules). `read_app` collects every Python file of it,
unchanged, so the sha256 of the rendered client.py on chain covers each line trainers run;
`load_app` imports those sources from memory, with package-relative imports working as they do on
disk, and returns the app's `ClientApp` object. Nothing is installed and nothing is written.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from flwr.clientapp import ClientApp

MAX_FILES = 200
MAX_BYTES = 4 << 20  # an app's Python sources; its data and weights never travel in client.py
_REFERENCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
_SKIPPED = {"__pycache__", ".venv", "venv", ".git", "tests", "build", "dist", ".mypy_cache", ".ruff_cache"}


class AppError(ValueError):
    """An app that cannot be embedded or loaded: the message says what is missing."""


@dataclass(frozen=True)
class AppBundle:
    """An app's sources by relative path ("pkg/client_app.py"), its ClientApp reference and the
    run-config defaults its pyproject.toml declares."""

    sources: dict[str, str]
    app: str  # "module.path:attribute"
    run_config: dict[str, Any] = field(default_factory=dict)


def read_app(path: Path) -> AppBundle:
    """The app at `path`: a module file whose ClientApp is named `app` (Flower's convention), or a
    folder with a pyproject.toml naming its ClientApp."""
    where = path
    if where.is_file():
        if where.suffix != ".py" or not where.stem.isidentifier():
            raise AppError(f"{where} is not an importable Python module: pass the app's .py file or its folder")
        return AppBundle({where.name: _read(where)}, f"{where.stem}:app")
    if not where.is_dir():
        raise AppError(f"Flower app {where} does not exist")
    app, run_config = _pyproject(where)
    sources: dict[str, str] = {}
    for source in sorted(where.rglob("*.py")):
        relative = source.relative_to(where)
        if _SKIPPED & set(relative.parts[:-1]) or any(part.startswith(".") for part in relative.parts):
            continue
        sources[relative.as_posix()] = _read(source)
    if len(sources) > MAX_FILES or sum(len(s) for s in sources.values()) > MAX_BYTES:
        raise AppError(f"{where} holds more than {MAX_FILES} Python files or {MAX_BYTES >> 20} MiB of source")
    module = app.partition(":")[0]
    if not {f"{module.replace('.', '/')}.py", f"{module.replace('.', '/')}/__init__.py"} & set(sources):
        raise AppError(f"{where}'s pyproject.toml names {app}, but the folder has no module {module}")
    return AppBundle(sources, app, run_config)


def _pyproject(folder: Path) -> tuple[str, dict[str, Any]]:
    project = folder / "pyproject.toml"
    if not project.is_file():
        raise AppError(
            f"{folder} has no pyproject.toml: name the ClientApp as Flower apps do "
            '([tool.flwr.app.components] clientapp = "package.client_app:app"), or pass the module file'
        )
    try:
        flwr = tomllib.loads(project.read_text()).get("tool", {}).get("flwr", {}).get("app", {})
    except tomllib.TOMLDecodeError as error:
        raise AppError(f"{project} is not valid TOML: {error}") from None
    app = flwr.get("components", {}).get("clientapp")
    if not isinstance(app, str) or not _REFERENCE.match(app):
        raise AppError(f'{project} must name the ClientApp: [tool.flwr.app.components] clientapp = "module:attribute"')
    config = flwr.get("config", {})
    if not isinstance(config, dict):
        raise AppError(f"{project}'s [tool.flwr.app.config] must be a table")
    return app, _flatten(config)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flower's run config is flat: nested TOML tables become dotted keys, as `flwr run` reads them."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise AppError(f"cannot read {path}: {error}") from None


class _EmbeddedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports modules of the embedded sources, ahead of anything installed under the same name."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = dict(sources)

    def _path_of(self, name: str) -> tuple[str, bool] | None:
        stem = name.replace(".", "/")
        if f"{stem}/__init__.py" in self.sources:
            return f"{stem}/__init__.py", True
        if f"{stem}.py" in self.sources:
            return f"{stem}.py", False
        if any(path.startswith(f"{stem}/") for path in self.sources):
            return "", True  # a folder without __init__.py: a namespace package, as on disk
        return None

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> Any:
        found = self._path_of(fullname)
        if found is None:
            return None
        location, package = found
        spec = importlib.util.spec_from_loader(fullname, self, origin=f"<embedded in client.py: {location}>")
        assert spec is not None
        if package:
            spec.submodule_search_locations = []
        return spec

    def exec_module(self, module: ModuleType) -> None:
        found = self._path_of(module.__name__)
        if found is None or not found[0]:
            return  # a namespace package: nothing to run
        module.__file__ = f"<embedded in client.py: {found[0]}>"
        exec(compile(self.sources[found[0]], module.__file__, "exec"), module.__dict__)


def load_app(sources: Mapping[str, str], reference: str) -> ClientApp:
    """The ClientApp object `reference` ("module:attribute") names among `sources`."""
    return load_attribute(sources, reference, ClientApp)


def load_attribute(sources: Mapping[str, str], reference: str, kind: type | None = None) -> Any:
    """`module:attribute` among the embedded sources (imported from memory), optionally of a type."""
    module_name, _, attribute = reference.partition(":")
    if not any(isinstance(f, _EmbeddedFinder) and f.sources == dict(sources) for f in sys.meta_path):
        # Other sources loaded before in this process (an organization building twice) must not
        # answer for these: their finder goes, and so do the modules it imported.
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _EmbeddedFinder)]
        tops = {path.split("/")[0].removesuffix(".py") for path in sources}
        for name in [n for n in sys.modules if n.split(".")[0] in tops]:
            del sys.modules[name]
        sys.meta_path.insert(0, _EmbeddedFinder(sources))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise AppError(f"the app's module {module_name} cannot be imported: {error}") from None
    value = getattr(module, attribute, None)
    if value is None:
        raise AppError(f"module {module_name} defines no {attribute!r}")
    if kind is not None and not isinstance(value, kind):
        raise AppError(f"{reference} is a {type(value).__name__}, not a {kind.__name__}")
    return value
