"""The pure core imports no I/O libraries (DESIGN §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
#: Every module of these packages is pure.
PURE_PACKAGES = ["kinds", "spec", "plan"]
PURE_MODULES = ["schema", "model", "live", "diff", "render", "export", "simulator/state"]
PURE = sorted(
    [
        str(p.relative_to(PACKAGE).with_suffix(""))
        for d in PURE_PACKAGES
        for p in (PACKAGE / d).glob("*.py")
    ]
    + PURE_MODULES
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
