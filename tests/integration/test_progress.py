"""Live progress and interrupted waits (DESIGN §7, issue 13): bounded CI logs, a heartbeat on a
terminal, "not waited for" after Ctrl-C, and plans that name what is not ready."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from msgspec import structs

from reconciler.apply import Applier, Progress, Step
from reconciler.cli.progress import PlainLines, ProgressPrinter
from reconciler.client import Client
from reconciler.model import Outcome
from reconciler.simulator.clusters import CREATE_WALK, PHASE_SECONDS
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import SPEC_HEADER, FakeClock
from tests.integration.helpers import (
    FAST,
    communicate_or_kill,
    desired,
    load_sim_file,
    make_spec,
    plan_against,
    reconciler_command,
    run_cli,
    run_in_pty,
    seed_sim_file,
    sim_api,
    write_spec,
)

SPEC = (
    SPEC_HEADER
    + """\
{clusters}
"""
)


def spec_text(*sizes: tuple[str, int]) -> str:
    lines = [f"  - cluster_name: {name}\n    num_gpus: {gpus}" for name, gpus in sizes]
    return SPEC.format(clusters="\n".join(lines))


@pytest.fixture
def api(sim_transport: SimTransport, fake_clock: FakeClock) -> Client:
    return sim_api(sim_transport, fake_clock)


def test_fifty_clusters_ten_minutes_off_a_terminal_bounded_lines(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """50 clusters walking to Ready over 10 simulated minutes: a line per step and per phase
    change and about one summary a minute, never a line per resource per poll."""
    walk = sum(PHASE_SECONDS[p] for p in CREATE_WALK)
    sim_state.speed = walk / 600.0  # Ready after 10 minutes
    lines: list[str] = []
    printer = ProgressPrinter(PlainLines(lines.append, 60.0), fake_clock)
    spec = make_spec(*(desired(f"fleet-{i:02d}") for i in range(50)))
    plan, live = plan_against(api, spec)

    def sleep(seconds: float) -> None:
        # Fake time races ahead of the 50 worker threads unless the poller lets every create
        # be sent first (the real API would answer all 50 within the first poll interval).
        deadline = time.monotonic() + 10
        while len(sim_state.clusters) < 50 and time.monotonic() < deadline:
            time.sleep(0.001)
        fake_clock.sleep(seconds)

    applier = Applier(
        api,
        options=structs.replace(FAST, parallelism=50),
        clock=fake_clock,
        sleep=sleep,
        progress=printer.event,
        on_poll=printer.poll,
    )
    started = fake_clock()
    report = applier.run(plan, live)
    assert report.count(Outcome.DONE) == 50 and not report.has_failures
    assert 600 <= fake_clock() - started <= 700
    summaries = [line for line in lines if line.startswith("[")]
    phase_lines = [line for line in lines if line.startswith("  cluster")]
    step_lines = [line for line in lines if line.startswith("cluster")]
    assert 8 <= len(summaries) <= 11, summaries
    assert len(phase_lines) <= 50 * len(CREATE_WALK)
    assert len(step_lines) == 50 * 3  # creating, waiting until Ready, created
    assert len(lines) == len(summaries) + len(phase_lines) + len(step_lines)
    polls = len(fake_clock.sleeps)
    assert len(lines) < 50 * polls / 2, "far fewer than a line per resource per poll"
    assert re.fullmatch(r"\[1m(0\ds)? elapsed\] 50 waiting: 50 WaitingFor\w+", summaries[0])


def test_interrupt_reports_sent_as_not_waited_for_and_unsent_as_skipped(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Ctrl-C while waiting: a create already sent is "not waited for", never "done"; an
    update still waiting for provisioning before its call is skipped (nothing was sent)."""
    sim_state.add_cluster(cluster_name="busy", status="InstallingDrivers")
    spec = make_spec(desired("busy", num_gpus=16), desired("fresh"))
    plan, live = plan_against(api, spec)
    events: list[Progress] = []

    def on_event(event: Progress) -> None:
        events.append(event)
        if event.step is Step.WAITING and event.name == "fresh":  # never Ready by itself
            sim_state.stick(sim_state.clusters_named("fresh")[0]["cluster_id"], "WaitingForSubnet")
        waits = sum(1 for e in events if e.step is Step.WAITING)
        if waits == 2:  # both are waiting now: the first Ctrl-C
            applier.interrupt()

    def sleep(seconds: float) -> None:  # fake time waits for both workers to be waiting
        deadline = time.monotonic() + 10
        while sum(e.step is Step.WAITING for e in events) < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        fake_clock.sleep(seconds)

    applier = Applier(api, options=FAST, clock=fake_clock, sleep=sleep, progress=on_event)
    report = applier.run(plan, live)
    by_name = {r.action.name: r for r in report.results}
    assert report.interrupted
    assert by_name["fresh"].outcome is Outcome.SENT
    assert by_name["fresh"].message == "create sent; not waited for (interrupted)"
    assert by_name["fresh"].resource_id is not None
    assert by_name["busy"].outcome is Outcome.SKIPPED
    assert sim_state.clusters_named("busy")[0]["num_gpus"] == 8, "the update was never sent"
    assert any(e.step is Step.NOT_WAITED and e.name == "fresh" for e in events)


def test_plan_and_drift_name_clusters_not_ready(tmp_path: Path) -> None:
    """No changes, yet a cluster is still provisioning: plan and drift say so, one line each;
    with JSON the note goes to stderr and stdout stays JSON."""
    sim_file = tmp_path / "sim.json"
    state = seed_sim_file(
        sim_file,
        [
            {"cluster_name": "busy", "status": "WaitingForSubnet"},
            {"cluster_name": "fine"},
        ],
    )
    busy = state.clusters_named("busy")[0]["cluster_id"]
    spec_file = write_spec(tmp_path, spec_text(("busy", 8), ("fine", 8)))
    note = (
        "Not ready: 1 live resource(s) are not in their ready state yet:\n"
        f'  cluster "busy" (id {busy}): WaitingForSubnet\n'
    )
    result = run_cli([f"--sim={sim_file}", "--sim-speed", "0", "plan", "-f", spec_file])
    assert result.code == 0, result.all
    assert result.out.endswith(f"match the spec.\n\n{note}")
    drift = run_cli([f"--sim={sim_file}", "--sim-speed", "0", "drift", "-f", spec_file])
    assert drift.code == 0 and drift.out.endswith(note)
    as_json = run_cli(
        [f"--sim={sim_file}", "--sim-speed", "0", "plan", "-f", spec_file, "--format", "json"]
    )
    json.loads(as_json.out)
    assert as_json.err.endswith(note)


# --- the real CLI on a pseudo-terminal -------------------------------------------------------


def stuck_update(tmp_path: Path) -> list[str]:
    """A cluster stuck in InstallingDrivers that the spec grows: apply waits for it (before
    its update) in one phase until --timeout; the simulator's speed 20 paces the heartbeat."""
    sim_file = tmp_path / "sim.json"
    seed_sim_file(sim_file, [{"cluster_name": "stuck", "status": "InstallingDrivers"}])
    spec_file = write_spec(tmp_path, spec_text(("stuck", 16)))
    return [f"--sim={sim_file}", "--sim-speed", "20", "apply", "-f", spec_file]


def test_pty_live_table_heartbeat_while_one_phase_lasts(tmp_path: Path) -> None:
    """On a capable terminal: a table redrawn in place whose elapsed time moves on while the
    cluster sits in one phase; then the failure (timeout) and the usual report."""
    argv = [*stuck_update(tmp_path), "--auto-approve", "--timeout", "2s"]
    code, screen = run_in_pty(argv, expect_prompt=False, env={"TERM": "xterm", "NO_COLOR": None})
    assert code == 5, screen
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    titles = re.findall(r"Applying · (\d+)s elapsed · 1 in progress", plain)
    assert {"0", "1"} <= set(titles), plain
    assert re.search(r"update\s+InstallingDrivers\s+\ds\s+\ds", plain), plain
    assert "\x1b[1A" in screen or "\x1b[2K" in screen, "redrawn in place"
    assert "Apply complete: 0 done, 1 failed, 0 skipped." in plain
    assert "timed out after 2 s waiting to be Ready; last phase InstallingDrivers" in plain


def test_pty_dumb_terminal_plain_heartbeat_lines(tmp_path: Path) -> None:
    """NO_COLOR: plain lines, and a summary at least every 10 s (1 s at speed 20) although
    the phase never changes."""
    argv = [*stuck_update(tmp_path), "--auto-approve", "--timeout", "2.5s"]
    code, screen = run_in_pty(argv, expect_prompt=False, env={"TERM": "xterm", "NO_COLOR": "1"})
    assert code == 5, screen
    assert "\x1b[" not in screen
    heartbeats = re.findall(r"\[\ds elapsed\] 1 waiting: 1 InstallingDrivers", screen)
    assert len(heartbeats) >= 2, screen
    assert screen.count("InstallingDrivers (") == 1, "one line for the phase, not per poll"


def test_ctrl_c_then_plan_shows_what_is_left(tmp_path: Path) -> None:
    """After one Ctrl-C the report says "not waited for (interrupted)", the exit is 130, and
    the next plan names the cluster still provisioning."""
    sim_file = tmp_path / "sim.json"
    seed_sim_file(sim_file, [])
    spec_file = write_spec(tmp_path, spec_text(("new-one", 8)))
    argv = [*reconciler_command(), f"--sim={sim_file}", "--sim-speed", "20"]
    argv += ["apply", "-f", spec_file, "--auto-approve"]
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and b"waiting until Ready" not in seen:
        line = process.stdout.readline()
        if not line:
            break
        seen += line
    process.send_signal(signal.SIGINT)
    out, err = communicate_or_kill(process)
    screen = (seen + out).decode()
    assert process.returncode == 130, (screen, err.decode())
    assert 'cluster "new-one" (id c-' in screen
    assert "create sent; not waited for (interrupted)" in screen
    assert "Apply interrupted: 0 done, 1 not waited for, 0 failed, 0 skipped." in screen
    (cluster,) = load_sim_file(sim_file).clusters.values()
    plan = run_cli([f"--sim={sim_file}", "--sim-speed", "20", "plan", "-f", spec_file])
    assert "No changes." in plan.out
    assert f'cluster "new-one" (id {cluster.cluster_id}): WaitingFor' in plan.out
