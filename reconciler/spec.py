"""YAML text → `Spec` (desired resources), with file:line:column for every problem. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import Spec


def load_spec(files: Sequence[tuple[str, bytes]]) -> Spec:
    """Parse and validate spec files given as (display path, bytes); raise SpecError."""
    raise NotImplementedError
