"""Shared volumes as resources, end to end: the real CLI on the in-process simulator.

Create with the cluster that uses it (volume first, its id in the cluster's create), grow,
blocked shrink, blocked delete while attached, delete after its cluster; then an empty plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.state import ROUTE_CLUSTERS, ROUTE_VOLUMES, SimState
from reconciler.simulator.transport import save_state
from tests.integration.helpers import (
    CliResult,
    SimSpy,
    load_sim_file,
    new_sim_state,
    run_cli,
    sim_args,
)

DEFAULTS = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
    "num_gpus": 8,
}


def volume(size: int = 1, **extra: Any) -> dict[str, Any]:
    return {"volume_name": "data", "region": "us-central-8", "size_tib": size, **extra}


def spec_text(
    clusters: Sequence[dict[str, Any]] = (), volumes: Sequence[dict[str, Any]] = ()
) -> str:
    document: dict[str, Any] = {"version": 1, "defaults": DEFAULTS}
    if volumes:
        document["volumes"] = list(volumes)
    if clusters:
        document["clusters"] = list(clusters)
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> SimSpy:
    return SimSpy().install(monkeypatch)


class Sim:
    def __init__(self, tmp_path: Path) -> None:
        self.state_file = tmp_path / "sim.json"
        self.spec = tmp_path / "spec.yaml"
        save_state(new_sim_state(), str(self.state_file))

    def seed(self, *, size: int = 1, cluster: str | None = None) -> SimState:
        """A live volume `data` of `size` TiB, attached to a live `cluster` if named."""
        state = load_sim_file(self.state_file)
        made = state.add_volume(volume_name="data", size_tib=size)
        if cluster:
            state.add_cluster(cluster_name=cluster, volume_id=made["volume_id"])
        save_state(state, str(self.state_file))
        return state

    def run(self, command: str, text: str, *argv: str) -> CliResult:
        self.spec.write_text(text)
        return run_cli([*sim_args(self.state_file), command, "-f", str(self.spec), *argv])

    def apply(self, text: str, *argv: str) -> CliResult:
        return self.run("apply", text, "--auto-approve", *argv)

    def assert_converged(self, text: str) -> None:
        result = self.run("plan", text, "--detailed-exitcode")
        assert result.code == 0, result.all
        assert "No changes." in result.out

    def state(self) -> SimState:
        return load_sim_file(self.state_file)

    def volume(self) -> dict[str, Any] | None:
        state = self.state()
        found = [state.volume_view(v) for v in state.volumes.values()]
        return found[0] if found else None


def test_new_volume_is_created_before_its_cluster_and_attached(tmp_path: Path, spy: SimSpy) -> None:
    """`volume: data` on a new cluster: POST volume, then POST cluster carrying its id."""
    sim = Sim(tmp_path)
    text = spec_text([{"cluster_name": "train", "volume": "data"}], [volume(2)])
    plan = sim.run("plan", text)
    assert plan.out.index('+ volume "data"') < plan.out.index('+ cluster "train"')
    assert 'volume                = "data"' in plan.out
    result = sim.apply(text)
    assert result.code == 0, result.all
    posts = [path for method, path in spy.requests() if method == "POST"]
    assert posts == [ROUTE_VOLUMES, ROUTE_CLUSTERS]
    created = sim.volume()
    assert created is not None and created["size_tib"] == 2
    [cluster] = sim.state().clusters_named("train")
    assert [v["volume_id"] for v in cluster["volumes"]] == [created["volume_id"]]
    sim.assert_converged(text)


def test_existing_volume_is_referenced_by_id(tmp_path: Path) -> None:
    """A cluster created later refers to the volume that already exists, by its id."""
    sim = Sim(tmp_path)
    state = sim.seed(size=3)
    [volume_id] = state.volumes
    text = spec_text([{"cluster_name": "eval", "volume": "data"}], [volume(3)])
    assert sim.apply(text).code == 0
    [cluster] = sim.state().clusters_named("eval")
    assert [v["volume_id"] for v in cluster["volumes"]] == [volume_id]
    assert len(sim.state().volumes) == 1
    sim.assert_converged(text)


def test_volume_grows_in_place(tmp_path: Path) -> None:
    """size_tib 1 -> 4 is an in-place update of the same volume."""
    sim = Sim(tmp_path)
    sim.seed(size=1, cluster="train")
    text = spec_text([{"cluster_name": "train", "volume": "data"}], [volume(4)])
    plan = sim.run("plan", text, "--detailed-exitcode")
    assert plan.code == 2
    assert "~ size_tib = 1 -> 4" in plan.out
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in plan.out
    before = sim.volume()
    assert sim.apply(text).code == 0
    after = sim.volume()
    assert before is not None and after is not None
    assert (after["volume_id"], after["size_tib"]) == (before["volume_id"], 4)
    sim.assert_converged(text)


def test_volume_shrink_is_blocked_with_the_reason(tmp_path: Path) -> None:
    """size_tib 4 -> 2 is blocked (exit 3) before any change: volumes only grow."""
    sim = Sim(tmp_path)
    sim.seed(size=4)
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = sim.run(command[0], spec_text(volumes=[volume(2)]), *command[1:])
        assert result.code == 3, result.all
        assert "volume 'data'" in result.err
        assert "shrinking a shared volume (4 -> 2 TiB)" in result.err
        assert "volumes can only grow" in result.err
    assert (sim.volume() or {}).get("size_tib") == 4
    sim.assert_converged(spec_text(volumes=[volume(4)]))


@pytest.mark.parametrize(
    "clusters",
    [
        [],  # the user is a live cluster the spec does not declare (unmanaged)
        [{"cluster_name": "train"}],  # declared, staying, no longer refers to the volume
    ],
    ids=["unmanaged-user", "declared-user"],
)
def test_volume_delete_is_blocked_while_a_remaining_cluster_uses_it(
    tmp_path: Path, clusters: list[dict[str, Any]]
) -> None:
    """ensure: absent on an attached volume is blocked (exit 3) naming the cluster."""
    sim = Sim(tmp_path)
    sim.seed(cluster="train")
    text = spec_text(clusters, [volume(ensure="absent")])
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = sim.run(command[0], text, *command[1:])
        assert result.code == 3, result.all
        assert "volume 'data'" in result.err and "still used by cluster(s) train" in result.err
    assert sim.volume() is not None
    assert sim.state().clusters_named("train")


def test_volume_is_deleted_after_its_cluster_in_one_apply(tmp_path: Path, spy: SimSpy) -> None:
    """Cluster and its volume both ensure: absent: the cluster goes first, then the volume."""
    sim = Sim(tmp_path)
    state = sim.seed(cluster="train")
    [volume_id] = state.volumes
    [cluster] = state.clusters_named("train")
    text = spec_text([{"cluster_name": "train", "ensure": "absent"}], [volume(ensure="absent")])
    plan = sim.run("plan", text)
    assert plan.out.index('- cluster "train"') < plan.out.index('- volume "data"')
    result = sim.apply(text)
    assert result.code == 0, result.all
    deletes = [path for method, path in spy.requests() if method == "DELETE"]
    assert deletes == [f"{ROUTE_CLUSTERS}/{cluster['cluster_id']}", f"{ROUTE_VOLUMES}/{volume_id}"]
    assert sim.volume() is None and not sim.state().clusters_named("train")
    sim.assert_converged(text)
