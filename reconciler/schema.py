"""The spec's JSON Schema, loaded once, and the rules JSON Schema cannot express. Pure."""

from __future__ import annotations


def schema_text() -> str:
    """The schema file's text, as shipped in the wheel."""
    raise NotImplementedError
