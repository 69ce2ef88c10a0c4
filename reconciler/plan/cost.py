"""What a plan costs: committed GPUs and GPU-hours per GPU type and billing type, dollars
when a prices file is given, and the budget gate. Pure.

Generic over the kinds: a kind that is billed by GPU has a `cost_basis` hook (the cluster
kind); this module sums. A resource without a price is "price unknown", never zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from msgspec import Struct

from reconciler import kinds
from reconciler.frozen import remember_last
from reconciler.kinds.base import CostBasis
from reconciler.model import (
    Action,
    ActionKind,
    Budget,
    CapacityChange,
    CostSummary,
    GpuChange,
    Live,
    LiveState,
    Money,
    ResourceCost,
)

if TYPE_CHECKING:
    from reconciler.spec.prices import PriceTable

HOURS_PER_MONTH = 730
K = TypeVar("K")
#: How many of the largest contributors a budget refusal names.
CONTRIBUTORS_SHOWN = 3


class Billed(Struct, frozen=True):
    """Resources billed by GPU: what they are billed by before and after the plan. A touched
    row is one resource; an untouched row stands for every live resource the plan leaves as
    it is with the same basis (`keys`), so a large fleet is a handful of rows."""

    key: str
    before: CostBasis | None
    after: CostBasis | None
    touched: bool  # an action of the plan changes it
    keys: tuple[str, ...] = ()  # an untouched row's resources (a touched row: its key only)

    @property
    def count(self) -> int:
        return len(self.keys) if self.keys else 1


#: (kind, id) of a live resource.
Ident = tuple[str, str]
#: The live resources of one cost basis, in live order: their idents, and their keys.
Group = tuple[list[Ident], tuple[str, ...]]
#: Live resources billed by GPU and not being deleted: ident → (its basis, it); basis → Group.
Billing = tuple[dict[Ident, tuple[CostBasis, Live]], dict[CostBasis, Group]]


@remember_last
def billing(live: LiveState) -> Billing:
    """The live state's billed resources by cost basis (see `Billing`): worked out once per
    live state, by the thread that read it while the command waits for the spec's check when
    it can (`plan.prepare_live`); a 10,000-cluster plan spent 15-20 ms on it after the wait."""
    by_ident: dict[Ident, tuple[CostBasis, Live]] = {}
    members: dict[CostBasis, tuple[list[Ident], list[str]]] = {}
    for kind in kinds.KINDS:
        basis = kind.hooks.cost_basis
        if basis is None:
            continue
        for resource in live.of_kind(kind.name):
            if resource.status != kind.statuses.deleting:
                ident, held = (kind.name, resource.id), basis(resource.fields)
                by_ident[ident] = (held, resource)
                idents, keys = members.setdefault(held, ([], []))
                idents.append(ident)
                keys.append(resource.key)
    return by_ident, {b: (idents, tuple(keys)) for b, (idents, keys) in members.items()}


def billed(live: LiveState, actions: Iterable[Action]) -> list[Billed]:
    """Every live resource of a kind billed by GPU (not being deleted), and every create."""
    counted = [
        a
        for a in actions
        if a.kind is not ActionKind.BLOCKED and kinds.get(a.resource).hooks.cost_basis is not None
    ]
    touched = {(a.resource, a.resource_id) for a in counted if a.resource_id}
    by_ident, groups = billing(live)
    old = {i: by_ident[i] for i in touched if i in by_ident}  # ident → (basis, live resource)
    hit = {b for b, _ in old.values()}
    rows = []
    for b, (idents, keys) in groups.items():
        if b in hit:  # without its touched resources (a whole group touched: no row)
            keys = tuple(k for i, k in zip(idents, keys, strict=True) if i not in touched)
        if keys:
            rows.append(Billed(keys[0], b, b, False, keys))
    done: dict[tuple[str, str], Billed] = {}
    for action in counted:
        basis = kinds.get(action.resource).hooks.cost_basis
        assert basis is not None
        ident = (action.resource, action.resource_id or f"+{action.key}")
        before, live_fields = (
            (old[ident][0], old[ident][1].fields) if ident in old else (None, None)
        )
        after: CostBasis | None = None
        if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
            after = basis(action.body)
        elif action.kind is ActionKind.UPDATE and live_fields is not None:
            after = basis({**live_fields, **action.body})
        done[ident] = Billed(action.key, before, after, True)
    return rows + list(done.values())


def capacity_changes(rows: Iterable[Billed]) -> tuple[CapacityChange, ...]:
    """Committed GPUs per (GPU type, billing type) before → after, where they differ."""
    before, after = _gpus(rows, lambda side: (side.gpu_type, side.billing_type))
    return tuple(
        CapacityChange(gpu_type, billing, before[(gpu_type, billing)], after[(gpu_type, billing)])
        for gpu_type, billing in sorted(set(before) | set(after))
        if before[(gpu_type, billing)] != after[(gpu_type, billing)]
    )


def gpu_changes(rows: Iterable[Billed]) -> tuple[GpuChange, ...]:
    """GPUs per GPU type before → after, where they differ: the capacity changes folded over
    the billing types (the plan's GPU line). One pass over the live resources serves both."""
    before, after = _gpus(rows, lambda side: side.gpu_type)
    return tuple(
        GpuChange(t, before[t], after[t])
        for t in sorted(set(before) | set(after))
        if before[t] != after[t]
    )


def _gpus(rows: Iterable[Billed], key: Callable[[CostBasis], K]) -> tuple[Counter[K], Counter[K]]:
    """The GPUs of the rows before and after the plan, counted by `key` of their basis."""
    before: Counter[K] = Counter()
    after: Counter[K] = Counter()
    for row in rows:
        for side, counter in ((row.before, before), (row.after, after)):
            if side is not None:
                counter[key(side)] += side.gpus * row.count
    return before, after


def hourly(prices: PriceTable, side: CostBasis | None) -> float | None:
    """USD per hour: 0.0 for no resource, None when no row prices it."""
    if side is None or side.gpus == 0:
        return 0.0
    rate = prices.price(side.gpu_type, side.billing_type, side.region)
    return None if rate is None else rate * side.gpus


def assess(
    rows: Sequence[Billed], prices: PriceTable | None
) -> tuple[tuple[ResourceCost, ...], CostSummary | None]:
    """Per touched resource USD/h before → after, and the totals (only with prices)."""
    if prices is None:
        return (), None
    costs: list[ResourceCost] = []
    unknown: list[str] = []
    total_before = total_after = 0.0
    priced = 0
    for row in rows:
        before, after = hourly(prices, row.before), hourly(prices, row.after)
        if before is None or after is None:
            unknown.extend(row.keys or (row.key,))
        else:
            priced += row.count
        total_before += (before or 0.0) * row.count
        total_after += (after or 0.0) * row.count
        if row.touched:
            costs.append(ResourceCost(row.key, before, after))
    summary = CostSummary(
        currency=prices.currency,
        source=prices.source,
        as_of=prices.as_of,
        before=round(total_before, 6),
        after=round(total_after, 6),
        unknown=tuple(sorted(set(unknown))),
        priced=priced,
    )
    return tuple(sorted(costs, key=lambda c: c.key)), summary


def usd(amount: float, sign: bool = False) -> str:
    """`$1,234.50`, or with `sign` `+$1,234.50` / `-$80.00`."""
    text = f"${abs(amount):,.2f}"
    if sign:
        return ("-" if amount < 0 else "+") + text
    return f"-{text}" if amount < 0 else text


def _show(key: str) -> str:
    kind, _, name = key.partition(".")
    return f'{kind} "{name}"'


def _largest(items: Iterable[tuple[str, float]], unit: Callable[[float], str]) -> str:
    ranked = sorted((i for i in items if i[1] > 0), key=lambda i: (-i[1], i[0]))
    shown = ", ".join(f"{_show(k)} {unit(v)}" for k, v in ranked[:CONTRIBUTORS_SHOWN])
    return f"; largest: {shown}" if shown else ""


def _gpu_refusal(rows: Sequence[Billed], limit: int, label: str) -> str | None:
    changes = [
        (r.key, (r.after.gpus if r.after else 0) - (r.before.gpus if r.before else 0))
        for r in rows
        if r.touched
    ]
    added = sum(change for _key, change in changes)
    if added <= limit:
        return None
    return (
        f"this plan adds {added} GPUs, more than the budget of {limit} ({label})"
        f"{_largest(((k, float(v)) for k, v in changes), lambda v: f'+{v:.0f} GPUs')}; "
        "raise the budget if that is intended"
    )


def _hourly_refusal(rows: Sequence[Billed], money: Money, limit: float, label: str) -> str | None:
    raised = [r.key for r in rows if r.touched and r.after is not None and r.after != r.before]
    if not raised:
        return None
    costs = money.costs
    unpriced = [c.key for c in costs if c.key in raised and None in (c.before, c.after)]
    if money.cost is None or unpriced:
        why = (
            f"no price for {', '.join(_show(k) for k in unpriced)}"
            if unpriced
            else "no prices file (--prices FILE, RECONCILER_PRICES or prices: in the spec)"
        )
        return f"cannot check the budget of {usd(limit)}/h ({label}): {why}"
    changes = [(c.key, (c.after or 0.0) - (c.before or 0.0)) for c in costs]
    added = sum(change for _key, change in changes)
    if added <= limit + 1e-9:
        return None
    total = f" (in all {usd(money.cost.before)}/h -> {usd(money.cost.after)}/h)"
    return (
        f"this plan raises the hourly cost by {usd(added)}/h{total}, more than the budget of "
        f"{usd(limit)}/h ({label}){_largest(changes, lambda v: usd(v, sign=True) + '/h')}; "
        "raise the budget if that is intended"
    )


def budget_refusals(
    rows: Sequence[Billed], money: Money, spec_budget: Budget, flags: Budget
) -> list[str]:
    """The budget gate: the command line's limits, else the spec's `budget:`."""
    refusals = []
    gpus = flags.max_gpu_increase
    gpu_label = "--max-gpu-increase"
    if gpus is None:
        gpus, gpu_label = spec_budget.max_gpu_increase, "budget.max_gpu_increase"
    if gpus is not None and (refusal := _gpu_refusal(rows, gpus, gpu_label)):
        refusals.append(refusal)
    dollars = flags.max_hourly_increase
    usd_label = "--max-hourly-increase"
    if dollars is None:
        dollars, usd_label = spec_budget.max_hourly_increase, "budget.max_hourly_increase"
    if dollars is not None and (refusal := _hourly_refusal(rows, money, dollars, usd_label)):
        refusals.append(refusal)
    return refusals
