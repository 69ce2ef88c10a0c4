"""Runs the composite GitHub Action (action.yml) the way a runner would, on this machine.

Each `run:` step goes through `bash --noprofile --norc -eo pipefail` (GitHub's bash) with its
`env:` expressions filled in from inputs, `github.*` and earlier steps' outputs, and with
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and RUNNER_TEMP as files and a folder of a temp directory.
`reconciler` on PATH is the real CLI on the in-process simulator (`--sim=STATE --sim-speed 0`);
`gh` is a fake that logs its calls and answers the comment listing from a file. `uses:` steps
(setup-python) and the install step are skipped unless asked for: they need the network.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
#: The fake gh: logs each call, keeps the last comment body, lists "existing" comment ids.
FAKE_GH = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GH_LOG"
for arg in "$@"; do
  case "$arg" in body=@*) cp "${arg#body=@}" "$GH_LOG.body" ;; esac
done
if [ "$1 $2" = "api --paginate" ] && [ -f "$GH_COMMENTS" ]; then cat "$GH_COMMENTS"; fi
"""


def load_action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


@dataclass
class ActionRun:
    """What one use of the action did."""

    steps: list[tuple[str, int]] = field(default_factory=list)  # (step name, exit code)
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""
    summary: str = ""
    gh_calls: list[str] = field(default_factory=list)
    comment: str = ""

    @property
    def failed(self) -> bool:
        return any(code != 0 for _, code in self.steps)


@dataclass
class Runner:
    """One job's machine: a workspace, a simulator state file and a temp directory."""

    workspace: Path
    state_file: Path
    temp: Path
    event: Mapping[str, str] = field(default_factory=dict)  # github.event.* and the like
    run_install: bool = False

    def bin_dir(self) -> Path:
        bin_dir = self.temp / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        shim = bin_dir / "reconciler"
        shim.write_text(
            "#!/usr/bin/env bash\n"
            f'exec "{sys.executable}" -c "from reconciler.cli import main; main()" '
            f'"--sim={self.state_file}" --sim-speed 0 "$@"\n'
        )
        (bin_dir / "gh").write_text(FAKE_GH)
        for tool in bin_dir.iterdir():
            tool.chmod(0o755)
        return bin_dir

    def use(self, inputs: Mapping[str, str], env: Mapping[str, str] | None = None) -> ActionRun:
        """Run the action with `inputs` (the workflow step's `with:`) and the job's `env`."""
        action = load_action()
        known = action["inputs"]
        unknown = set(inputs) - set(known)
        assert not unknown, f"not inputs of the action: {unknown}"
        context = {f"inputs.{k}": str(v.get("default", "")) for k, v in known.items()}
        context.update({f"inputs.{k}": v for k, v in inputs.items()})
        context.update(
            {
                "github.action_path": str(ROOT),
                "github.token": "fake-token",
                "github.event.pull_request.number": "",
                "github.event.pull_request.head.sha": "",
                **self.event,
            }
        )
        result = ActionRun()
        for step in action["runs"]["steps"]:
            if "uses" in step or (step.get("id") == "install" and not self.run_install):
                continue
            code = self._run_step(step, context, result, env or {})
            result.steps.append((step.get("name", step.get("id", "")), code))
            if code != 0:
                break
        self._collect(result)
        return result

    def _run_step(
        self,
        step: Mapping[str, Any],
        context: dict[str, str],
        result: ActionRun,
        job_env: Mapping[str, str],
    ) -> int:
        def fill(text: str) -> str:
            return EXPRESSION.sub(lambda m: context[m.group(1)], text)

        output = self.temp / "github_output"
        output.write_text("")
        env = {
            "PATH": f"{self.bin_dir()}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.temp),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(self.temp / "summary.md"),
            "GITHUB_REPOSITORY": "acme/infra",
            "GH_LOG": str(self.temp / "gh.log"),
            "GH_COMMENTS": str(self.temp / "gh-comments"),
            **job_env,
            **{k: fill(str(v)) for k, v in step.get("env", {}).items()},
        }
        cwd = self.workspace / fill(step.get("working-directory", "."))
        script = self.temp / "step.sh"
        script.write_text(fill(step["run"]))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result.log += done.stdout + done.stderr
        for line in output.read_text().splitlines():
            key, _, value = line.partition("=")
            context[f"steps.{step.get('id')}.outputs.{key}"] = value
            if step.get("id") == "run":
                result.outputs[key] = value
        return done.returncode

    def _collect(self, result: ActionRun) -> None:
        summary, log = self.temp / "summary.md", self.temp / "gh.log"
        result.summary = summary.read_text() if summary.exists() else ""
        result.gh_calls = log.read_text().splitlines() if log.exists() else []
        body = self.temp / "gh.log.body"
        result.comment = body.read_text() if body.exists() else ""
