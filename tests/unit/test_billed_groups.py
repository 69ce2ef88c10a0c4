"""The plan's money over a large fleet: untouched resources are billed in groups of one basis
(`plan.cost.billed`, issue 11), with the same totals, capacity and unpriced names as one row
per resource."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.kinds.cluster import cost_basis
from reconciler.model import ActionKind
from reconciler.plan import PlanOptions, build_plan, prepare_live
from reconciler.plan.cost import billed, billing
from tests.unit.factories import api_cluster, desired_cluster, live_state, make_spec
from tests.unit.test_money import NOW, PRICES

#: (gpu_type, billing_type, num_gpus) of a cluster; B200 has no price.
SHAPES = st.sampled_from(
    [
        ("H100_SXM", "ON_DEMAND", 8),
        ("H100_SXM", "ON_DEMAND", 16),
        ("H200_SXM", "ON_DEMAND", 8),
        ("H100_SXM", "ON_DEMAND", 24),
        ("B200_SXM", "ON_DEMAND", 8),
    ]
)


@settings(max_examples=40, deadline=None)
@given(
    fleet=st.lists(SHAPES, min_size=1, max_size=30),
    grown=st.sets(st.integers(0, 29), max_size=5),
)
def test_groups_give_what_one_row_per_resource_gives(
    fleet: list[tuple[str, str, int]], grown: set[int]
) -> None:
    names = [f"c{i}" for i in range(len(fleet))]
    live = live_state(
        *(
            api_cluster(n, gpu_type=g, billing_type=b, num_gpus=k)
            for n, (g, b, k) in zip(names, fleet, strict=True)
        )
    )
    spec = make_spec(
        *(
            desired_cluster(n, gpu_type=g, billing_type=b, num_gpus=k + 8 * (i in grown))
            for i, (n, (g, b, k)) in enumerate(zip(names, fleet, strict=True))
        )
    )
    plan = build_plan(spec, live, PlanOptions(now=NOW, prices=PRICES))
    updated = {a.name for a in plan.actions if a.kind is ActionKind.UPDATE}
    assert updated == {names[i] for i in grown if i < len(fleet)}
    # The reference: one row per live cluster, its GPUs after the plan.
    before: Counter[tuple[str, str]] = Counter()
    after: Counter[tuple[str, str]] = Counter()
    total_before = total_after = 0.0
    unknown = set()
    for live_cluster in live.resources:
        old = cost_basis(live_cluster.fields)
        new_gpus = old.gpus + 8 * (live_cluster.name in updated)
        before[(old.gpu_type, old.billing_type)] += old.gpus
        after[(old.gpu_type, old.billing_type)] += new_gpus
        rate = PRICES.price(old.gpu_type, old.billing_type, old.region)
        if rate is None:
            unknown.add(live_cluster.key)
        else:
            total_before += rate * old.gpus
            total_after += rate * new_gpus
    capacity = {(c.gpu_type, c.billing_type): (c.before, c.after) for c in plan.money.capacity}
    assert capacity == {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert plan.money.cost is not None
    assert plan.money.cost.unknown == tuple(sorted(unknown))
    assert plan.money.cost.priced == len(live.resources) - len(unknown)
    assert abs(plan.money.cost.before - total_before) < 1e-6
    assert abs(plan.money.cost.after - total_after) < 1e-6
    rows = billed(live, plan.actions)
    assert len([r for r in rows if not r.touched]) <= 5  # one per basis, not per cluster


def test_a_live_state_prepared_before_gives_the_same_plan() -> None:
    """`prepare_live` works out the billed groups of one live state ahead (the listing thread
    does, while the spec is checked); build_plan then gives the plan it gives without, and
    another live state, even an equal one, gets its own."""
    spec = make_spec(desired_cluster("a", num_gpus=16), desired_cluster("b"))
    live = live_state(api_cluster("a"), api_cluster("b"), api_cluster("c", num_gpus=24))
    twin = live_state(api_cluster("a"), api_cluster("b"), api_cluster("c", num_gpus=24))
    options = PlanOptions(now=NOW, prices=PRICES)
    prepare_live(live)
    prepared = billing(live)
    assert build_plan(spec, live, options) == build_plan(spec, twin, options)
    assert billing(twin) is not prepared and billing(twin) == prepared
    assert [r.keys for r in billed(twin, ()) if not r.touched] == [
        ("cluster.a", "cluster.b"),
        ("cluster.c",),
    ]
