"""Resource kinds, the second axis of the pipeline: one pure module per kind, this registry.

Pure. A kind owns, as data plus a few plain functions, everything that is particular to it
(see `base.Kind`): its field table, API endpoints and answer keys, its rank in the apply
order, whether apply waits for it, its references to other kinds, and hooks for the rules
only it has. Every stage (live, diff, plan, render, client, apply) loops over `KINDS` and
asks the kind; a new kind is a new module here and one line in `KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.frozen import ATOMIC_TYPES
from reconciler.kinds import addon, cluster, volume
from reconciler.kinds.base import (
    NO_DEFAULT,
    Endpoints,
    Field,
    FieldClass,
    Hooks,
    Kind,
    Parent,
    Reads,
    Ref,
    Statuses,
    Texts,
)

__all__ = [
    "KINDS",
    "NO_DEFAULT",
    "SENSITIVE_MARK",
    "TOP_LEVEL",
    "Endpoints",
    "Field",
    "FieldClass",
    "Hooks",
    "Kind",
    "Parent",
    "Reads",
    "Ref",
    "Statuses",
    "Texts",
    "children",
    "get",
    "is_sensitive",
    "redact",
    "referrers",
]

#: Every kind, in the order plans list them and specs declare them: a referenced kind before
#: the kinds that refer to it, a nested kind after its parent.
KINDS: tuple[Kind, ...] = (volume.KIND, cluster.KIND, addon.KIND)
#: The kinds a spec lists at its top level (`volumes:`, `clusters:`); the others are nested.
TOP_LEVEL: tuple[Kind, ...] = tuple(k for k in KINDS if k.parent is None)
_BY_NAME: Mapping[str, Kind] = {k.name: k for k in KINDS}


def get(name: str) -> Kind:
    """The kind called `name`; KeyError for a name no kind has."""
    return _BY_NAME[name]


_CHILDREN = {
    kind.name: tuple(k for k in KINDS if k.parent is not None and k.parent.kind == kind.name)
    for kind in KINDS
}
_REFERRERS = {
    kind.name: tuple((k, r) for k in KINDS for r in k.refs if r.kind == kind.name) for kind in KINDS
}


def children(kind: Kind) -> tuple[Kind, ...]:
    """The kinds nested in `kind` (add-ons in clusters); found once, asked per resource."""
    return _CHILDREN[kind.name]


def referrers(kind: Kind) -> tuple[tuple[Kind, Ref], ...]:
    """(kind, ref) for every reference another kind makes to `kind`."""
    return _REFERRERS[kind.name]


# --- secrets ------------------------------------------------------------------------------------

#: Dotted paths whose values are secret in any kind: rendered as "(sensitive)", never written.
SENSITIVE_PATHS: frozenset[str] = frozenset().union(*(k.sensitive_paths for k in KINDS))
SENSITIVE_MARK = "(sensitive)"


def is_sensitive(path: str) -> bool:
    """True when `path` (dotted) is, or lies under, a sensitive field."""
    return any(path == p or path.startswith(p + ".") for p in SENSITIVE_PATHS)


def redact(value: Any, path: str = "", *, mark: Any = SENSITIVE_MARK) -> Any:
    """`value` (at dotted `path`) with every sensitive part replaced by `mark`.

    `mark` may be a callable taking the secret, e.g. to keep a digest that detects change.
    """
    if path and is_sensitive(path):
        return mark(value) if callable(mark) else mark
    if type(value) in ATOMIC_TYPES:
        return value
    if isinstance(value, Mapping):
        return {k: redact(v, f"{path}.{k}" if path else k, mark=mark) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, path, mark=mark) for v in value]
    return value
