"""The packages import one way only: chain_config ← client_kit ← localnet ← keepers ← bench.

Read from the source with `ast`, so an import hidden inside a function counts like any other;
a first-party import inside a function is refused outright (it is how cycles get hidden).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["chain_config", "client_kit", "localnet", "keepers", "bench"]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported top-level package, whether the import sits inside a function) for each import."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module.split(".")[0], in_function))
            visit(child, nested)

    visit(tree, False)
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_no_package_imports_a_layer_above_it_or_hides_an_import_in_a_function(package: str) -> None:
    rank = LAYERS.index(package)
    upward, hidden = [], []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported, in_function in _imports(path):
            if imported in LAYERS and LAYERS.index(imported) > rank:
                upward.append(f"{path.relative_to(ROOT)} imports {imported}")
            if imported in LAYERS and in_function:
                hidden.append(f"{path.relative_to(ROOT)} imports {imported} inside a function")
    assert not upward, upward
    assert not hidden, hidden


def test_the_rendered_client_templates_import_only_the_trainer_side() -> None:
    for template in sorted((ROOT / "client_kit" / "templates").glob("*.tmpl")):
        imported = {
            line.split()[1].split(".")[0] for line in template.read_text().splitlines() if line.startswith("from ")
        }
        assert imported <= {"client_kit", "__future__"}, (template.name, imported)
