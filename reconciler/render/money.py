"""The money lines of a plan: cost per action, committed GPUs, cost, budget, forfeits, expiry.

Pure.
"""

from __future__ import annotations

from reconciler.model import Action, Plan
from reconciler.plan.cost import HOURS_PER_MONTH, usd
from reconciler.render.values import escape, show_name


def cost_note(plan: Plan, action: Action) -> list[str]:
    """`# cost: $20.00/h -> $160.00/h (+$140.00/h, +$102,200.00/month)` under an action."""
    for c in plan.money.costs:
        if c.key == action.key and (c.before != c.after or c.before is None):
            shown = ["price unknown" if x is None else f"{usd(x)}/h" for x in (c.before, c.after)]
            text = " -> ".join(shown)
            if c.before is not None and c.after is not None:
                month = usd((c.after - c.before) * HOURS_PER_MONTH, sign=True)
                text += f" ({usd(c.after - c.before, sign=True)}/h, {month}/month)"
            return [f"      # cost: {text}"]
    return []


def _who(key: str) -> str:
    kind, _, name = key.partition(".")  # `cluster.train` → `cluster "train"`
    return f"{kind} {show_name(name)}"


def money_lines(plan: Plan) -> list[str]:
    """GPU-hours per GPU type and billing type, cost totals, reservations ending, expiry."""
    money, lines, hours = plan.money, [], HOURS_PER_MONTH
    if parts := [
        f"{c.gpu_type or '?'} {c.billing_type or '?'} {c.before} -> {c.after} "
        f"({c.after - c.before:+d}; {c.before * hours:,} -> {c.after * hours:,} GPU-hours/month)"
        for c in money.capacity
    ]:
        lines.append(f"Committed GPUs: {', '.join(parts)}.")
    if (cost := money.cost) is not None:
        b, a, change = cost.before, cost.after, cost.after - cost.before
        total = f"{usd(a)}/h, {usd(a * hours)} per month of {hours} h (no change)"
        if change:
            total = (
                f"{usd(b)}/h -> {usd(a)}/h ({usd(change, sign=True)}/h); {usd(b * hours)} -> "
                f"{usd(a * hours)} per month of {hours} h ({usd(change * hours, sign=True)})"
            )
        total = "price unknown" if cost.unknown and not cost.priced else total
        lines.append(f"Cost: {total}. Prices: {escape(cost.source)}, as of {escape(cost.as_of)}.")
        if cost.unknown:
            names = ", ".join(_who(k) for k in cost.unknown)
            lines.append(f"Price unknown (not counted; add rows to the prices file): {names}.")
    lines += [
        f"Warning: {_who(e.key)}: its reservation ends {e.at} (in {e.days:.1f} days), and the "
        "cluster is decommissioned then."
        for e in money.ending
    ]
    lines += [
        f"Expired: {_who(e.key)}: lifecycle.expires_at {e.at} has passed; this plan deletes it."
        for e in money.expired
    ]
    return lines
