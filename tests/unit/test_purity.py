"""The pure core imports no I/O libraries (DESIGN §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
#: Every module of these packages is pure.
PURE_PACKAGES = ["kinds", "spec", "plan", "diff", "render"]
PURE_MODULES = ["schema", "model", "frozen", "acyclic", "live", "export"]
#: The simulator's shell: its server, in-process transport, state file and demo settings.
SIMULATOR_SHELL = {"__init__", "http", "transport", "persist", "demo"}


def _modules(package: str) -> list[str]:
    return [f"{package}/{p.stem}" for p in sorted((PACKAGE / package).glob("*.py"))]


PURE = sorted(
    [m for package in PURE_PACKAGES for m in _modules(package)]
    + PURE_MODULES
    + [m for m in _modules("simulator") if m.split("/")[1] not in SIMULATOR_SHELL]
)
FORBIDDEN = {"httpx", "click", "os", "time", "random", "socket", "subprocess", "pathlib", "io"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE, ids=PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    """A pure module never imports httpx, click, os, time, random or file APIs."""
    path = PACKAGE / f"{module}.py"
    assert imported_modules(path) & FORBIDDEN == set()


def test_every_pure_package_has_modules() -> None:
    """The package list above names real packages (a typo would silently check nothing)."""
    for package in PURE_PACKAGES:
        assert len(list((PACKAGE / package).glob("*.py"))) >= 2, package
