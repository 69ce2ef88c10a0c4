"""Apply's progress views (DESIGN §7): plain lines and summaries, the live table, the choice."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from reconciler.apply import Progress, Step
from reconciler.cli.live_table import LiveTable
from reconciler.cli.progress import (
    Board,
    Pace,
    PlainLines,
    ProgressPrinter,
    can_redraw,
    format_elapsed,
)
from reconciler.model import (
    Action,
    ActionKind,
    ActionResult,
    ApplyReport,
    Outcome,
)
from reconciler.render import render_report
from tests.conftest import FakeClock


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45.9, "45s"), (60, "1m"), (245, "4m05s"), (3600, "1h00m"), (3725, "1h02m")],
    ids=["zero", "seconds", "one-minute", "minutes", "hour", "hour-minutes"],
)
def test_format_elapsed(seconds: float, text: str) -> None:
    """Elapsed times are short: whole seconds, minutes, hours."""
    assert format_elapsed(seconds) == text


REDRAW = [
    ("xterm", False, {"TERM": "xterm"}, False),
    ("xterm-tty", True, {"TERM": "xterm-256color"}, True),
    ("dumb", True, {"TERM": "dumb"}, False),
    ("no-term", True, {}, False),
    ("no-color", True, {"TERM": "xterm", "NO_COLOR": "1"}, False),
    ("no-color-empty", True, {"TERM": "xterm", "NO_COLOR": ""}, True),
]


@pytest.mark.parametrize(
    ("tty", "environ", "expected"),
    [r[1:] for r in REDRAW],
    ids=[r[0] for r in REDRAW],
)
def test_live_table_only_on_a_capable_terminal(
    tty: bool, environ: dict[str, str], expected: bool
) -> None:
    """A terminal that can move its cursor gets the table; dumb or NO_COLOR (non-empty) not."""
    assert can_redraw(tty, environ) is expected


def event(name: str, step: Step, text: str, status: str = "") -> Progress:
    return Progress("cluster", name, "create", step, text, status)


def plain(clock: FakeClock, every: float = 60.0) -> tuple[ProgressPrinter, list[str]]:
    lines: list[str] = []
    return ProgressPrinter(PlainLines(lines.append, every), clock), lines


def test_plain_lines_a_line_per_step_and_phase_change_not_per_poll(fake_clock: FakeClock) -> None:
    """Off a terminal: steps and phase changes print once; the same phase polled again is
    silent; a summary follows once a minute has passed."""
    printer, lines = plain(fake_clock)
    printer.event(event("a", Step.CREATING, "creating"))
    printer.event(event("a", Step.WAITING, "waiting until Ready"))
    for _ in range(3):
        fake_clock.advance(15)
        printer.poll([("cluster", "a", "InstallingDrivers", 0.0)])
    fake_clock.advance(20)
    printer.poll([("cluster", "a", "RunningAcceptanceTests", 0.0)])
    printer.event(event("a", Step.DONE, "created after 65s, Ready", "Ready"))
    assert lines == [
        'cluster "a": creating',
        'cluster "a": waiting until Ready',
        '  cluster "a": InstallingDrivers (15s elapsed)',
        '  cluster "a": RunningAcceptanceTests (1m05s elapsed)',
        "[1m05s elapsed] 1 waiting: 1 RunningAcceptanceTests",
        'cluster "a": created after 65s, Ready',
    ]


def test_summary_counts_by_phase(fake_clock: FakeClock) -> None:
    """The summary: elapsed, what waits by phase (most first), then what ended."""
    board = Board(fake_clock)
    for i in range(40):
        board.event(event(f"c{i}", Step.WAITING, "waiting until Ready"), fake_clock())
    phases = ["InstallingDrivers"] * 20 + ["RunningAcceptanceTests"] * 17
    board.poll([("cluster", f"c{i}", p, 0.0) for i, p in enumerate(phases)], fake_clock())
    for i in range(37, 40):
        board.event(event(f"c{i}", Step.DONE, "created", "Ready"), fake_clock())
    fake_clock.advance(240)
    assert board.summary(fake_clock()) == (
        "[4m elapsed] 37 waiting: 20 InstallingDrivers, 17 RunningAcceptanceTests; 3 done"
    )


def test_plain_heartbeat_on_ticks_even_without_polls(fake_clock: FakeClock) -> None:
    """A dumb terminal hears from apply at least every 10 s, even when nothing changes."""
    printer, lines = plain(fake_clock, every=10.0)
    printer.event(event("a", Step.WAITING, "waiting until Ready"))
    for _ in range(30):
        fake_clock.advance(1)
        printer.tick()
    assert lines[1:] == [
        "[10s elapsed] 1 waiting: 1 pending",
        "[20s elapsed] 1 waiting: 1 pending",
        "[30s elapsed] 1 waiting: 1 pending",
    ]


def test_no_summary_once_nothing_waits(fake_clock: FakeClock) -> None:
    """When every resource has settled, ticks print nothing."""
    printer, lines = plain(fake_clock, every=10.0)
    printer.event(event("a", Step.DONE, "created after 0s, Ready", "Ready"))
    fake_clock.advance(100)
    printer.tick()
    assert lines == ['cluster "a": created after 0s, Ready']


def table_text(table: LiveTable, board: Board) -> str:
    console = table.console
    with console.capture() as capture:
        console.print(table.render(board, board.clock()))
    return capture.get()


def make_table() -> LiveTable:
    console = Console(file=io.StringIO(), width=100, height=30, color_system=None)
    return LiveTable(console)


def test_live_table_heartbeat_while_a_phase_lasts(fake_clock: FakeClock) -> None:
    """Same phase, later tick: the title's elapsed time and the row's times move on."""
    table, board = make_table(), Board(fake_clock)
    board.event(event("stuck", Step.WAITING, "waiting until Ready"), fake_clock())
    board.poll([("cluster", "stuck", "InstallingDrivers", 0.0)], fake_clock())
    fake_clock.advance(5)
    first = table_text(table, board)
    table.frame += 1
    fake_clock.advance(7)
    second = table_text(table, board)
    assert "Applying · 5s elapsed · 1 in progress, 0 done" in first
    assert "Applying · 12s elapsed · 1 in progress, 0 done · checked 12s ago" in second
    assert "InstallingDrivers" in first and "InstallingDrivers" in second
    assert first.splitlines()[0][0] != second.splitlines()[0][0], "the spinner turns"


def test_live_table_marks_and_escapes_names(fake_clock: FakeClock) -> None:
    """Done ✓ and failed ✗ marks; a name cannot inject markup or escape sequences."""
    table, board = make_table(), Board(fake_clock)
    board.event(event("ok", Step.DONE, "created after 1s, Ready", "Ready"), fake_clock())
    board.event(event("bad", Step.FAILED, "failed: boom"), fake_clock())
    board.event(event("[bold]x\x1b[2J", Step.WAITING, "waiting until Ready"), fake_clock())
    text = table_text(table, board)
    assert "✓" in text and "✗" in text
    assert '"[bold]x\\u001b[2J"' in text
    assert "\x1b" not in text
    rows = [line for line in text.splitlines() if "cluster" in line]
    assert "[bold]" in rows[0], "what is still in progress comes first"


def test_pace_scaled_by_simulator_speed() -> None:
    """Demos and tests on a fast simulator see heartbeats sooner, never below a second."""
    assert Pace().scaled(None) == Pace()
    assert Pace().scaled(20) == Pace(0.1, 1.0, 3.0)
    assert Pace().scaled(1000) == Pace(0.1, 1.0, 1.0)


def test_report_counts_not_waited_for_apart_from_done() -> None:
    """After Ctrl-C, a cluster whose create was sent but not waited for is never "done"."""
    sent = Action(ActionKind.CREATE, "cluster", "a")
    fine = Action(ActionKind.CREATE, "cluster", "b")
    later = Action(ActionKind.CREATE, "cluster", "c")
    report = ApplyReport(
        (
            ActionResult(sent, Outcome.SENT, "create sent; not waited for (interrupted)", "c-1"),
            ActionResult(fine, Outcome.DONE, "", "c-2", "Ready"),
            ActionResult(later, Outcome.SKIPPED, "not started: apply was interrupted"),
        ),
        interrupted=True,
    )
    assert render_report(report) == (
        'sent     cluster "a" (id c-1): create sent; not waited for (interrupted)\n'
        'done     cluster "b" (id c-2) created\n'
        'skipped  cluster "c": not started: apply was interrupted\n'
        "Apply interrupted: 1 done, 1 not waited for, 0 failed, 1 skipped.\n"
        "Run `reconciler plan` to see what is left to do.\n"
    )


def test_live_table_after_the_first_ctrl_c(fake_clock: FakeClock) -> None:
    """After Ctrl-C the title says so and a wait cut short reads "not waited for"."""
    table = make_table()
    printer = ProgressPrinter(PlainLines(lambda _line: None, 60.0), fake_clock)
    board = printer.board
    printer.event(event("a", Step.WAITING, "waiting until Ready"))
    printer.poll([("cluster", "a", "WaitingForSubnet", 0.0)])
    printer.interrupted()
    printer.event(event("a", Step.NOT_WAITED, "create sent; not waited for (interrupted)"))
    text = table_text(table, board)
    assert "Interrupted · 0s elapsed · 0 in progress, 0 done" in text
    assert "WaitingForSubnet, not waited for" in text
    assert board.summary(fake_clock()) == "[0s elapsed] 0 waiting; 1 not waited for"
