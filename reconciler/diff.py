"""desired × live → actions. The only module that uses deepdiff; its objects never leave here.

Pure. Like octoDNS's `changes()`: key both sides by name; desired-only → create; both →
update, replace or nothing; live-only → delete when owned (ensure: absent, prune), else
unmanaged. Plain equality first: deepdiff runs only on the resources that differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from deepdiff import DeepDiff
from deepdiff.helper import notpresent

from reconciler.live import DELETING, UNHEALTHY_STATUSES, comparable_fields
from reconciler.model import (
    CLUSTER_CREATE_ONLY_FIELDS,
    CLUSTER_REPLACE_FIELDS,
    Action,
    ActionKind,
    DesiredCluster,
    DesiredVolume,
    Ensure,
    FieldChange,
    Lifecycle,
    LiveCluster,
    LiveState,
    LiveVolume,
    ResourceKind,
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


def compare_cluster(
    desired: DesiredCluster, live: LiveCluster
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(live, desired) comparable maps for one cluster, over the fields the spec governs."""
    wanted = comparable_fields(desired.fields, desired=True)
    for ignored in desired.lifecycle.ignore_changes:
        wanted.pop(ignored, None)
    if desired.fields.get("auto_scale"):
        wanted.pop("num_gpus", None)  # the autoscaler owns it
    plain = thaw(wanted)
    have = live.fields
    # A scalar needs no projection (project returns the live value as it is): skip its two
    # ABC checks, which made this the hottest loop of a 10,000-cluster plan.
    seen = {
        k: thaw(have.get(k)) if type(v) in SCALAR_TYPES else project(v, thaw(have.get(k)))
        for k, v in plain.items()
    }
    return seen, plain


# --- building actions -------------------------------------------------------------------------


def cluster_create_body(desired: DesiredCluster, project_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"cluster_name": desired.name, **thaw(desired.fields)}
    if project_id and "project_id" not in body:
        body["project_id"] = project_id
    return body


#: Shown in the resource's title or implied by the scope, so not repeated as fields.
TITLE_FIELDS = frozenset({"cluster_name", "volume_name", "project_id"})


def create_changes(body: Mapping[str, Any], volume: str | None = None) -> tuple[FieldChange, ...]:
    """What a create sets, as `+ field = value` lines (a volume reference shown by name)."""
    shown = {k: v for k, v in body.items() if k not in TITLE_FIELDS}
    if volume:
        shown["volume"] = volume
    return tuple(FieldChange(path=k, before=None, after=v) for k, v in sorted(shown.items()))


def _create_cluster(desired: DesiredCluster, project_id: str | None, note: str = "") -> Action:
    body = cluster_create_body(desired, project_id)
    changes = create_changes(body, volume=desired.volume)
    return Action(
        kind=ActionKind.CREATE,
        resource=ResourceKind.CLUSTER,
        name=desired.name,
        changes=changes,
        reason="declared in the spec, not found live",
        body=frozen_map(body),
        notes=(note,) if note else (),
        volume=desired.volume,
    )


def _blocked(action: Action, reason: str) -> Action:
    return Action(
        kind=ActionKind.BLOCKED,
        resource=action.resource,
        name=action.name,
        resource_id=action.resource_id,
        status=action.status,
        changes=action.changes,
        reason=reason,
        body=action.body,
        notes=action.notes,
        intended=action.kind,
        volume=action.volume,
    )


def _replace_policy(
    action: Action, lifecycle: Lifecycle, allow_replace: frozenset[str], why: str
) -> Action:
    """A replace goes ahead only when the spec or the command line allows it."""
    if lifecycle.replace_on_change or action.name in allow_replace:
        return action
    return _blocked(
        action,
        f"{why}; set lifecycle.replace_on_change: true or pass --allow-replace {action.name}",
    )


def _status_notes(live: LiveCluster) -> tuple[str, ...]:
    if live.status in UNHEALTHY_STATUSES:
        return (f"live status is {live.status}",)
    return ()


def diff_cluster(
    desired: DesiredCluster,
    live: LiveCluster,
    project_id: str | None,
    allow_replace: frozenset[str],
) -> Action | None:
    """One declared, present cluster against its live twin: None when nothing differs."""
    seen, wanted = compare_cluster(desired, live)
    if seen == wanted:
        return None
    changes = field_changes(seen, wanted, CLUSTER_REPLACE_FIELDS)
    if not changes:
        return None
    if _new_add_ons(wanted.get("add_ons"), live.fields.get("add_ons")):
        # The update API only changes add-ons that exist (REFERENCE §5): adding one means
        # creating the cluster again.
        changes = tuple(
            replace(c, forces_replacement=True) if c.path.startswith("add_ons") else c
            for c in changes
        )
    if any(c.forces_replacement for c in changes):
        action = Action(
            kind=ActionKind.REPLACE,
            resource=ResourceKind.CLUSTER,
            name=desired.name,
            resource_id=live.cluster_id,
            status=live.status,
            changes=changes,
            reason="a field that cannot be updated in place changed",
            body=frozen_map(cluster_create_body(desired, project_id)),
            notes=_status_notes(live),
            volume=desired.volume,
        )
        forced = ", ".join(sorted({c.path.split(".")[0] for c in changes if c.forces_replacement}))
        return _replace_policy(
            action,
            desired.lifecycle,
            allow_replace,
            f"changing {forced} forces replacement (delete, then create)",
        )
    changed_top = sorted({c.path.split(".")[0].split("[")[0] for c in changes})
    return Action(
        kind=ActionKind.UPDATE,
        resource=ResourceKind.CLUSTER,
        name=desired.name,
        resource_id=live.cluster_id,
        status=live.status,
        changes=changes,
        reason="fields differ from the spec",
        body=frozen_map(update_body(wanted, changed_top)),
        notes=_status_notes(live),
    )


def update_body(wanted: Mapping[str, Any], changed: Iterable[str]) -> dict[str, Any]:
    """The PUT body: the changed top-level fields, in the update's own shapes.

    An update's add-on item is `{name, config}` (REFERENCE §5): `add_on_type` is refused. An
    add-on declared without config is wanted enabled, as a create would make it; the API
    lists only enabled add-ons, so without this a disabled one would never converge.
    """
    body = {k: wanted[k] for k in changed}
    if "add_ons" in body:
        items = []
        for item in body["add_ons"]:
            config = item.get("config")
            if not config and item.get("add_on_type"):
                config = {item["add_on_type"]: {"enabled": True}}
            items.append({"name": item["name"], **({"config": config} if config else {})})
        body["add_ons"] = items
    return body


def _new_add_ons(wanted: Any, live: Any) -> set[str]:
    """Names of add-ons the spec declares that the live cluster does not have."""
    if not isinstance(wanted, Sequence):
        return set()
    have = {i.get("name") for i in live or () if isinstance(i, Mapping)}
    return {str(i["name"]) for i in wanted if isinstance(i, Mapping) and i.get("name") not in have}


def _delete_cluster(live: LiveCluster, reason: str) -> Action:
    return Action(
        kind=ActionKind.DELETE,
        resource=ResourceKind.CLUSTER,
        name=live.name,
        resource_id=live.cluster_id,
        status=live.status,
        reason=reason,
        notes=_status_notes(live),
    )


def _ambiguous(name: str, resource: ResourceKind, ids: Sequence[str]) -> Action:
    return Action(
        kind=ActionKind.BLOCKED,
        resource=resource,
        name=name,
        reason=(
            f"{len(ids)} live {resource}s are named {name!r} (ids {', '.join(ids)}); "
            "the plan will not guess which one the spec means: delete or rename the extra one"
        ),
    )


def compute_cluster_actions(
    spec: Spec, live: LiveState, allow_replace: frozenset[str]
) -> tuple[list[Action], list[str], list[str], list[str]]:
    """(actions, unchanged names, unmanaged names, notes) for clusters."""
    by_name: dict[str, list[LiveCluster]] = defaultdict(list)
    deleting: dict[str, list[LiveCluster]] = defaultdict(list)
    for cluster in live.clusters:
        (deleting if cluster.status == DELETING else by_name)[cluster.name].append(cluster)
    declared = {c.name for c in spec.clusters}
    actions: list[Action] = []
    unchanged: list[str] = []
    create_only_users: list[str] = []
    for desired in spec.clusters:
        twins = by_name.get(desired.name, [])
        if len(twins) > 1:
            actions.append(
                _ambiguous(desired.name, ResourceKind.CLUSTER, [t.cluster_id for t in twins])
            )
        elif desired.ensure is Ensure.ABSENT:
            if twins:
                actions.append(_delete_cluster(twins[0], "ensure: absent"))
        elif not twins:
            gone = deleting.get(desired.name)
            note = f"waits until {gone[0].cluster_id} (Deleting) is gone" if gone else ""
            actions.append(_create_cluster(desired, spec.project_id, note))
        else:
            action = diff_cluster(desired, twins[0], spec.project_id, allow_replace)
            if action is None:
                unchanged.append(desired.name)
            else:
                actions.append(action)
            if CLUSTER_CREATE_ONLY_FIELDS & set(desired.fields) - {"project_id"}:
                create_only_users.append(desired.name)
    unmanaged: list[str] = []
    # An empty spec is never "delete everything" (DESIGN §3), not even with prune enabled.
    prefix = spec.prune.name_prefix if spec.prune.enabled and spec.clusters else None
    for name, twins in sorted(by_name.items()):
        if name in declared:
            continue
        if prefix and name.startswith(prefix):
            actions.extend(
                _delete_cluster(t, f"prune: not declared, name starts with {prefix!r}")
                for t in twins
            )
        else:
            unmanaged.extend(name for _ in twins)
    notes: list[str] = []
    if spec.prune.enabled and not spec.clusters:
        notes.append("prune is enabled, but the spec declares no clusters: nothing is pruned")
    if create_only_users:
        notes.append(
            "create-only fields (sent on create, never reported back by the API) are set on "
            f"{', '.join(create_only_users)}: changes to them cannot be detected and are not "
            "applied to existing clusters"
        )
    return actions, unchanged, unmanaged, notes


def _volume_body(desired: DesiredVolume, project_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"volume_name": desired.name, **thaw(desired.fields)}
    if project_id and "project_id" not in body:
        body["project_id"] = project_id
    return body


def diff_volume(
    desired: DesiredVolume, live: LiveVolume, project_id: str | None, allow_replace: frozenset[str]
) -> Action | None:
    wanted = {k: v for k, v in desired.fields.items() if k in ("size_tib", "region")}
    for ignored in desired.lifecycle.ignore_changes:
        wanted.pop(ignored, None)
    seen = {k: live.fields.get(k, v if k == "region" else None) for k, v in wanted.items()}
    if seen == wanted:
        return None
    changes = field_changes(seen, wanted, frozenset({"region"}))
    base = Action(
        kind=ActionKind.UPDATE,
        resource=ResourceKind.VOLUME,
        name=desired.name,
        resource_id=live.volume_id,
        status=live.status,
        changes=changes,
        reason="size differs from the spec",
        body=frozen_map({"size_tib": wanted.get("size_tib")}),
    )
    if any(c.forces_replacement for c in changes):
        replacement = Action(
            kind=ActionKind.REPLACE,
            resource=ResourceKind.VOLUME,
            name=desired.name,
            resource_id=live.volume_id,
            status=live.status,
            changes=changes,
            reason="the region of a volume cannot change",
            body=frozen_map(_volume_body(desired, project_id)),
        )
        return _replace_policy(
            replacement,
            desired.lifecycle,
            allow_replace,
            "changing region forces replacement of the volume and loses its data",
        )
    before, after = seen.get("size_tib"), wanted.get("size_tib")
    if isinstance(before, int) and isinstance(after, int) and after < before:
        return _blocked(
            base,
            f"shrinking a shared volume ({before} -> {after} TiB) is not supported by the API; "
            "volumes can only grow",
        )
    return base


def compute_volume_actions(
    spec: Spec, live: LiveState, allow_replace: frozenset[str], cluster_actions: Sequence[Action]
) -> tuple[list[Action], list[str]]:
    by_name: dict[str, list[LiveVolume]] = defaultdict(list)
    for volume in live.volumes:
        by_name[volume.name].append(volume)
    going = {
        a.resource_id
        for a in cluster_actions
        if a.kind in (ActionKind.DELETE, ActionKind.REPLACE) and a.resource_id
    }
    used_live: dict[str, list[str]] = defaultdict(list)
    for cluster in live.clusters:
        if cluster.cluster_id not in going and cluster.status != DELETING:
            for volume_id in cluster.volume_ids:
                used_live[volume_id].append(cluster.name)
    used_by_spec: dict[str, list[str]] = defaultdict(list)
    for desired_cluster in spec.clusters:
        if desired_cluster.volume and desired_cluster.ensure is Ensure.PRESENT:
            used_by_spec[desired_cluster.volume].append(desired_cluster.name)
    actions: list[Action] = []
    unchanged: list[str] = []
    for desired in spec.volumes:
        twins = by_name.get(desired.name, [])
        if len(twins) > 1:
            actions.append(
                _ambiguous(desired.name, ResourceKind.VOLUME, [t.volume_id for t in twins])
            )
        elif desired.ensure is Ensure.ABSENT:
            if not twins:
                continue
            delete = Action(
                kind=ActionKind.DELETE,
                resource=ResourceKind.VOLUME,
                name=desired.name,
                resource_id=twins[0].volume_id,
                status=twins[0].status,
                reason="ensure: absent",
            )
            users = sorted(
                set(used_live.get(twins[0].volume_id, [])) | set(used_by_spec.get(desired.name, []))
            )
            actions.append(
                _blocked(delete, f"still used by cluster(s) {', '.join(users)}")
                if users
                else delete
            )
        elif not twins:
            body = _volume_body(desired, spec.project_id)
            actions.append(
                Action(
                    kind=ActionKind.CREATE,
                    resource=ResourceKind.VOLUME,
                    name=desired.name,
                    changes=create_changes(body),
                    reason="declared in the spec, not found live",
                    body=frozen_map(body),
                )
            )
        else:
            action = diff_volume(desired, twins[0], spec.project_id, allow_replace)
            if action is None:
                unchanged.append(desired.name)
            else:
                actions.append(action)
    return actions, unchanged


def compute_actions(spec: Spec, live: LiveState, allow_replace: Iterable[str] = ()) -> DiffResult:
    """Every action that would make live match the spec, unordered; safety rules come later."""
    allowed = frozenset(allow_replace)
    cluster_actions, unchanged, unmanaged, notes = compute_cluster_actions(spec, live, allowed)
    volume_actions, unchanged_volumes = compute_volume_actions(spec, live, allowed, cluster_actions)
    return DiffResult(
        actions=tuple(volume_actions + cluster_actions),
        unchanged=tuple(
            [f"volume.{n}" for n in unchanged_volumes] + [f"cluster.{n}" for n in unchanged]
        ),
        unmanaged=tuple(unmanaged),
        notes=tuple(notes),
    )
