"""The rules that depend on the time: `lifecycle.expires_at`, prepaid reservations a delete
would forfeit, and reservations about to end. Pure: `now` (epoch seconds) is passed in.

Without `now` nothing expires and no reservation counts as ended (the safe side).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from msgspec.structs import replace

from reconciler import kinds
from reconciler.diff import blocked
from reconciler.kinds.base import Prepaid
from reconciler.kinds.values import epoch
from reconciler.model import (
    Action,
    ActionKind,
    Commitment,
    Ensure,
    Expiry,
    Lifecycle,
    LiveState,
    Spec,
)

DAY = 86_400.0
DESTRUCTIVE = (ActionKind.DELETE, ActionKind.REPLACE)


def _days(seconds: float) -> float:
    return round(seconds / DAY, 3)  # as saved plans keep it


def expire(spec: Spec, now: float | None) -> tuple[Spec, tuple[Expiry, ...]]:
    """The spec with each resource whose `lifecycle.expires_at` has passed marked absent
    (an ordinary reviewed delete), and those resources."""
    if now is None:
        return spec, ()
    expired, resources = [], []
    for desired in spec.resources:
        if desired.lifecycle.expires_at is not None and desired.ensure is Ensure.PRESENT:
            at = epoch(desired.lifecycle.expires_at)
            if at is not None and at <= now:
                ends = str(desired.lifecycle.expires_at)
                expired.append(Expiry(desired.key, ends, _days(at - now)))
                desired = replace(desired, ensure=Ensure.ABSENT)
        resources.append(desired)
    if not expired:
        return spec, ()  # the same spec: not made again (its index of 10,000 resources)
    return replace(spec, resources=tuple(resources)), tuple(expired)


def mark_expired(actions: Iterable[Action], expired: Sequence[Expiry]) -> list[Action]:
    """The deletes that expiry caused say so (instead of "ensure: absent")."""
    when = {e.key: e.at for e in expired}
    return [
        replace(a, reason=f"expired: lifecycle.expires_at {when[a.key]} has passed")
        if a.kind is ActionKind.DELETE and a.key in when
        else a
        for a in actions
    ]


def describe_prepaid(held: Prepaid) -> str:
    """`reserved until 2027-03-01, ~1,344 GPU-days prepaid`."""
    if held.ends is None or held.gpu_days is None:
        return "reserved (the API reports no reservation_end_time), prepaid GPU-days unknown"
    ends = held.ends[:10] if held.ends.endswith("T00:00:00Z") else held.ends
    return f"reserved until {ends}, ~{held.gpu_days:,.0f} GPU-days prepaid"


def guard_forfeits(
    actions: Iterable[Action],
    live: LiveState,
    lifecycles: Mapping[str, Lifecycle],
    allowed: Sequence[str],
    now: float | None,
) -> tuple[list[Action], tuple[Commitment, ...]]:
    """Deletes and replaces of prepaid resources whose reservation has not ended: blocked
    unless `lifecycle.allow_forfeit` or `--allow-forfeit NAME`; noted when allowed."""
    by_id = {(r.kind, r.id): r for r in live.resources}
    guarded, found = [], []
    for action in actions:
        hook = kinds.get(action.resource).hooks.prepaid
        old = by_id.get((action.resource, action.resource_id or ""))
        held = None
        if hook is not None and old is not None and action.kind in DESTRUCTIVE:
            held = hook(old.fields, now)
        if held is None:
            guarded.append(action)
            continue
        lifecycle = lifecycles.get(action.key)
        ok = action.name in allowed or (lifecycle is not None and lifecycle.allow_forfeit)
        found.append(Commitment(action.key, held.billing_type, held.ends, held.gpu_days, ok))
        what = describe_prepaid(held)
        if ok:
            note = f"forfeits its prepaid {held.billing_type} capacity: {what}"
            guarded.append(replace(action, notes=(*action.notes, note)))
            continue
        verb = "delete" if action.kind is ActionKind.DELETE else "replace"
        reason = (
            f"this plan would {verb} it ({action.reason}) and forfeit its prepaid "
            f"{held.billing_type} capacity: {what}; set lifecycle.allow_forfeit: true or "
            f"pass --allow-forfeit {action.name} if that is intended"
        )
        guarded.append(blocked(action, reason))
    return guarded, tuple(found)


def reservations_ending(
    spec: Spec, live: LiveState, now: float | None, window: float
) -> tuple[Expiry, ...]:
    """Declared resources whose reservation ends within `window` seconds: the provider
    decommissions them then."""
    if now is None:
        return ()
    declared = {d.key for d in spec.resources if d.ensure is Ensure.PRESENT}
    ending = []
    for kind in kinds.KINDS:
        hook = kind.hooks.prepaid
        if hook is None:
            continue
        for resource in live.of_kind(kind.name):
            if resource.key not in declared or resource.status == kind.statuses.deleting:
                continue
            held = hook(resource.fields, now)
            at = epoch(held.ends) if held is not None else None
            if held is not None and held.ends and at is not None and at - now <= window:
                ending.append(Expiry(resource.key, held.ends, _days(at - now)))
    return tuple(sorted(ending, key=lambda e: (e.at, e.key)))
