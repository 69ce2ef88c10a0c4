"""The plan's fast path for unchanged resources (issue 11): `Wanted.same` says "nothing
differs" exactly when the full comparison would, and never hides a difference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.diff import Wanted, compute_actions
from reconciler.diff.resource import compare, scalar_probe, unchanged
from reconciler.kinds.base import CostBasis
from reconciler.kinds.cluster import KIND as CLUSTER
from reconciler.kinds.cluster import cost_basis
from reconciler.model import ActionKind, Live, LiveState, freeze
from tests.unit.factories import desired_cluster, make_spec

#: Values a live field may hold: equal across types (1, 1.0, True), absent, nested.
VALUES = st.sampled_from([0, 1, 1.0, True, False, None, "", "1", "H100_SXM", [1], {"a": 1}])
FIELDS = ("num_gpus", "region", "gpu_type", "cuda_version", "billing_type")


def live_cluster(fields: dict[str, Any]) -> Live:
    return Live(
        kind="cluster",
        id="c-1",
        name="a",
        status="Ready",
        fields=freeze({k: v for k, v in fields.items() if v is not None}),
    )


@settings(max_examples=300, deadline=None)
@given(
    wanted=st.fixed_dictionaries({k: VALUES.filter(lambda v: v is not None) for k in FIELDS}),
    live=st.fixed_dictionaries({k: VALUES for k in FIELDS}),
)
def test_same_is_the_full_comparison_s_equality(
    wanted: dict[str, Any], live: dict[str, Any]
) -> None:
    desired = desired_cluster("a", base={}, **wanted)
    spec = make_spec(desired)
    twin = live_cluster(live)
    seen, plain = compare(CLUSTER, desired, twin)
    fast = Wanted(spec).same(spec.resources[0], twin)
    scalar = all(type(v) in (int, float, bool, str) for v in plain.values())
    assert fast == (scalar and seen == plain)


def test_a_difference_the_fast_path_cannot_see_is_compared_in_full() -> None:
    """A nested wanted value is projected, never probed: the change still shows (an OIDC
    change replaces the cluster, refused without consent)."""
    desired = desired_cluster("a", oidc_config={"issuer_url": "https://new"})
    spec = make_spec(desired)
    live = live_cluster({**dict(desired.fields), "oidc_config": {"issuer_url": "https://old"}})
    assert not Wanted(spec).same(spec.resources[0], live)
    actions = compute_actions(spec, _state(live)).actions
    assert [(a.name, a.kind.value, a.intended) for a in actions] == [
        ("a", "blocked", ActionKind.REPLACE)
    ]


def test_a_desired_resource_changed_since_is_not_probed() -> None:
    """An entry serves only the very resource it was made from (`expire` replaces some)."""
    desired = desired_cluster("a")
    wanted = Wanted(make_spec(desired))
    other = desired_cluster("a", num_gpus=16)
    assert not wanted.same(other, live_cluster(dict(desired.fields)))


def test_cost_basis_tells_a_true_from_a_one_and_takes_unhashable_values() -> None:
    """Cached by raw values (`typed`): a count of True is no GPU count, 1 is one."""
    fields = {"gpu_type": "h100_sxm", "billing_type": "on_demand", "region": "r"}
    assert cost_basis({**fields, "num_gpus": 1}).gpus == 1
    assert cost_basis({**fields, "num_gpus": True}).gpus is True
    assert cost_basis({**fields, "num_gpus": 1.0}).gpus == 0
    odd = cost_basis({**fields, "gpu_type": ["h100"], "num_gpus": 2})
    assert (odd.gpu_type, odd.billing_type, odd.gpus) == ("['H100']", "ON_DEMAND", 2)
    frozen = freeze({"gpu_type": "h100_sxm", "num_gpus": 8})  # a live answer's, fields absent
    assert cost_basis(frozen) == CostBasis("H100_SXM", "", "", 8)


def _state(*resources: Live) -> LiveState:
    return LiveState(resources=resources)


def test_items_that_differ_by_name_share_their_maps_and_only_they() -> None:
    """Wanted works out one map per distinct item (a fleet is mostly alike), never sharing
    across types (8 and 8.0), ignore_changes, or nested values."""
    from reconciler.model import Lifecycle

    a, b = desired_cluster("a"), desired_cluster("b")
    floats = desired_cluster("f", num_gpus=8.0)
    ignoring = desired_cluster("i", lifecycle=Lifecycle(ignore_changes=("num_gpus",)))
    nested = desired_cluster("n", oidc_config={"issuer_url": "https://x"})
    nested_too = desired_cluster("m", oidc_config={"issuer_url": "https://x"})
    spec = make_spec(a, b, floats, ignoring, nested, nested_too)
    wanted = Wanted(spec)
    of = {d.name: wanted.of(CLUSTER, d) for d in spec.resources if d.kind == "cluster"}
    assert of["a"] is of["b"]
    assert of["f"] is not of["a"] and type(of["f"]["num_gpus"]) is float
    assert "num_gpus" in of["a"] and "num_gpus" not in of["i"]
    assert of["n"] == of["m"] and of["n"] is not of["m"]


@pytest.mark.parametrize(
    ("wanted", "live", "same"),
    [
        ({}, {"num_gpus": 8}, True),  # nothing compared: nothing differs
        ({"num_gpus": 8}, {"num_gpus": 8, "region": "x"}, True),  # one key: read as a pair
        ({"num_gpus": 8}, {"num_gpus": 16}, False),
        ({"num_gpus": 8}, {}, False),  # absent live: read as None
        ({"num_gpus": 8, "region": "x"}, {"num_gpus": 8, "region": "x"}, True),
        ({"num_gpus": 8, "region": "x"}, {"num_gpus": 8}, False),
        ({"num_gpus": 8, "region": "x"}, {"num_gpus": 8, "region": "y"}, False),
    ],
)
def test_the_probe_reads_none_one_or_many_fields_and_absent_ones_as_none(
    wanted: dict[str, Any], live: dict[str, Any], same: bool
) -> None:
    probe = scalar_probe(CLUSTER, wanted)
    assert probe is not None
    assert unchanged(probe, live_cluster(live)) is same
