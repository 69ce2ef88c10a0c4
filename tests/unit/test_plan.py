"""plan.py: order (DESIGN §6), safety rules (§4), staleness of saved plans, their JSON form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.diff import Wanted
from reconciler.errors import PlanFileError, SelectionError, StalePlanError, UnsafePlanError
from reconciler.live import parse_live_state
from reconciler.model import (
    Action,
    ActionKind,
    Ensure,
    GpuChange,
    Lifecycle,
    LiveState,
    Plan,
    Prune,
    Spec,
)
from reconciler.plan import (
    FORMAT_VERSION,
    PlanOptions,
    action_rank,
    build_plan,
    destroy_spec,
    plan_from_dict,
    plan_to_dict,
    raise_if_differs,
    raise_if_stale,
    raise_if_unsafe,
)
from reconciler.render import render_json, render_markdown, render_text
from tests.unit.factories import (
    absent_cluster,
    api_cluster,
    api_volume,
    clusters_of,
    desired_cluster,
    desired_volume,
    live_state,
    make_spec,
    volumes_of,
)

REPLACEABLE = Lifecycle(replace_on_change=True)
PROTECTED = Lifecycle(prevent_destroy=True)


def kinds(plan: Plan) -> list[tuple[str, str, str]]:
    return [(str(a.kind), str(a.resource), a.name) for a in plan.actions]


def every_kind() -> tuple[Spec, LiveState]:
    """One action of each kind, with names whose alphabetical order is not the plan order."""
    spec = make_spec(
        desired_cluster("a-new"),
        desired_cluster("b-grow", num_gpus=16),
        desired_cluster("c-move", gpu_type="H200_SXM", lifecycle=REPLACEABLE),
        absent_cluster("d-old"),
        desired_cluster("e-stuck", region="eu-west-1"),
        volumes=[
            desired_volume("z-vol-new"),
            desired_volume("y-vol-grow", size_tib=20),
            desired_volume("x-vol-old", ensure=Ensure.ABSENT),
        ],
        project_id="proj-123",
        digest="sha256:spec",
    )
    live = live_state(
        api_cluster("b-grow"),
        api_cluster("c-move"),
        api_cluster("d-old"),
        api_cluster("e-stuck"),
        api_cluster("unmanaged"),
        volumes=[api_volume("y-vol-grow"), api_volume("x-vol-old")],
    )
    return spec, live


# --- order ------------------------------------------------------------------------------------


def test_actions_follow_the_design_order() -> None:
    """Volume creates/resizes → cluster replaces → creates → updates → cluster deletes → volume
    deletes, blocked last; names break ties."""
    plan = build_plan(*every_kind())
    assert kinds(plan) == [
        ("update", "volume", "y-vol-grow"),
        ("create", "volume", "z-vol-new"),
        ("replace", "cluster", "c-move"),
        ("create", "cluster", "a-new"),
        ("update", "cluster", "b-grow"),
        ("delete", "cluster", "d-old"),
        ("delete", "volume", "x-vol-old"),
        ("blocked", "cluster", "e-stuck"),
    ]


@pytest.mark.parametrize(
    ("resource", "kind", "rank"),
    [
        ("volume", ActionKind.CREATE, 0),
        ("volume", ActionKind.UPDATE, 0),
        ("cluster", ActionKind.REPLACE, 1),
        ("cluster", ActionKind.CREATE, 2),
        ("cluster", ActionKind.UPDATE, 3),
        ("cluster", ActionKind.DELETE, 4),
        ("volume", ActionKind.DELETE, 6),
        ("cluster", ActionKind.BLOCKED, 9),
        ("volume", ActionKind.BLOCKED, 9),
    ],
    ids=lambda v: str(v),
)
def test_action_rank(resource: str, kind: ActionKind, rank: int) -> None:
    """Each (resource, kind) has its fixed place in the order."""
    assert action_rank(Action(kind=kind, resource=resource, name="x")) == rank


def test_same_rank_sorts_by_name_then_id() -> None:
    """Pruned twins of one name come out in id order."""
    spec = make_spec(desired_cluster("p-keep"), prune=Prune(enabled=True, name_prefix="p-"))
    live = live_state(
        api_cluster("p-keep"),
        api_cluster("p-b", "c-2"),
        api_cluster("p-a", "c-9"),
        api_cluster("p-b", "c-1"),
    )
    plan = build_plan(spec, live)
    assert [(a.name, a.resource_id) for a in plan.actions] == [
        ("p-a", "c-9"),
        ("p-b", "c-1"),
        ("p-b", "c-2"),
    ]


# --- prevent_destroy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desired", "verb", "why"),
    [
        (absent_cluster("keep", lifecycle=PROTECTED), "delete", "ensure: absent"),
        (
            desired_cluster(
                "keep",
                region="eu-west-1",
                lifecycle=Lifecycle(prevent_destroy=True, replace_on_change=True),
            ),
            "replace",
            "a field that cannot be updated in place changed",
        ),
    ],
    ids=["delete", "replace"],
)
def test_prevent_destroy_blocks_delete_and_replace(desired: Any, verb: str, why: str) -> None:
    """prevent_destroy turns a delete or replace into a blocked action naming it and the setting."""
    plan = build_plan(make_spec(desired), live_state(api_cluster("keep")))
    (action,) = plan.actions
    assert (action.kind, action.intended) == (ActionKind.BLOCKED, ActionKind(verb))
    assert action.reason == (
        f"cluster 'keep' has lifecycle.prevent_destroy: true, and this plan would {verb} it "
        f"({why}); remove the setting to allow it"
    )
    assert plan.is_blocked and not plan.has_changes


def test_prevent_destroy_allows_updates() -> None:
    """prevent_destroy does not stop an in-place update."""
    spec = make_spec(desired_cluster("keep", num_gpus=16, lifecycle=PROTECTED))
    plan = build_plan(spec, live_state(api_cluster("keep")))
    assert kinds(plan) == [("update", "cluster", "keep")]
    assert not plan.is_blocked


def test_prevent_destroy_on_a_volume() -> None:
    """A protected volume's delete is blocked too."""
    spec = make_spec(volumes=[desired_volume("data", ensure=Ensure.ABSENT, lifecycle=PROTECTED)])
    (action,) = build_plan(spec, live_state(volumes=[api_volume("data")])).actions
    assert action.kind is ActionKind.BLOCKED
    assert action.reason.startswith("volume 'data' has lifecycle.prevent_destroy: true")


def test_protected_cluster_keeps_its_volume() -> None:
    """A volume delete relying on a cluster delete that prevent_destroy blocked is blocked too."""
    spec = make_spec(
        absent_cluster("user", lifecycle=PROTECTED),
        volumes=[desired_volume("data", ensure=Ensure.ABSENT)],
    )
    live = live_state(api_cluster("user", volumes=["v-data"]), volumes=[api_volume("data")])
    plan = build_plan(spec, live)
    assert [(a.kind, a.intended, a.name) for a in plan.actions] == [
        (ActionKind.BLOCKED, ActionKind.DELETE, "data"),
        (ActionKind.BLOCKED, ActionKind.DELETE, "user"),
    ]


# --- max_deletes ------------------------------------------------------------------------------


def deletes(n: int) -> tuple[Spec, LiveState]:
    names = [f"old-{i}" for i in range(n)]
    return (
        make_spec(*(absent_cluster(n) for n in names)),
        live_state(*(api_cluster(n) for n in names)),
    )


@pytest.mark.parametrize(
    ("n", "max_deletes", "refused"),
    [(3, 3, False), (4, 3, True), (4, 4, False), (1, 0, True), (0, 0, False)],
    ids=["at-default-limit", "over-default", "raised", "zero-limit", "nothing-to-delete"],
)
def test_max_deletes(n: int, max_deletes: int, refused: bool) -> None:
    """More deletes than --max-deletes (default 3) refuses the whole plan."""
    plan = build_plan(*deletes(n), PlanOptions(max_deletes=max_deletes))
    assert bool(plan.refusals) is refused
    assert plan.is_blocked is refused
    assert plan.count(ActionKind.DELETE) == n


def test_max_deletes_default_is_three_and_message_names_everything() -> None:
    """The refusal lists the resources and says which flag raises the limit."""
    plan = build_plan(*deletes(4))
    assert plan.refusals == (
        "this plan would delete or replace 4 resources (cluster.old-0, cluster.old-1, "
        "cluster.old-2, cluster.old-3), more than --max-deletes 3; raise --max-deletes if that is "
        "intended",
    )


def test_max_deletes_counts_replaces_not_blocked() -> None:
    """Replaces count as deletes; blocked deletes do not."""
    spec = make_spec(
        *(desired_cluster(f"r{i}", region="eu-west-1", lifecycle=REPLACEABLE) for i in range(3)),
        absent_cluster("p", lifecycle=PROTECTED),
        absent_cluster("d"),
    )
    live = live_state(*(api_cluster(n) for n in ["r0", "r1", "r2", "p", "d"]))
    plan = build_plan(spec, live)
    assert "would delete or replace 4 resources" in plan.refusals[0]
    assert build_plan(spec, live, PlanOptions(max_deletes=4)).refusals == ()


# --- targets and excludes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            PlanOptions(targets=("a-nwe",)),
            "--target 'a-nwe' matches nothing; did you mean 'a-new'?",
        ),
        (PlanOptions(targets=("a-new", "nope")), "--target 'nope' matches nothing; it names no"),
        (PlanOptions(excludes=("zzz",)), "--exclude 'zzz' matches nothing"),
    ],
    ids=["typo", "one-of-two", "exclude"],
)
def test_a_selection_that_names_nothing_is_an_error(options: PlanOptions, message: str) -> None:
    """A mistyped --target or --exclude is an error (exit 1), never a silent "No changes"."""
    spec, live = every_kind()
    with pytest.raises(SelectionError) as caught:
        build_plan(spec, live, options)
    assert str(caught.value).startswith(message)
    assert caught.value.exit_code == 1


@pytest.mark.parametrize(
    ("options", "names"),
    [
        (
            PlanOptions(),
            ["z-vol-new", "c-move", "a-new", "b-grow", "d-old", "x-vol-old", "e-stuck"],
        ),
        (PlanOptions(targets=("a-new",)), ["a-new"]),
        (
            PlanOptions(excludes=("a-new", "e-stuck")),
            ["z-vol-new", "c-move", "b-grow", "d-old", "x-vol-old"],
        ),
        (PlanOptions(targets=("a-new", "b-grow"), excludes=("b-grow",)), ["a-new"]),
        (PlanOptions(targets=("c-move",), excludes=("c-move",)), []),
    ],
    ids=["all", "one-target", "excludes", "exclude-wins", "excluded-target"],
)
def test_targets_and_excludes_select_actions(options: PlanOptions, names: list[str]) -> None:
    """--target keeps only the named resources; --exclude drops named ones, and wins."""
    spec, live = every_kind()
    spec = make_spec(*clusters_of(spec), volumes=volumes_of(spec)[::2])
    plan = build_plan(spec, live, options)
    assert [a.name for a in plan.actions] == names
    assert set(plan.fingerprints) == {a.key for a in plan.actions}


@pytest.mark.parametrize(
    "options",
    [PlanOptions(excludes=("user",)), PlanOptions(targets=("data",))],
    ids=["cluster-excluded", "only-volume-targeted"],
)
def test_volume_delete_blocked_when_its_cluster_delete_is_not_selected(
    options: PlanOptions,
) -> None:
    """Without its cluster's delete in the plan, a volume delete would orphan it: blocked."""
    spec = make_spec(absent_cluster("user"), volumes=[desired_volume("data", ensure=Ensure.ABSENT)])
    live = live_state(api_cluster("user", volumes=["v-data"]), volumes=[api_volume("data")])
    (action,) = build_plan(spec, live, options).actions
    assert (action.kind, action.intended, action.name) == (
        ActionKind.BLOCKED,
        ActionKind.DELETE,
        "data",
    )
    assert action.reason == "still used by cluster(s) user, which this plan does not delete"


# --- GPU capacity -----------------------------------------------------------------------------


def test_gpu_changes_per_type() -> None:
    """GPU capacity before/after per type: creates add, deletes subtract, updates and replaces
    move; Deleting clusters and blocked actions do not count; unmanaged ones stay in totals."""
    spec = make_spec(
        desired_cluster("new", gpu_type="H200_SXM", num_gpus=16),
        desired_cluster("grow", num_gpus=32),
        desired_cluster("move", gpu_type="b200_sxm", num_gpus=24, lifecycle=REPLACEABLE),
        absent_cluster("old"),
        desired_cluster("stuck", region="eu-west-1", num_gpus=64),
        desired_cluster("same"),
    )
    live = live_state(
        api_cluster("grow", num_gpus=16),
        api_cluster("move", num_gpus=8),
        api_cluster("old", gpu_type="H200_SXM", num_gpus=8),
        api_cluster("stuck", num_gpus=8),
        api_cluster("same", num_gpus=8),
        api_cluster("theirs", gpu_type="l40_pcie", num_gpus=8),
        api_cluster("going", status="Deleting", num_gpus=800),
    )
    plan = build_plan(spec, live)
    # H100: grow 16 + move 8 + stuck 8 + same 8 = 40 → grow 32 + stuck 8 + same 8 = 48
    assert plan.gpu_changes == (
        GpuChange("B200_SXM", 0, 24),
        GpuChange("H100_SXM", 40, 48),
        GpuChange("H200_SXM", 8, 16),
    )


def test_no_gpu_change_when_capacity_is_unchanged() -> None:
    """Types whose total does not move are left out."""
    plan = build_plan(make_spec(desired_cluster("a")), live_state(api_cluster("a")))
    assert plan.gpu_changes == ()


# --- safety errors ----------------------------------------------------------------------------


def test_raise_if_unsafe_passes_a_clean_plan() -> None:
    """A plan without blocked actions or refusals is safe."""
    raise_if_unsafe(build_plan(make_spec(desired_cluster("a")), live_state()))


def test_raise_if_unsafe_names_every_blocked_resource_and_rule() -> None:
    """UnsafePlanError (exit 3) lists each blocked resource and each plan-wide refusal."""
    spec, live = deletes(4)
    spec = make_spec(*clusters_of(spec), desired_cluster("moved", region="eu-west-1"))
    live = LiveState(resources=(*live.resources, *live_state(api_cluster("moved")).resources))
    with pytest.raises(UnsafePlanError) as caught:
        raise_if_unsafe(build_plan(spec, live))
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        "plan blocked by a safety rule:\n"
        "  cluster 'moved': changing region forces replacement (delete, then create); set "
        "lifecycle.replace_on_change: true or pass --allow-replace moved\n"
        "  this plan would delete or replace 4 resources (cluster.old-0, cluster.old-1, "
        "cluster.old-2, cluster.old-3), more than --max-deletes 3; raise --max-deletes if that "
        "is intended"
    )


# --- stale saved plans ------------------------------------------------------------------------

STALE_SPEC = make_spec(
    desired_cluster("grow", num_gpus=16),
    desired_cluster("new"),
    absent_cluster("old"),
    desired_cluster("same"),
)
BASE_LIVE = [api_cluster("grow"), api_cluster("old"), api_cluster("same"), api_cluster("theirs")]


def with_live(**changes: dict[str, Any] | None) -> LiveState:
    """BASE_LIVE with clusters replaced (a dict), removed (None) or added (a new name)."""
    by_name: dict[str, dict[str, Any]] = {c["cluster_name"]: c for c in BASE_LIVE}
    for name, obj in changes.items():
        if obj is None:
            by_name.pop(name)
        else:
            by_name[name] = obj
    return parse_live_state({"cluster": list(by_name.values())})


@pytest.mark.parametrize(
    ("live", "message"),
    [
        (with_live(grow=api_cluster("grow", num_gpus=16)), "cluster grow: num_gpus 8 -> 16"),
        (with_live(new=api_cluster("new")), "cluster new: appeared"),
        (with_live(old=None), "cluster old: disappeared"),
        (with_live(old=api_cluster("old", status="Deleting")), "cluster old: disappeared"),
        (
            with_live(grow=api_cluster("grow", "c-other")),
            "cluster grow: ids changed (c-grow -> c-other)",
        ),
        (
            with_live(grow=api_cluster("grow", region="eu-west-1", cluster_type="SLURM")),
            'cluster grow: cluster_type "KUBERNETES" -> "SLURM", region "us-central-8" -> '
            '"eu-west-1"',
        ),
    ],
    ids=["touched-changed", "appeared", "disappeared", "now-deleting", "recreated", "two-fields"],
)
def test_stale_plan_names_the_cluster_and_the_change(live: LiveState, message: str) -> None:
    """StalePlanError (exit 4) when a touched live cluster changed, appeared or disappeared."""
    plan = saved(build_plan(STALE_SPEC, with_live()))
    with pytest.raises(StalePlanError) as caught:
        raise_if_stale(plan, live)
    assert caught.value.exit_code == 4
    assert str(caught.value) == (
        "the saved plan is stale; live state changed since it was made:\n"
        f"  {message}\n"
        "Run `reconciler plan` again and review the new plan."
    )


@pytest.mark.parametrize(
    "live",
    [
        with_live(),
        with_live(same=api_cluster("same", num_gpus=64)),
        with_live(theirs=None),
        with_live(extra=api_cluster("extra")),
        with_live(grow=api_cluster("grow", status="Degraded")),
    ],
    ids=[
        "nothing-changed",
        "untouched-changed",
        "unmanaged-gone",
        "unmanaged-appeared",
        "status-only",
    ],
)
def test_stale_check_passes_when_touched_clusters_are_as_planned(live: LiveState) -> None:
    """Changes to clusters the plan does not touch, or to status alone, do not make it stale."""
    raise_if_stale(saved(build_plan(STALE_SPEC, with_live())), live)


def test_stale_check_on_volumes() -> None:
    """A touched volume that changed size makes the plan stale."""
    spec = make_spec(volumes=[desired_volume("data", size_tib=20)])
    plan = saved(build_plan(spec, live_state(volumes=[api_volume("data")])))
    with pytest.raises(StalePlanError, match="volume data: size_tib 10 -> 15"):
        raise_if_stale(plan, live_state(volumes=[api_volume("data", size_tib=15)]))


# --- saved plan JSON --------------------------------------------------------------------------


def saved(plan: Plan) -> Plan:
    """The plan as `apply PLANFILE` reads it back."""
    return plan_from_dict(json.loads(json.dumps(plan_to_dict(plan))))


def test_plan_json_round_trip_is_equal() -> None:
    """plan_to_dict → JSON → plan_from_dict gives back an equal plan (no secrets in it)."""
    spec, live = every_kind()
    spec = make_spec(
        *clusters_of(spec),
        desired_cluster(
            "f-addons",
            add_ons=[{"add_on_type": "dashboard", "name": "d"}],
            cluster_config={"load_balancer": "NONE"},
            duration_days=3,
        ),
        absent_cluster("g", lifecycle=PROTECTED),
        desired_cluster("h-list", add_ons=[{"add_on_type": "ingress", "name": "i"}]),
        volumes=volumes_of(spec),
        project_id=spec.project_id,
        digest=spec.digest,
    )
    extra = live_state(
        api_cluster("f-addons", add_ons=[{"add_on_type": "dashboard", "name": "d", "x": 1}]),
        api_cluster("g"),
    )
    live = LiveState(resources=(*live.resources, *extra.resources))
    plan = build_plan(spec, live, PlanOptions(max_deletes=1))
    assert plan.refusals and plan.notes and plan.gpu_changes and plan.unmanaged
    assert {a.kind for a in plan.actions} == set(ActionKind)
    assert saved(plan) == plan
    assert plan_to_dict(saved(plan)) == plan_to_dict(plan)


def test_plan_json_header() -> None:
    """The JSON form is versioned and carries the counts, project and spec digest."""
    data = plan_to_dict(build_plan(*every_kind()))
    assert data["format_version"] == FORMAT_VERSION == 1
    assert (data["project_id"], data["spec_digest"]) == ("proj-123", "sha256:spec")
    assert data["summary"] == {
        "create": 2,
        "update": 2,
        "replace": 1,
        "delete": 2,
        "blocked": 1,
        "unchanged": 0,
        "unmanaged": 1,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "plan.json: not a reconciler plan (no format_version)"),
        ("text", "plan.json: not a reconciler plan (no format_version)"),
        ({"actions": []}, "plan.json: not a reconciler plan (no format_version)"),
        (
            {"format_version": 2, "actions": []},
            "plan.json: plan format_version 2 is not supported (this reconciler reads 1); make "
            "the plan again",
        ),
        ({"format_version": 1}, "plan.json: damaged plan ('actions'); make the plan again"),
        ({"format_version": 1, "actions": []}, "plan.json: damaged plan ('fingerprints')"),
        ({"format_version": 1, "actions": [{"kind": "explode"}], "fingerprints": {}}, "damaged"),
        ({"format_version": 1, "actions": [7], "fingerprints": {}}, "damaged"),
        ({"format_version": 1, "actions": "abc", "fingerprints": {}}, "damaged"),
        ({"format_version": 1, "actions": [], "fingerprints": 5}, "damaged"),
        (
            {"format_version": 1, "actions": [], "fingerprints": {}, "gpu_changes": [{"x": 1}]},
            "damaged",
        ),
    ],
    ids=[
        "list",
        "string",
        "no-version",
        "future-version",
        "no-actions",
        "no-fingerprints",
        "bad-kind",
        "action-not-object",
        "actions-not-list",
        "fingerprints-not-object",
        "bad-gpu-change",
    ],
)
def test_plan_from_dict_rejects_what_it_did_not_write(data: Any, message: str) -> None:
    """Wrong format_version or garbage → PlanFileError (exit 1) with a one-line cause."""
    with pytest.raises(PlanFileError) as caught:
        plan_from_dict(data, source="plan.json")
    assert message in str(caught.value)
    assert caught.value.exit_code == 1


# --- secrets ----------------------------------------------------------------------------------

CANARY = "CANARY-CA-123"
OIDC = {
    "client_id": "c",
    "issuer_url": "https://idp.example.com",
    "username_claim": "email",
    "username_prefix": "u:",
    "group_claim": "groups",
    "group_prefix": "g:",
}


def secret_spec(ca_cert: str = CANARY) -> Spec:
    oidc = {**OIDC, "ca_cert": ca_cert}
    return make_spec(
        desired_cluster("new", oidc_config=oidc),
        desired_cluster("moved", oidc_config={**oidc, "client_id": "d"}, lifecycle=REPLACEABLE),
        desired_cluster("grown", num_gpus=16, oidc_config=oidc),
    )


def secret_live() -> LiveState:
    return live_state(
        api_cluster("moved", oidc_config={**OIDC, "ca_cert": "CANARY-LIVE-1"}),
        api_cluster("grown", oidc_config={**OIDC, "ca_cert": CANARY}, kube_config="CANARY-KUBE"),
    )


def test_secrets_never_appear_in_saved_plan_or_renders() -> None:
    """oidc_config.ca_cert (desired or live) and kube_config are in no plan output."""
    plan = build_plan(secret_spec(), secret_live())
    assert kinds(plan) == [
        ("replace", "cluster", "moved"),
        ("create", "cluster", "new"),
        ("update", "cluster", "grown"),
    ]
    outputs = {
        "plan_to_dict": json.dumps(plan_to_dict(plan)),
        "text": render_text(plan),
        "text-color": render_text(plan, color=True),
        "json": render_json(plan),
        "markdown": render_markdown(plan),
    }
    for name, text in outputs.items():
        assert "CANARY" not in text, name
    assert "(sensitive)" in outputs["text"]


def test_the_same_plan_made_again_does_not_differ() -> None:
    """A saved plan read back and a plan made now from the same spec and live state agree."""
    plan = build_plan(secret_spec(), secret_live())
    raise_if_differs(saved(plan), build_plan(secret_spec(), secret_live()))


@pytest.mark.parametrize(
    "spec",
    [
        secret_spec("OTHER-CA"),
        make_spec(*secret_spec().of_kind("cluster")[1:]),
    ],
    ids=["different-secret", "cluster-gone-from-spec"],
)
def test_a_plan_made_now_that_differs_is_refused_without_secrets(spec: Spec) -> None:
    """Another secret, or a cluster gone from the spec → StalePlanError (exit 4) naming the
    resource, never the secret."""
    plan = saved(build_plan(secret_spec(), secret_live()))
    with pytest.raises(StalePlanError, match=r"cluster\.") as caught:
        raise_if_differs(plan, build_plan(spec, secret_live()))
    assert CANARY not in str(caught.value)
    assert "OTHER-CA" not in str(caught.value)


def test_an_edited_saved_body_is_refused() -> None:
    """A saved plan whose body was edited (4096 GPUs) is not the plan made now: refused."""
    plan = build_plan(secret_spec(), secret_live())
    data = plan_to_dict(plan)
    for action in data["actions"]:
        if action["kind"] == "create":
            action["body"]["num_gpus"] = 4096
    with pytest.raises(StalePlanError, match="the saved plan's body differ"):
        raise_if_differs(plan_from_dict(data), build_plan(secret_spec(), secret_live()))


def test_stale_message_never_shows_a_secret() -> None:
    """A touched cluster whose ca_cert changed is stale, and the message shows digests only."""
    plan = saved(build_plan(secret_spec(), secret_live()))
    live = live_state(
        api_cluster("moved", oidc_config={**OIDC, "ca_cert": "CANARY-LIVE-2"}),
        api_cluster("grown", oidc_config={**OIDC, "ca_cert": CANARY}),
    )
    with pytest.raises(StalePlanError, match="cluster moved: oidc_config") as caught:
        raise_if_stale(plan, live)
    assert "CANARY" not in str(caught.value)


# --- destroy ----------------------------------------------------------------------------------


def test_destroy_spec_marks_everything_absent() -> None:
    """`destroy` plans the deletion of every declared resource, and nothing undeclared."""
    spec = make_spec(desired_cluster("a"), desired_cluster("b"), volumes=[desired_volume("data")])
    live = live_state(
        api_cluster("a", volumes=["v-data"]), api_cluster("theirs"), volumes=[api_volume("data")]
    )
    plan = build_plan(destroy_spec(spec), live)
    assert kinds(plan) == [("delete", "cluster", "a"), ("delete", "volume", "data")]
    assert plan.unmanaged == ("theirs",)


# --- property: order does not depend on input order -------------------------------------------

NAMES = [f"n{i}" for i in range(6)]
DESIRED_SHAPES = {
    "none": None,
    "same": {},
    "grow": {"num_gpus": 16},
    "replace": {"region": "eu-west-1", "lifecycle": REPLACEABLE},
    "blocked": {"region": "eu-west-1"},
    "absent": "absent",
}
LIVE_SHAPES = ["none", "one", "two", "deleting"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Any], list[dict[str, Any]], Prune]:
    clusters: list[Any] = []
    live: list[dict[str, Any]] = []
    for i, name in enumerate(NAMES):
        shape = DESIRED_SHAPES[draw(st.sampled_from(sorted(DESIRED_SHAPES)))]
        if shape == "absent":
            clusters.append(absent_cluster(name))
        elif isinstance(shape, dict):
            clusters.append(desired_cluster(name, **shape))
        live_shape = draw(st.sampled_from(LIVE_SHAPES))
        if live_shape in ("one", "two"):
            live.append(api_cluster(name, f"c-{i}-a"))
        if live_shape == "two":
            live.append(api_cluster(name, f"c-{i}-b"))
        if live_shape == "deleting":
            live.append(api_cluster(name, f"c-{i}-d", status="Deleting"))
    prune = Prune(enabled=draw(st.booleans()), name_prefix="n")
    return clusters, live, prune


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_property_plan_order_is_independent_of_input_order(
    scenario: tuple[list[Any], list[dict[str, Any]], Prune], data: st.DataObject
) -> None:
    """Shuffling the spec's clusters and the API's list gives the same actions in the same order."""
    clusters, live, prune = scenario
    options = PlanOptions(max_deletes=100)
    first = build_plan(
        make_spec(*clusters, prune=prune), parse_live_state({"cluster": live}), options
    )
    shuffled_clusters = data.draw(st.permutations(clusters))
    shuffled_live = data.draw(st.permutations(live))
    second = build_plan(
        make_spec(*shuffled_clusters, prune=prune),
        parse_live_state({"cluster": shuffled_live}),
        options,
    )
    assert second.actions == first.actions
    assert (second.unmanaged, second.gpu_changes) == (first.unmanaged, first.gpu_changes)
    assert dict(second.fingerprints) == dict(first.fingerprints)


def test_nodes_needing_a_human_are_named_even_without_changes() -> None:
    """A managed cluster with a node repair waiting for approval, or a node not Ready in a
    Ready cluster, is named in the plan (text and markdown), from the list answer alone;
    unmanaged clusters are not."""
    nodes = [
        {
            "node_id": "n-0",
            "host_name": "a-gpu-0",
            "status": "Ready",
            "latest_remediation": {"state": "PENDING_APPROVAL", "mode": "REMEDIATION_MODE_VM_ONLY"},
        },
        {"node_id": "n-1", "host_name": "a-gpu-1", "status": "NotReady"},
        {"node_id": "n-2", "host_name": "a-gpu-2", "status": "Ready"},
    ]
    live = live_state(
        api_cluster("a", gpu_worker_nodes=nodes), api_cluster("other", gpu_worker_nodes=nodes)
    )
    plan = build_plan(make_spec(desired_cluster("a")), live)
    assert not plan.has_changes
    assert plan.attention == (
        'cluster "a": node a-gpu-0: remediation PENDING_APPROVAL (REMEDIATION_MODE_VM_ONLY)',
        'cluster "a": node a-gpu-1: NotReady',
    )
    text = render_text(plan)
    assert 'Attention: cluster "a": node a-gpu-0: remediation PENDING_APPROVAL' in text
    assert ":warning: **Attention:** cluster" in render_markdown(plan)


def test_nodes_of_a_provisioning_cluster_are_not_flagged() -> None:
    """Nodes that are not Ready yet while the cluster provisions are normal, not news."""
    nodes = [{"node_id": "n-1", "host_name": "a-gpu-1", "status": "NotReady"}]
    live = live_state(api_cluster("a", status="InstallingDrivers", gpu_worker_nodes=nodes))
    assert build_plan(make_spec(desired_cluster("a")), live).attention == ()


def test_deleting_a_cluster_with_an_inline_volume_shows_and_counts_the_volume() -> None:
    """A cluster created with `shared_volume` takes it along when deleted: the plan says so,
    with its size, and --max-deletes counts it."""
    inline = {"volume_name": "scratch", "size_tib": 4, "region": "us-central-8"}
    spec = make_spec(absent_cluster("a", shared_volume=inline))
    live = live_state(
        api_cluster("a", volumes=["v-scratch"]), volumes=[api_volume("scratch", size_tib=4)]
    )
    plan = build_plan(spec, live, PlanOptions(max_deletes=1))
    (action,) = plan.actions
    assert action.also_deletes == ("volume.scratch",)
    assert action.notes == (
        'volume "scratch" (4 TiB) was created with it and is deleted with it: its data is deleted',
    )
    assert (
        plan.refusals
        and "delete or replace 2 resources (cluster.a, volume.scratch)" in (plan.refusals[0])
    )
    assert "its data is deleted" in render_text(plan)


def test_a_lifecycle_independent_inline_volume_is_not_taken_along() -> None:
    """is_lifecycle_independent: the volume outlives its cluster, so nothing more is said."""
    inline = {"volume_name": "keep", "size_tib": 4, "is_lifecycle_independent": True}
    spec = make_spec(absent_cluster("a", shared_volume=inline))
    live = live_state(api_cluster("a", volumes=["v-keep"]), volumes=[api_volume("keep")])
    (action,) = build_plan(spec, live).actions
    assert (action.also_deletes, action.notes) == ((), ())


def test_unmanaged_clusters_that_look_dropped_are_named_with_the_hint() -> None:
    """A live cluster named like the spec's (or inside a disabled prune prefix) is named in a
    note saying it still bills and how to delete it; one named otherwise is not."""
    spec = make_spec(desired_cluster("team-a-train"), prune=Prune(name_prefix="old-"))
    live = live_state(
        api_cluster("team-a-train"),
        api_cluster("team-a-eval"),
        api_cluster("old-x"),
        api_cluster("someone-else"),
    )
    plan = build_plan(spec, live)
    assert plan.unmanaged == ("old-x", "someone-else", "team-a-eval")
    (note,) = [n for n in plan.notes if "still running" in n]
    assert note.startswith("old-x, team-a-eval: not in the spec but named like it")
    assert "ensure: absent" in note
    assert "someone-else" not in note
    assert "still running (and billing)" in render_text(plan)


# --- the spec's side worked out before (Wanted, issue 11) -------------------------------------


def test_a_plan_with_the_spec_side_worked_out_before_is_the_same_plan() -> None:
    """`Wanted(spec)` (made while the API answers) gives the very plan `build_plan` makes
    without it: every action kind, ignore_changes, add-ons, and an expired cluster (replaced
    by `expire`, so its entry is not used)."""
    spec, live = every_kind()
    ignoring = desired_cluster(
        "f-ignore", num_gpus=16, lifecycle=Lifecycle(ignore_changes=("num_gpus",))
    )
    expiring = desired_cluster(
        "g-expired", num_gpus=16, lifecycle=Lifecycle(expires_at="2026-01-01T00:00:00Z")
    )
    addons = desired_cluster("h-addons", add_ons=[{"name": "dash", "version": "1.0"}])
    spec = make_spec(*clusters_of(spec), ignoring, expiring, addons, volumes=volumes_of(spec))
    live = live_state(
        *[api_cluster(n) for n in ("b-grow", "c-move", "d-old", "e-stuck", "unmanaged")],
        api_cluster("f-ignore"),
        api_cluster("g-expired"),
        api_cluster("h-addons"),
        volumes=[api_volume("y-vol-grow"), api_volume("x-vol-old")],
    )
    options = PlanOptions(now=1_900_000_000.0)
    assert build_plan(spec, live, options, Wanted(spec)) == build_plan(spec, live, options)


def test_the_spec_side_of_another_spec_is_not_used() -> None:
    """An entry serves only the resource it was made from: planned with the Wanted of a spec
    whose cluster of the same name wants 16 GPUs, a spec wanting 8 plans no change."""
    other = make_spec(desired_cluster("b-grow", num_gpus=16))
    spec = make_spec(desired_cluster("b-grow"))
    live = live_state(api_cluster("b-grow"))
    assert build_plan(spec, live, wanted=Wanted(other)).actions == ()
    assert build_plan(other, live, wanted=Wanted(other)).actions != ()
