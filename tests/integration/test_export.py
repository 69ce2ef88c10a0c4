"""Adopting what exists: `reconciler export` round trips to a plan with no changes.

A simulated account with varied clusters (Kubernetes, Slurm, reserved, scheduled capacity,
volumes, add-ons, cluster_config, OIDC with a canary CA) is exported, validated and planned.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import DEFAULT_SIM_STATE
from reconciler.simulator.state import SimState, format_time
from reconciler.simulator.transport import save_state
from tests.integration.helpers import CliResult, load_sim_file, new_sim_state, run_cli, sim_args

CANARY_CA = "CANARY-CA-5d2c9e"
OIDC = {
    "client_id": "kube",
    "issuer_url": "https://idp.example.com",
    "username_claim": "email",
    "username_prefix": "oidc:",
    "group_claim": "groups",
    "group_prefix": "oidc:",
    "ca_cert": CANARY_CA,
}
#: Parts of every secret the simulator holds: the CA canary and the kube_config's pieces.
SECRETS = (CANARY_CA, "sim-kube-", "certificate-authority-data", "LS0tLS1CRUdJTi")


def keys(value: Any) -> set[str]:
    """Every mapping key anywhere in a YAML document."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def populate(state: SimState) -> None:
    """Varied live clusters and volumes, as an account that predates the tool would have."""
    now = time.time()
    data = state.add_volume(volume_name="team-data", size_tib=10)
    state.add_volume(volume_name="spare", size_tib=2, region="us-east-1")
    state.add_cluster(
        cluster_name="k8s-train",
        num_gpus=16,
        volume_id=data["volume_id"],
        add_ons=[
            {"add_on_type": "dashboard", "name": "dash", "config": {"dashboard": {"enabled": True}}}
        ],
        cluster_config={"load_balancer": "NGINX", "ingress": {"enabled": True}},
        oidc_config=OIDC,
        install_traefik=True,
    )
    state.add_cluster(
        cluster_name="slurm-b",
        cluster_type="SLURM",
        slurm_shm_size_gib=64,
        slurm_image="slurm:24.05",
        duration_days=3,
    )
    state.add_cluster(
        cluster_name="reserved-c",
        billing_type="RESERVED",
        gpu_type="H200_SXM",
        num_gpus=16,
        duration_days=30,
    )
    state.add_cluster(
        cluster_name="sched-d",
        billing_type="SCHEDULED_CAPACITY",
        reservation_start_time=format_time(now + 86_400),
        reservation_end_time=format_time(now + 7 * 86_400),
    )
    state.add_cluster(
        cluster_name="preempt-e",
        region="us-east-1",
        gpu_type="B200_SXM",
        nvidia_version_id="nv-use1-12.9-575-u2204",
        num_gpus=16,
        num_preemptible_gpus=8,
    )


class Account:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.state_file = tmp_path / "sim.json"
        state = new_sim_state()
        populate(state)
        save_state(state, str(self.state_file))

    def run(self, *argv: str) -> CliResult:
        return run_cli([*sim_args(self.state_file), *argv])

    def export(self, *names: str) -> tuple[Path, dict[str, Any]]:
        path = self.tmp_path / "spec.yaml"
        result = self.run("export", *[f"--name={n}" for n in names], "-o", str(path))
        assert result.code == 0, result.all
        assert f"Wrote {path}." in result.err
        return path, yaml.safe_load(path.read_text())

    def state(self) -> SimState:
        return load_sim_file(self.state_file)


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["cluster_name"]: c for c in document.get("clusters", [])}


def test_export_round_trips_to_no_changes_without_secrets(tmp_path: Path) -> None:
    """export -o, then validate (0), plan --detailed-exitcode (0) and drift (0); no secret."""
    account = Account(tmp_path)
    path, document = account.export()
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text, secret
    assert not keys(document) & {"ca_cert", "kube_config"}
    assert "(duration_days, auto_scale, auto_scale_max_gpus," in text
    clusters = by_name(document)
    assert sorted(clusters) == ["k8s-train", "preempt-e", "reserved-c", "sched-d", "slurm-b"]
    assert clusters["k8s-train"]["volume"] == "team-data"
    assert clusters["k8s-train"]["add_ons"][0]["add_on_type"] == "dashboard"
    assert clusters["k8s-train"]["cluster_config"]["load_balancer"] == "NGINX"
    assert clusters["k8s-train"]["oidc_config"]["issuer_url"] == OIDC["issuer_url"]
    assert clusters["slurm-b"]["cluster_type"] == "SLURM"
    assert "slurm_image" not in clusters["slurm-b"] and "duration_days" not in clusters["slurm-b"]
    assert clusters["reserved-c"]["billing_type"] == "RESERVED"
    assert {"reservation_start_time", "reservation_end_time"} <= set(clusters["sched-d"])
    assert clusters["preempt-e"]["num_preemptible_gpus"] == 8
    # The API reports no volume region: "team-data" takes its cluster's; "spare", mounted by no
    # cluster, is left out with a comment rather than written with a guessed region.
    assert [v["volume_name"] for v in document["volumes"]] == ["team-data"]
    assert '# Left out: volume "spare" (its region)' in text

    validate = run_cli(["validate", "-f", str(path)])
    assert validate.code == 0, validate.all
    assert "Valid: 5 cluster(s), 1 volume(s)." in validate.out
    plan = account.run("plan", "-f", str(path), "--detailed-exitcode")
    assert plan.code == 0, plan.all
    assert "No changes." in plan.out
    assert account.run("drift", "-f", str(path)).code == 0
    stdout = account.run("export")
    assert stdout.code == 0 and stdout.out == text
    for result in (validate, plan, stdout):
        assert CANARY_CA not in result.all


@pytest.mark.parametrize(
    ("names", "clusters", "volumes"),
    [
        (["slurm-b"], ["slurm-b"], []),
        (["k8s-train"], ["k8s-train"], ["team-data"]),  # with the volume it uses
        (["spare", "sched-d"], ["sched-d"], []),  # spare's region is unknown: left out
    ],
    ids=["one-cluster", "cluster-and-its-volume", "volume-and-cluster"],
)
def test_export_name_filters(
    tmp_path: Path, names: list[str], clusters: list[str], volumes: list[str]
) -> None:
    """--name exports only those resources (and volumes they use); the rest is unmanaged."""
    account = Account(tmp_path)
    path, document = account.export(*names)
    assert sorted(by_name(document)) == clusters
    assert sorted(v["volume_name"] for v in document.get("volumes", [])) == volumes
    plan = account.run("plan", "-f", str(path), "--detailed-exitcode")
    assert plan.code == 0, plan.all
    assert f"Unmanaged: {5 - len(clusters)} live clusters" in plan.out


def test_export_unknown_name_is_an_error(tmp_path: Path) -> None:
    """--name of nothing live exits 1 naming it, and writes no file."""
    account = Account(tmp_path)
    result = account.run("export", "--name", "nope", "-o", str(tmp_path / "spec.yaml"))
    assert result.code == 1
    assert "no live cluster or volume named nope" in result.err
    assert not (tmp_path / "spec.yaml").exists()


@pytest.mark.parametrize(
    ("global_args", "export_args"),
    [(["--project-id", "proj-a"], []), ([], ["--project-id", "proj-a"])],
    ids=["global-option", "export-option"],
)
def test_export_scoped_to_a_project(
    tmp_path: Path, global_args: list[str], export_args: list[str]
) -> None:
    """--project-id (global, or after `export`) exports that project only, with project_id."""
    state_file = tmp_path / "sim.json"
    state = new_sim_state()
    state.add_cluster(cluster_name="ours", project_id="proj-a")
    state.add_cluster(cluster_name="theirs", project_id="proj-b")
    save_state(state, str(state_file))
    path = tmp_path / "spec.yaml"
    exported = run_cli(
        [*sim_args(state_file), *global_args, "export", *export_args, "-o", str(path)]
    )
    assert exported.code == 0, exported.all
    document = yaml.safe_load(path.read_text())
    assert document["project_id"] == "proj-a"
    assert sorted(by_name(document)) == ["ours"]
    plan = run_cli([*sim_args(state_file), "plan", "-f", str(path), "--detailed-exitcode"])
    assert plan.code == 0, plan.all
    assert "Unmanaged" not in plan.out  # the plan is scoped to proj-a too


def test_adopt_change_apply_and_catch_drift_as_a_new_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README walkthrough, with its bare `--sim` (state in ./.reconciler/sim.json): export,
    edit num_gpus, plan, apply, then drift catches an out-of-band change."""
    monkeypatch.chdir(tmp_path)
    state_file = tmp_path / DEFAULT_SIM_STATE
    state = new_sim_state()
    populate(state)
    save_state(state, str(state_file))

    def reconciler(*argv: str) -> CliResult:
        return run_cli(["--sim-speed", "0", "--sim", *argv])

    assert reconciler("export", "-o", "clusters.yaml").code == 0
    spec = tmp_path / "clusters.yaml"
    original = load_sim_file(state_file).clusters_named("k8s-train")[0]["cluster_id"]
    edited = spec.read_text().replace(
        "  num_gpus: 16\n  nvidia_driver_version: '560'",
        "  num_gpus: 24\n  nvidia_driver_version: '560'",
        1,
    )
    assert edited != spec.read_text()
    spec.write_text(edited)

    plan = reconciler("plan", "-f", "clusters.yaml")
    assert plan.code == 0, plan.all
    assert '~ cluster "k8s-train"' in plan.out and "~ num_gpus = 16 -> 24" in plan.out
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in plan.out
    applied = reconciler("apply", "-f", "clusters.yaml", "--auto-approve")
    assert applied.code == 0, applied.all
    [train] = load_sim_file(state_file).clusters_named("k8s-train")
    assert (train["cluster_id"], train["num_gpus"]) == (original, 24)
    assert reconciler("drift", "-f", "clusters.yaml").code == 0

    state = load_sim_file(state_file)
    [slurm] = state.clusters_named("slurm-b")
    state.oob_update(slurm["cluster_id"], num_gpus=16)
    save_state(state, str(state_file))
    drift = reconciler("drift", "-f", "clusters.yaml")
    assert drift.code == 2, drift.all
    assert '~ cluster "slurm-b"' in drift.out and "~ num_gpus = 16 -> 8" in drift.out
