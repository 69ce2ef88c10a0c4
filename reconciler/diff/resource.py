"""One resource: desired × live → its field changes and its action. Uses deepdiff, which
stays inside the diff package; its objects never leave it.

Pure. What is particular to a kind is asked of the kind: its field table, texts and hooks.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from msgspec.structs import replace

from reconciler.kinds import FieldClass, Kind
from reconciler.live import comparable_fields
from reconciler.model import (
    Action,
    ActionKind,
    Desired,
    FieldChange,
    Lifecycle,
    Live,
    frozen_map,
    thaw,
)

#: (kind, name) → id of a live resource that stays, and (kind, id) → its name.
Ids = Mapping[tuple[str, str], str]

# --- comparing one resource -------------------------------------------------------------------

SCALAR_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def project(desired: Any, live: Any, strict: bool = False) -> Any:
    """`live` restricted to what `desired` sets: nested keys the user did not write, or that the
    API does not echo, are not compared (lists of named items are matched by name). `strict`:
    the API echoes every nested key it holds, so a key the spec sets and live lacks differs."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        return {
            k: project(v, live[k], strict) if k in live else (None if strict else v)
            for k, v in desired.items()
        }
    if (
        isinstance(desired, Sequence)
        and not isinstance(desired, str)
        and isinstance(live, Sequence)
        and not isinstance(live, str)
    ):
        if desired and all(isinstance(d, Mapping) and "name" in d for d in desired):
            # Named items (add-ons) the spec does not list are not compared: the update API
            # merges add-ons by name and cannot remove one, so such a diff would never go away.
            live_named = {i.get("name"): i for i in live if isinstance(i, Mapping)}
            return [project(d, live_named[d["name"]]) for d in desired if d["name"] in live_named]
        return list(live)
    return live


def _path_text(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _top(path: str) -> str:
    return path.split(".")[0].split("[")[0]


def field_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], replace_fields: frozenset[str]
) -> tuple[FieldChange, ...]:
    """deepdiff of two plain field maps → FieldChanges sorted by path. Scalars that differ need
    no deepdiff (the common drift: a count, a version): they are compared directly, and
    deepdiff runs, and is imported, only for nested values."""
    scalar = _scalar_changes(before, after, replace_fields)
    if scalar is not None:
        return scalar
    # Imported here, on the first resource that differs: deepdiff (and the pydantic it pulls
    # in) costs ~0.1 s to import, which `validate`, `schema` and `--help` never need.
    from deepdiff import DeepDiff
    from deepdiff.helper import notpresent

    diff = DeepDiff(thaw(before), thaw(after), view="tree", verbose_level=2)
    changes: list[FieldChange] = []
    for levels in diff.values():
        for level in levels:
            parts = level.path(output_format="list")
            changes.append(
                FieldChange(
                    path=_path_text(parts),
                    before=None if level.t1 is notpresent else level.t1,
                    after=None if level.t2 is notpresent else level.t2,
                    forces_replacement=bool(parts) and parts[0] in replace_fields,
                )
            )
    return tuple(sorted(changes, key=lambda c: c.path))


def _scalar_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], replace_fields: frozenset[str]
) -> tuple[FieldChange, ...] | None:
    """The changes when the two maps have the same keys and every value that differs is a
    scalar on both sides (of one type); None when deepdiff must look."""
    if before.keys() != after.keys():
        return None
    changes = []
    for key in sorted(after):
        old, new = before[key], after[key]
        if type(old) is type(new) and old == new:
            continue
        if type(old) not in SCALAR_TYPES or type(new) not in SCALAR_TYPES:
            return None
        if old == new:  # equal across types (1 and 1.0): deepdiff reports the type change
            return None
        changes.append(FieldChange(key, old, new, forces_replacement=key in replace_fields))
    return tuple(changes)


def wanted_fields(kind: Kind, desired: Desired) -> dict[str, Any]:
    """The desired side of `compare`, from the spec alone: its comparable fields, less those
    `ignore_changes` or the kind leaves ungoverned, as plain values. Read only, never changed:
    a `Wanted` hands the same map to every plan made from its spec."""
    wanted = comparable_fields(kind, desired.fields, desired=True)
    for ignored in desired.lifecycle.ignore_changes:
        wanted.pop(ignored, None)
    if kind.hooks.ungoverned is not None:
        for name in kind.hooks.ungoverned(desired.fields):
            wanted.pop(name, None)
    plain: dict[str, Any] = thaw(wanted)
    return plain


#: The compared fields of a resource whose wanted values are all scalars, as (keys, read,
#: values): its live twin matches when `read(live.fields) == values`, `read` an itemgetter of
#: the keys that gives a tuple (see `unchanged`).
Probe = tuple[tuple[str, ...], Callable[[Mapping[str, Any]], Any], tuple[Any, ...]]


def scalar_probe(kind: Kind, plain: Mapping[str, Any]) -> Probe | None:
    """`plain` (a resource's `wanted_fields`) as a Probe; None when a value is not a scalar (it
    is projected onto live before the comparison) or the API may not report a field (then a
    missing live value counts as a match): `compare` must look."""
    if kind.unreported_matches & plain.keys():
        return None
    if any(type(v) not in SCALAR_TYPES for v in plain.values()):
        return None
    keys = tuple(plain)
    if not keys:
        return keys, _read_nothing, ()
    # itemgetter of one key gives the value, not a 1-tuple: read two (the key twice) instead.
    twice = 2 if len(keys) == 1 else 1
    return keys, operator.itemgetter(*keys * twice), tuple(plain.values()) * twice


def _read_nothing(fields: Mapping[str, Any]) -> tuple[()]:
    return ()


def unchanged(probe: Probe, live: Live) -> bool:
    """True when `live` holds the probe's values: `compare` would find its two sides equal
    (a scalar needs no projection, and a frozen live value equals a scalar no more than its
    thawed twin does). One C-level read instead of a dict of thawed values per resource: the
    hottest loop of a 10,000-cluster plan, of which ~99 % has nothing to change (an
    itemgetter reads a read-only mapping 3x faster than its `get` does, key by key). A field
    the live side lacks reads as None, as `compare` reads it."""
    keys, read, values = probe
    try:
        return bool(read(live.fields) == values)
    except KeyError:
        have = live.fields.get
        return tuple(have(k) for k in keys) == values[: len(keys)]


def compare(
    kind: Kind, desired: Desired, live: Live, plain: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(live, desired) comparable maps for one resource, over the fields the spec governs;
    `plain`: its `wanted_fields`, when they were worked out before."""
    if plain is None:
        plain = wanted_fields(kind, desired)
    have = live.fields
    # A scalar needs no projection (project returns the live value as it is): skip its two
    # ABC checks, which made this the hottest loop of a 10,000-cluster plan.
    seen = {
        k: thaw(have.get(k))
        if type(v) in SCALAR_TYPES
        else project(v, thaw(have.get(k)), k in kind.echoed_whole)
        for k, v in plain.items()
    }
    for name in kind.unreported_matches & plain.keys():
        if have.get(name) is None:
            seen[name] = plain[name]
    return seen, plain


# --- building actions -------------------------------------------------------------------------


def create_body(
    kind: Kind,
    desired: Desired,
    project_id: str | None,
    nested: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The create body: the name, the fields, the project, and the nested resources that are
    created with it (a new cluster's add-ons, `{"add_ons": [...]}`)."""
    body: dict[str, Any] = {kind.api.name_key: desired.name, **thaw(desired.fields)}
    if project_id and "project_id" in kind.by_name and "project_id" not in body:
        body["project_id"] = project_id
    body.update({k: v for k, v in (nested or {}).items() if v})
    return body


def create_changes(
    kind: Kind, body: Mapping[str, Any], refs: Mapping[str, str]
) -> tuple[FieldChange, ...]:
    """What a create sets, as `+ field = value` lines (references shown by name); the name and
    the project are in the title or the scope, so not repeated."""
    shown = {k: v for k, v in body.items() if k not in (kind.api.name_key, "project_id")}
    shown.update(refs)
    return tuple(FieldChange(path=k, before=None, after=v) for k, v in sorted(shown.items()))


def make_create(kind: Kind, desired: Desired, body: dict[str, Any], note: str = "") -> Action:
    return Action(
        kind=ActionKind.CREATE,
        resource=kind.name,
        name=desired.name,
        changes=create_changes(kind, body, desired.refs),
        reason="declared in the spec, not found live",
        body=frozen_map(body),
        notes=(note,) if note else (),
        refs=desired.refs,
        parent=desired.parent,
    )


def blocked(action: Action, reason: str) -> Action:
    """`action` refused by a rule: kept in the plan, with what it would have been."""
    return replace(action, kind=ActionKind.BLOCKED, intended=action.kind, reason=reason)


def _replace_policy(
    action: Action, lifecycle: Lifecycle, allow_replace: frozenset[str], why: str
) -> Action:
    """A replace goes ahead only when the spec or the command line allows it."""
    if lifecycle.replace_on_change or action.name in allow_replace:
        return action
    return blocked(
        action,
        f"{why}; set lifecycle.replace_on_change: true or pass --allow-replace {action.name}",
    )


def status_notes(kind: Kind, live: Live) -> tuple[str, ...]:
    if live.status in kind.statuses.unhealthy:
        return (f"live status is {live.status}",)
    return ()


def ref_changes(
    kind: Kind, desired: Desired, live: Live, ids: Ids, names: Ids
) -> tuple[FieldChange, ...]:
    """References the live resource does not have (another volume attached, or none): the API
    attaches them only on create, so each forces replacement. A reference the spec does not
    make is not compared (the live one may come from `shared_volume` or `volume_id`)."""
    changes = []
    for ref in kind.refs:
        wanted = desired.refs.get(ref.key)
        if not wanted:
            continue
        have = live.links.get(ref.key, ())
        if ids.get((ref.kind, wanted)) in have:
            continue
        before = ", ".join(names.get((ref.kind, i), i) for i in have) or None
        changes.append(FieldChange(ref.key, before, wanted, forces_replacement=True))
    return tuple(changes)


def diff_resource(
    kind: Kind,
    desired: Desired,
    live: Live,
    create: Callable[[], dict[str, Any]],
    allowed: frozenset[str],
    refs: tuple[FieldChange, ...] = (),
    plain: dict[str, Any] | None = None,
) -> Action | None:
    """One declared, present resource against its live twin: None when nothing differs.
    `create` makes the body a replace would send; `refs` are the reference changes; `plain`
    the resource's `wanted_fields`, when they were worked out before."""
    seen, wanted = compare(kind, desired, live, plain)
    if seen == wanted and not refs:
        return None
    changes = field_changes(seen, wanted, kind.names(FieldClass.REPLACE)) if seen != wanted else ()
    changes = tuple(sorted((*changes, *refs), key=lambda c: c.path))
    if not changes:
        return None
    if kind.hooks.forces_replacement is not None:
        forced = kind.hooks.forces_replacement(wanted, live.fields)
        changes = tuple(
            replace(c, forces_replacement=True) if _top(c.path) in forced else c for c in changes
        )
    update = {k: wanted[k] for k in sorted({_top(c.path) for c in changes}) if k in wanted}
    if kind.hooks.update_body is not None:
        update = kind.hooks.update_body(update)
    action = Action(
        kind=ActionKind.UPDATE,
        resource=kind.name,
        name=desired.name,
        resource_id=live.id,
        status=live.status,
        changes=changes,
        reason=kind.texts.update_reason,
        body=frozen_map(update),
        notes=status_notes(kind, live),
        parent=desired.parent,
    )
    replaced = sorted({_top(c.path) for c in changes if c.forces_replacement})
    if replaced:
        action = replace(
            action,
            kind=ActionKind.REPLACE,
            reason=kind.texts.replace_reason,
            body=frozen_map(create()),
            refs=desired.refs,
        )
        if not kind.replace_needs_consent:
            return action
        why = kind.texts.replace_why.format(fields=", ".join(replaced))
        return _replace_policy(action, desired.lifecycle, allowed, why)
    guard = kind.hooks.update_guard
    refusal = guard(seen, wanted) if guard is not None else None
    return blocked(action, refusal) if refusal else action


def make_delete(kind: Kind, live: Live, reason: str) -> Action:
    return Action(
        kind=ActionKind.DELETE,
        resource=kind.name,
        name=live.name,
        resource_id=live.id,
        status=live.status,
        reason=reason,
        notes=status_notes(kind, live),
        parent=live.parent,
    )


def ambiguous(kind: Kind, name: str, ids: Sequence[str], parent: str | None = None) -> Action:
    return Action(
        kind=ActionKind.BLOCKED,
        resource=kind.name,
        name=name,
        reason=(
            f"{len(ids)} live {kind.name}s are named {name!r} (ids {', '.join(ids)}); "
            "the plan will not guess which one the spec means: delete or rename the extra one"
        ),
        parent=parent,
    )
