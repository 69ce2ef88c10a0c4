"""Frozen JSON values: dicts as read-only mappings, lists as tuples. Pure.

The model's `fields` mappings hold these; `thaw` gives plain values back for JSON or deepdiff.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

#: Exact types that freeze/thaw/redact return as they are: checked first, because the
#: `Mapping` ABC check is slow and a 10,000-cluster plan walks a few million values.
ATOMIC_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """JSON-like value → immutable twin (dict → read-only mapping, list → tuple)."""
    if type(value) in ATOMIC_TYPES:
        return value
    if isinstance(value, Mapping):
        # Atomic values inline, not through a call: most of a resource's fields are.
        items = value.items()
        return MappingProxyType(
            {str(k): v if type(v) in ATOMIC_TYPES else freeze(v) for k, v in items}
        )
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def freeze_owned(fields: dict[str, Any]) -> Mapping[str, Any]:
    """`freeze` of a dict with string keys that the caller made and hands over: frozen in
    place, without the copy (a live resource's comparable fields, 10,000 per plan)."""
    if not ATOMIC_TYPES.issuperset(map(type, fields.values())):  # most often all are
        for key, value in fields.items():
            if type(value) not in ATOMIC_TYPES:
                fields[key] = freeze(value)
    return MappingProxyType(fields)


def thaw(value: Any) -> Any:
    """Inverse of `freeze`: plain dicts and lists, ready for JSON or deepdiff."""
    if type(value) in ATOMIC_TYPES:
        return value
    if isinstance(value, Mapping):
        return {k: v if type(v) in ATOMIC_TYPES else thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def frozen_map(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    result: Mapping[str, Any] = freeze(dict(value or {}))
    return result
