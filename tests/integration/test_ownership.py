"""Ownership and lifecycle rules end to end: the real CLI on the in-process simulator.

DESIGN §4-§5 and issue 5: prune scope, empty specs, prevent_destroy, --max-deletes,
ignore_changes, the replace policy, and `destroy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.transport import save_state
from tests.integration.helpers import (
    CliResult,
    load_sim_file,
    read_json,
    run_cli,
    run_in_pty,
    seed_sim_file,
    sim_args,
    write_spec,
)

DEFAULTS = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
    "num_gpus": 8,
}
CONFIRM_APPLY = "Do you want to perform these actions? Only 'yes' will be accepted to approve."
CONFIRM_DESTROY = "There is no undo. Only 'yes' will be accepted to confirm."


def spec_text(
    clusters: Sequence[dict[str, Any]] = (),
    *,
    prune: str | None = None,
    prune_enabled: bool = True,
    volumes: Sequence[dict[str, Any]] = (),
) -> str:
    document: dict[str, Any] = {"version": 1, "defaults": DEFAULTS}
    if volumes:
        document["volumes"] = list(volumes)
    document["clusters"] = list(clusters)
    if prune is not None:
        document["prune"] = {"enabled": prune_enabled, "name_prefix": prune}
    return yaml.safe_dump(document, sort_keys=False)


class Sim:
    """A --sim state file plus the spec file the commands read."""

    def __init__(self, tmp_path: Path, clusters: Sequence[dict[str, Any]] = ()) -> None:
        self.state_file = tmp_path / "sim.json"
        self.spec = tmp_path / "spec.yaml"
        self.tmp_path = tmp_path
        seed_sim_file(self.state_file, clusters)

    def write(self, text: str) -> Sim:
        write_spec(self.tmp_path, text, self.spec.name)
        return self

    def run(self, *argv: str, input: str | None = None) -> CliResult:
        command, *rest = argv
        spec = [] if command in ("export", "regions") else ["-f", str(self.spec)]
        return run_cli([*sim_args(self.state_file), command, *spec, *rest], input=input)

    def plan_json(self, *argv: str) -> dict[str, Any]:
        out = self.tmp_path / "plan.json"
        result = self.run("plan", "--out", str(out), *argv)
        assert result.code in (0, 2), result.all
        data: dict[str, Any] = read_json(out)
        return data

    def names(self) -> list[str]:
        state = load_sim_file(self.state_file)
        state.sweep()
        return sorted(c.fields.cluster_name for c in state.clusters.values())

    def cluster(self, name: str) -> dict[str, Any]:
        [cluster] = load_sim_file(self.state_file).clusters_named(name)
        return cluster

    def oob_update(self, name: str, **fields: Any) -> None:
        state = load_sim_file(self.state_file)
        [cluster] = state.clusters_named(name)
        state.oob_update(cluster["cluster_id"], **fields)
        save_state(state, str(self.state_file))


def deletes(plan: dict[str, Any]) -> list[str]:
    return [a["name"] for a in plan["actions"] if a["kind"] == "delete"]


# --- prune -----------------------------------------------------------------------------------

LIVE = [{"cluster_name": n} for n in ("team-a-train", "team-a-stale", "team-b-x", "sandbox")]


@pytest.mark.parametrize(
    ("prune_enabled", "planned_deletes", "unmanaged"),
    [
        (True, ["team-a-stale"], ["sandbox", "team-b-x"]),
        (False, [], ["sandbox", "team-a-stale", "team-b-x"]),
    ],
    ids=["prune-enabled", "prune-disabled"],
)
def test_prune_deletes_only_undeclared_clusters_inside_the_prefix(
    tmp_path: Path, prune_enabled: bool, planned_deletes: list[str], unmanaged: list[str]
) -> None:
    """Undeclared clusters in the prefix are deleted only when prune is enabled; others are
    unmanaged and survive plan, apply, drift and destroy."""
    sim = Sim(tmp_path, LIVE).write(
        spec_text([{"cluster_name": "team-a-train"}], prune="team-a-", prune_enabled=prune_enabled)
    )
    plan = sim.plan_json()
    assert deletes(plan) == planned_deletes
    assert sorted(plan["unmanaged"]) == unmanaged
    result = sim.run("plan")
    assert f"Unmanaged: {len(unmanaged)} live cluster" in result.out
    assert sim.run("drift").code == (2 if planned_deletes else 0)
    assert sim.run("apply", "--auto-approve").code == 0
    assert sim.names() == sorted(["team-a-train", *unmanaged])
    assert sim.run("drift").code == 0
    assert sim.run("destroy", "--auto-approve").code == 0
    assert sim.names() == unmanaged


def test_destroy_never_prunes(tmp_path: Path) -> None:
    """destroy with prune enabled deletes the declared cluster, not undeclared ones in scope."""
    sim = Sim(tmp_path, LIVE).write(spec_text([{"cluster_name": "team-a-train"}], prune="team-a-"))
    result = sim.run("destroy", "--auto-approve")
    assert result.code == 0, result.all
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete." in result.out
    assert sim.names() == ["sandbox", "team-a-stale", "team-b-x"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (spec_text([], prune="team-"), "the spec declares no clusters and no volumes"),
        ("version: 1\n", "the spec declares no clusters and no volumes"),
        ("", "empty"),
    ],
    ids=["no-clusters-prune-enabled", "nothing-declared", "empty-file"],
)
def test_a_spec_that_declares_nothing_is_an_error_never_a_deletion(
    tmp_path: Path, text: str, message: str
) -> None:
    """An empty spec exits 1 with a spec error for plan, apply and destroy; nothing deleted."""
    sim = Sim(tmp_path, [{"cluster_name": "team-a"}, {"cluster_name": "team-b"}]).write(text)
    for command in (("plan",), ("apply", "--auto-approve"), ("destroy", "--auto-approve")):
        result = sim.run(*command)
        assert result.code == 1, result.all
        assert message in result.err.lower() or message in result.err
    assert sim.names() == ["team-a", "team-b"]


def test_missing_spec_is_an_error_and_nothing_is_deleted(tmp_path: Path) -> None:
    """A spec path that does not exist exits 1 before any API call."""
    sim = Sim(tmp_path, [{"cluster_name": "team-a"}])
    result = sim.run("apply", "--auto-approve")
    assert result.code == 1
    assert "no such file or directory" in result.err
    assert sim.names() == ["team-a"]


def test_volumes_only_spec_with_prune_prunes_no_cluster(tmp_path: Path) -> None:
    """Prune needs declared clusters: a volumes-only spec plans no cluster deletion."""
    sim = Sim(tmp_path, [{"cluster_name": "team-a"}])
    volume = {"volume_name": "team-data", "region": "us-central-8", "size_tib": 1}
    sim.write(spec_text([], prune="team-", volumes=[volume]))
    plan = sim.plan_json()
    assert deletes(plan) == []
    assert any("declares no clusters: nothing is pruned" in n for n in plan["notes"])
    assert sim.run("apply", "--auto-approve").code == 0
    assert sim.names() == ["team-a"]


# --- prevent_destroy / max-deletes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "command"),
    [
        ({"cluster_name": "keep", "ensure": "absent"}, "apply"),
        ({"cluster_name": "keep", "gpu_type": "H200_SXM", "lifecycle": {}}, "apply"),
        ({"cluster_name": "keep", "lifecycle": {}}, "destroy"),
    ],
    ids=["ensure-absent", "replace", "destroy"],
)
def test_prevent_destroy_blocks_delete_and_replace(
    tmp_path: Path, cluster: dict[str, Any], command: str
) -> None:
    """prevent_destroy turns a delete or replace into exit 3 naming the cluster and setting;
    without it the same command goes through."""
    sim = Sim(tmp_path, [{"cluster_name": "keep"}])
    original = sim.cluster("keep")["cluster_id"]
    lifecycle = {"prevent_destroy": True, "replace_on_change": True}
    sim.write(spec_text([{**cluster, "lifecycle": lifecycle}]))
    blocked = sim.run(command, "--auto-approve")
    assert blocked.code == 3, blocked.all
    assert "plan blocked by a safety rule" in blocked.err
    assert "cluster 'keep'" in blocked.err and "lifecycle.prevent_destroy: true" in blocked.err
    assert sim.cluster("keep")["cluster_id"] == original
    sim.write(spec_text([{**cluster, "lifecycle": {"replace_on_change": True}}]))
    allowed = sim.run(command, "--auto-approve")
    assert allowed.code == 0, allowed.all
    assert original not in [
        c["cluster_id"] for c in load_sim_file(sim.state_file).clusters_named("keep")
    ]


def test_max_deletes_blocks_then_the_raised_limit_allows(tmp_path: Path) -> None:
    """Four deletes exceed the default --max-deletes 3 (exit 3); --max-deletes 4 applies."""
    names = [f"old-{i}" for i in range(4)]
    sim = Sim(tmp_path, [{"cluster_name": n} for n in [*names, "stays"]])
    sim.write(spec_text([{"cluster_name": n, "ensure": "absent"} for n in names]))
    for command in ("plan", "apply"):
        blocked = sim.run(command, "--auto-approve") if command == "apply" else sim.run(command)
        assert blocked.code == 3, blocked.all
        assert "would delete or replace 4 resources" in blocked.err
        assert "more than --max-deletes 3" in blocked.err
    assert sim.names() == sorted([*names, "stays"])
    allowed = sim.run("apply", "--auto-approve", "--max-deletes", "4")
    assert allowed.code == 0, allowed.all
    assert "Plan: 0 to create, 0 to update, 0 to replace, 4 to delete." in allowed.out
    assert sim.names() == ["stays"]


# --- ignore_changes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifecycle", "code"),
    [({"ignore_changes": ["num_gpus"]}, 0), ({}, 2)],
    ids=["ignored", "not-ignored"],
)
def test_ignore_changes_hides_a_drifted_field(
    tmp_path: Path, lifecycle: dict[str, Any], code: int
) -> None:
    """A hand-made num_gpus change shows in plan/drift unless ignore_changes names it."""
    sim = Sim(tmp_path, [{"cluster_name": "train", "num_gpus": 8}])
    sim.write(spec_text([{"cluster_name": "train", "num_gpus": 8, "lifecycle": lifecycle}]))
    sim.oob_update("train", num_gpus=16)
    plan = sim.run("plan", "--detailed-exitcode")
    assert plan.code == code, plan.all
    assert sim.run("drift").code == code
    if code:
        assert "~ num_gpus = 16 -> 8" in plan.out
    else:
        assert "No changes." in plan.out


# --- replace policy --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifecycle", "extra"),
    [
        ({"replace_on_change": True}, ()),
        ({}, ("--allow-replace", "eval")),
    ],
    ids=["replace_on_change", "allow-replace-flag"],
)
def test_replace_is_blocked_without_policy_and_allowed_with_it(
    tmp_path: Path, lifecycle: dict[str, Any], extra: tuple[str, ...]
) -> None:
    """A gpu_type change needs replace_on_change or --allow-replace; then the old cluster is
    gone and a new one of the new type has the name."""
    sim = Sim(tmp_path, [{"cluster_name": "eval"}])
    old_id = sim.cluster("eval")["cluster_id"]
    sim.write(spec_text([{"cluster_name": "eval", "gpu_type": "H200_SXM"}]))
    blocked = sim.run("apply", "--auto-approve")
    assert blocked.code == 3, blocked.all
    assert "forces replacement" in blocked.err
    assert "lifecycle.replace_on_change: true or pass --allow-replace eval" in blocked.err
    assert sim.cluster("eval")["cluster_id"] == old_id
    sim.write(spec_text([{"cluster_name": "eval", "gpu_type": "H200_SXM", "lifecycle": lifecycle}]))
    plan = sim.run("plan", *extra)
    assert '-/+ cluster "eval"' in plan.out and "# forces replacement" in plan.out
    applied = sim.run("apply", "--auto-approve", *extra)
    assert applied.code == 0, applied.all
    new = sim.cluster("eval")
    assert new["cluster_id"] != old_id and new["gpu_type"] == "H200_SXM"
    assert old_id not in load_sim_file(sim.state_file).clusters
    assert sim.run("plan", "--detailed-exitcode", *extra).code == 0


# --- destroy ---------------------------------------------------------------------------------


def test_destroy_deletes_only_what_the_spec_declares_after_the_strong_prompt(
    tmp_path: Path,
) -> None:
    """destroy on a real terminal asks "There is no undo"; 'no' changes nothing (exit 1); 'yes'
    deletes the declared clusters and volume, and unmanaged ones survive."""
    # "b" is created by the apply, with the volume: attaching a volume to a live cluster is a
    # replacement (the API attaches volumes only on create).
    sim = Sim(tmp_path, [{"cluster_name": n} for n in ("a", "unmanaged")])
    volume = {"volume_name": "data", "region": "us-central-8", "size_tib": 1}
    sim.write(
        spec_text(
            [{"cluster_name": "a"}, {"cluster_name": "b", "volume": "data"}], volumes=[volume]
        )
    )
    assert sim.run("apply", "--auto-approve").code == 0
    destroy = [*sim_args(sim.state_file), "destroy", "-f", str(sim.spec)]
    code, screen = run_in_pty(destroy, b"no")
    assert code == 1, screen
    assert CONFIRM_DESTROY in screen
    assert "nothing was changed" in screen
    assert sim.names() == ["a", "b", "unmanaged"]
    code, screen = run_in_pty(destroy, b"yes")
    assert code == 0, screen
    assert CONFIRM_DESTROY in screen and CONFIRM_APPLY not in screen
    assert "Plan: 0 to create, 0 to update, 0 to replace, 3 to delete." in screen
    assert sim.names() == ["unmanaged"]
    assert load_sim_file(sim.state_file).volumes == {}


def test_destroy_without_a_terminal_refuses_before_any_change(tmp_path: Path) -> None:
    """No TTY and no --auto-approve: destroy exits 1 and deletes nothing."""
    sim = Sim(tmp_path, [{"cluster_name": "a"}]).write(spec_text([{"cluster_name": "a"}]))
    result = sim.run("destroy", input="yes\n")
    assert result.code == 1
    assert "--auto-approve" in result.err
    assert sim.names() == ["a"]
