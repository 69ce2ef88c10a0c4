"""The Plan: ordering, safety rules and the capacity change; `saved.py` pins and stores it.

Pure. Safety lives here, not in the CLI (octoDNS's `raise_if_unsafe`): prevent_destroy turns
deletes and replaces into blocked actions, `max_deletes` refuses the whole plan. Every rule
that belongs to one kind is that kind's hook or data (`reconciler.kinds`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from msgspec import Struct
from msgspec.structs import replace

from reconciler import kinds
from reconciler.diff import Wanted, blocked, compute_actions
from reconciler.errors import SelectionError, UnsafePlanError
from reconciler.model import (
    DEFAULT_MAX_DELETES,
    DEFAULT_WARN_EXPIRY,
    Action,
    ActionKind,
    Budget,
    Ensure,
    Lifecycle,
    LiveState,
    Money,
    Plan,
    Prune,
    Region,
    Spec,
    freeze,
    frozen_map,
    thaw,
)
from reconciler.plan.cost import (
    assess,
    billed,
    billing,
    budget_refusals,
    capacity_changes,
    gpu_changes,
)
from reconciler.plan.dated import (
    expire,
    guard_forfeits,
    mark_expired,
    reservations_ending,
)
from reconciler.plan.saved import (
    ABSENT,
    FORMAT_VERSION,
    fingerprint,
    live_snapshots,
    plan_from_dict,
    plan_to_dict,
    raise_if_differs,
    raise_if_stale,
)
from reconciler.schema import did_you_mean

if TYPE_CHECKING:
    from reconciler.spec.prices import PriceTable

__all__ = [
    "DEFAULT_MAX_DELETES",
    "DEFAULT_WARN_EXPIRY",
    "FORMAT_VERSION",
    "PlanOptions",
    "action_rank",
    "build_plan",
    "check_catalogue",
    "destroy_spec",
    "gpu_changes",
    "options_of",
    "order_actions",
    "plan_from_dict",
    "plan_to_dict",
    "prepare_live",
    "raise_if_differs",
    "raise_if_stale",
    "raise_if_unsafe",
]

BLOCKED_RANK = 9
DESTRUCTIVE = (ActionKind.DELETE, ActionKind.REPLACE)


class PlanOptions(Struct, frozen=True):
    allow_replace: tuple[str, ...] = ()
    max_deletes: int = DEFAULT_MAX_DELETES
    targets: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    # money and time (issue 12): `now` in epoch seconds, injected (None: nothing expires)
    now: float | None = None
    prices: PriceTable | None = None
    budget: Budget = Budget()  # the command line's; else the spec's
    allow_forfeit: tuple[str, ...] = ()
    warn_expiry: float = DEFAULT_WARN_EXPIRY  # seconds


# --- order (DESIGN §6) ------------------------------------------------------------------------


def action_rank(action: Action) -> int:
    """Each kind's rank for the action (volume creates → cluster replaces → cluster creates →
    cluster updates → cluster deletes → volume deletes); blocked actions last."""
    if action.kind is ActionKind.BLOCKED:
        return BLOCKED_RANK
    return kinds.get(action.resource).rank[action.kind]


def order_actions(actions: Iterable[Action]) -> tuple[Action, ...]:
    return tuple(sorted(actions, key=lambda a: (action_rank(a), a.name, a.resource_id or "")))


# --- safety -----------------------------------------------------------------------------------


def _apply_prevent_destroy(action: Action, lifecycle: Lifecycle | None) -> Action:
    if lifecycle is None or not lifecycle.prevent_destroy or action.kind not in DESTRUCTIVE:
        return action
    verb = "delete" if action.kind is ActionKind.DELETE else "replace"
    return blocked(
        action,
        f"{action.resource} {action.name!r} has lifecycle.prevent_destroy: true, and this "
        f"plan would {verb} it ({action.reason}); remove the setting to allow it",
    )


def _selected(action: Action, options: PlanOptions) -> bool:
    if options.targets and action.name not in options.targets:
        return False
    return action.name not in options.excludes


def _staying_users(live: LiveState, going: set[str]) -> dict[str, dict[str, list[str]]]:
    """id → referring kind → names of the live resources that use it and stay."""
    users: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for kind in kinds.KINDS:
        for ref in kind.refs:
            for resource in live.of_kind(kind.name):
                if resource.id in going or resource.status == kind.statuses.deleting:
                    continue
                for target in resource.links.get(ref.key, ()):
                    users[target][kind.name].append(resource.name)
    return users


def _guard_referenced_deletes(actions: Iterable[Action], live: LiveState) -> list[Action]:
    """Deletes blocked while a live resource using the target stays: the diff assumed its
    user's delete, which a target, an exclude or prevent_destroy may have taken away."""
    actions = list(actions)
    if all(a.kind is not ActionKind.DELETE for a in actions):
        return actions  # nothing to guard: no need to look for users
    going = {a.resource_id for a in actions if a.kind in DESTRUCTIVE and a.resource_id}
    users = _staying_users(live, going)
    guarded = []
    for action in actions:
        staying = users.get(action.resource_id or "") if action.kind is ActionKind.DELETE else None
        if staying:
            named = "; ".join(f"{k}(s) {', '.join(sorted(n))}" for k, n in staying.items())
            action = blocked(action, f"still used by {named}, which this plan does not delete")
        guarded.append(action)
    return guarded


def _on(action: Action) -> str:
    parent = kinds.get(action.resource).parent
    return f" on {parent.kind} {action.parent!r}" if parent and action.parent else ""


def raise_if_unsafe(plan: Plan) -> None:
    """UnsafePlanError (exit 3) naming every blocked resource and rule."""
    reasons = [f"{a.resource} {a.name!r}{_on(a)}: {a.reason}" for a in plan.blocked]
    reasons += list(plan.refusals)
    if reasons:
        raise UnsafePlanError("plan blocked by a safety rule:\n  " + "\n  ".join(reasons))


# --- building ---------------------------------------------------------------------------------


def check_selection(spec: Spec, live: LiveState, options: PlanOptions) -> None:
    """SelectionError naming each --target / --exclude that matches nothing, with a guess."""
    if not options.targets and not options.excludes:
        return  # nothing to check: spare sorting every name (10 ms at 10,000 clusters)
    known = sorted({r.name for r in spec.resources} | {r.name for r in live.resources})
    for flag, names in (("--target", options.targets), ("--exclude", options.excludes)):
        for name in names:
            if name not in known:
                hint = did_you_mean(name, known) or "; it names no resource of the spec or live"
                raise SelectionError(f"{flag} {name!r} matches nothing{hint}")


def prepare_live(live: LiveState) -> None:
    """What a plan works out from the live state alone, worked out now: the thread that read
    it calls this while the command waits for the spec (cli/listing.py), so that `build_plan`
    finds it done (the billed resources by cost basis)."""
    billing(live)


def build_plan(
    spec: Spec, live: LiveState, options: PlanOptions | None = None, wanted: Wanted | None = None
) -> Plan:
    """The reviewed plan: actions ordered, safety rules applied, touched resources pinned.
    `wanted`: `Wanted(spec)`, when it was worked out before (while the API answered)."""
    options = options if options is not None else PlanOptions()
    check_selection(spec, live, options)
    spec, expired = expire(spec, options.now)
    result = compute_actions(spec, live, options.allow_replace, wanted)
    lifecycles: Mapping[str, Lifecycle] = {d.key: d.lifecycle for d in spec.resources}
    guarded, forfeits = guard_forfeits(
        (
            _apply_prevent_destroy(a, lifecycles.get(a.key))
            for a in mark_expired(result.actions, expired)
            if _selected(a, options)
        ),
        live,
        lifecycles,
        options.allow_forfeit,
        options.now,
    )
    actions = order_actions(_guard_referenced_deletes(guarded, live))
    refusals = _max_deletes_refusals(actions, options.max_deletes)
    rows = billed(live, actions)
    costs, cost = assess(rows, options.prices)
    planned = {a.key for a in actions}
    money = Money(
        capacity=capacity_changes(rows),
        costs=costs,
        cost=cost,
        forfeits=forfeits,
        ending=reservations_ending(spec, live, options.now, options.warn_expiry),
        expired=tuple(e for e in expired if e.key in planned),
    )
    refusals += budget_refusals(rows, money, spec.budget, options.budget)
    snapshots = live_snapshots(live, planned)
    touched = {a.key: snapshots.get(a.key, ABSENT) for a in actions}
    return Plan(
        actions=actions,
        unchanged=result.unchanged,
        unmanaged=result.unmanaged,
        notes=(*result.notes, *looks_dropped(spec, result.unmanaged)),
        gpu_changes=gpu_changes(rows),
        fingerprints=frozen_map({k: fingerprint(v) for k, v in touched.items()}),
        snapshots=freeze(touched),
        project_id=spec.project_id,
        spec_digest=spec.digest,
        refusals=tuple(refusals),
        attention=needs_attention(spec, live),
        money=money,
        selection=freeze(
            {
                "targets": list(options.targets),
                "excludes": list(options.excludes),
                "allow_replace": list(options.allow_replace),
                "max_deletes": options.max_deletes,
                "allow_forfeit": list(options.allow_forfeit),
            }
        ),
    )


def options_of(plan: Plan) -> PlanOptions:
    """The options a (saved) plan was made with, to make it again."""
    selection = thaw(plan.selection)
    return PlanOptions(
        allow_replace=tuple(selection.get("allow_replace", ())),
        max_deletes=int(selection.get("max_deletes", DEFAULT_MAX_DELETES)),
        targets=tuple(selection.get("targets", ())),
        excludes=tuple(selection.get("excludes", ())),
        allow_forfeit=tuple(selection.get("allow_forfeit", ())),
    )


def looks_dropped(spec: Spec, unmanaged: Collection[str]) -> tuple[str, ...]:
    """A note naming the unmanaged clusters that look dropped from the spec (inside a disabled
    prune prefix, or named like the spec's clusters): they still run, and still bill."""
    if not unmanaged:
        return ()
    declared = [d.name for d in spec.resources if d.parent is None]
    prefix = spec.prune.name_prefix

    def family(name: str) -> str:
        return name[: name.rfind("-") + 1] if "-" in name else ""

    families = {family(n) for n in declared} - {""}
    dropped = [
        name
        for name in unmanaged
        if (prefix and name.startswith(prefix)) or family(name) in families
    ]
    if not dropped:
        return ()
    return (
        f"{', '.join(dropped)}: not in the spec but named like it, still running (and billing); "
        "to delete, declare it with ensure: absent; to manage it again, put it back in the spec",
    )


def needs_attention(spec: Spec, live: LiveState) -> tuple[str, ...]:
    """`cluster "a": node a-gpu-0: remediation PENDING_APPROVAL (...)` for every resource the
    spec manages (present) whose live answer asks for a human."""
    asking = [r for r in live.resources if r.attention]
    if not asking:
        return ()
    managed = {d.key for d in spec.resources if d.ensure is Ensure.PRESENT}
    return tuple(
        f'{r.kind} "{r.name}": {line}' for r in asking if r.key in managed for line in r.attention
    )


def _max_deletes_refusals(actions: Iterable[Action], max_deletes: int) -> list[str]:
    """Deletes and replaces, with what they take along (an inline volume), over the limit."""
    destructive = [k for a in actions if a.kind in DESTRUCTIVE for k in (a.key, *a.also_deletes)]
    if len(destructive) <= max_deletes:
        return []
    return [
        f"this plan would delete or replace {len(destructive)} resources "
        f"({', '.join(destructive)}), more than --max-deletes "
        f"{max_deletes}; raise --max-deletes if that is intended"
    ]


def destroy_spec(spec: Spec) -> Spec:
    """The spec with every declared resource marked `ensure: absent` (for `destroy`).

    Prune is switched off: destroy deletes what the spec declares and nothing else, never an
    undeclared cluster that happens to match `prune.name_prefix`.
    """
    return replace(
        spec,
        resources=tuple(replace(r, ensure=Ensure.ABSENT) for r in spec.resources),
        prune=Prune(),
    )


# --- online checks before any prompt (DESIGN §6) ----------------------------------------------


def check_catalogue(plan: Plan, regions: Iterable[Region]) -> Plan:
    """Creates and replaces the regions catalogue cannot serve become blocked actions."""
    by_name = {r.name: r for r in regions}
    checked = []
    for action in plan.actions:
        check = kinds.get(action.resource).hooks.catalogue
        problem = None
        if check is not None and action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
            problem = check(thaw(action.body), by_name)
        checked.append(action if problem is None else blocked(action, problem))
    return replace(plan, actions=order_actions(checked))
