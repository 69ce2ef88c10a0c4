"""GitOps: the example GitHub Actions workflow and pre-commit hook run the real CLI.

The workflow's reconciler steps use the repository's action (action.yml); each job is run
step by step on a copy of examples/infra-repo, the action's shell steps through
`tests/integration/action_runner.py` against the in-process simulator.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.state import SimState
from reconciler.simulator.transport import save_state
from tests.integration.action_runner import Runner
from tests.integration.helpers import load_sim_file, new_sim_state, run_cli

ROOT = Path(__file__).resolve().parents[2]
INFRA_REPO = ROOT / "examples" / "infra-repo"
WORKFLOW = INFRA_REPO / ".github" / "workflows" / "reconciler.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTION_REF = "YOUR-ORG/reconciler@v0.1.0"
PR_EVENT = {"github.event.pull_request.number": "12", "github.event.pull_request.head.sha": "f00"}


def load_workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean true.
    data["on"] = data.pop(True, data.get("on"))
    return data


def action_steps(job: str) -> list[Mapping[str, str]]:
    """The `with:` of every step of `job` that uses the reconciler action, in order."""
    steps = load_workflow()["jobs"][job]["steps"]
    return [dict(s["with"]) for s in steps if s.get("uses") == ACTION_REF]


def run_job(job: str, workspace: Path, state_file: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """Run the job's steps in `workspace` (a checkout): the action's steps for real, the
    artifact upload as a copy. Returns (command, exit code) per use of the action."""
    temp = tmp_path / f"runner-{job}-{workspace.name}"
    temp.mkdir()
    event = PR_EVENT if job == "plan" else {}
    runner = Runner(workspace, state_file, temp, event=event)
    results = []
    for step in load_workflow()["jobs"][job]["steps"]:
        uses = step.get("uses", "")
        if uses == ACTION_REF:
            run = runner.use(step["with"])
            assert not run.failed, (job, step["with"], run.log)
            results.append((step["with"]["command"], run.outputs["exitcode"]))
        elif uses.startswith("actions/upload-artifact@"):
            shutil.copy(workspace / step["with"]["path"], tmp_path / "artifact.json")
    return results


def checkout(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copytree(INFRA_REPO, tmp_path / name))


def account(state_file: Path) -> SimState:
    """A live account: one cluster nobody declares, one that team-b marks ensure: absent."""
    state = new_sim_state()
    state.add_cluster(cluster_name="ml-sandbox", num_gpus=8)
    state.add_cluster(
        cluster_name="team-b-old-experiment",
        region="us-east-1",
        gpu_type="H200_SXM",
        cuda_version="12.8",
        nvidia_driver_version="570",
    )
    save_state(state, str(state_file))
    return state


def live_names(state_file: Path) -> set[str]:
    state = load_sim_file(state_file)
    state.sweep()
    return {c.fields.cluster_name for c in state.clusters.values()}


def test_workflow_is_valid_yaml_with_the_gitops_triggers_and_jobs() -> None:
    """The workflow parses and has PR, push-to-main and schedule triggers and their jobs."""
    workflow = load_workflow()
    on = workflow["on"]
    assert set(on) >= {"pull_request", "push", "schedule"}
    assert on["push"]["branches"] == ["main"]
    assert on["schedule"][0]["cron"].split()[0].isdigit()
    jobs = workflow["jobs"]
    assert "pull_request" in jobs["plan"]["if"]
    assert "push" in jobs["apply"]["if"]
    assert "schedule" in jobs["drift"]["if"]
    for name in ("apply", "apply-fresh"):
        assert jobs[name]["concurrency"] == {
            "group": "reconciler-apply",
            "cancel-in-progress": False,
        }
    for name in ("plan", "apply", "apply-fresh", "drift"):
        assert jobs[name]["env"]["TOGETHER_API_KEY"] == "${{ secrets.TOGETHER_API_KEY }}"
        assert action_steps(name), name


def test_plan_job_comments_uploads_plan_and_merge_applies_the_reviewed_plan() -> None:
    """The PR job plans (the action comments) and uploads plan.json; the merge job applies
    the downloaded reviewed plan; only the manual fallback plans on main."""
    steps = load_workflow()["jobs"]["plan"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "plan.json"
    assert action_steps("plan") == [
        {"command": "plan", "spec": "clusters volumes.yaml", "plan-file": "plan.json"}
    ]
    assert action_steps("apply") == [
        {"command": "apply", "spec": "clusters volumes.yaml", "plan-file": "reviewed/plan.json"}
    ]
    assert [s["command"] for s in action_steps("apply-fresh")] == ["plan", "apply"]
    assert [s["command"] for s in action_steps("drift")] == ["drift"]


def test_every_workflow_job_runs_against_the_simulator(tmp_path: Path) -> None:
    """PR → merge → manual fallback → schedule: every use of the action passes."""
    state_file = tmp_path / "sim.json"
    account(state_file)
    assert run_job("plan", checkout(tmp_path, "pr"), state_file, tmp_path) == [("plan", "2")]
    assert (tmp_path / "artifact.json").exists()

    # Merge: a fresh checkout of main plus the PR's artifact, where the workflow downloads it.
    main = checkout(tmp_path, "main")
    (main / "reviewed").mkdir()
    shutil.copy(tmp_path / "artifact.json", main / "reviewed" / "plan.json")
    assert run_job("apply", main, state_file, tmp_path) == [("apply", "0")]
    names = live_names(state_file)
    assert {"team-a-train", "team-a-slurm", "team-b-inference", "ml-sandbox"} <= names
    assert "team-b-old-experiment" not in names  # ensure: absent; ml-sandbox is unmanaged

    fallback = run_job("apply-fresh", checkout(tmp_path, "dispatch"), state_file, tmp_path)
    assert fallback == [("plan", "0"), ("apply", "0")]
    drift = run_job("drift", checkout(tmp_path, "schedule"), state_file, tmp_path)
    assert drift == [("drift", "0")]


def test_scheduled_drift_fails_after_a_change_by_hand(tmp_path: Path) -> None:
    """After an out-of-band resize the drift job's action fails with exit 2."""
    state_file = tmp_path / "sim.json"
    account(state_file)
    workspace = checkout(tmp_path, "main")
    runner = Runner(workspace, state_file, tmp_path / "runner")
    runner.temp.mkdir()
    [drift] = action_steps("drift")
    assert not runner.use({"command": "plan", "spec": drift["spec"]}).failed
    assert not runner.use({"command": "apply", "spec": drift["spec"]}).failed
    state = load_sim_file(state_file)
    [train] = state.clusters_named("team-a-train")
    [inference] = state.clusters_named("team-b-inference")
    state.oob_update(inference["cluster_id"], num_gpus=16)  # ignore_changes: [num_gpus]
    save_state(state, str(state_file))
    assert not runner.use(drift).failed
    state.oob_update(train["cluster_id"], num_gpus=24)
    save_state(state, str(state_file))
    result = runner.use(drift)
    assert result.failed and result.outputs["exitcode"] == "2"
    assert "team-a-train" in result.summary and "24" in result.summary


def load_hook() -> dict[str, Any]:
    hooks = yaml.safe_load(HOOKS.read_text())
    [hook] = [h for h in hooks if h["id"] == "reconciler-validate"]
    return dict(hook)


def hook_args() -> list[str]:
    """The args the example infra repo's .pre-commit-config.yaml gives the hook."""
    config = yaml.safe_load((INFRA_REPO / ".pre-commit-config.yaml").read_text())
    [hook] = [h for r in config["repos"] for h in r["hooks"] if h["id"] == "reconciler-validate"]
    return list(hook["args"])


def test_pre_commit_hook_definition() -> None:
    """The hook is a python hook on YAML files that validates the spec paths from its args."""
    hook = load_hook()
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False  # `validate -f A B` would read B as an argument
    assert shlex.split(hook["entry"]) == ["reconciler", "validate"]
    files = re.compile(hook["files"])
    assert files.search("clusters/team-a.yaml") and files.search("volumes.yml")
    assert not files.search("README.md")


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        (None, 0, "Valid: 4 cluster(s), 2 volume(s)."),
        (("num_gpus: 16", "num_gpus: 12"), 1, "clusters/team-a.yaml:16:15:"),
        (("volume: team-a-data", "volume: team-a-dta"), 1, 'no volume named "team-a-dta"'),
    ],
    ids=["valid", "not-a-multiple-of-8", "unknown-volume"],
)
def test_pre_commit_hook_entry_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: tuple[str, str] | None,
    code: int,
    message: str,
) -> None:
    """The hook's entry with the example args passes a good repo and stops a bad commit."""
    workspace = checkout(tmp_path, "repo")
    if edit is not None:
        path = workspace / "clusters" / "team-a.yaml"
        path.write_text(path.read_text().replace(*edit, 1))
    monkeypatch.chdir(workspace)
    result = run_cli([*shlex.split(load_hook()["entry"])[1:], *hook_args()])
    assert result.code == code, result.all
    assert message in result.all
