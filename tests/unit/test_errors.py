"""errors.py: one tree, every class used, exit codes as documented."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from reconciler import errors

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


def _defined() -> list[str]:
    return [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and value.__module__ == errors.__name__
    ]


def test_every_error_is_in_the_tree_and_raised_or_caught_somewhere() -> None:
    """Nothing in errors.py goes unused, and the docstring's tree names every class."""
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py":
            continue
        tree = ast.parse(path.read_text())
        used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for name in _defined():
        assert issubclass(getattr(errors, name), errors.ReconcilerError)
        assert name in (errors.__doc__ or ""), f"{name} missing from the tree"
        subclassed = any(
            issubclass(getattr(errors, other), getattr(errors, name)) and other != name
            for other in _defined()
        )
        assert name in used or subclassed, f"{name} is defined but never used"
