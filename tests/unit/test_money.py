"""Money in the plan (issue 12): GPU-hours, costs, the budget gate, prepaid forfeits, expiry.

Pure: plans are built from hand-made spec and live values; time is always passed in (`NOW`),
so no test depends on today's date. The prices are test fixtures, not real prices.
"""

from __future__ import annotations

import json

import pytest
from msgspec.structs import replace

from reconciler.errors import SpecError, UnsafePlanError
from reconciler.kinds.values import epoch
from reconciler.model import ActionKind, Budget, Ensure, Lifecycle, LiveState, Plan, Spec
from reconciler.plan import (
    PlanOptions,
    build_plan,
    plan_from_dict,
    plan_to_dict,
    raise_if_unsafe,
)
from reconciler.render import render_json, render_markdown, render_text
from reconciler.spec.prices import PriceTable, load_prices
from tests.unit.factories import (
    absent_cluster,
    api_cluster,
    api_volume,
    desired_cluster,
    desired_volume,
    live_state,
    make_spec,
)

NOW = epoch("2026-12-01T00:00:00Z") or 0.0
DAY = 86_400.0
PRICES_YAML = b"""\
version: 1
currency: USD
source: test fixture (not a real price)
as_of: "2026-11-30"
rows:
  - {gpu_type: H100_SXM, billing_type: ON_DEMAND, region: "*", usd_per_gpu_hour: 2.0}
  - {gpu_type: H100_SXM, billing_type: ON_DEMAND, region: us-central-8, usd_per_gpu_hour: 2.25}
  - {gpu_type: H200_SXM, billing_type: ON_DEMAND, region: "*", usd_per_gpu_hour: 3.0}
  - {gpu_type: H100_SXM, billing_type: RESERVED, region: "*", usd_per_gpu_hour: 1.5}
  - {gpu_type: B200_SXM, billing_type: ON_DEMAND, region: "*", usd_per_gpu_hour: null}
"""
PRICES = load_prices("prices.yaml", PRICES_YAML)
FORFEITABLE = Lifecycle(allow_forfeit=True)
NO_RULES = Lifecycle()
RESERVED_UNTIL_MARCH = {
    "billing_type": "RESERVED",
    "num_reserved_gpus": 8,
    "reservation_end_time": "2027-03-01T00:00:00Z",
}


def mixed() -> tuple[Spec, LiveState]:
    """A create, a scale-up, a replace and a delete over two GPU types and two billing types."""
    spec = make_spec(
        desired_cluster("new-h200", gpu_type="H200_SXM", billing_type="RESERVED", num_gpus=16),
        desired_cluster("grow", num_gpus=16),
        desired_cluster("swap", gpu_type="H200_SXM", lifecycle=Lifecycle(replace_on_change=True)),
        absent_cluster("old", lifecycle=FORFEITABLE),
    )
    live = live_state(
        api_cluster("grow"),
        api_cluster("swap"),
        api_cluster("old", **RESERVED_UNTIL_MARCH),
    )
    return spec, live


def plan_of(spec: Spec, live: LiveState, prices: PriceTable | None = PRICES) -> Plan:
    return build_plan(spec, live, PlanOptions(now=NOW, prices=prices))


def actions_text(costs: dict[str, str]) -> str:
    text = ACTIONS_TEXT
    for key, line in costs.items():
        text = text.replace(f"<{key}>\n", f"{line}\n\n" if line else "\n")
    return text


ACTIONS_TEXT = """\
reconciler will perform the following actions:

  # cluster "swap" must be replaced
-/+ cluster "swap" (id c-swap, Ready) {
      ~ gpu_type = "H100_SXM" -> "H200_SXM"   # forces replacement
    }
<swap>
  # cluster "new-h200" will be created
  + cluster "new-h200" {
      + billing_type          = "RESERVED"
      + cuda_version          = "12.6"
      + gpu_type              = "H200_SXM"
      + num_gpus              = 16
      + nvidia_driver_version = "560"
      + region                = "us-central-8"
    }
<new>
  # cluster "grow" will be updated in-place
  ~ cluster "grow" (id c-grow, Ready) {
      ~ num_gpus = 8 -> 16
    }
<grow>
  # cluster "old" will be destroyed (ensure: absent)
  - cluster "old" (id c-old, Ready)
      # note: forfeits its prepaid RESERVED capacity: reserved until 2027-03-01, ~720 GPU-days \
prepaid
<old>
Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.
GPUs: H100_SXM 24 -> 16 (-8), H200_SXM 0 -> 24 (+24).
Committed GPUs: H100_SXM RESERVED 8 -> 0 (-8; 5,840 -> 0 GPU-hours/month), H200_SXM ON_DEMAND \
0 -> 8 (+8; 0 -> 5,840 GPU-hours/month), H200_SXM RESERVED 0 -> 16 (+16; 0 -> 11,680 \
GPU-hours/month).
"""
NO_COST = {"swap": "", "new": "", "grow": "", "old": ""}
COSTS = {
    "swap": "      # cost: $18.00/h -> $24.00/h (+$6.00/h, +$4,380.00/month)",
    "new": "      # cost: $0.00/h -> price unknown",
    "grow": "      # cost: $18.00/h -> $36.00/h (+$18.00/h, +$13,140.00/month)",
    "old": "      # cost: $12.00/h -> $0.00/h (-$12.00/h, -$8,760.00/month)",
}
COST_SUMMARY = """\
Cost: $48.00/h -> $60.00/h (+$12.00/h); $35,040.00 -> $43,800.00 per month of 730 h \
(+$8,760.00). Prices: test fixture (not a real price), as of 2026-11-30.
Price unknown (not counted; add rows to the prices file): cluster "new-h200".
"""


def test_text_without_prices_shows_gpu_hours_and_no_dollars() -> None:
    """Without a prices file: committed GPUs and GPU-hours per GPU type and billing type."""
    spec, live = mixed()
    text = render_text(plan_of(spec, live, prices=None))
    assert text == actions_text(NO_COST)
    assert "$" not in text


def test_text_with_prices_shows_costs_per_cluster_and_in_total() -> None:
    """With prices: each action's cost before -> after, the totals, and who is unpriced."""
    spec, live = mixed()
    text = render_text(plan_of(spec, live))
    assert text == actions_text(COSTS) + COST_SUMMARY


def test_json_money_block_is_versioned_and_says_its_units() -> None:
    """The JSON plan's `money` block: versioned, units in the names, unknown prices null."""
    spec, live = mixed()
    money = json.loads(render_json(plan_of(spec, live)))["money"]
    assert (money["version"], money["hours_per_month"]) == (1, 730)
    assert money["capacity"][2] == {
        "gpu_type": "H200_SXM",
        "billing_type": "RESERVED",
        "gpus_before": 0,
        "gpus_after": 16,
        "gpu_hours_per_month_before": 0,
        "gpu_hours_per_month_after": 11680,
    }
    assert money["cost"] == {
        "currency": "USD",
        "source": "test fixture (not a real price)",
        "as_of": "2026-11-30",
        "usd_per_hour_before": 48.0,
        "usd_per_hour_after": 60.0,
        "usd_per_hour_change": 12.0,
        "usd_per_month_before": 35040.0,
        "usd_per_month_after": 43800.0,
        "usd_per_month_change": 8760.0,
        "price_unknown": ["cluster.new-h200"],
        "priced": 3,
    }
    assert [r["key"] for r in money["resources"]] == [
        "cluster.grow",
        "cluster.new-h200",
        "cluster.old",
        "cluster.swap",
    ]
    assert money["resources"][1]["usd_per_hour_after"] is None  # unknown, never 0
    assert money["forfeits"] == [
        {
            "key": "cluster.old",
            "billing_type": "RESERVED",
            "reserved_until": "2027-03-01T00:00:00Z",
            "gpu_days": 720.0,
            "allowed": True,
        }
    ]
    assert money["reservations_ending"] == money["expired"] == []


def test_json_without_prices_has_a_null_cost() -> None:
    """No prices file: `cost` is null (not zero), the GPU-hours are there."""
    spec, live = mixed()
    money = json.loads(render_json(plan_of(spec, live, prices=None)))["money"]
    assert money["cost"] is None and money["resources"] == [] and len(money["capacity"]) == 3


def test_markdown_lists_the_money_lines_with_dollars_escaped() -> None:
    """Markdown: the money lines as a list under the summary; `$` escaped (no TeX math)."""
    spec, live = mixed()
    text = render_markdown(plan_of(spec, live))
    assert "- Cost: \\$48.00/h -> \\$60.00/h (+\\$12.00/h);" in text
    assert '- Price unknown (not counted; add rows to the prices file): cluster "new-h200".' in text
    assert "      # cost: $18.00/h -> $36.00/h (+$18.00/h, +$13,140.00/month)" in text


def test_saved_plan_keeps_the_money_block() -> None:
    """A saved plan read back renders the same money lines (`show PLANFILE`)."""
    spec, live = mixed()
    plan = plan_of(spec, live)
    again = plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))
    assert again.money == plan.money
    assert render_text(again) == render_text(plan)


def test_plan_without_money_keys_stays_as_it_was() -> None:
    """No prices, no lifecycle keys, no GPU change: not one money line is added."""
    spec = make_spec(desired_cluster("same"))
    text = render_text(plan_of(spec, live_state(api_cluster("same")), prices=None))
    assert text == "No changes. Live clusters and volumes match the spec.\n"


def test_no_change_with_prices_shows_the_run_rate() -> None:
    """With prices and nothing to do: the current hourly and monthly cost, once."""
    spec = make_spec(desired_cluster("same"))
    text = render_text(plan_of(spec, live_state(api_cluster("same"))))
    assert text.splitlines()[1] == (
        "Cost: $18.00/h, $13,140.00 per month of 730 h (no change). "
        "Prices: test fixture (not a real price), as of 2026-11-30."
    )


# --- prices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gpu_type", "billing_type", "region", "price"),
    [
        ("H100_SXM", "ON_DEMAND", "us-central-8", 2.25),  # its region's row wins
        ("H100_SXM", "ON_DEMAND", "us-east-1", 2.0),  # else the "*" row
        ("H100_SXM", "SCHEDULED_CAPACITY", "us-east-1", None),  # no row: unknown
        ("B200_SXM", "ON_DEMAND", "us-east-1", None),  # a row left null: unknown
        ("L40_PCIE", "ON_DEMAND", "us-east-1", None),
    ],
    ids=["region-row", "star-row", "no-billing-row", "null-row", "no-gpu-row"],
)
def test_most_specific_row_wins(
    gpu_type: str, billing_type: str, region: str, price: float | None
) -> None:
    """A row naming the region beats "*"; no row (or a null one) is unknown, never 0."""
    assert PRICES.price(gpu_type, billing_type, region) == price


def test_only_unknown_prices_say_so_instead_of_zero() -> None:
    """A plan whose clusters have no price row shows "price unknown", not $0.00."""
    spec = make_spec(desired_cluster("b", gpu_type="B200_SXM"))
    text = render_text(plan_of(spec, LiveState()))
    assert "Cost: price unknown. Prices: test fixture (not a real price), as of 2026-11-30." in text
    assert "      # cost: $0.00/h -> price unknown" in text


HEAD = 'version: 1\ncurrency: USD\nsource: s\nas_of: "2026-11-30"\nrows:\n'
ROW = '  - {gpu_type: H100_SXM, billing_type: ON_DEMAND, region: "*", usd_per_gpu_hour: 2}\n'


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            "",
            [
                "p.yaml:1:1: the prices file is empty; write version: 1, currency, source, as_of "
                "and rows (see examples/prices.yaml)"
            ],
        ),
        (
            "version: 1\ncurrency: EUR\n",
            [
                "p.yaml:1:1: missing required fields 'source', 'as_of', 'rows'",
                'p.yaml:2:11: currency: "EUR" is not one of the allowed values: USD',
            ],
        ),
        (
            HEAD.replace('"2026-11-30"', "yesterday") + ROW,
            [
                'p.yaml:4:8: as_of: "yesterday" must be a date such as 2026-12-01 (when the source '
                "stated these prices)",
            ],
        ),
        (
            HEAD + ROW.replace("2}", "0}"),
            [
                "p.yaml:6:82: rows[0].usd_per_gpu_hour: must be a price above 0 in USD per "
                'GPU-hour, or null when you do not know it (the plan then says "price unknown")',
            ],
        ),
        (
            HEAD + ROW.replace("2}", '"2"}'),
            [
                'p.yaml:6:82: rows[0].usd_per_gpu_hour: the string "2" is not a number or null',
            ],
        ),
        (
            HEAD + ROW.replace("H100_SXM", "H100_SMX"),
            [
                "p.yaml:6:16: rows[0].gpu_type: unknown GPU type; did you mean 'H100_SXM'?",
            ],
        ),
        (
            HEAD + ROW.replace('region: "*", ', ""),
            [
                "p.yaml:6:5: rows[0]: missing required field 'region'",
            ],
        ),
        (
            HEAD + ROW + ROW,
            [
                "p.yaml:7:5: rows[1]: the same gpu_type, billing_type and region as rows[0]; keep "
                "one row per price",
            ],
        ),
        (
            HEAD + ROW + "  - [1]\n",
            ["p.yaml:7:5: rows[1]: a list is not a mapping (key: value lines)"],
        ),
        (
            HEAD + "  - {a: 1\n",
            [
                "p.yaml:7:1: invalid YAML: did not find expected ',' or '}' (while parsing a flow "
                "mapping); check the indentation and quoting around here"
            ],
        ),
    ],
    ids=[
        "empty",
        "fields",
        "as-of",
        "zero",
        "quoted",
        "gpu-type",
        "region",
        "twice",
        "row",
        "yaml",
    ],
)
def test_bad_prices_files_name_file_line_and_column(text: str, problems: list[str]) -> None:
    """Every problem of a prices file is one `file:line:col: path: message` line."""
    with pytest.raises(SpecError) as caught:
        load_prices("p.yaml", text.encode())
    assert list(caught.value.problems) == problems


def test_shipped_example_prices_are_valid_and_invent_nothing() -> None:
    """examples/prices.yaml loads, and states no price (rows are left for contract rates)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "prices.yaml"
    table = load_prices(str(path), path.read_bytes())
    assert table.rows and all(r.usd_per_gpu_hour is None for r in table.rows)
    assert "docs.together.ai" in path.read_text("utf-8")


# --- the budget gate -------------------------------------------------------------------------


def scale_up() -> tuple[Spec, LiveState]:
    """8 -> 64 H100s on demand in us-central-8 (2.25/GPU-h): +$126/h; and a new 16-GPU one."""
    spec = make_spec(desired_cluster("train", num_gpus=64), desired_cluster("eval", num_gpus=16))
    return spec, live_state(api_cluster("train"))


def refusals(
    spec: Spec, live: LiveState, prices: PriceTable | None = PRICES, **budget: float
) -> tuple[str, ...]:
    flags = Budget(budget.get("usd"), int(budget["gpus"]) if "gpus" in budget else None)
    return build_plan(spec, live, PlanOptions(now=NOW, prices=prices, budget=flags)).refusals


def test_hourly_budget_blocks_naming_the_total_and_the_largest() -> None:
    """Over --max-hourly-increase: blocked (exit 3), with the rise, the totals, who adds most."""
    spec, live = scale_up()
    assert refusals(spec, live, usd=150) == (
        "this plan raises the hourly cost by $162.00/h (in all $18.00/h -> $180.00/h), more "
        'than the budget of $150.00/h (--max-hourly-increase); largest: cluster "train" '
        '+$126.00/h, cluster "eval" +$36.00/h; raise the budget if that is intended',
    )
    with pytest.raises(UnsafePlanError) as caught:
        raise_if_unsafe(
            build_plan(spec, live, PlanOptions(now=NOW, prices=PRICES, budget=Budget(150)))
        )
    assert caught.value.exit_code == 3


def test_hourly_budget_allows_what_fits() -> None:
    """A rise within the budget (equal included) is not refused."""
    spec, live = scale_up()
    assert refusals(spec, live, usd=162) == ()


def test_spec_budget_applies_and_the_flag_wins() -> None:
    """`budget:` in the spec gates the plan; --max-hourly-increase replaces it."""
    spec, live = scale_up()
    spec = replace(spec, budget=Budget(max_hourly_increase=10))
    assert "(budget.max_hourly_increase)" in refusals(spec, live)[0]
    assert refusals(spec, live, usd=500) == ()


def test_hourly_budget_cannot_be_checked_without_a_price() -> None:
    """A rise with an unknown price is refused: the gate never counts it as $0."""
    spec = make_spec(desired_cluster("b", gpu_type="B200_SXM"))
    assert refusals(spec, LiveState(), usd=1000) == (
        'cannot check the budget of $1,000.00/h (--max-hourly-increase): no price for cluster "b"',
    )
    assert refusals(spec, LiveState(), prices=None, usd=1000) == (
        "cannot check the budget of $1,000.00/h (--max-hourly-increase): no prices file "
        "(--prices FILE, RECONCILER_PRICES or prices: in the spec)",
    )


def test_a_plan_that_adds_nothing_passes_the_hourly_budget_without_prices() -> None:
    """Deletes and no-ops need no prices to pass the dollar gate."""
    spec = make_spec(absent_cluster("train"))
    assert refusals(spec, live_state(api_cluster("train")), prices=None, usd=0) == ()


def test_gpu_budget_works_without_prices() -> None:
    """max_gpu_increase needs no prices: GPUs added, the limit, the largest contributors."""
    spec, live = scale_up()
    assert refusals(spec, live, prices=None, gpus=40) == (
        "this plan adds 72 GPUs, more than the budget of 40 (--max-gpu-increase); largest: "
        'cluster "train" +56 GPUs, cluster "eval" +16 GPUs; raise the budget if that is intended',
    )
    spec = replace(spec, budget=Budget(max_gpu_increase=72))
    assert refusals(spec, live, prices=None) == ()


# --- prepaid commitments -----------------------------------------------------------------------


def forfeit_case(lifecycle: Lifecycle = NO_RULES, **live_fields: object) -> Plan:
    spec = make_spec(absent_cluster("res", lifecycle=lifecycle))
    live = live_state(api_cluster("res", **{**RESERVED_UNTIL_MARCH, **live_fields}))
    return build_plan(spec, live, PlanOptions(now=NOW))


def test_deleting_a_reservation_early_is_blocked_and_says_what_is_forfeited() -> None:
    """RESERVED until 2027-03-01, 8 GPUs, 90 days left: blocked, 720 GPU-days named."""
    (action,) = forfeit_case().actions
    assert (action.kind, action.intended) == (ActionKind.BLOCKED, ActionKind.DELETE)
    assert action.reason == (
        "this plan would delete it (ensure: absent) and forfeit its prepaid RESERVED capacity: "
        "reserved until 2027-03-01, ~720 GPU-days prepaid; set lifecycle.allow_forfeit: true or "
        "pass --allow-forfeit res if that is intended"
    )


@pytest.mark.parametrize(
    ("lifecycle", "allowed"),
    [(FORFEITABLE, ()), (Lifecycle(), ("res",))],
    ids=["lifecycle", "flag"],
)
def test_forfeit_is_allowed_by_the_lifecycle_key_or_the_flag(
    lifecycle: Lifecycle, allowed: tuple[str, ...]
) -> None:
    """lifecycle.allow_forfeit or --allow-forfeit NAME: a delete, noted as forfeiting."""
    spec = make_spec(absent_cluster("res", lifecycle=lifecycle))
    live = live_state(api_cluster("res", **RESERVED_UNTIL_MARCH))
    plan = build_plan(spec, live, PlanOptions(now=NOW, allow_forfeit=allowed))
    (action,) = plan.actions
    assert action.kind is ActionKind.DELETE
    assert action.notes == (
        "forfeits its prepaid RESERVED capacity: reserved until 2027-03-01, ~720 GPU-days prepaid",
    )
    assert plan.money.forfeits[0].allowed


def test_replacing_a_scheduled_reservation_is_guarded_too() -> None:
    """SCHEDULED_CAPACITY not yet started: the whole window counts; a replace is blocked."""
    fields = {
        "billing_type": "SCHEDULED_CAPACITY",
        "reservation_start_time": "2026-12-11T00:00:00Z",
        "reservation_end_time": "2026-12-21T00:00:00Z",
    }
    spec = make_spec(
        desired_cluster(
            "win", **fields, gpu_type="H200_SXM", lifecycle=Lifecycle(replace_on_change=True)
        )
    )
    plan = build_plan(spec, live_state(api_cluster("win", **fields)), PlanOptions(now=NOW))
    (action,) = plan.actions
    assert action.intended is ActionKind.REPLACE
    assert "reserved until 2026-12-21, ~80 GPU-days prepaid" in action.reason


@pytest.mark.parametrize(
    ("live_fields", "blocked"),
    [
        ({"reservation_end_time": "2026-11-30T00:00:00Z"}, False),  # ended: nothing to forfeit
        ({"reservation_end_time": None}, True),  # end not reported: prepaid, unknown length
        ({"billing_type": "ON_DEMAND", "num_reserved_gpus": 0}, False),
    ],
    ids=["ended", "end-unknown", "on-demand"],
)
def test_only_unended_prepaid_capacity_is_guarded(
    live_fields: dict[str, object], blocked: bool
) -> None:
    """An ended reservation or an on-demand cluster deletes freely; an unknown end does not."""
    (action,) = forfeit_case(**live_fields).actions
    assert (action.kind is ActionKind.BLOCKED) is blocked
    if live_fields.get("reservation_end_time", "") is None:
        assert "reserved (the API reports no reservation_end_time)" in action.reason


def test_without_a_clock_a_reservation_never_counts_as_ended() -> None:
    """`now` not given (library use): the safe side, the reservation is guarded."""
    spec = make_spec(absent_cluster("res"))
    live = live_state(
        api_cluster("res", reservation_end_time="2020-01-01T00:00:00Z", billing_type="RESERVED")
    )
    (action,) = build_plan(spec, live).actions
    assert action.kind is ActionKind.BLOCKED


def test_a_blocked_forfeit_keeps_the_volume_it_uses() -> None:
    """A cluster kept by the forfeit guard still uses its volume: that delete is blocked too."""
    spec = make_spec(absent_cluster("res"), volumes=[desired_volume("data", ensure=Ensure.ABSENT)])
    live = live_state(
        api_cluster("res", volumes=["v-data"], **RESERVED_UNTIL_MARCH),
        volumes=[api_volume("data")],
    )
    plan = build_plan(spec, live, PlanOptions(now=NOW))
    assert [a.kind for a in plan.actions] == [ActionKind.BLOCKED, ActionKind.BLOCKED]


# --- reservations ending, and expiry ----------------------------------------------------------


def test_a_reservation_ending_soon_is_a_warning() -> None:
    """Ends within --warn-expiry (default 7 days): a warning line, and in JSON."""
    fields = {**RESERVED_UNTIL_MARCH, "reservation_end_time": "2026-12-04T12:00:00Z"}
    spec = make_spec(
        desired_cluster("res", billing_type="RESERVED", reservation_end_time="2026-12-04T12:00:00Z")
    )
    live = live_state(api_cluster("res", **fields))
    plan = build_plan(spec, live, PlanOptions(now=NOW))
    assert not plan.has_changes
    assert render_text(plan).splitlines()[1] == (
        'Warning: cluster "res": its reservation ends 2026-12-04T12:00:00Z (in 3.5 days), and the '
        "cluster is decommissioned then."
    )
    assert plan_to_dict(plan)["money"]["reservations_ending"] == [
        {"key": "cluster.res", "at": "2026-12-04T12:00:00Z", "days": 3.5}
    ]
    later = build_plan(spec, live, PlanOptions(now=NOW, warn_expiry=3 * DAY))
    assert later.money.ending == ()


def expiring(lifecycle: Lifecycle, now: float, **options: object) -> Plan:
    spec = make_spec(desired_cluster("tmp", lifecycle=lifecycle), desired_cluster("keep"))
    live = live_state(api_cluster("tmp"), api_cluster("keep"))
    return build_plan(spec, live, PlanOptions(now=now, **options))  # type: ignore[arg-type]


EXPIRES = Lifecycle(expires_at="2026-12-01T00:00:00Z")


def test_before_expires_at_nothing_happens() -> None:
    """A second before the instant: no change."""
    assert not expiring(EXPIRES, NOW - 1).has_changes


def test_after_expires_at_the_plan_proposes_a_delete() -> None:
    """At the instant: an ordinary delete, saying why, and listed as expired."""
    plan = expiring(EXPIRES, NOW)
    (action,) = plan.actions
    assert (action.kind, action.name) == (ActionKind.DELETE, "tmp")
    assert action.reason == "expired: lifecycle.expires_at 2026-12-01T00:00:00Z has passed"
    assert render_text(plan).splitlines()[-1] == (
        'Expired: cluster "tmp": lifecycle.expires_at 2026-12-01T00:00:00Z has passed; this plan '
        "deletes it."
    )


def test_an_expired_delete_obeys_prevent_destroy_and_max_deletes() -> None:
    """prevent_destroy blocks it; it counts against --max-deletes."""
    guarded = expiring(replace(EXPIRES, prevent_destroy=True), NOW)
    assert guarded.actions[0].kind is ActionKind.BLOCKED
    assert "expired: lifecycle.expires_at" in guarded.actions[0].reason
    assert (
        expiring(EXPIRES, NOW, max_deletes=0)
        .refusals[0]
        .startswith("this plan would delete or replace 1 resources (cluster.tmp)")
    )


def test_an_expired_cluster_that_is_gone_is_not_drift() -> None:
    """Already deleted: nothing to do, nothing listed."""
    spec = make_spec(desired_cluster("tmp", lifecycle=EXPIRES))
    plan = build_plan(spec, LiveState(), PlanOptions(now=NOW))
    assert not plan.has_changes and plan.money.expired == ()


# --- the spec's money keys ---------------------------------------------------------------------

MONEY_SPEC = b"""\
version: 1
prices: ../prices.yaml
budget: {max_hourly_increase: 250.5, max_gpu_increase: 64}
clusters:
  - cluster_name: tmp
    region: us-central-8
    gpu_type: H100_SXM
    num_gpus: 8
    cuda_version: "12.6"
    nvidia_driver_version: "560"
    billing_type: ON_DEMAND
    lifecycle: {allow_forfeit: true, expires_at: "2027-01-15T01:00:00+01:00"}
"""


def test_spec_reads_prices_budget_and_lifecycle_keys() -> None:
    """`prices:` keeps where it was written; `expires_at` is read as a UTC instant."""
    from reconciler.spec import load_spec

    spec = load_spec([("team/spec.yaml", MONEY_SPEC)])
    assert spec.budget == Budget(max_hourly_increase=250.5, max_gpu_increase=64)
    assert spec.prices is not None and spec.prices.path == "../prices.yaml"
    assert str(spec.prices.location) == "team/spec.yaml:2:9"
    (cluster,) = spec.resources
    assert cluster.lifecycle == Lifecycle(allow_forfeit=True, expires_at="2027-01-15T00:00:00Z")
    assert "allow_forfeit" not in cluster.fields and "expires_at" not in cluster.fields


def test_spec_money_settings_must_agree_across_files() -> None:
    """budget: and prices: may repeat across files only with one value, like prune."""
    from reconciler.spec import load_spec

    other = MONEY_SPEC.replace(b"250.5", b"100").replace(b"cluster_name: tmp", b"cluster_name: b")
    with pytest.raises(SpecError) as caught:
        load_spec([("a.yaml", MONEY_SPEC), ("b.yaml", other)])
    assert caught.value.problems == (
        "b.yaml:3:9: budget: differs from the budget set at a.yaml:3:9; set it in one file only",
    )
