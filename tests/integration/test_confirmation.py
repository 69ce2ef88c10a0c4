"""Confirmation (DESIGN §7): only `yes` applies; no TTY without --auto-approve refuses first."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import SPEC_HEADER
from tests.integration.helpers import (
    SimSpy,
    communicate_or_kill,
    load_sim_file,
    reconciler_command,
    run_cli,
    run_in_pty,
    seed_sim_file,
    sim_args,
    write_spec,
)

SPEC = (
    SPEC_HEADER
    + """\
  - cluster_name: grow-me
    num_gpus: 16
  - cluster_name: new-one
    num_gpus: 8
"""
)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, str]:
    """A state file with one cluster to grow, and a spec that also creates one."""
    sim_file = tmp_path / "sim.json"
    seed_sim_file(sim_file, [{"cluster_name": "grow-me", "num_gpus": 8}])
    return sim_file, write_spec(tmp_path, SPEC)


@pytest.mark.parametrize("command", ["apply", "destroy"])
def test_no_tty_without_auto_approve_refuses_before_any_call(
    command: str, setup: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdin not a terminal and no --auto-approve: exit 1 before any API call, even given 'yes'."""
    sim_file, spec_file = setup
    spy = SimSpy().install(monkeypatch)
    before = sim_file.read_bytes()
    result = run_cli([*sim_args(sim_file), command, "-f", spec_file], input="yes\n")
    assert result.code == 1
    assert "--auto-approve" in result.err
    assert spy.transports == []  # not even a list call
    assert sim_file.read_bytes() == before


ANSWERS = [
    ("no", b"no", 1),
    ("y", b"y", 1),
    ("empty", b"", 1),
    ("YES-upper", b"YES", 1),
    ("ctrl-d", None, 1),
    ("yes", b"yes", 0),
]


@pytest.mark.parametrize(
    ("answer", "code"), [(a, c) for _, a, c in ANSWERS], ids=[i for i, _, _ in ANSWERS]
)
def test_prompt_on_a_terminal(answer: bytes | None, code: int, setup: tuple[Path, str]) -> None:
    """On a real terminal only the exact answer 'yes' applies; anything else changes nothing."""
    sim_file, spec_file = setup
    before = sim_file.read_bytes()
    exit_code, screen = run_in_pty([*sim_args(sim_file), "apply", "-f", spec_file], answer)
    assert "Only 'yes' will be accepted to approve." in screen
    assert exit_code == code, screen
    state = load_sim_file(sim_file)
    sizes = {c.fields.cluster_name: c.fields.num_gpus for c in state.clusters.values()}
    if code == 0:
        assert sizes == {"grow-me": 16, "new-one": 8}
        assert "Apply complete: 2 done, 0 failed, 0 skipped." in screen
    else:
        assert sim_file.read_bytes() == before
        assert "nothing was changed" in screen


def test_auto_approve_needs_no_terminal(setup: tuple[Path, str]) -> None:
    """--auto-approve applies without a prompt and without a terminal (CI)."""
    sim_file, spec_file = setup
    result = run_cli([*sim_args(sim_file), "apply", "-f", spec_file, "--auto-approve"])
    assert result.code == 0, result.all
    assert "Enter a value" not in result.all


def test_ctrl_c_mid_apply_exits_130(tmp_path: Path) -> None:
    """SIGINT while apply waits: no new action starts, the report is printed, exit 130."""
    sim_file = tmp_path / "sim.json"
    # grow-me is still provisioning: its update waits for Ready before it is sent, so the
    # Ctrl-C finds it not started (new-one's create is sent at once: waits hold no worker).
    seed_sim_file(sim_file, [{"cluster_name": "grow-me", "status": "InstallingDrivers"}])
    spec_file = write_spec(tmp_path, SPEC)
    env = {**os.environ, "NO_COLOR": "1"}
    # Speed 20: a create needs about a minute of wall time to be Ready, so apply is waiting.
    process = subprocess.Popen(
        [
            *reconciler_command(),
            f"--sim={sim_file}",
            "--sim-speed",
            "20",
            "apply",
            "-f",
            spec_file,
            "--auto-approve",
            "--parallelism",
            "1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    lines: list[bytes] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if b"waiting until Ready" in line or not line:
            break
    process.send_signal(signal.SIGINT)
    out, err = communicate_or_kill(process)
    screen = b"".join(lines).decode() + out.decode()
    assert process.returncode == 130, (screen, err.decode())
    assert "Apply interrupted" in screen
    assert "skipped" in screen  # the update never started
    assert "no new actions will start" in err.decode()
    state = load_sim_file(sim_file)
    assert len(state.clusters) == 2
    assert state.clusters_named("grow-me")[0]["num_gpus"] == 8, "the update was never sent"
