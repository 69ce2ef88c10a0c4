"""desired × live → actions, one loop over the kinds. The diff package is the only user of
deepdiff (in `resource.py`); its objects never leave it.

Pure. Like octoDNS's `changes()`: key both sides by (kind, name — within its parent for a
nested kind); desired-only → create; both → update, replace or nothing; live-only → delete
when owned (ensure: absent, prune), else unmanaged. Plain equality first: deepdiff runs only on
the resources that differ. A rule of one kind is a hook of that kind (`reconciler.kinds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from reconciler import kinds
from reconciler.diff.resource import (
    SCALAR_TYPES,
    Ids,
    Probe,
    ambiguous,
    blocked,
    create_body,
    diff_resource,
    field_changes,
    make_create,
    make_delete,
    project,
    ref_changes,
    scalar_probe,
    unchanged,
    wanted_fields,
)
from reconciler.kinds import KINDS, TOP_LEVEL, FieldClass, Kind, referrers
from reconciler.model import Action, ActionKind, Desired, Ensure, Live, LiveState, Spec, thaw

__all__ = ["DiffResult", "Wanted", "blocked", "compute_actions", "field_changes", "project"]

DESTRUCTIVE = (ActionKind.DELETE, ActionKind.REPLACE)


class DiffResult(Struct, frozen=True):
    actions: tuple[Action, ...]
    unchanged: tuple[str, ...]
    unmanaged: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(slots=True)
class _Found:
    """What the loop found for one kind."""

    actions: list[Action] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    create_only_users: list[str] = field(default_factory=list)
    unreported: dict[str, list[str]] = field(default_factory=dict)  # field → resource names
    ungoverned: dict[str, list[str]] = field(default_factory=dict)  # field → resource names


class Wanted:
    """The spec's side of the comparison (`wanted_fields` of each present resource), worked
    out before the live state is read: `plan` does it while the API answers. An entry serves
    only the very resource it was made from (a resource replaced since, by `expire` say, has
    its fields worked out again)."""

    def __init__(self, spec: Spec) -> None:
        self._by_key: dict[str, tuple[Desired, dict[str, Any], Probe | None]] = {}
        # Items that differ only by their name (most of a fleet) share their maps, which
        # are only read: keyed by the kind, ignore_changes, and the fields with their types
        # (8, 8.0 and true are not the same value here). Only all-scalar fields are shared.
        shared: dict[Any, tuple[dict[str, Any], Probe | None]] = {}
        for d in spec.resources:
            if d.ensure is not Ensure.PRESENT:
                continue
            types = tuple(map(type, d.fields.values()))
            same = (d.kind, d.lifecycle.ignore_changes, tuple(d.fields.items()), types)
            flat = SCALAR_TYPES.issuperset(types)
            found = shared.get(same) if flat else None
            if found is None:
                kind = kinds.get(d.kind)
                plain = wanted_fields(kind, d)
                found = (plain, scalar_probe(kind, plain))
                if flat:
                    shared[same] = found
            self._by_key[d.key] = (d, *found)

    def of(self, kind: Kind, desired: Desired) -> dict[str, Any]:
        entry = self._by_key.get(desired.key)
        return entry[1] if entry and entry[0] is desired else wanted_fields(kind, desired)

    def same(self, desired: Desired, live: Live) -> bool:
        """True when `live` holds every compared field of `desired` as it is: no comparison to
        make (`unchanged`). False says nothing: compare the two the full way."""
        entry = self._by_key.get(desired.key)
        if entry is None or entry[0] is not desired or entry[2] is None:
            return False
        return unchanged(entry[2], live)


#: Live users by the id they refer to; declared (present) users by the name they refer to.
_Users = tuple[dict[str, list[Live]], dict[str, set[str]]]


@dataclass(slots=True)
class _Context:
    """What the loop knows across kinds."""

    spec: Spec
    live: LiveState
    allowed: frozenset[str]
    desired: dict[str, Desired]  # key → the spec resource
    going: set[str] = field(default_factory=set)  # ids this plan deletes or replaces
    # (kind, name) of live resources whose nested resources this plan may change: present in
    # the spec, live, and neither created, replaced, deleted nor refused by this plan
    settled: set[tuple[str, str]] = field(default_factory=set)
    # (nested kind, parent name) → the present nested resources the spec declares there
    nested: dict[tuple[str, str], list[Desired]] = field(default_factory=dict)
    ignored: set[tuple[str, str]] = field(default_factory=set)  # (nested kind, parent name)
    # (referring kind, reference key) → its users, see _users_of
    users: dict[tuple[str, str], _Users] = field(default_factory=dict)
    wanted: Wanted = field(init=False)  # the spec's side of the comparison
    _index: tuple[Ids, Ids, dict[tuple[str, str], Live]] | None = None

    def index(self) -> tuple[Ids, Ids, dict[tuple[str, str], Live]]:
        """(kind, name) → id of a live resource that stays; (kind, id) → its name; (kind, id)
        → the live resource. Made on first need: most resources of a large fleet need none."""
        if self._index is None:
            ids: dict[tuple[str, str], str] = {}
            names: dict[tuple[str, str], str] = {}
            by_id: dict[tuple[str, str], Live] = {}
            for resource in self.live.resources:
                names[(resource.kind, resource.id)] = resource.name
                by_id[(resource.kind, resource.id)] = resource
                if (
                    resource.parent is None
                    and resource.status != kinds.get(resource.kind).statuses.deleting
                ):
                    ids.setdefault((resource.kind, resource.name), resource.id)
            self._index = (ids, names, by_id)
        return self._index


def _order() -> list[Kind]:
    """Referring kinds before the kinds they refer to (a volume's delete must know which of its
    clusters go), and each nested kind right after its parent (it must know its parent's
    action)."""
    ordered: list[Kind] = []
    for kind in reversed(TOP_LEVEL):
        ordered += [kind, *kinds.children(kind)]
    return ordered


def users(kind: Kind, ctx: _Context, target: Live) -> list[str]:
    """'cluster(s) a, b' and the like: what still uses `target` after this plan, by kind."""
    described = []
    for referrer, ref in referrers(kind):
        live_users, spec_users = _users_of(ctx, referrer, ref.key)
        names = {r.name for r in live_users.get(target.id, ()) if r.id not in ctx.going}
        names |= spec_users.get(target.name, set())
        if names:
            described.append(f"{referrer.name}(s) {', '.join(sorted(names))}")
    return described


def _users_of(ctx: _Context, referrer: Kind, key: str) -> _Users:
    """(live resources of `referrer` not going away, by the id they use under `key`; present
    spec resources, by the name they use), built once per plan: a scan per delete was O(N)."""
    found = ctx.users.get((referrer.name, key))
    if found is None:
        live: dict[str, list[Live]] = {}
        for r in ctx.live.of_kind(referrer.name):
            if r.status != referrer.statuses.deleting:
                for used in r.links.get(key, ()):
                    live.setdefault(used, []).append(r)
        declared: dict[str, set[str]] = {}
        for d in ctx.spec.of_kind(referrer.name):
            name = d.refs.get(key)
            if d.ensure is Ensure.PRESENT and name is not None:
                declared.setdefault(name, set()).add(d.name)
        found = ctx.users[(referrer.name, key)] = (live, declared)
    return found


def _nested_bodies(ctx: _Context, kind: Kind, desired: Desired) -> dict[str, list[dict[str, Any]]]:
    """The present nested resources a create of `desired` carries in its body."""
    bodies: dict[str, list[dict[str, Any]]] = {}
    for child in kinds.children(kind):
        assert child.parent is not None
        bodies[child.parent.key] = [
            {child.api.name_key: d.name, **thaw(d.fields)}
            for d in ctx.nested.get((child.name, desired.name), ())
        ]
    return bodies


def _is_in_scope(kind: Kind, ctx: _Context, parent: str | None) -> bool:
    """A nested resource is planned on its own only while its parent is settled (otherwise it
    is created with its parent, or goes with it) and the parent does not ignore its changes
    (`lifecycle.ignore_changes: [add_ons]`)."""
    if kind.parent is None:
        return True
    return (kind.parent.kind, parent or "") in ctx.settled and (
        kind.name,
        parent or "",
    ) not in ctx.ignored


# --- one kind ---------------------------------------------------------------------------------


def _declared(kind: Kind, ctx: _Context) -> _Found:
    """Actions for the resources of `kind` the spec declares."""
    found = _Found()
    by_key, deleting = _live_by_key(kind, ctx.live)
    create_only = kind.names(FieldClass.CREATE_ONLY) - {"project_id"}
    unreported, ungoverned = kind.unreported_matches, kind.hooks.ungoverned
    top_level, present = kind.parent is None, Ensure.PRESENT
    for desired in ctx.spec.of_kind(kind.name):
        if not top_level and not _is_in_scope(kind, ctx, desired.parent):
            continue
        twins = by_key.get(desired.key, [])
        action = _one(kind, ctx, desired, twins, deleting.get(desired.key))
        if action is not None:
            found.actions.append(action)
        elif twins and desired.ensure is present:
            found.unchanged.append(desired.key)
        if len(twins) != 1 or desired.ensure is not present:
            continue
        fields = desired.fields
        if not create_only.isdisjoint(fields):
            found.create_only_users.append(desired.name)
        for name in unreported.intersection(fields) if unreported else ():
            if twins[0].fields.get(name) is None:
                found.unreported.setdefault(name, []).append(desired.name)
        for name in ungoverned(fields).intersection(fields) if ungoverned is not None else ():
            found.ungoverned.setdefault(name, []).append(desired.name)
        if action is None or action.kind is ActionKind.UPDATE:
            ctx.settled.add((kind.name, desired.name))
    return found


def _live_by_key(kind: Kind, live: LiveState) -> tuple[dict[str, list[Live]], dict[str, Live]]:
    """The live resources of `kind` by key, and the first one being deleted of each key."""
    by_key: dict[str, list[Live]] = {}
    deleting: dict[str, Live] = {}
    status = kind.statuses.deleting
    for resource in live.of_kind(kind.name):
        if resource.status == status:
            deleting.setdefault(resource.key, resource)
        elif resource.key in by_key:
            by_key[resource.key].append(resource)
        else:
            by_key[resource.key] = [resource]
    return by_key, deleting


def _one(
    kind: Kind, ctx: _Context, desired: Desired, twins: list[Live], gone: Live | None
) -> Action | None:
    """The action for one declared resource, or None when it needs none."""
    if len(twins) > 1:
        return ambiguous(kind, desired.name, [t.id for t in twins], desired.parent)
    if desired.ensure is Ensure.ABSENT:
        if not twins:
            return None
        delete = make_delete(kind, twins[0], "ensure: absent")
        used = users(kind, ctx, twins[0])
        return blocked(delete, f"still used by {'; '.join(used)}") if used else delete

    def body() -> dict[str, Any]:
        return create_body(kind, desired, ctx.spec.project_id, _nested_bodies(ctx, kind, desired))

    if not twins:
        note = f"waits until {gone.id} ({gone.status}) is gone" if gone else ""
        return make_create(kind, desired, body(), note)
    refs = ref_changes(kind, desired, twins[0], *ctx.index()[:2]) if desired.refs else ()
    if not refs and ctx.wanted.same(desired, twins[0]):
        return None
    plain = ctx.wanted.of(kind, desired)
    return diff_resource(kind, desired, twins[0], body, ctx.allowed, refs, plain)


def _undeclared(kind: Kind, ctx: _Context, found: _Found) -> None:
    """Live resources the spec does not name: pruned when in scope, else unmanaged."""
    spec = ctx.spec
    declared = {d.key for d in spec.of_kind(kind.name)}
    if kind.parent is not None:
        left = [
            r.key.split(".", 1)[1]
            for r in ctx.live.of_kind(kind.name)
            if r.key not in declared and _is_in_scope(kind, ctx, r.parent)
        ]
        if left:
            found.notes.append(
                f"{kind.name}s the spec does not name are left alone (unmanaged): "
                + ", ".join(left)
            )
        return
    if not kind.prunable:
        return
    # An empty spec is never "delete everything" (DESIGN §3), not even with prune enabled.
    prefix = spec.prune.name_prefix if spec.prune.enabled and declared else None
    for resource in ctx.live.of_kind(kind.name):
        if resource.key in declared or resource.status == kind.statuses.deleting:
            continue
        if prefix and resource.name.startswith(prefix):
            reason = f"prune: not declared, name starts with {prefix!r}"
            found.actions.append(make_delete(kind, resource, reason))
        else:
            found.unmanaged.append(resource.name)
    if spec.prune.enabled and not declared:
        found.notes.append(
            f"prune is enabled, but the spec declares no {kind.plural}: nothing is pruned"
        )


def _take_along(kind: Kind, ctx: _Context, action: Action) -> Action:
    """A delete or replace with what it takes along (an inline volume) in its notes and
    `also_deletes`, so the reviewer sees it and --max-deletes counts it."""
    intended = action.intended or action.kind
    if intended not in DESTRUCTIVE or kind.hooks.collateral is None:
        return action
    by_id = ctx.index()[2]
    live = by_id.get((kind.name, action.resource_id or ""))
    if live is None:
        return action
    desired = ctx.desired.get(action.key)
    attached = [
        by_id[(ref.kind, i)]
        for ref in kind.refs
        for i in live.links.get(ref.key, ())
        if (ref.kind, i) in by_id
    ]
    taken = kind.hooks.collateral(desired.fields if desired else {}, attached)
    if not taken:
        return action
    return replace(
        action,
        notes=(*action.notes, *(note for _, note in taken)),
        also_deletes=tuple(key for key, _ in taken),
    )


def _context(spec: Spec, live: LiveState, allowed: frozenset[str]) -> _Context:
    ctx = _Context(spec, live, allowed, {d.key: d for d in spec.resources})
    for desired in spec.resources:
        if desired.parent is not None and desired.ensure is Ensure.PRESENT:
            ctx.nested.setdefault((desired.kind, desired.parent), []).append(desired)
        for child in kinds.children(kinds.get(desired.kind)):
            if child.parent and child.parent.key in desired.lifecycle.ignore_changes:
                ctx.ignored.add((child.name, desired.name))
    return ctx


def compute_actions(
    spec: Spec, live: LiveState, allow_replace: Iterable[str] = (), wanted: Wanted | None = None
) -> DiffResult:
    """Every action that would make live match the spec, unordered; safety rules come later.
    `wanted`: the spec's side of the comparison, when it was worked out before."""
    ctx = _context(spec, live, frozenset(allow_replace))
    ctx.wanted = wanted if wanted is not None else Wanted(spec)
    results: dict[str, _Found] = {}
    for kind in _order():
        found = _declared(kind, ctx)
        _undeclared(kind, ctx, found)
        if kind.hooks.collateral is not None:
            found.actions = [_take_along(kind, ctx, a) for a in found.actions]
        for name, owners in sorted(found.ungoverned.items()):
            found.notes.append(kind.texts.ungoverned.format(fields=name, names=", ".join(owners)))
        for name, owners in sorted(found.unreported.items()):
            found.notes.append(
                f"the API does not report the {name} of {kind.plural} {', '.join(owners)}: "
                "a change to it cannot be seen, and the spec's value is taken as live"
            )
        if found.create_only_users:
            found.notes.append(
                "create-only fields (sent on create, never reported back by the API) are set "
                f"on {', '.join(found.create_only_users)}: changes to them cannot be detected "
                f"and are not applied to existing {kind.plural}"
            )
        ctx.going.update(
            a.resource_id for a in found.actions if a.kind in DESTRUCTIVE and a.resource_id
        )
        results[kind.name] = found
    ordered = [results[k.name] for k in KINDS]
    return DiffResult(
        actions=tuple(a for f in ordered for a in f.actions),
        unchanged=tuple(n for f in ordered for n in f.unchanged),
        unmanaged=tuple(n for f in ordered for n in f.unmanaged),
        notes=tuple(n for k in _order() for n in results[k.name].notes),
    )
