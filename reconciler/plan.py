"""The Plan: ordering, safety rules, fingerprints of what it touches, and its saved JSON form.

Pure. Safety lives here, not in the CLI (octoDNS's `raise_if_unsafe`): prevent_destroy turns
deletes and replaces into blocked actions, `max_deletes` refuses the whole plan.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.diff import compute_actions
from reconciler.errors import ReconcilerError, StalePlanError, UnsafePlanError
from reconciler.live import DELETING
from reconciler.model import (
    Action,
    ActionKind,
    DesiredCluster,
    DesiredVolume,
    Ensure,
    FieldChange,
    GpuChange,
    Lifecycle,
    LiveState,
    Plan,
    Prune,
    Region,
    ResourceKind,
    Spec,
    freeze,
    frozen_map,
    is_sensitive,
    redact,
    thaw,
)

FORMAT_VERSION = 1
DEFAULT_MAX_DELETES = 3


@dataclass(frozen=True, slots=True)
class PlanOptions:
    allow_replace: tuple[str, ...] = ()
    max_deletes: int = DEFAULT_MAX_DELETES
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()


# --- order (DESIGN §6) ------------------------------------------------------------------------


def action_rank(action: Action) -> int:
    """Volume creates/resizes → cluster replaces (free a name) → cluster creates → cluster
    updates → cluster deletes → volume deletes; blocked actions last."""
    match action.resource, action.kind:
        case _, ActionKind.BLOCKED:
            return 9
        case ResourceKind.VOLUME, ActionKind.DELETE:
            return 6
        case ResourceKind.VOLUME, _:
            return 0
        case ResourceKind.CLUSTER, ActionKind.REPLACE:
            return 1
        case ResourceKind.CLUSTER, ActionKind.CREATE:
            return 2
        case ResourceKind.CLUSTER, ActionKind.UPDATE:
            return 3
        case _:
            return 4


def order_actions(actions: Iterable[Action]) -> tuple[Action, ...]:
    return tuple(sorted(actions, key=lambda a: (action_rank(a), a.name, a.resource_id or "")))


# --- fingerprints -----------------------------------------------------------------------------


def _digest_secret(value: Any) -> str:
    text = json.dumps(thaw(value), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def live_snapshots(
    live: LiveState, keys: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """key → redacted comparable state of every live resource (secrets kept as digests).

    With `keys`, only those resources: a plan pins what it touches, not the whole account.
    """
    snapshots: dict[str, dict[str, Any]] = {}
    for cluster in live.clusters:
        if cluster.status == DELETING:
            continue
        key = f"cluster.{cluster.name}"
        if keys is not None and key not in keys:
            continue
        snapshots.setdefault(key, {}).update(
            {cluster.cluster_id: redact(thaw(cluster.fields), mark=_digest_secret)}
        )
    for volume in live.volumes:
        key = f"volume.{volume.name}"
        if keys is not None and key not in keys:
            continue
        snapshots.setdefault(key, {}).update({volume.volume_id: thaw(volume.fields)})
    return snapshots


def fingerprint(snapshot: Any) -> str:
    text = json.dumps(snapshot, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


ABSENT = "absent"


# --- building ---------------------------------------------------------------------------------


def _lifecycles(spec: Spec) -> dict[str, Lifecycle]:
    result = {f"cluster.{c.name}": c.lifecycle for c in spec.clusters}
    result.update({f"volume.{v.name}": v.lifecycle for v in spec.volumes})
    return result


def _apply_prevent_destroy(action: Action, lifecycle: Lifecycle | None) -> Action:
    if (
        lifecycle is None
        or not lifecycle.prevent_destroy
        or action.kind not in (ActionKind.DELETE, ActionKind.REPLACE)
    ):
        return action
    verb = "delete" if action.kind is ActionKind.DELETE else "replace"
    return replace(
        action,
        kind=ActionKind.BLOCKED,
        intended=action.kind,
        reason=(
            f"{action.resource} {action.name!r} has lifecycle.prevent_destroy: true, and this "
            f"plan would {verb} it ({action.reason}); remove the setting to allow it"
        ),
    )


def _selected(action: Action, options: PlanOptions) -> bool:
    if options.targets and action.name not in options.targets:
        return False
    return action.name not in options.excludes


def _guard_volume_deletes(actions: Iterable[Action], live: LiveState) -> list[Action]:
    """Volume deletes blocked while a live cluster using the volume stays: the diff assumed its
    cluster's delete, which a target, an exclude or prevent_destroy may have taken away."""
    actions = list(actions)
    going = {
        a.resource_id
        for a in actions
        if a.resource is ResourceKind.CLUSTER and a.kind in (ActionKind.DELETE, ActionKind.REPLACE)
    }
    users: dict[str, list[str]] = {}
    for cluster in live.clusters:
        if cluster.status != DELETING and cluster.cluster_id not in going:
            for volume_id in cluster.volume_ids:
                users.setdefault(volume_id, []).append(cluster.name)
    guarded = []
    for action in actions:
        staying = users.get(action.resource_id or "")
        if action.resource is ResourceKind.VOLUME and action.kind is ActionKind.DELETE and staying:
            action = replace(
                action,
                kind=ActionKind.BLOCKED,
                intended=ActionKind.DELETE,
                reason=f"still used by cluster(s) {', '.join(sorted(staying))}, "
                "which this plan does not delete",
            )
        guarded.append(action)
    return guarded


def gpu_changes(live: LiveState, actions: Iterable[Action]) -> tuple[GpuChange, ...]:
    before: Counter[str] = Counter()
    for cluster in live.clusters:
        if cluster.status != DELETING:
            before[cluster.gpu_type] += cluster.num_gpus
    after = Counter(before)
    by_id = {c.cluster_id: c for c in live.clusters}
    for action in actions:
        if action.resource is not ResourceKind.CLUSTER or action.kind is ActionKind.BLOCKED:
            continue
        old = by_id.get(action.resource_id or "")
        if old and action.kind in (ActionKind.DELETE, ActionKind.REPLACE):
            after[old.gpu_type] -= old.num_gpus
        if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
            gpu_type = str(action.body.get("gpu_type", "")).upper()
            after[gpu_type] += int(action.body.get("num_gpus", 0))
        if action.kind is ActionKind.UPDATE and old and "num_gpus" in action.body:
            after[old.gpu_type] += int(action.body["num_gpus"]) - old.num_gpus
    return tuple(
        GpuChange(t, before[t], after[t])
        for t in sorted(set(before) | set(after))
        if before[t] != after[t]
    )


def build_plan(spec: Spec, live: LiveState, options: PlanOptions = PlanOptions()) -> Plan:
    """The reviewed plan: actions ordered, safety rules applied, touched resources pinned."""
    result = compute_actions(spec, live, options.allow_replace)
    lifecycles = _lifecycles(spec)
    actions = order_actions(
        _guard_volume_deletes(
            (
                _apply_prevent_destroy(a, lifecycles.get(a.key))
                for a in result.actions
                if _selected(a, options)
            ),
            live,
        )
    )
    destructive = [a for a in actions if a.kind in (ActionKind.DELETE, ActionKind.REPLACE)]
    refusals: list[str] = []
    if len(destructive) > options.max_deletes:
        refusals.append(
            f"this plan would delete or replace {len(destructive)} resources "
            f"({', '.join(a.key for a in destructive)}), more than --max-deletes "
            f"{options.max_deletes}; raise --max-deletes if that is intended"
        )
    snapshots = live_snapshots(live, {a.key for a in actions})
    touched = {a.key: snapshots.get(a.key, ABSENT) for a in actions}
    return Plan(
        actions=actions,
        unchanged=result.unchanged,
        unmanaged=result.unmanaged,
        notes=result.notes,
        gpu_changes=gpu_changes(live, actions),
        fingerprints=frozen_map({k: fingerprint(v) for k, v in touched.items()}),
        snapshots=freeze(touched),
        project_id=spec.project_id,
        spec_digest=spec.digest,
        refusals=tuple(refusals),
    )


def destroy_spec(spec: Spec) -> Spec:
    """The spec with every declared resource marked `ensure: absent` (for `destroy`).

    Prune is switched off: destroy deletes what the spec declares and nothing else, never an
    undeclared cluster that happens to match `prune.name_prefix`.
    """
    return replace(
        spec,
        clusters=tuple(replace(c, ensure=Ensure.ABSENT) for c in spec.clusters),
        volumes=tuple(replace(v, ensure=Ensure.ABSENT) for v in spec.volumes),
        prune=Prune(),
    )


def raise_if_unsafe(plan: Plan) -> None:
    """UnsafePlanError (exit 3) naming every blocked resource and rule."""
    reasons = [f"{a.resource} {a.name!r}: {a.reason}" for a in plan.blocked]
    reasons += list(plan.refusals)
    if reasons:
        raise UnsafePlanError("plan blocked by a safety rule:\n  " + "\n  ".join(reasons))


def raise_if_stale(plan: Plan, live: LiveState) -> None:
    """StalePlanError (exit 4) when a resource the plan touches changed since it was made."""
    snapshots = live_snapshots(live, plan.fingerprints.keys())
    stale: list[str] = []
    for key, saved in plan.fingerprints.items():
        now = snapshots.get(key, ABSENT)
        if fingerprint(now) == saved:
            continue
        before = thaw(plan.snapshots.get(key, ABSENT))
        stale.append(f"{key.replace('.', ' ', 1)}: {describe_change(before, now)}")
    if stale:
        raise StalePlanError(
            "the saved plan is stale; live state changed since it was made:\n  "
            + "\n  ".join(stale)
            + "\nRun `reconciler plan` again and review the new plan."
        )


def describe_change(before: Any, now: Any) -> str:
    if before == ABSENT:
        return "appeared"
    if now == ABSENT:
        return "disappeared"
    if set(before) != set(now):
        return f"ids changed ({', '.join(sorted(before))} -> {', '.join(sorted(now))})"
    parts = []
    for resource_id in sorted(before):
        old, new = before[resource_id], now[resource_id]
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                parts.append(f"{name} {_short(old.get(name))} -> {_short(new.get(name))}")
    return ", ".join(parts) or "changed"


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- saved plans ------------------------------------------------------------------------------


def _change_to_dict(change: FieldChange) -> dict[str, Any]:
    return {
        "path": change.path,
        "before": redact(change.before, change.path),
        "after": redact(change.after, change.path),
        "forces_replacement": change.forces_replacement,
    }


def action_to_dict(action: Action) -> dict[str, Any]:
    return {
        "kind": str(action.kind),
        "intended": str(action.intended) if action.intended else None,
        "resource": str(action.resource),
        "name": action.name,
        "id": action.resource_id,
        "status": action.status,
        "reason": action.reason,
        "changes": [_change_to_dict(c) for c in action.changes],
        "body": redact(thaw(action.body), mark=_digest_secret),
        "notes": list(action.notes),
        "volume": action.volume,
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The stable, versioned, redacted JSON form (`--format json` and `plan --out`)."""
    return {
        "format_version": FORMAT_VERSION,
        "project_id": plan.project_id,
        "spec_digest": plan.spec_digest,
        "summary": {
            "create": plan.count(ActionKind.CREATE),
            "update": plan.count(ActionKind.UPDATE),
            "replace": plan.count(ActionKind.REPLACE),
            "delete": plan.count(ActionKind.DELETE),
            "blocked": plan.count(ActionKind.BLOCKED),
            "unchanged": len(plan.unchanged),
            "unmanaged": len(plan.unmanaged),
        },
        "actions": [action_to_dict(a) for a in plan.actions],
        "refusals": list(plan.refusals),
        "unchanged": list(plan.unchanged),
        "unmanaged": list(plan.unmanaged),
        "notes": list(plan.notes),
        "gpu_changes": [
            {"gpu_type": g.gpu_type, "before": g.before, "after": g.after} for g in plan.gpu_changes
        ],
        "fingerprints": dict(plan.fingerprints),
        "snapshots": thaw(plan.snapshots),
    }


class PlanFileError(ReconcilerError):
    """A saved plan file that this version cannot read."""


def _change_from_dict(data: Mapping[str, Any]) -> FieldChange:
    return FieldChange(
        path=str(data["path"]),
        before=freeze(data.get("before")),
        after=freeze(data.get("after")),
        forces_replacement=bool(data.get("forces_replacement")),
    )


def _action_from_dict(data: Mapping[str, Any]) -> Action:
    return Action(
        kind=ActionKind(data["kind"]),
        intended=ActionKind(data["intended"]) if data.get("intended") else None,
        resource=ResourceKind(data["resource"]),
        name=str(data["name"]),
        resource_id=data.get("id"),
        status=data.get("status"),
        reason=str(data.get("reason", "")),
        changes=tuple(_change_from_dict(c) for c in data.get("changes", ())),
        body=frozen_map(data.get("body") or {}),
        notes=tuple(str(n) for n in data.get("notes", ())),
        volume=data.get("volume"),
    )


def plan_from_dict(data: Any, source: str = "plan file") -> Plan:
    """Inverse of `plan_to_dict`; PlanFileError for anything that is not a plan we wrote."""
    if not isinstance(data, Mapping) or "format_version" not in data:
        raise PlanFileError(f"{source}: not a reconciler plan (no format_version)")
    if data["format_version"] != FORMAT_VERSION:
        raise PlanFileError(
            f"{source}: plan format_version {data['format_version']!r} is not supported "
            f"(this reconciler reads {FORMAT_VERSION}); make the plan again"
        )
    try:
        return Plan(
            actions=tuple(_action_from_dict(a) for a in data["actions"]),
            unchanged=tuple(data.get("unchanged", ())),
            unmanaged=tuple(data.get("unmanaged", ())),
            notes=tuple(data.get("notes", ())),
            gpu_changes=tuple(
                GpuChange(g["gpu_type"], int(g["before"]), int(g["after"]))
                for g in data.get("gpu_changes", ())
            ),
            fingerprints=frozen_map(data["fingerprints"]),
            snapshots=freeze(data.get("snapshots", {})),
            project_id=data.get("project_id"),
            spec_digest=str(data.get("spec_digest", "")),
            refusals=tuple(data.get("refusals", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{source}: damaged plan ({exc!s}); make the plan again") from None


def restore_secrets(plan: Plan, spec: Spec) -> Plan:
    """A saved plan's bodies with the spec's secrets put back where the plan kept a digest.

    StalePlanError when the spec's secret is not the one the plan was made with.
    """
    desired: dict[str, DesiredCluster | DesiredVolume] = {
        f"cluster.{c.name}": c for c in spec.clusters
    }
    desired.update({f"volume.{v.name}": v for v in spec.volumes})
    restored = []
    for action in plan.actions:
        source = desired.get(action.key)
        fields = thaw(source.fields) if source is not None else {}
        body = _restore(thaw(action.body), fields, "", action.key)
        restored.append(replace(action, body=frozen_map(body)))
    return replace(plan, actions=tuple(restored))


def _restore(body: Any, full: Any, path: str, key: str) -> Any:
    if isinstance(body, Mapping):
        return {
            k: _restore(
                v,
                full.get(k) if isinstance(full, Mapping) else None,
                f"{path}.{k}" if path else k,
                key,
            )
            for k, v in body.items()
        }
    if is_sensitive(path) and isinstance(body, str) and body.startswith("sha256:"):
        if full is None or _digest_secret(full) != body:
            raise StalePlanError(
                f"{key}: the spec's {path} is not the one the saved plan was made with; "
                "pass the spec files the plan was made from (-f), or plan again"
            )
        return full
    return body


def has_redacted_secrets(plan: Plan) -> bool:
    """True when a saved plan's bodies hold secret digests that apply must fill back in."""

    def walk(value: Any, path: str) -> bool:
        if isinstance(value, Mapping):
            return any(walk(v, f"{path}.{k}" if path else k) for k, v in value.items())
        return is_sensitive(path) and isinstance(value, str) and value.startswith("sha256:")

    return any(walk(thaw(a.body), "") for a in plan.actions)


# --- online checks before any prompt (DESIGN §6) ----------------------------------------------


def catalogue_problem(body: Mapping[str, Any], regions: Mapping[str, Region]) -> str | None:
    """Why the catalogue cannot serve this create body, with the available choices; or None."""
    name = body.get("region")
    region = regions.get(str(name))
    if region is None:
        return f"region {name!r} does not exist; available: {', '.join(sorted(regions))}"
    if "gpu_type" in body:
        gpu_type = str(body["gpu_type"]).upper()
        if gpu_type not in region.gpu_types:
            return (
                f"GPU type {gpu_type} is not offered in {region.name}; available there: "
                f"{', '.join(region.gpu_types) or 'none'}"
            )
    pairs = ", ".join(
        sorted({f"{d.cuda_version}/{d.nvidia_driver_version}" for d in region.drivers})
    )
    version_id = body.get("nvidia_version_id")
    if version_id is not None and not any(d.id == version_id for d in region.drivers):
        ids = ", ".join(d.id for d in region.drivers if d.id)
        return f"nvidia_version_id {version_id!r} is not offered in {region.name}; available: {ids}"
    cuda, driver = body.get("cuda_version"), body.get("nvidia_driver_version")
    if (
        cuda is not None
        and driver is not None
        and not any(
            _same_cuda(d.cuda_version, str(cuda)) and d.nvidia_driver_version == str(driver)
            for d in region.drivers
        )
    ):
        return (
            f"CUDA {cuda} with driver {driver} is not offered in {region.name}; "
            f"available cuda/driver pairs: {pairs}"
        )
    return None


def _same_cuda(offered: str, wanted: str) -> bool:
    # "Bare semantic values such as 12.5 select ubuntu-22.04; OS-suffixed values remain
    # accepted" (REFERENCE §3b): compare the semantic part.
    return offered.split("-")[0] == wanted.split("-")[0]


def check_catalogue(plan: Plan, regions: Iterable[Region]) -> Plan:
    """Creates and replaces the regions catalogue cannot serve become blocked actions."""
    by_name = {r.name: r for r in regions}
    checked = []
    for action in plan.actions:
        problem = None
        if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
            body = thaw(action.body)
            if action.resource is ResourceKind.VOLUME:
                body = {"region": body.get("region")}
            problem = catalogue_problem(body, by_name)
        if problem is None:
            checked.append(action)
        else:
            checked.append(
                replace(action, kind=ActionKind.BLOCKED, intended=action.kind, reason=problem)
            )
    return replace(plan, actions=order_actions(checked))
