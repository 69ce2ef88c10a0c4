#!/usr/bin/env python3
"""A CI policy on a reconciler plan's money block: standard-library Python only.

    reconciler plan -f clusters/ --prices prices.yaml --format json > plan.json
    python3 examples/policy/money_policy.py plan.json --max-monthly-increase 20000

It reads the stable, versioned fields of `plan --format json` (`money.version` 1) and fails
(exit 1, one line per reason) when the plan:

- raises the monthly cost by more than --max-monthly-increase USD (needs a prices file),
- leaves a touched cluster without a price (with --require-prices),
- forfeits prepaid capacity, even where the spec allows it (unless --allow-forfeit),
- adds more than --max-gpu-increase GPUs.

Reservations ending soon and expired clusters are printed as notices. Exit 0: the plan
passes; exit 2: the file is not a plan this policy understands. The same checks can be
written for conftest/OPA against the same JSON fields.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MONEY_VERSION = 1


def reasons(plan: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """Why the plan fails the policy (empty: it passes)."""
    money = plan["money"]
    found = []
    cost = money.get("cost")
    if args.require_prices and cost is None:
        found.append("no prices: run the plan with --prices FILE")
    if cost is not None:
        unpriced = [r["key"] for r in money["resources"] if None in _hourly(r)]
        if args.require_prices and unpriced:
            found.append(f"price unknown for {', '.join(unpriced)}")
        change = cost["usd_per_month_change"]
        limit = args.max_monthly_increase
        if limit is not None and change > limit:
            found.append(f"monthly cost rises by ${change:,.2f}, more than ${limit:,.2f}")
    added = sum(c["gpus_after"] - c["gpus_before"] for c in money["capacity"])
    if args.max_gpu_increase is not None and added > args.max_gpu_increase:
        found.append(f"adds {added} GPUs, more than {args.max_gpu_increase}")
    if not args.allow_forfeit:
        for forfeit in money["forfeits"]:
            found.append(
                f"{forfeit['key']} forfeits prepaid {forfeit['billing_type']} capacity "
                f"(reserved until {forfeit['reserved_until']}, ~{forfeit['gpu_days']} GPU-days)"
            )
    return found


def _hourly(resource: dict[str, Any]) -> tuple[Any, Any]:
    return resource["usd_per_hour_before"], resource["usd_per_hour_after"]


def notices(plan: dict[str, Any]) -> list[str]:
    money = plan["money"]
    found = [
        f"{e['key']}: reservation ends {e['at']} (in {e['days']} days)"
        for e in money["reservations_ending"]
    ]
    found += [f"{e['key']}: expired at {e['at']}; the plan deletes it" for e in money["expired"]]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", help="`reconciler plan --format json` output ('-': stdin)")
    parser.add_argument("--max-monthly-increase", type=float, metavar="USD")
    parser.add_argument("--max-gpu-increase", type=int, metavar="N")
    parser.add_argument("--require-prices", action="store_true")
    parser.add_argument("--allow-forfeit", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.plan == "-":
            plan = json.load(sys.stdin)
        else:
            with open(args.plan, encoding="utf-8") as handle:
                plan = json.load(handle)
        version = plan["money"]["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"policy: {args.plan}: not a reconciler plan with a money block ({exc})")
        return 2
    if version != MONEY_VERSION:
        print(f"policy: {args.plan}: money.version {version!r}; this policy reads 1")
        return 2
    for notice in notices(plan):
        print(f"notice: {notice}")
    failed = reasons(plan, args)
    for reason in failed:
        print(f"policy: {reason}")
    print("policy: FAILED" if failed else "policy: passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
