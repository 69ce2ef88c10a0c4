"""A plan's pins and its saved form: fingerprints of what it touches, staleness, JSON.

Pure. A saved plan stores secrets only as digests; `restore_secrets` puts the spec's values
back and refuses when they are not the ones the plan was made with.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from reconciler import kinds
from reconciler.errors import PlanFileError, StalePlanError
from reconciler.kinds import redact
from reconciler.model import (
    Action,
    ActionKind,
    FieldChange,
    GpuChange,
    LiveState,
    Plan,
    freeze,
    frozen_map,
    thaw,
)
from reconciler.plan.money import money_from_dict, money_to_dict

FORMAT_VERSION = 1
#: Every reference key any kind has: saved with each action (`"volume": "team-data"`).
REF_KEYS: tuple[str, ...] = tuple(sorted({r.key for k in kinds.KINDS for r in k.refs}))


# --- fingerprints -----------------------------------------------------------------------------


_DIGEST = re.compile(r"sha256:[0-9a-f]{16}")


def _digest_secret(value: Any) -> str:
    """A secret as a short digest that shows it changed; a saved plan's digest stays as it is
    (a plan read back from its file and saved again keeps its digests)."""
    if isinstance(value, str) and _DIGEST.fullmatch(value):
        return value
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


def raise_if_differs(saved: Plan, fresh: Plan) -> None:
    """StalePlanError (exit 4) unless the plan made now from the spec and live state is the
    saved one: what runs is derived from what the reviewer saw, never from the file's bodies."""
    old = {a["key"]: a for a in _comparable_actions(saved)}
    new = {a["key"]: a for a in _comparable_actions(fresh)}
    problems = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            problems.append(f"{key}: in the saved plan, not in a plan made now")
        elif key not in old:
            problems.append(f"{key}: in a plan made now, not in the saved plan")
        elif old[key] != new[key]:
            parts = sorted(k for k in old[key] if old[key][k] != new[key].get(k))
            problems.append(
                f"{key}: the saved plan's {', '.join(parts)} differ from a plan made now"
            )
    if saved.refusals != fresh.refusals:
        problems.append("the safety rules that refuse it differ")
    missing = sorted(fresh.fingerprints.keys() - saved.fingerprints.keys())
    if missing:
        problems.append(
            f"no fingerprint for {', '.join(missing)}: every touched resource needs one"
        )
    if problems:
        raise StalePlanError(
            "the saved plan is not the plan the spec and live state give now:\n  "
            + "\n  ".join(problems)
            + "\nRun `reconciler plan` again and review the new plan."
        )


def _comparable_actions(plan: Plan) -> list[dict[str, Any]]:
    """Each action's saved form (bodies with secrets as digests), keyed for comparison."""
    keyed = []
    for action in plan.actions:
        data = action_to_dict(action)
        data.pop("status")  # a cluster may have settled since: not a change of plan
        data["key"] = action.key
        keyed.append(data)
    return keyed


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
        "also_deletes": list(action.also_deletes),
        "parent": action.parent,
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
        "attention": list(plan.attention),
        "selection": thaw(plan.selection),
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
        also_deletes=tuple(str(k) for k in data.get("also_deletes", ())),
        parent=str(data["parent"]) if data.get("parent") is not None else None,
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
            attention=tuple(str(a) for a in data.get("attention", ())),
            selection=freeze(data.get("selection") or {}),
            money=money_from_dict(data.get("money")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanFileError(f"{source}: damaged plan ({exc!s}); make the plan again") from None
