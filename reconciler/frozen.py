"""Frozen JSON values: dicts as read-only mappings, lists as tuples. Pure.

The model's `fields` mappings hold these; `thaw` gives plain values back for JSON or deepdiff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

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


def remember_last(work: Callable[[T], R]) -> Callable[[T], R]:
    """`work` of a value that never changes once made (a spec's document, a live state), with
    its last argument and result remembered: asked again for that very object, the result is
    given again. The argument is held, so that identity stands for it; one entry, as a command
    works on one spec and one live state."""
    last: list[tuple[T, R]] = []

    @functools.wraps(work)
    def remembered(value: T) -> R:
        if last and last[0][0] is value:
            return last[0][1]
        result = work(value)
        last[:] = [(value, result)]
        return result

    return remembered
