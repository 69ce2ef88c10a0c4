"""The pure core imports no I/O libraries (DESIGN §2)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
SIMULATOR_PURE = [
    "wire",
    "catalogue",
    "shapes",
    "faults",
    "prng",
    "clusters",
    "cluster_requests",
    "cluster_views",
    "volumes",
    "store",
    "state",
]
PURE = [
    "spec",
    "schema",
    "model",
    "live",
    "diff",
    "plan",
    "render",
    *(f"simulator/{name}" for name in SIMULATOR_PURE),
]
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
    if not path.exists():
        pytest.skip(f"{module}.py not written yet")
    assert imported_modules(path) & FORBIDDEN == set()
