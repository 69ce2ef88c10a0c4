"""Add-ons through the CLI: a new cluster is created with its add-ons in one call; on a live
cluster an add-on is added with one POST, changed with one PUT and removed with one DELETE,
never by replacing the cluster; after each apply the plan is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SPEC_HEADER
from tests.integration.helpers import SimSpy, run_cli, sim_args, write_spec

CLUSTERS = "/v1/compute/clusters"

HEADER = (
    SPEC_HEADER
    + """\
  - cluster_name: train-a
    num_gpus: 8
"""
)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> SimSpy:
    return SimSpy().install(monkeypatch)


class Steps:
    def __init__(self, tmp_path: Path, spy: SimSpy) -> None:
        self.tmp_path, self.spy = tmp_path, spy
        self.sim = sim_args(tmp_path / "sim.json")

    def apply(self, add_ons: str) -> tuple[str, list[tuple[str, str]]]:
        """Apply the spec with these add-on lines; (plan text, the calls that changed things)."""
        spec = write_spec(self.tmp_path, HEADER + add_ons)
        before = len(self.spy.transports)
        result = run_cli([*self.sim, "apply", "-f", spec, "--auto-approve"])
        assert result.code == 0, result.all
        calls = [
            (r.method, r.path)
            for t in self.spy.transports[before:]
            for r in t.state.request_log
            if r.method != "GET"
        ]
        again = run_cli([*self.sim, "plan", "-f", spec, "--detailed-exitcode"])
        assert again.code == 0 and "No changes." in again.out, again.all
        return result.out, calls


def test_add_change_and_remove_an_add_on_without_touching_the_cluster(
    tmp_path: Path, spy: SimSpy
) -> None:
    steps = Steps(tmp_path, spy)
    _, calls = steps.apply("")
    assert calls == [("POST", CLUSTERS)]
    cluster_id = spy.last.clusters_named("train-a")[0]["cluster_id"]
    addons = f"{CLUSTERS}/{cluster_id}/addons"

    out, calls = steps.apply("    add_ons: [{name: dash, add_on_type: dashboard}]\n")
    assert '+ add-on "dash" on cluster "train-a"' in out
    assert "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete." in out
    assert calls == [("POST", addons)]

    config = "config: {dashboard: {enabled: true}, ingress: {enabled: true}}"
    out, calls = steps.apply(f"    add_ons: [{{name: dash, add_on_type: dashboard, {config}}}]\n")
    assert '~ add-on "dash" on cluster "train-a"' in out
    assert calls == [("PUT", f"{addons}/dash")]

    out, calls = steps.apply("    add_ons: [{name: dash, ensure: absent}]\n")
    assert '- add-on "dash" on cluster "train-a"' in out
    assert calls == [("DELETE", f"{addons}/dash")]
    assert spy.last.clusters_named("train-a")[0]["cluster_id"] == cluster_id  # never replaced


def test_a_new_cluster_is_created_with_its_add_ons(tmp_path: Path, spy: SimSpy) -> None:
    """One POST carries the add-ons; the plan after apply is empty."""
    out, calls = Steps(tmp_path, spy).apply(
        "    add_ons: [{name: dash, add_on_type: dashboard}, {name: web, add_on_type: ingress}]\n"
    )
    assert calls == [("POST", CLUSTERS)]
    assert "add-on" not in out.split("Plan:")[0]  # shown inside the cluster's create
    names = [a["name"] for a in spy.last.clusters_named("train-a")[0]["add_ons"]]
    assert sorted(names) == ["dash", "web"]
