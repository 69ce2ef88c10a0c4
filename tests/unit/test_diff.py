"""diff.py: desired × live → actions (DESIGN §4, §5); ownership, replace policy, volumes."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.diff import DiffResult, compute_actions
from reconciler.model import (
    Action,
    ActionKind,
    Desired,
    Ensure,
    Lifecycle,
    Prune,
    Spec,
    thaw,
)
from tests.unit.factories import (
    BASE_FIELDS,
    absent_cluster,
    api_cluster,
    api_volume,
    desired_cluster,
    desired_volume,
    echo_fields,
    live_state,
    make_spec,
)

OIDC = {
    "client_id": "reconciler",
    "issuer_url": "https://idp.example.com",
    "username_claim": "email",
    "username_prefix": "oidc:",
    "group_claim": "groups",
    "group_prefix": "oidc:",
    "ca_cert": "-----BEGIN CERTIFICATE-----",
}


def diff(
    spec: Spec, *live: Mapping[str, Any], volumes: Iterable[Mapping[str, Any]] = (), **kw: Any
) -> DiffResult:
    return compute_actions(spec, live_state(*live, volumes=volumes), **kw)


def only_action(result: DiffResult) -> Action:
    assert len(result.actions) == 1, result.actions
    return result.actions[0]


def changes_of(action: Action) -> list[tuple[str, Any, Any]]:
    return [(c.path, thaw(c.before), thaw(c.after)) for c in action.changes]


def summary(result: DiffResult) -> list[tuple[str, str, str]]:
    return [(str(a.kind), str(a.resource), a.name) for a in result.actions]


# --- nothing to do ----------------------------------------------------------------------------


def test_identical_cluster_is_unchanged() -> None:
    """A live cluster that matches its spec produces no action and is counted unchanged."""
    result = diff(make_spec(desired_cluster("a")), api_cluster("a"))
    assert result.actions == ()
    assert result.unchanged == ("cluster.a",)


SAME = [
    ({"gpu_type": "h100_sxm"}, {}, "enum-case-desired"),
    ({}, {"gpu_type": "h100_sxm", "billing_type": "on_demand"}, "enum-case-live"),
    ({"cluster_type": "kubernetes"}, {"cluster_type": "KUBERNETES"}, "cluster_type-case"),
    ({"cluster_type": "KUBERNETES"}, {"cluster_type": None}, "default-omitted-live"),
    ({"install_traefik": False}, {"install_traefik": None}, "traefik-default-live"),
    ({"num_preemptible_gpus": 0}, {"desired_preemptible_gpus": None}, "preemptible-default"),
    ({"num_preemptible_gpus": 8}, {"desired_preemptible_gpus": 8}, "preemptible-alias"),
    ({"nvidia_version_id": "v-560"}, {"nvidia_driver_version_id": "v-560"}, "version-id-alias"),
    ({"cuda_version": 12.6}, {"cuda_version": "12.6"}, "cuda-number"),
    (
        {"reservation_end_time": "2026-06-01T14:00:00+02:00"},
        {"reservation_end_time": "2026-06-01T12:00:00Z"},
        "time-offset",
    ),
    (
        {"reservation_start_time": "2026-06-01T12:00:00Z"},
        {"reservation_start_time": "2026-06-01T12:00:00.000+00:00"},
        "time-fraction",
    ),
    (
        {"billing_type": "RESERVED", "num_gpus": 16},
        {"billing_type": "RESERVED", "num_gpus": 16, "num_reserved_gpus": 16},
        "reserved-default",
    ),
    ({"auto_scale": True, "auto_scale_max_gpus": 64}, {"num_gpus": 40}, "autoscaler-owns-num_gpus"),
    ({"duration_days": 3}, {"duration_hours": 72}, "duration-create-only"),
    ({"slurm_image": "img:1", "acceptance_tests_params": {"enabled": True}}, {}, "create-only"),
    (
        {"cluster_config": {"load_balancer": "TRAEFIK"}},
        {"cluster_config": {"load_balancer": "TRAEFIK", "gpu_operator_version": "v24.9"}},
        "cluster_config-extra-live-keys",
    ),
    (
        {
            "add_ons": [
                {"add_on_type": "dashboard", "name": "dash"},
                {"add_on_type": "ingress", "name": "ing", "config": {"ingress": {"enabled": True}}},
            ]
        },
        {
            "add_ons": [
                {
                    "add_on_type": "ingress",
                    "name": "ing",
                    "config": {"ingress": {"enabled": True}, "extra": 1},
                    "state": {"ingress": {}},
                },
                {"add_on_type": "dashboard", "name": "dash", "config": {}, "state": {}},
            ]
        },
        "add_ons-by-name-reordered-extra-keys",
    ),
    ({"oidc_config": OIDC}, {"oidc_config": OIDC}, "oidc-same"),
    # The API echoes the semantic CUDA version only (the OS picks the image at create time).
    ({"cuda_version": "12.8-ubuntu-24.04"}, {"cuda_version": "12.8"}, "cuda-os-suffix"),
    (
        {"oidc_config": OIDC},
        {"oidc_config": {k: v for k, v in OIDC.items() if k != "ca_cert"}},
        "oidc-ca_cert-not-echoed",
    ),
    (
        {"cluster_config": {"load_balancer": "NONE", "jumphost_enabled": True}},
        {"cluster_config": {"load_balancer": "NONE"}},
        "nested-key-not-echoed",
    ),
]


@pytest.mark.parametrize(("desired", "live", "_id"), SAME, ids=[i for *_, i in SAME])
def test_equivalent_values_produce_no_diff(
    desired: dict[str, Any], live: dict[str, Any], _id: str
) -> None:
    """Normalisation makes the spec's value and the API's echo of it compare equal (§5)."""
    result = diff(make_spec(desired_cluster("a", **desired)), api_cluster("a", **live))
    assert result.actions == ()
    assert result.unchanged[0] == "cluster.a"
    assert all(u.startswith("add-on.a/") for u in result.unchanged[1:])


@pytest.mark.parametrize(
    ("lifecycle_ignores", "live"),
    [
        (("num_gpus",), {"num_gpus": 64}),
        (("region",), {"region": "eu-west-1"}),
        (("cluster_config",), {"cluster_config": {"load_balancer": "NGINX"}}),
    ],
    ids=["in-place-field", "replace-field", "nested-object"],
)
def test_ignore_changes_hides_the_field(
    lifecycle_ignores: tuple[str, ...], live: dict[str, Any]
) -> None:
    """lifecycle.ignore_changes removes the named field from the comparison."""
    spec = make_spec(
        desired_cluster(
            "a",
            cluster_config={"load_balancer": "TRAEFIK"},
            lifecycle=Lifecycle(ignore_changes=lifecycle_ignores),
        )
    )
    live_obj = api_cluster("a", cluster_config={"load_balancer": "TRAEFIK"})
    assert diff(spec, {**live_obj, **live}).actions == ()


def test_ignore_changes_leaves_other_fields_compared() -> None:
    """Ignoring one field does not hide a change to another."""
    spec = make_spec(desired_cluster("a", num_gpus=16, lifecycle=Lifecycle(ignore_changes=("x",))))
    assert changes_of(only_action(diff(spec, api_cluster("a")))) == [("num_gpus", 8, 16)]


# --- in-place updates -------------------------------------------------------------------------

UPDATES = [
    ({"num_gpus": 16}, {}, [("num_gpus", 8, 16)], {"num_gpus": 16}, "num_gpus"),
    (
        {"cluster_type": "SLURM"},
        {},
        [("cluster_type", "KUBERNETES", "SLURM")],
        {"cluster_type": "SLURM"},
        "cluster_type",
    ),
    (
        {},
        {"cluster_type": "SLURM"},
        [("cluster_type", "SLURM", "KUBERNETES")],
        {"cluster_type": "KUBERNETES"},
        "dropped-field-back-to-default",
    ),
    (
        {"num_preemptible_gpus": 8},
        {},
        [("num_preemptible_gpus", 0, 8)],
        {"num_preemptible_gpus": 8},
        "preemptible-via-alias",
    ),
    (
        {"reservation_end_time": "2026-07-01T02:00:00+02:00"},
        {"reservation_end_time": "2026-06-01T00:00:00Z"},
        [("reservation_end_time", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z")],
        {"reservation_end_time": "2026-07-01T00:00:00Z"},
        "time-normalised-in-body",
    ),
    (
        {"billing_type": "RESERVED", "num_gpus": 16, "num_reserved_gpus": 16},
        {"billing_type": "RESERVED", "num_gpus": 8, "num_reserved_gpus": 8},
        [("num_gpus", 8, 16), ("num_reserved_gpus", 8, 16)],
        {"num_gpus": 16, "num_reserved_gpus": 16},
        "two-fields",
    ),
    (
        {"cluster_config": {"load_balancer": "TRAEFIK"}},
        {"cluster_config": {"load_balancer": "NONE", "gpu_operator_version": "v24"}},
        [("cluster_config.load_balancer", "NONE", "TRAEFIK")],
        {"cluster_config": {"load_balancer": "TRAEFIK"}},
        "nested-key",
    ),
]


@pytest.mark.parametrize(
    ("desired", "live", "changes", "body", "_id"), UPDATES, ids=[u[-1] for u in UPDATES]
)
def test_in_place_field_change_is_an_update(
    desired: dict[str, Any],
    live: dict[str, Any],
    changes: list[tuple[str, Any, Any]],
    body: dict[str, Any],
    _id: str,
) -> None:
    """An in-place field change → update whose PUT body holds only the changed top-level fields."""
    action = only_action(
        diff(make_spec(desired_cluster("a", **desired)), api_cluster("a", "c-1", **live))
    )
    assert (action.kind, action.resource, action.resource_id) == (
        ActionKind.UPDATE,
        "cluster",
        "c-1",
    )
    assert changes_of(action) == changes
    assert not any(c.forces_replacement for c in action.changes)
    assert thaw(action.body) == body


def test_extra_live_add_on_is_left_alone_and_named() -> None:
    """An add-on live has but the spec does not list is no action, only a note naming it."""
    spec = make_spec(desired_cluster("a", add_ons=[{"add_on_type": "dashboard", "name": "d"}]))
    live = api_cluster(
        "a",
        add_ons=[
            {"add_on_type": "dashboard", "name": "d", "state": {}},
            {"add_on_type": "ingress", "name": "i", "state": {}},
        ],
    )
    result = diff(spec, live)
    assert result.actions == ()
    assert result.notes == ("add-ons the spec does not name are left alone (unmanaged): a/i",)


def test_add_on_config_change_is_an_add_on_update() -> None:
    """A changed config is one update of that add-on (body {config}), never of the cluster."""
    spec = make_spec(
        desired_cluster(
            "a",
            add_ons=[{"add_on_type": "dashboard", "name": "d", "config": {"x": {"enabled": True}}}],
        )
    )
    live = api_cluster(
        "a",
        add_ons=[{"add_on_type": "dashboard", "name": "d", "config": {"x": {"enabled": False}}}],
    )
    action = only_action(diff(spec, live))
    assert (action.kind, action.resource, action.name, action.parent) == (
        ActionKind.UPDATE,
        "add-on",
        "d",
        "a",
    )
    assert changes_of(action) == [("config.x.enabled", False, True)]
    assert thaw(action.body) == {"config": {"x": {"enabled": True}}}


def test_new_add_on_is_created_on_the_live_cluster() -> None:
    """An add-on the live cluster lacks is one add-on create; the cluster is untouched."""
    spec = make_spec(desired_cluster("a", add_ons=[{"add_on_type": "dashboard", "name": "d"}]))
    action = only_action(diff(spec, api_cluster("a", add_ons=[])))
    assert (action.kind, action.resource, action.name, action.parent) == (
        ActionKind.CREATE,
        "add-on",
        "d",
        "a",
    )
    assert thaw(action.body) == {"name": "d", "add_on_type": "dashboard"}


def test_add_on_marked_absent_is_deleted_and_only_that() -> None:
    """ensure: absent on an add-on deletes it from the live cluster; the cluster stays."""
    spec = make_spec(
        desired_cluster(
            "a", add_ons=[{"name": "d", "ensure": "absent"}, {"name": "gone", "ensure": "absent"}]
        )
    )
    live = api_cluster("a", add_ons=[{"add_on_type": "dashboard", "name": "d", "state": {}}])
    action = only_action(diff(spec, live))
    assert (action.kind, action.resource, action.name, action.resource_id) == (
        ActionKind.DELETE,
        "add-on",
        "d",
        "d",
    )


def test_new_cluster_is_created_with_its_add_ons_in_one_call() -> None:
    """A new cluster carries its present add-ons in its create body: no add-on actions."""
    add_ons = [{"add_on_type": "dashboard", "name": "d"}, {"name": "x", "ensure": "absent"}]
    action = only_action(diff(make_spec(desired_cluster("a", add_ons=add_ons))))
    assert (action.kind, action.resource) == (ActionKind.CREATE, "cluster")
    assert thaw(action.body)["add_ons"] == [{"name": "d", "add_on_type": "dashboard"}]


def test_ignore_changes_add_ons_leaves_them_alone() -> None:
    """lifecycle.ignore_changes: [add_ons] → no add-on action and no note for that cluster."""
    spec = make_spec(
        desired_cluster(
            "a",
            lifecycle=Lifecycle(ignore_changes=("add_ons",)),
            add_ons=[{"add_on_type": "dashboard", "name": "d"}],
        )
    )
    live = api_cluster("a", add_ons=[{"add_on_type": "ingress", "name": "i", "state": {}}])
    result = diff(spec, live)
    assert (result.actions, result.notes) == ((), ())


def test_changed_volume_reference_forces_replacement() -> None:
    """A cluster whose spec names another volume than the live one attached: replace (the API
    attaches volumes only on create), shown by name."""
    spec = make_spec(
        desired_cluster("a", volume="new"),
        volumes=[desired_volume("old"), desired_volume("new")],
    )
    live = live_state(
        api_cluster("a", volumes=["v-old"]), volumes=[api_volume("old"), api_volume("new")]
    )
    action = only_action(compute_actions(spec, live))
    assert (action.kind, action.intended) == (ActionKind.BLOCKED, ActionKind.REPLACE)
    assert changes_of(action) == [("volume", "old", "new")]
    assert all(c.forces_replacement for c in action.changes)


def test_unchanged_volume_reference_is_no_diff() -> None:
    """The live cluster has the volume the spec names: nothing to do."""
    spec = make_spec(desired_cluster("a", volume="old"), volumes=[desired_volume("old")])
    live = live_state(api_cluster("a", volumes=["v-old"]), volumes=[api_volume("old")])
    assert compute_actions(spec, live).actions == ()


@pytest.mark.parametrize(
    ("status", "notes"),
    [
        ("Ready", ()),
        ("Degraded", ("live status is Degraded",)),
        ("Paused", ("live status is Paused",)),
    ],
    ids=["ready", "degraded", "paused"],
)
def test_unhealthy_live_status_is_flagged(status: str, notes: tuple[str, ...]) -> None:
    """Degraded and paused clusters are flagged on their action (DESIGN §6)."""
    action = only_action(
        diff(make_spec(desired_cluster("a", num_gpus=16)), api_cluster("a", status=status))
    )
    assert action.notes == notes
    assert action.status == status


# --- replacement ------------------------------------------------------------------------------

REPLACES = [
    ("region", {"region": "eu-west-1"}, {}),
    ("gpu_type", {"gpu_type": "H200_SXM"}, {}),
    ("cuda_version", {"cuda_version": "12.8"}, {}),
    ("nvidia_driver_version", {"nvidia_driver_version": "570"}, {}),
    ("nvidia_version_id", {"nvidia_version_id": "v2"}, {"nvidia_driver_version_id": "v1"}),
    ("billing_type", {"billing_type": "SCHEDULED_CAPACITY"}, {}),
    ("capacity_pool_id", {"capacity_pool_id": "pool-2"}, {"capacity_pool_id": "pool-1"}),
    (
        "reservation_start_time",
        {"reservation_start_time": "2026-06-02T00:00:00Z"},
        {"reservation_start_time": "2026-06-01T00:00:00Z"},
    ),
    ("slurm_shm_size_gib", {"slurm_shm_size_gib": 128}, {"slurm_shm_size_gib": 64}),
    ("install_traefik", {"install_traefik": True}, {}),
    ("oidc_config", {"oidc_config": {**OIDC, "client_id": "new"}}, {"oidc_config": OIDC}),
]


@pytest.mark.parametrize(
    ("field", "desired", "live"), REPLACES, ids=[field for field, *_ in REPLACES]
)
def test_replace_field_is_blocked_by_default(
    field: str, desired: dict[str, Any], live: dict[str, Any]
) -> None:
    """A replace field change → blocked replace naming the field and both remedies."""
    action = only_action(
        diff(make_spec(desired_cluster("train", **desired)), api_cluster("train", **live))
    )
    assert (action.kind, action.intended) == (ActionKind.BLOCKED, ActionKind.REPLACE)
    assert action.reason == (
        f"changing {field} forces replacement (delete, then create); set "
        "lifecycle.replace_on_change: true or pass --allow-replace train"
    )
    assert [c.path.split(".")[0] for c in action.changes] == [field]
    assert all(c.forces_replacement for c in action.changes)


def test_blocked_replace_names_every_forcing_field_once() -> None:
    """Several forcing fields are listed sorted, each once; in-place ones are not named."""
    spec = make_spec(
        desired_cluster("a", region="eu-west-1", gpu_type="H200_SXM", num_gpus=16, oidc_config=OIDC)
    )
    live = api_cluster("a", oidc_config={**OIDC, "client_id": "x", "issuer_url": "https://y"})
    action = only_action(diff(spec, live))
    assert action.reason.startswith("changing gpu_type, oidc_config, region forces replacement")
    assert [(c.path, c.forces_replacement) for c in action.changes] == [
        ("gpu_type", True),
        ("num_gpus", False),
        ("oidc_config.client_id", True),
        ("oidc_config.issuer_url", True),
        ("region", True),
    ]


@pytest.mark.parametrize(
    ("lifecycle", "allow"),
    [
        (Lifecycle(replace_on_change=True), ()),
        (Lifecycle(), ("train",)),
        (Lifecycle(replace_on_change=True), ("train",)),
    ],
    ids=["replace_on_change", "allow-replace-flag", "both"],
)
def test_replace_allowed_by_lifecycle_or_flag(lifecycle: Lifecycle, allow: tuple[str, ...]) -> None:
    """replace_on_change or --allow-replace NAME turns the blocked replace into a replace."""
    spec = make_spec(desired_cluster("train", region="eu-west-1", lifecycle=lifecycle))
    action = only_action(
        diff(spec, api_cluster("train", "c-7", status="Degraded"), allow_replace=allow)
    )
    assert (action.kind, action.resource_id, action.intended) == (ActionKind.REPLACE, "c-7", None)
    assert thaw(action.body) == {**BASE_FIELDS, "region": "eu-west-1", "cluster_name": "train"}
    assert action.notes == ("live status is Degraded",)


def test_allow_replace_for_another_name_does_not_allow() -> None:
    """--allow-replace names one cluster; others stay blocked."""
    spec = make_spec(desired_cluster("train", region="eu-west-1"))
    action = only_action(diff(spec, api_cluster("train"), allow_replace=["other"]))
    assert action.kind is ActionKind.BLOCKED


# --- identity and ownership -------------------------------------------------------------------


@pytest.mark.parametrize(
    "desired",
    [desired_cluster("twin", num_gpus=16), desired_cluster("twin"), absent_cluster("twin")],
    ids=["would-update", "would-be-unchanged", "ensure-absent"],
)
def test_ambiguous_live_name_is_blocked_never_guessed(desired: Desired) -> None:
    """Two live clusters with the spec's name → one blocked action naming both ids."""
    result = diff(make_spec(desired), api_cluster("twin", "c-2"), api_cluster("twin", "c-1"))
    action = only_action(result)
    assert action.kind is ActionKind.BLOCKED
    assert action.reason == (
        "2 live clusters are named 'twin' (ids c-1, c-2); the plan will not guess which one the "
        "spec means: delete or rename the extra one"
    )
    assert result.unchanged == ()


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        ([api_cluster("old", "c-9", status="Ready")], [("delete", "cluster", "old")]),
        ([], []),
        ([api_cluster("old", status="Deleting")], []),
    ],
    ids=["live-deleted", "already-gone", "already-deleting"],
)
def test_ensure_absent(live: list[dict[str, Any]], expected: list[tuple[str, str, str]]) -> None:
    """ensure: absent deletes a live cluster, and does nothing when it is gone or going."""
    result = diff(make_spec(absent_cluster("old")), *live)
    assert summary(result) == expected
    if expected:
        assert (result.actions[0].resource_id, result.actions[0].reason) == (
            "c-9",
            "ensure: absent",
        )


def test_deleting_cluster_counts_as_gone() -> None:
    """A live cluster in Deleting is gone: its name gets a create that waits for the deletion."""
    result = diff(make_spec(desired_cluster("a")), api_cluster("a", "c-old", status="Deleting"))
    action = only_action(result)
    assert action.kind is ActionKind.CREATE
    assert action.notes == ("waits until c-old (Deleting) is gone",)


def test_create_carries_the_full_body() -> None:
    """A create sends every spec field plus cluster_name and project_id; its changes show the
    spec fields and the volume reference, not the name or project (they are in the title)."""
    spec = make_spec(desired_cluster("a", volume="data"), project_id="proj-1")
    action = only_action(diff(spec))
    assert (action.kind, action.resource, action.refs.get("volume")) == (
        ActionKind.CREATE,
        "cluster",
        "data",
    )
    assert thaw(action.body) == {**BASE_FIELDS, "cluster_name": "a", "project_id": "proj-1"}
    assert changes_of(action)[-2:] == [("region", None, "us-central-8"), ("volume", None, "data")]
    assert [c.path for c in action.changes] == sorted([*BASE_FIELDS, "volume"])
    assert all(c.before is None for c in action.changes)
    assert action.reason == "declared in the spec, not found live"


def test_unmanaged_clusters_are_listed_never_deleted() -> None:
    """Live clusters outside the spec are listed as unmanaged and produce no action."""
    result = diff(
        make_spec(desired_cluster("mine")),
        api_cluster("mine"),
        api_cluster("theirs-b"),
        api_cluster("theirs-a"),
        api_cluster("gone", status="Deleting"),
    )
    assert result.actions == ()
    assert result.unmanaged == ("theirs-a", "theirs-b")


LIVE_NAMES = ["team-a-x", "team-a-y", "team-b-z", "other", "team-a-kept"]
PRUNES = [
    (Prune(enabled=True, name_prefix="team-a-"), ["team-a-x", "team-a-y"], "enabled"),
    (Prune(enabled=False, name_prefix="team-a-"), [], "disabled"),
    (Prune(enabled=True, name_prefix="nomatch-"), [], "prefix-matches-nothing"),
    (Prune(enabled=True, name_prefix="team-"), ["team-a-x", "team-a-y", "team-b-z"], "wide"),
]


@pytest.mark.parametrize(("prune", "deleted", "_id"), PRUNES, ids=[p[-1] for p in PRUNES])
def test_prune_deletes_only_undeclared_clusters_inside_the_prefix(
    prune: Prune, deleted: list[str], _id: str
) -> None:
    """Prune deletes undeclared live clusters whose name starts with the prefix, only if enabled."""
    spec = make_spec(desired_cluster("team-a-kept"), prune=prune)
    result = diff(spec, *(api_cluster(n) for n in LIVE_NAMES))
    assert sorted(a.name for a in result.actions if a.kind is ActionKind.DELETE) == deleted
    assert all(a.kind is ActionKind.DELETE for a in result.actions)
    assert sorted(result.unmanaged) == sorted(set(LIVE_NAMES) - {"team-a-kept", *deleted})
    for action in result.actions:
        assert action.reason == f"prune: not declared, name starts with {prune.name_prefix!r}"


def test_prune_deletes_each_undeclared_twin() -> None:
    """Two undeclared live clusters with one name inside the prefix are both pruned."""
    spec = make_spec(desired_cluster("p-keep"), prune=Prune(enabled=True, name_prefix="p-"))
    result = diff(spec, api_cluster("p-keep"), api_cluster("p-x", "c-1"), api_cluster("p-x", "c-2"))
    assert [(a.kind, a.resource_id) for a in result.actions] == [
        (ActionKind.DELETE, "c-1"),
        (ActionKind.DELETE, "c-2"),
    ]


@pytest.mark.parametrize(
    "prune",
    [Prune(), Prune(enabled=True, name_prefix="team-a-")],
    ids=["no-prune", "prune-enabled"],
)
def test_empty_spec_never_plans_a_delete(prune: Prune) -> None:
    """A spec that declares nothing deletes nothing, even with prune enabled."""
    result = diff(make_spec(prune=prune), api_cluster("team-a-x"), api_cluster("other"))
    assert result.actions == ()
    assert result.unmanaged == ("other", "team-a-x")


def test_create_only_fields_give_one_note_and_no_diff() -> None:
    """Create-only fields on existing clusters → one plan note naming them, never a diff."""
    spec = make_spec(
        desired_cluster("a", duration_days=3, auto_scale_max_gpus=64),
        desired_cluster("b", slurm_image="img:2"),
        desired_cluster("c"),
        desired_cluster("new", duration_days=5),
    )
    result = diff(spec, api_cluster("a", duration_hours=24), api_cluster("b"), api_cluster("c"))
    assert summary(result) == [("create", "cluster", "new")]
    assert result.notes == (
        "create-only fields (sent on create, never reported back by the API) are set on a, b: "
        "changes to them cannot be detected and are not applied to existing clusters",
    )


def test_project_id_alone_gives_no_create_only_note() -> None:
    """project_id scopes the spec; it is not worth a create-only note."""
    result = diff(make_spec(desired_cluster("a", project_id="p")), api_cluster("a"))
    assert result.notes == ()


# --- volumes ----------------------------------------------------------------------------------


def test_volume_create() -> None:
    """A declared volume missing live → create with volume_name, region, size and project."""
    result = diff(make_spec(volumes=[desired_volume("data", size_tib=4)], project_id="p"))
    action = only_action(result)
    assert (action.kind, action.resource) == (ActionKind.CREATE, "volume")
    assert thaw(action.body) == {
        "volume_name": "data",
        "region": "us-central-8",
        "size_tib": 4,
        "project_id": "p",
    }
    assert [c.path for c in action.changes] == ["region", "size_tib"]


def test_volume_unchanged() -> None:
    """A volume matching its spec produces no action and is counted unchanged."""
    result = diff(make_spec(volumes=[desired_volume("data")]), volumes=[api_volume("data")])
    assert (result.actions, result.unchanged) == ((), ("volume.data",))


def test_volume_grow_is_an_update() -> None:
    """A larger size_tib → update with only the new size in the body."""
    result = diff(
        make_spec(volumes=[desired_volume("data", size_tib=20)]),
        volumes=[api_volume("data", "v-1", size_tib=10)],
    )
    action = only_action(result)
    assert (action.kind, action.resource_id) == (ActionKind.UPDATE, "v-1")
    assert changes_of(action) == [("size_tib", 10, 20)]
    assert thaw(action.body) == {"size_tib": 20}


def test_volume_shrink_is_blocked() -> None:
    """A smaller size_tib is blocked with the reason: volumes only grow."""
    result = diff(
        make_spec(volumes=[desired_volume("data", size_tib=5)]),
        volumes=[api_volume("data", size_tib=10)],
    )
    action = only_action(result)
    assert (action.kind, action.intended) == (ActionKind.BLOCKED, ActionKind.UPDATE)
    assert action.reason == (
        "shrinking a shared volume (10 -> 5 TiB) is not supported by the API; volumes can only grow"
    )


@pytest.mark.parametrize(
    ("lifecycle", "allow", "kind"),
    [
        (Lifecycle(), (), ActionKind.BLOCKED),
        (Lifecycle(replace_on_change=True), (), ActionKind.REPLACE),
        (Lifecycle(), ("data",), ActionKind.REPLACE),
    ],
    ids=["blocked", "replace_on_change", "allow-replace"],
)
def test_volume_region_change_forces_replacement(
    lifecycle: Lifecycle, allow: tuple[str, ...], kind: ActionKind
) -> None:
    """A volume's region cannot change: a replace, blocked unless allowed."""
    spec = make_spec(volumes=[desired_volume("data", region="eu-west-1", lifecycle=lifecycle)])
    action = only_action(diff(spec, volumes=[api_volume("data")], allow_replace=allow))
    assert action.kind is kind
    assert [(c.path, c.forces_replacement) for c in action.changes] == [("region", True)]
    if kind is ActionKind.BLOCKED:
        assert action.reason == (
            "changing region forces replacement of the volume and loses its data; set "
            "lifecycle.replace_on_change: true or pass --allow-replace data"
        )


def test_volume_delete_while_used_by_a_remaining_cluster_is_blocked() -> None:
    """Deleting a volume a live cluster still uses is blocked, naming the cluster."""
    spec = make_spec(
        desired_cluster("user"), volumes=[desired_volume("data", ensure=Ensure.ABSENT)]
    )
    result = diff(spec, api_cluster("user", volumes=["v-data"]), volumes=[api_volume("data")])
    action = only_action(result)
    assert (action.kind, action.intended) == (ActionKind.BLOCKED, ActionKind.DELETE)
    assert action.reason == "still used by cluster(s) user"


def test_volume_delete_while_referenced_by_the_spec_is_blocked() -> None:
    """Deleting a volume that a declared cluster refers to by name is blocked."""
    spec = make_spec(
        desired_cluster("new", volume="data"),
        volumes=[desired_volume("data", ensure=Ensure.ABSENT)],
    )
    result = diff(spec, volumes=[api_volume("data")])
    blocked = [a for a in result.actions if a.resource == "volume"]
    assert [(a.kind, a.reason) for a in blocked] == [
        (ActionKind.BLOCKED, "still used by cluster(s) new")
    ]


@pytest.mark.parametrize(
    "user_status", ["Ready", "Deleting"], ids=["deleted-in-this-plan", "already-deleting"]
)
def test_volume_delete_allowed_when_its_cluster_goes(user_status: str) -> None:
    """A volume may be deleted when the cluster using it is deleted in the same plan."""
    spec = make_spec(absent_cluster("user"), volumes=[desired_volume("data", ensure=Ensure.ABSENT)])
    result = diff(
        spec,
        api_cluster("user", status=user_status, volumes=["v-data"]),
        volumes=[api_volume("data", "v-data")],
    )
    volume_actions = [a for a in result.actions if a.resource == "volume"]
    assert [(a.kind, a.resource_id) for a in volume_actions] == [(ActionKind.DELETE, "v-data")]


def test_volume_absent_and_gone_is_nothing() -> None:
    """ensure: absent on a volume that does not exist plans nothing."""
    assert diff(make_spec(volumes=[desired_volume("data", ensure=Ensure.ABSENT)])).actions == ()


def test_undeclared_live_volumes_are_never_touched() -> None:
    """Volumes outside the spec are not deleted, even with prune enabled."""
    spec = make_spec(desired_cluster("p-a"), prune=Prune(enabled=True, name_prefix="p-"))
    result = diff(spec, api_cluster("p-a"), volumes=[api_volume("p-vol")])
    assert result.actions == ()


# --- property: a cluster against the API's echo of itself -------------------------------------

GPUS = st.integers(min_value=1, max_value=16).map(lambda n: n * 8)
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
NAMES = st.text(alphabet="abcdefghij-", min_size=1, max_size=8)
ADD_ON = st.fixed_dictionaries(
    {"add_on_type": st.sampled_from(["dashboard", "ingress", "headlamp"]), "name": NAMES},
    optional={
        "config": st.fixed_dictionaries(
            {"dashboard": st.fixed_dictionaries({"enabled": st.booleans()})}
        )
    },
)
OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "cluster_type": st.sampled_from(["KUBERNETES", "SLURM", "kubernetes", "Slurm"]),
    "install_traefik": st.booleans(),
    "num_preemptible_gpus": GPUS,
    "num_capacity_pool_gpus": GPUS,
    "capacity_pool_id": NAMES,
    "slurm_shm_size_gib": st.integers(min_value=1, max_value=512),
    "reservation_start_time": INSTANTS.map(lambda d: d.isoformat()),
    "reservation_end_time": INSTANTS.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    "cluster_config": st.fixed_dictionaries(
        {"load_balancer": st.sampled_from(["NONE", "TRAEFIK", "NGINX"])},
        optional={
            "jumphost_enabled": st.booleans(),
            "ingress": st.fixed_dictionaries({"enabled": st.booleans()}),
        },
    ),
    "add_ons": st.lists(ADD_ON, max_size=3, unique_by=lambda a: a["name"]),
    "oidc_config": st.fixed_dictionaries(
        {k: NAMES for k in OIDC if k != "ca_cert"}, optional={"ca_cert": st.just("PEM")}
    ),
    "duration_days": st.integers(min_value=1, max_value=90),
    "auto_scale": st.booleans(),
    "auto_scale_max_gpus": GPUS,
    "slurm_image": NAMES,
    "project_id": NAMES,
}


@st.composite
def cluster_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Spec fields of one cluster, as a user could write them (defaults merged)."""
    fields: dict[str, Any] = {
        "region": draw(st.sampled_from(["us-central-8", "eu-west-1"])),
        "gpu_type": draw(st.sampled_from(["H100_SXM", "h200_sxm", "B200_SXM"])),
        "billing_type": draw(st.sampled_from(["ON_DEMAND", "RESERVED", "SCHEDULED_CAPACITY"])),
        "num_gpus": draw(GPUS),
    }
    if draw(st.booleans()):
        fields.update(
            cuda_version=draw(st.sampled_from(["12.6", 12.8])), nvidia_driver_version="560"
        )
    else:
        fields["nvidia_version_id"] = draw(NAMES)
    for key, strategy in OPTIONAL_FIELDS.items():
        if draw(st.booleans()):
            fields[key] = draw(strategy)
    if fields["billing_type"] == "RESERVED" and draw(st.booleans()):
        fields["num_reserved_gpus"] = draw(GPUS)
    return fields


def server_echo(fields: Mapping[str, Any], rng: random.Random) -> dict[str, Any]:
    """The API object for a cluster created from `fields`, in one of the ways the API may say it:
    other enum case, other time offset, defaults omitted or explicit, extra nested keys, add-ons
    in another order, ca_cert not echoed, the autoscaler's own GPU count, duration in hours."""
    echo = echo_fields(fields)
    for key in ("gpu_type", "billing_type", "cluster_type"):
        if key in echo and rng.random() < 0.5:
            echo[key] = rng.choice([str.lower, str.upper])(str(echo[key]))
    for key in ("reservation_start_time", "reservation_end_time"):
        if key in echo:
            offset = timezone(timedelta(hours=rng.randint(-11, 12)))
            instant = datetime.fromisoformat(echo[key].replace("Z", "+00:00"))
            echo[key] = instant.astimezone(offset).isoformat()
    defaults = {
        "cluster_type": "KUBERNETES",
        "install_traefik": False,
        "desired_preemptible_gpus": 0,
    }
    for key, default in defaults.items():
        if key not in echo and rng.random() < 0.5:
            echo[key] = default
        elif echo.get(key) == default and rng.random() < 0.5:
            del echo[key]  # an API may omit a field at its default
    if "cluster_config" in echo:
        echo["cluster_config"]["gpu_operator_version"] = "v24.9"
    if "add_ons" in echo:
        for add_on in echo["add_ons"]:
            add_on["state"] = {add_on["add_on_type"]: {}}
        rng.shuffle(echo["add_ons"])
    if "oidc_config" in echo and rng.random() < 0.5:
        echo["oidc_config"].pop("ca_cert", None)
    if fields.get("auto_scale"):
        echo["num_gpus"] = rng.choice([8, 64, 512])
    if "duration_days" in fields:
        echo["duration_hours"] = fields["duration_days"] * 24
    echo.setdefault("num_reserved_gpus", 0)
    echo.setdefault("num_capacity_pool_gpus", 0)
    return {
        "cluster_id": "c-1",
        "cluster_name": "x",
        "status": "Ready",
        "kube_config": "secret",
        "volumes": [],
        "allocated_preemptible_gpus": 0,
        **echo,
    }


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=cluster_fields(), seed=st.integers(min_value=0, max_value=2**32))
def test_property_cluster_against_its_own_echo_has_no_diff(
    fields: dict[str, Any], seed: int
) -> None:
    """For any spec cluster, the API's echo of that cluster diffs to nothing (plan-after-apply)."""
    spec = make_spec(desired_cluster("x", base={}, **fields))
    result = compute_actions(spec, live_state(server_echo(fields, random.Random(seed))))
    assert result.actions == ()
    assert result.unchanged[0] == "cluster.x"
    assert len(result.unchanged) == 1 + len(fields.get("add_ons", ()))


def test_unreported_volume_region_is_assumed_and_said() -> None:
    """The real API reports no volume region: nothing to do, and a note says a region change
    cannot be seen."""
    spec = make_spec(volumes=[desired_volume("data", region="eu-west-1")])
    unreported = {k: v for k, v in api_volume("data").items() if k != "region"}
    result = diff(spec, volumes=[unreported])
    assert result.actions == ()
    assert result.notes == (
        "the API does not report the region of volumes data: a change to it cannot be seen, "
        "and the spec's value is taken as live",
    )


def test_num_gpus_of_an_autoscaled_cluster_is_named_as_not_compared() -> None:
    """auto_scale: the autoscaler owns num_gpus; a spec that sets it gets a note, not silence."""
    spec = make_spec(desired_cluster("a", auto_scale=True, auto_scale_max_gpus=64, num_gpus=16))
    result = diff(spec, api_cluster("a", num_gpus=40))
    assert result.actions == ()
    assert result.notes[0].startswith("num_gpus of a is the autoscaler's to set")


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["a", "b"]))


@settings(max_examples=200, deadline=None)
@given(
    before=st.dictionaries(st.sampled_from(["x", "y", "z"]), SCALARS, min_size=3),
    after_values=st.lists(SCALARS, min_size=3, max_size=3),
)
def test_scalar_changes_are_what_deepdiff_finds(
    before: dict[str, Any], after_values: list[Any]
) -> None:
    """The scalar shortcut gives exactly deepdiff's changes, or leaves the case to deepdiff."""
    from deepdiff import DeepDiff

    from reconciler.diff.resource import _scalar_changes

    after = dict(zip(sorted(before), after_values, strict=True))
    fast = _scalar_changes(before, after, frozenset({"x"}))
    if fast is None:
        return
    diff = DeepDiff(before, after, view="tree", verbose_level=2)
    found = sorted(
        (level.path(output_format="list")[0], level.t1, level.t2)
        for levels in diff.values()
        for level in levels
    )
    assert [(c.path, c.before, c.after) for c in fast] == found
    assert all(c.forces_replacement == (c.path == "x") for c in fast)
