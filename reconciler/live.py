"""API JSON → the comparable model, through each kind's field table. Pure.

Both sides of a comparison go through `comparable_fields`, so a value the user wrote and the
value the API echoes compare equal whenever they mean the same thing (DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from reconciler import kinds
from reconciler.frozen import freeze_owned
from reconciler.kinds import KINDS, Kind, Reads
from reconciler.kinds.values import normalise_time
from reconciler.model import DriverVersion, Live, LiveState, Region

__all__ = [
    "assemble",
    "comparable_fields",
    "listed_reads",
    "normalise_time",
    "parse_listed",
    "parse_live_state",
    "parse_regions",
    "parse_resource",
]


def comparable_fields(kind: Kind, fields: Mapping[str, Any], *, desired: bool) -> dict[str, Any]:
    """The compared fields of `fields`, normalised, with the API's defaults filled in.

    Defaults the server applies are made explicit on both sides, so that dropping a field from
    the spec shows as a change back to the default, and an API that omits a field at its
    default shows no phantom change.
    """
    get = (kind.compared_by_name if desired else kind.compared_by_live_name).get
    result: dict[str, Any] = {}
    for key, value in fields.items():
        row = get(key)
        if row is not None:
            normalise = row.normalise
            result[row.name] = value if normalise is None or value is None else normalise(value)
    have = result.get
    for name, default in kind.server_defaults:
        if have(name) is None:
            result[name] = default
    if desired and kind.hooks.complete_desired is not None:
        kind.hooks.complete_desired(result)
    return result


def _require_str(obj: Mapping[str, Any], key: str, kind: str, name: str | None = None) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{_what(kind, name)} without a string {key!r}")
    return value


def _what(kind: str, name: str | None) -> str:
    """`cluster 'a'` (or the kind alone): made only for a message, never per object read."""
    return kind if name is None else f"{kind} {name!r}"


def parse_resource(
    kind: Kind, obj: Mapping[str, Any], parent: tuple[str, str] | None = None
) -> Live:
    """One object of the API → Live (the client already checked the required keys);
    `parent`: (name, id) of the resource a nested kind's object belongs to."""
    kind_name = kind.name
    name = _require_str(obj, kind.api.name_key, kind_name)
    if "status" in kind.api.required:
        status = _require_str(obj, "status", kind_name, name)
    else:
        status = str(obj.get("status") or kind.statuses.default)
    links = {}
    for ref in kind.refs:
        items = _objects(obj, ref.live_list, kind_name, name)
        links[ref.key] = tuple(str(i[ref.live_id]) for i in items if ref.live_id in i)
    attention = kind.hooks.attention
    return Live(
        kind=kind_name,
        id=_require_str(obj, kind.api.id_key, kind_name, name),
        name=name,
        status=status,
        fields=freeze_owned(comparable_fields(kind, obj, desired=False)),
        # Already immutable: a tuple of strings per reference key.
        links=MappingProxyType(links),
        parent=parent[0] if parent else None,
        parent_id=parent[1] if parent else None,
        attention=attention(obj) if attention is not None else (),
    )


def parse_live_state(answers: Mapping[str, Sequence[Mapping[str, Any]]]) -> LiveState:
    """Each top-level kind's list answer (by kind name) → LiveState, sorted by name then id.

    A nested kind's objects are read from its parents' objects (a cluster's `add_ons`): one
    list call per top-level kind serves them all.
    """
    return assemble(
        live
        for kind in KINDS
        if kind.parent is None
        for obj in answers.get(kind.name, ())
        for live in parse_listed(kind, obj)
    )


def listed_reads(kind: Kind) -> Reads:
    """What `parse_listed` reads of one object of `kind`'s list answer. A plan's list answer is
    decoded to just this (client/streaming.py): the rest of each object (a cluster's phase
    history, its nodes' details, its kube_config) is skipped unread. Whatever `parse_listed`
    or the kind's `attention` hook comes to read must be named here."""
    reads: dict[str, tuple[str, ...] | None] = dict.fromkeys(
        (
            kind.api.name_key,
            kind.api.id_key,
            "status",
            *kind.api.required,
            *kind.compared_by_live_name,
            *(c.parent.key for c in kinds.children(kind) if c.parent is not None),
        )
    )
    more = [(ref.live_list, (ref.live_id,)) for ref in kind.refs]
    for key, keys in (*more, *kind.hooks.attention_reads):
        reads[key] = _joined(reads[key], keys) if key in reads else keys
    return tuple(reads.items())


def _joined(one: tuple[str, ...] | None, other: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Two reads of one key as one: the whole value if either reads it whole."""
    return None if one is None or other is None else tuple(dict.fromkeys((*one, *other)))


def parse_listed(kind: Kind, obj: Mapping[str, Any]) -> list[Live]:
    """One object of a top-level kind's list answer → its Live, then the Lives of the nested
    objects it carries (a cluster's add-ons): the raw object can go as soon as it is read."""
    parsed = [parse_resource(kind, obj)]
    for child in kinds.children(kind):
        assert child.parent is not None
        owner = (str(obj[kind.api.name_key]), str(obj[kind.api.id_key]))
        for item in _objects(obj, child.parent.key, kind.name, owner[0]):
            parsed.append(parse_resource(child, item, owner))
    return parsed


def _objects(obj: Mapping[str, Any], key: str, kind: str, name: str) -> list[Mapping[str, Any]]:
    """The objects of the list `obj[key]` (absent or null: none; other items are skipped);
    ValueError if it is not a list (a cluster's `volumes: 1` was a TypeError before)."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{_what(kind, name)} has a {key!r} that is not a list")
    return [item for item in value if isinstance(item, Mapping)]


def assemble(resources: Iterable[Live]) -> LiveState:
    """The parsed resources as a LiveState: grouped by kind, in KINDS order, each group
    sorted by parent, name and id (a stable sort: ties keep the answers' order)."""
    by_kind: dict[str, list[Live]] = {kind.name: [] for kind in KINDS}
    for resource in resources:
        by_kind[resource.kind].append(resource)
    ordered: list[Live] = []
    for group in by_kind.values():
        ordered.extend(sorted(group, key=lambda r: (r.parent or "", r.name, r.id)))
    return LiveState(resources=tuple(ordered))


def parse_regions(regions: Sequence[Mapping[str, Any]]) -> tuple[Region, ...]:
    """The regions catalogue; driver entries without an id (older API) keep an empty id."""
    parsed = []
    for region in regions:
        drivers = tuple(
            DriverVersion(
                id=str(d.get("id") or ""),
                cuda_version=str(d.get("cuda_version") or ""),
                nvidia_driver_version=str(d.get("nvidia_driver_version") or ""),
                os=str(d.get("os") or ""),
            )
            for d in region.get("driver_versions") or ()
            if isinstance(d, Mapping)
        )
        types = tuple(str(t).upper() for t in region.get("supported_instance_types") or ())
        parsed.append(Region(name=str(region.get("name")), gpu_types=types, drivers=drivers))
    return tuple(sorted(parsed, key=lambda r: r.name))
