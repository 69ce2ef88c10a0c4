"""GitOps: the example GitHub Actions workflow and pre-commit hook run the real CLI.

The workflow's `reconciler ...` command lines are taken from its `run:` steps and executed,
job by job, against the in-process simulator on a copy of examples/infra-repo.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.state import SimState
from reconciler.simulator.transport import save_state
from tests.integration.helpers import load_sim_file, new_sim_state, run_cli, sim_args

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "github-actions" / "reconciler.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
INFRA_REPO = ROOT / "examples" / "infra-repo"

#: What the workflow's shell would expand in a `reconciler` line (none expected today).
SHELL_VARS = {"GITHUB_SHA": "0123abc", "GITHUB_REPOSITORY": "acme/infra"}
#: Exit codes each job accepts from each subcommand (the plan job maps 0 and 2 to success).
ACCEPTED: Mapping[tuple[str, str], set[int]] = {
    ("plan", "validate"): {0},
    ("plan", "plan"): {0, 2},
    ("apply", "apply"): {0},
    ("apply-fresh", "plan"): {0},
    ("apply-fresh", "apply"): {0},
    ("drift", "drift"): {0},
}
REDIRECT = re.compile(r"^(\d*>>?|\d*>&\d|<|\|)")


def load_workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean true.
    data["on"] = data.pop(True, data.get("on"))
    return data


def reconciler_lines(script: str) -> Iterator[str]:
    """Every line of a shell script that runs `reconciler`, continuations joined."""
    for line in script.replace("\\\n", " ").splitlines():
        if line.strip().startswith("reconciler "):
            yield line.strip()


def workflow_commands() -> list[tuple[str, list[str], str | None]]:
    """(job, argv after `reconciler`, stdout redirect target) in workflow order."""
    commands = []
    for job_name, job in load_workflow()["jobs"].items():
        for step in job["steps"]:
            for line in reconciler_lines(step.get("run", "")):
                expanded = re.sub(
                    r"\$\{?(\w+)\}?", lambda m: SHELL_VARS.get(m.group(1), m.group(0)), line
                )
                assert "$" not in expanded, f"unknown shell variable in {line!r}"
                words = shlex.split(expanded)[1:]
                cut = next((i for i, w in enumerate(words) if REDIRECT.match(w)), len(words))
                stdout = words[cut + 1] if cut < len(words) and words[cut] == ">" else None
                commands.append((job_name, words[:cut], stdout))
    return commands


def run_job(
    job: str, workspace: Path, state_file: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[list[str], int]]:
    """Run the job's reconciler lines in `workspace` (a checkout); returns argv and exit code."""
    monkeypatch.chdir(workspace)
    results = []
    for job_name, argv, stdout in workflow_commands():
        if job_name != job:
            continue
        result = run_cli([*sim_args(state_file), *argv])
        if stdout:
            (workspace / stdout).write_text(result.out)
        assert result.code in ACCEPTED[(job, argv[0])], (argv, result.code, result.all)
        results.append((argv, result.code))
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
        runs = [s.get("run", "") for s in jobs[name]["steps"]]
        assert any(r.startswith("pip install") for r in runs), name


def test_plan_job_posts_markdown_uploads_plan_and_accepts_exit_0_and_2() -> None:
    """The PR job plans as markdown with --detailed-exitcode, comments, uploads plan.json."""
    steps = load_workflow()["jobs"]["plan"]["steps"]
    text = WORKFLOW.read_text()
    plans = [argv for job, argv, _ in workflow_commands() if job == "plan" and argv[0] == "plan"]
    assert plans and {"--detailed-exitcode", "markdown", "plan.json"} <= set(plans[0])
    assert any(s.get("uses", "").startswith("actions/github-script@") for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"] == "plan.json"
    assert "0|2)" in text and 'exit "$code"' in text  # plan: 0/2 pass; drift: 2 fails
    applies = [argv for job, argv, _ in workflow_commands() if job == "apply"]
    assert applies == [["apply", "reviewed/plan.json", "-f", "clusters", "-f", "volumes.yaml"]]
    assert "--auto-approve" not in text.split("apply-fresh:")[0]  # merge applies the reviewed


def test_every_workflow_command_runs_against_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PR → merge → schedule: each `reconciler` line exits with a code its job accepts."""
    state_file = tmp_path / "sim.json"
    account(state_file)
    pull_request = checkout(tmp_path, "pr")
    ran = run_job("plan", pull_request, state_file, monkeypatch)
    assert [code for _, code in ran] == [0, 2]
    assert "reconciler plan" in (pull_request / "plan.md").read_text()
    assert (pull_request / "plan.json").exists()

    # Merge: a fresh checkout of main plus the PR's artifact, where the workflow downloads it.
    main = checkout(tmp_path, "main")
    (main / "reviewed").mkdir()
    shutil.copy(pull_request / "plan.json", main / "reviewed" / "plan.json")
    assert run_job("apply", main, state_file, monkeypatch) == [
        (["apply", "reviewed/plan.json", "-f", "clusters", "-f", "volumes.yaml"], 0)
    ]
    names = live_names(state_file)
    assert {"team-a-train", "team-a-slurm", "team-b-inference", "ml-sandbox"} <= names
    assert "team-b-old-experiment" not in names  # ensure: absent; ml-sandbox is unmanaged

    fallback = run_job("apply-fresh", checkout(tmp_path, "dispatch"), state_file, monkeypatch)
    assert [code for _, code in fallback] == [0, 0]
    drift = run_job("drift", checkout(tmp_path, "schedule"), state_file, monkeypatch)
    assert [code for _, code in drift] == [0]
    every = {tuple(argv) for _, argv, _ in workflow_commands()}
    assert every == {tuple(a) for a, _ in [*ran, *fallback, *drift]} | {
        ("apply", "reviewed/plan.json", "-f", "clusters", "-f", "volumes.yaml")
    }


def test_scheduled_drift_fails_after_a_change_by_hand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an out-of-band resize the drift line exits 2, which fails the drift job."""
    state_file = tmp_path / "sim.json"
    account(state_file)
    workspace = checkout(tmp_path, "main")
    monkeypatch.chdir(workspace)
    spec = ["-f", "clusters", "-f", "volumes.yaml"]
    assert run_cli([*sim_args(state_file), "apply", *spec, "--auto-approve"]).code == 0
    state = load_sim_file(state_file)
    [train] = state.clusters_named("team-a-train")
    [inference] = state.clusters_named("team-b-inference")
    state.oob_update(inference["cluster_id"], num_gpus=16)  # ignore_changes: [num_gpus]
    save_state(state, str(state_file))
    [(job, argv, _)] = [c for c in workflow_commands() if c[0] == "drift"]
    assert run_cli([*sim_args(state_file), *argv]).code == 0
    state.oob_update(train["cluster_id"], num_gpus=24)
    save_state(state, str(state_file))
    result = run_cli([*sim_args(state_file), *argv])
    assert result.code == 2
    assert "team-a-train" in result.out and "24" in result.out
    assert result.code not in ACCEPTED[(job, "drift")]


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
