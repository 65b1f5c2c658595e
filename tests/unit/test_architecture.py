"""Which package may import which (docs/architecture.md, "Layout"): the runtime hosts the
services without knowing them; only the composition root and the entry points know all."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEALREG = REPO / "dealreg"

#: Folder (as imported) -> the dealreg packages its modules must not import.
FORBIDDEN = {
    "dealreg": ("dealreg.services", "dealreg.projections", "dealreg.bootstrap", "dealreg.cli",
                "dealreg.api", "dealreg.console"),
    "dealreg.events": ("dealreg.services", "dealreg.projections", "dealreg.bootstrap",
                       "dealreg.cli", "dealreg.api", "dealreg.console", "dealreg.runtime",
                       "dealreg.eventstore"),
    "dealreg.services": ("dealreg.projections", "dealreg.bootstrap", "dealreg.cli",
                         "dealreg.api", "dealreg.console"),
    "dealreg.projections": ("dealreg.bootstrap", "dealreg.cli", "dealreg.api",
                            "dealreg.console"),
}
#: The composition root and the entry points, which may import everything.
COMPOSITION = {"dealreg.bootstrap"}
ENTRY_POINTS = ("dealreg.cli", "dealreg.api", "dealreg.console")
#: Former top-level names, importable from a checkout but never to be imported.
FORMER = ("services", "events", "projections")


def modules() -> list[tuple[str, Path]]:
    """Every module of the distribution (``dealreg/services`` and the like are links to the
    repository's top-level folders, hence followed)."""
    paths = [Path(folder, name) for folder, _, names in os.walk(DEALREG, followlinks=True)
             for name in names if name.endswith(".py")]
    found = []
    for path in sorted(paths):
        relative = path.relative_to(DEALREG).with_suffix("")
        parts = ["dealreg", *relative.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer(module: str) -> str | None:
    if module in COMPOSITION or module.startswith(ENTRY_POINTS):
        return None
    for folder in sorted(FORBIDDEN, key=len, reverse=True):
        if module == folder or module.startswith(f"{folder}."):
            return folder
    return None


@pytest.mark.parametrize(("module", "path"), modules(), ids=lambda value: str(value))
def test_each_module_imports_only_what_its_layer_may(module: str, path: Path) -> None:
    names = imported(path)
    folder = layer(module)
    forbidden = FORBIDDEN[folder] if folder else ()
    wrong = sorted(name for name in names
                   if any(name == f or name.startswith(f"{f}.") for f in forbidden))
    assert wrong == [], f"{module} imports {wrong}"
    former = sorted(name for name in names if name.split(".")[0] in FORMER)
    assert former == [], f"{module} imports the former top-level packages {former}"


def test_the_runtime_is_found_and_checked() -> None:
    layers = {layer(module) for module, _ in modules()}
    assert {"dealreg", "dealreg.services", "dealreg.events", "dealreg.projections"} <= layers
