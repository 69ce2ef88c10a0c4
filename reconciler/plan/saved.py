"""A plan's pins and its saved form: fingerprints of what it touches, staleness, JSON.

Pure. A saved plan stores secrets only as digests; `restore_secrets` puts the spec's values
back and refuses when they are not the ones the plan was made with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from reconciler import kinds
from reconciler.errors import PlanFileError, StalePlanError
from reconciler.kinds import is_sensitive, redact
from reconciler.model import (
    Action,
    ActionKind,
    FieldChange,
    GpuChange,
    LiveState,
    Plan,
    Spec,
    freeze,
    frozen_map,
    thaw,
)
from reconciler.plan.money import money_from_dict, money_to_dict

FORMAT_VERSION = 1
#: Every reference key any kind has: saved with each action (`"volume": "team-data"`).
REF_KEYS: tuple[str, ...] = tuple(sorted({r.key for k in kinds.KINDS for r in k.refs}))


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
    for kind in kinds.KINDS:
        for resource in live.of_kind(kind.name):
            if resource.status == kind.statuses.deleting:
                continue
            key = resource.key
            if keys is not None and key not in keys:
                continue
            snapshots.setdefault(key, {}).update(
                {resource.id: redact(thaw(resource.fields), mark=_digest_secret)}
            )
    return snapshots


def fingerprint(snapshot: Any) -> str:
    text = json.dumps(snapshot, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


ABSENT = "absent"


# --- staleness ---------------------------------------------------------------------------------


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
        **{key: action.refs.get(key) for key in REF_KEYS},
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
        "money": money_to_dict(plan.money),
    }


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
        resource=kinds.get(str(data["resource"])).name,
        name=str(data["name"]),
        resource_id=data.get("id"),
        status=data.get("status"),
        reason=str(data.get("reason", "")),
        changes=tuple(_change_from_dict(c) for c in data.get("changes", ())),
        body=frozen_map(data.get("body") or {}),
        notes=tuple(str(n) for n in data.get("notes", ())),
        refs=frozen_map({k: str(data[k]) for k in REF_KEYS if data.get(k)}),
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
            money=money_from_dict(data.get("money")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{source}: damaged plan ({exc!s}); make the plan again") from None


def restore_secrets(plan: Plan, spec: Spec) -> Plan:
    """A saved plan's bodies with the spec's secrets put back where the plan kept a digest.

    StalePlanError when the spec's secret is not the one the plan was made with.
    """
    desired = {d.key: d for d in spec.resources}
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
