"""The JSON form of a plan's money block (`"money"` in `plan --format json` and saved plans).
Pure.

Versioned on its own (`money.version`) so policy tools can rely on these names: every
amount says its unit (`usd_per_hour_*`, `gpu_hours_per_month_*`), and an unknown price is
`null`, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import (
    CapacityChange,
    Commitment,
    CostSummary,
    Expiry,
    Money,
    ResourceCost,
)
from reconciler.plan.cost import HOURS_PER_MONTH

MONEY_VERSION = 1


def _monthly(hourly: float | None) -> float | None:
    return None if hourly is None else round(hourly * HOURS_PER_MONTH, 6)


def _cost_to_dict(cost: CostSummary | None) -> dict[str, Any] | None:
    if cost is None:
        return None
    return {
        "currency": cost.currency,
        "source": cost.source,
        "as_of": cost.as_of,
        "usd_per_hour_before": cost.before,
        "usd_per_hour_after": cost.after,
        "usd_per_hour_change": round(cost.after - cost.before, 6),
        "usd_per_month_before": _monthly(cost.before),
        "usd_per_month_after": _monthly(cost.after),
        "usd_per_month_change": _monthly(cost.after - cost.before),
        "price_unknown": list(cost.unknown),
        "priced": cost.priced,
    }


def money_to_dict(money: Money) -> dict[str, Any]:
    return {
        "version": MONEY_VERSION,
        "hours_per_month": HOURS_PER_MONTH,
        "capacity": [
            {
                "gpu_type": c.gpu_type,
                "billing_type": c.billing_type,
                "gpus_before": c.before,
                "gpus_after": c.after,
                "gpu_hours_per_month_before": c.before * HOURS_PER_MONTH,
                "gpu_hours_per_month_after": c.after * HOURS_PER_MONTH,
            }
            for c in money.capacity
        ],
        "cost": _cost_to_dict(money.cost),
        "resources": [
            {
                "key": c.key,
                "usd_per_hour_before": c.before,
                "usd_per_hour_after": c.after,
                "usd_per_month_before": _monthly(c.before),
                "usd_per_month_after": _monthly(c.after),
            }
            for c in money.costs
        ],
        "forfeits": [
            {
                "key": f.key,
                "billing_type": f.billing_type,
                "reserved_until": f.ends,
                "gpu_days": f.gpu_days,
                "allowed": f.allowed,
            }
            for f in money.forfeits
        ],
        "reservations_ending": [_expiry(e) for e in money.ending],
        "expired": [_expiry(e) for e in money.expired],
    }


def _expiry(expiry: Expiry) -> dict[str, Any]:
    return {"key": expiry.key, "at": expiry.at, "days": round(expiry.days, 3)}


def money_from_dict(data: Mapping[str, Any] | None) -> Money:
    """Inverse of `money_to_dict` (a plan saved before issue 12 has none: empty)."""
    if not data:
        return Money()
    cost = data.get("cost")
    return Money(
        capacity=tuple(
            CapacityChange(c["gpu_type"], c["billing_type"], c["gpus_before"], c["gpus_after"])
            for c in data.get("capacity", ())
        ),
        costs=tuple(
            ResourceCost(c["key"], c["usd_per_hour_before"], c["usd_per_hour_after"])
            for c in data.get("resources", ())
        ),
        cost=CostSummary(
            currency=cost["currency"],
            source=cost["source"],
            as_of=cost["as_of"],
            before=cost["usd_per_hour_before"],
            after=cost["usd_per_hour_after"],
            unknown=tuple(cost["price_unknown"]),
            priced=int(cost.get("priced", 0)),
        )
        if cost
        else None,
        forfeits=tuple(
            Commitment(
                f["key"], f["billing_type"], f["reserved_until"], f["gpu_days"], f["allowed"]
            )
            for f in data.get("forfeits", ())
        ),
        ending=tuple(_expiry_from(e) for e in data.get("reservations_ending", ())),
        expired=tuple(_expiry_from(e) for e in data.get("expired", ())),
    )


def _expiry_from(data: Mapping[str, Any]) -> Expiry:
    return Expiry(str(data["key"]), str(data["at"]), float(data["days"]))
