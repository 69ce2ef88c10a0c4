"""desired × live → actions, one loop over the kinds. The only module that uses deepdiff.

Pure. Like octoDNS's `changes()`: key both sides by (kind, name); desired-only → create;
both → update, replace or nothing; live-only → delete when owned (ensure: absent, prune), else
unmanaged. Plain equality first: deepdiff runs only on the resources that differ. A rule of
one kind is a hook of that kind (`reconciler.kinds`), never a branch here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from reconciler.kinds import KINDS, FieldClass, Kind, referrers
from reconciler.live import comparable_fields
from reconciler.model import (
    Action,
    ActionKind,
    Desired,
    Ensure,
    FieldChange,
    Lifecycle,
    Live,
    LiveState,
    Spec,
    frozen_map,
    thaw,
)


@dataclass(frozen=True, slots=True)
class DiffResult:
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


# --- comparing one resource -------------------------------------------------------------------

SCALAR_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None)})


def project(desired: Any, live: Any) -> Any:
    """`live` restricted to what `desired` sets: nested keys the user did not write, or that the
    API does not echo, are not compared (lists of named items are matched by name)."""
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        return {k: project(v, live[k]) if k in live else v for k, v in desired.items()}
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
    """deepdiff of two plain field maps → FieldChanges sorted by path."""
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


def compare(kind: Kind, desired: Desired, live: Live) -> tuple[dict[str, Any], dict[str, Any]]:
    """(live, desired) comparable maps for one resource, over the fields the spec governs."""
    wanted = comparable_fields(kind, desired.fields, desired=True)
    for ignored in desired.lifecycle.ignore_changes:
        wanted.pop(ignored, None)
    if kind.hooks.ungoverned is not None:
        for name in kind.hooks.ungoverned(desired.fields):
            wanted.pop(name, None)
    plain = thaw(wanted)
    have = live.fields
    # A scalar needs no projection (project returns the live value as it is): skip its two
    # ABC checks, which made this the hottest loop of a 10,000-cluster plan.
    seen = {
        k: thaw(have.get(k)) if type(v) in SCALAR_TYPES else project(v, thaw(have.get(k)))
        for k, v in plain.items()
    }
    for name in kind.unreported_matches & plain.keys():
        if have.get(name) is None:
            seen[name] = plain[name]
    return seen, plain


# --- building actions -------------------------------------------------------------------------


def create_body(kind: Kind, desired: Desired, project_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {kind.api.name_key: desired.name, **thaw(desired.fields)}
    if project_id and "project_id" in kind.by_name and "project_id" not in body:
        body["project_id"] = project_id
    return body


def create_changes(
    kind: Kind, body: Mapping[str, Any], refs: Mapping[str, str]
) -> tuple[FieldChange, ...]:
    """What a create sets, as `+ field = value` lines (references shown by name); the name and
    the project are in the title or the scope, so not repeated."""
    shown = {k: v for k, v in body.items() if k not in (kind.api.name_key, "project_id")}
    shown.update(refs)
    return tuple(FieldChange(path=k, before=None, after=v) for k, v in sorted(shown.items()))


def _create(kind: Kind, desired: Desired, project_id: str | None, note: str = "") -> Action:
    body = create_body(kind, desired, project_id)
    return Action(
        kind=ActionKind.CREATE,
        resource=kind.name,
        name=desired.name,
        changes=create_changes(kind, body, desired.refs),
        reason="declared in the spec, not found live",
        body=frozen_map(body),
        notes=(note,) if note else (),
        refs=desired.refs,
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


def _status_notes(kind: Kind, live: Live) -> tuple[str, ...]:
    if live.status in kind.statuses.unhealthy:
        return (f"live status is {live.status}",)
    return ()


def diff_resource(
    kind: Kind, desired: Desired, live: Live, project_id: str | None, allowed: frozenset[str]
) -> Action | None:
    """One declared, present resource against its live twin: None when nothing differs."""
    seen, wanted = compare(kind, desired, live)
    if seen == wanted:
        return None
    changes = field_changes(seen, wanted, kind.names(FieldClass.REPLACE))
    if not changes:
        return None
    if kind.hooks.forces_replacement is not None:
        forced = kind.hooks.forces_replacement(wanted, live.fields)
        changes = tuple(
            replace(c, forces_replacement=True) if _top(c.path) in forced else c for c in changes
        )
    update = {k: wanted[k] for k in sorted({_top(c.path) for c in changes})}
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
        notes=_status_notes(kind, live),
    )
    replaced = sorted({c.path.split(".")[0] for c in changes if c.forces_replacement})
    if replaced:
        action = replace(
            action,
            kind=ActionKind.REPLACE,
            reason=kind.texts.replace_reason,
            body=frozen_map(create_body(kind, desired, project_id)),
            refs=desired.refs,
        )
        why = kind.texts.replace_why.format(fields=", ".join(replaced))
        return _replace_policy(action, desired.lifecycle, allowed, why)
    guard = kind.hooks.update_guard
    refusal = guard(seen, wanted) if guard is not None else None
    return blocked(action, refusal) if refusal else action


def _delete(kind: Kind, live: Live, reason: str) -> Action:
    return Action(
        kind=ActionKind.DELETE,
        resource=kind.name,
        name=live.name,
        resource_id=live.id,
        status=live.status,
        reason=reason,
        notes=_status_notes(kind, live),
    )


def _ambiguous(kind: Kind, name: str, ids: Sequence[str]) -> Action:
    return Action(
        kind=ActionKind.BLOCKED,
        resource=kind.name,
        name=name,
        reason=(
            f"{len(ids)} live {kind.name}s are named {name!r} (ids {', '.join(ids)}); "
            "the plan will not guess which one the spec means: delete or rename the extra one"
        ),
    )


def users(kind: Kind, spec: Spec, live: LiveState, going: set[str], target: Live) -> list[str]:
    """'cluster(s) a, b' and the like: what still uses `target` after this plan, by kind."""
    described = []
    for referrer, ref in referrers(kind):
        names = {
            r.name
            for r in live.of_kind(referrer.name)
            if target.id in r.links.get(ref.key, ())
            and r.id not in going
            and r.status != referrer.statuses.deleting
        }
        names |= {
            d.name
            for d in spec.of_kind(referrer.name)
            if d.ensure is Ensure.PRESENT and d.refs.get(ref.key) == target.name
        }
        if names:
            described.append(f"{referrer.name}(s) {', '.join(sorted(names))}")
    return described


# --- one kind ---------------------------------------------------------------------------------


def _declared(
    kind: Kind, spec: Spec, live: LiveState, allowed: frozenset[str], going: set[str]
) -> _Found:
    """Actions for the resources of `kind` the spec declares."""
    found = _Found()
    by_name: dict[str, list[Live]] = defaultdict(list)
    deleting: dict[str, Live] = {}
    for resource in live.of_kind(kind.name):
        if resource.status == kind.statuses.deleting:
            deleting.setdefault(resource.name, resource)
        else:
            by_name[resource.name].append(resource)
    create_only = kind.names(FieldClass.CREATE_ONLY) - {"project_id"}
    for desired in spec.of_kind(kind.name):
        twins = by_name.get(desired.name, [])
        if len(twins) > 1:
            found.actions.append(_ambiguous(kind, desired.name, [t.id for t in twins]))
        elif desired.ensure is Ensure.ABSENT:
            if twins:
                delete = _delete(kind, twins[0], "ensure: absent")
                used = users(kind, spec, live, going, twins[0])
                found.actions.append(
                    blocked(delete, f"still used by {'; '.join(used)}") if used else delete
                )
        elif not twins:
            gone = deleting.get(desired.name)
            note = f"waits until {gone.id} ({gone.status}) is gone" if gone else ""
            found.actions.append(_create(kind, desired, spec.project_id, note))
        else:
            action = diff_resource(kind, desired, twins[0], spec.project_id, allowed)
            if action is None:
                found.unchanged.append(f"{kind.name}.{desired.name}")
            else:
                found.actions.append(action)
            if create_only & set(desired.fields):
                found.create_only_users.append(desired.name)
    return found


def _undeclared(kind: Kind, spec: Spec, live: LiveState, found: _Found) -> None:
    """Live resources the spec does not name: pruned when in scope, else unmanaged."""
    if not kind.prunable:
        return
    declared = {d.name for d in spec.of_kind(kind.name)}
    # An empty spec is never "delete everything" (DESIGN §3), not even with prune enabled.
    prefix = spec.prune.name_prefix if spec.prune.enabled and declared else None
    for resource in live.of_kind(kind.name):
        if resource.name in declared or resource.status == kind.statuses.deleting:
            continue
        if prefix and resource.name.startswith(prefix):
            reason = f"prune: not declared, name starts with {prefix!r}"
            found.actions.append(_delete(kind, resource, reason))
        else:
            found.unmanaged.append(resource.name)
    if spec.prune.enabled and not declared:
        found.notes.append(
            f"prune is enabled, but the spec declares no {kind.plural}: nothing is pruned"
        )


def compute_actions(spec: Spec, live: LiveState, allow_replace: Iterable[str] = ()) -> DiffResult:
    """Every action that would make live match the spec, unordered; safety rules come later."""
    allowed = frozenset(allow_replace)
    going: set[str] = set()  # ids this plan deletes or replaces: they no longer use anything
    results: dict[str, _Found] = {}
    # KINDS lists a referenced kind before the kinds that refer to it; referrers go first here,
    # so a volume's delete knows which of its clusters this plan deletes.
    for kind in reversed(KINDS):
        found = _declared(kind, spec, live, allowed, going)
        _undeclared(kind, spec, live, found)
        if found.create_only_users:
            found.notes.append(
                "create-only fields (sent on create, never reported back by the API) are set "
                f"on {', '.join(found.create_only_users)}: changes to them cannot be detected "
                f"and are not applied to existing {kind.plural}"
            )
        going.update(
            a.resource_id
            for a in found.actions
            if a.kind in (ActionKind.DELETE, ActionKind.REPLACE) and a.resource_id
        )
        results[kind.name] = found
    ordered = [results[k.name] for k in KINDS]
    return DiffResult(
        actions=tuple(a for f in ordered for a in f.actions),
        unchanged=tuple(n for f in ordered for n in f.unchanged),
        unmanaged=tuple(n for f in ordered for n in f.unmanaged),
        notes=tuple(n for f in reversed(ordered) for n in f.notes),
    )
