"""What the CLI prints while it works: stderr lines, apply's progress and interrupt notices.

Apply's progress (DESIGN §7) is kept on a `Board` (one row per resource being changed) and
shown by one of two views: a live table redrawn in place on a capable terminal
(`live_table.py`), or plain lines everywhere else — a line per step and per phase change, and
a summary line by phase every 10 s on a dumb terminal (the heartbeat) or every minute off a
terminal (CI logs), never a line per resource per poll. Time comes from an injected clock.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import click
from msgspec import Struct

from reconciler.apply import Progress, Step
from reconciler.apply.poller import Waiting
from reconciler.cli import echo_err as echo_err  # one definition, re-exported
from reconciler.errors import EXIT_INTERRUPTED
from reconciler.render import escape, show_name

Clock = Callable[[], float]


def format_elapsed(seconds: float) -> str:
    """45s, 4m, 4m05s, 1h02m: short enough for a table cell and a log line."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m"


@dataclass
class Row:
    """One resource being changed: its action, where it is, since when."""

    resource: str
    name: str
    action: str
    started: float
    phase: str
    phase_since: float
    step: Step
    ended: float | None = None

    def elapsed(self, now: float) -> float:
        return (self.ended if self.ended is not None else now) - self.started

    @property
    def label(self) -> str:
        return f"{self.resource} {show_name(self.name)}"


#: The phase a row shows after a step, until a poll says where the resource really is.
STEP_PHASE = {Step.CREATING: "creating", Step.UPDATING: "updating", Step.DELETING: "deleting"}


class Board:
    """Every resource apply has touched, fed by its events and polls (not thread-safe: the
    printer holds the lock)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.start = clock()
        self.rows: dict[tuple[str, str], Row] = {}
        self.last_poll: float | None = None
        self.interrupted = False  # the first Ctrl-C: waits end, no new action starts

    def event(self, event: Progress, now: float) -> Row:
        key = (event.resource, event.name)
        row = self.rows.get(key)
        if row is None:
            row = Row(event.resource, event.name, event.action, now, "", now, event.step)
            self.rows[key] = row
        row.step = event.step
        phase = STEP_PHASE.get(event.step, row.phase or "pending")
        if event.step is Step.DONE:
            phase = event.status or ("gone" if event.action == "delete" else "done")
        elif event.step is Step.NOT_WAITED:
            phase = f"{row.phase}, not waited for" if row.phase else "not waited for"
        if phase != row.phase:
            row.phase, row.phase_since = phase, now
        if event.step.is_final:
            row.ended = now
        return row

    def poll(self, waiting: list[Waiting], now: float) -> list[Row]:
        """The rows whose phase changed with this poll."""
        self.last_poll = now
        changed = []
        for kind, name, phase, _ in waiting:
            row = self.rows.get((kind, name))
            if row is None or phase == "?" or phase == row.phase or row.ended is not None:
                continue  # "?": not listed yet, nothing to say
            row.phase, row.phase_since = phase, now
            changed.append(row)
        return changed

    @property
    def active(self) -> list[Row]:
        return [r for r in self.rows.values() if r.ended is None]

    def count(self, step: Step) -> int:
        return sum(1 for r in self.rows.values() if r.step is step)

    def summary(self, now: float) -> str:
        """`[4m elapsed] 37 waiting: 20 InstallingDrivers, 17 RunningAcceptanceTests; 3 done`."""
        active = self.active
        by_phase = Counter(r.phase for r in active)
        phases = ", ".join(
            f"{n} {escape(p)}" for p, n in sorted(by_phase.items(), key=lambda i: (-i[1], i[0]))
        )
        ended = [
            f"{n} {label}"
            for label, n in (
                ("done", self.count(Step.DONE)),
                ("failed", self.count(Step.FAILED)),
                ("not waited for", self.count(Step.NOT_WAITED)),
            )
            if n
        ]
        text = f"[{format_elapsed(now - self.start)} elapsed] {len(active)} waiting"
        text += f": {phases}" if phases else ""
        return text + (f"; {', '.join(ended)}" if ended else "")


class View(Protocol):
    """How the board is shown; every call is made with the printer's lock held."""

    def start(self, board: Board) -> None: ...
    def stop(self, board: Board) -> None: ...
    def on_event(self, board: Board, event: Progress, row: Row) -> None: ...
    def on_poll(self, board: Board, changed: list[Row]) -> None: ...
    def on_tick(self, board: Board, now: float) -> None: ...


class PlainLines:
    """A line per step and per phase change; a summary at most every `every` seconds."""

    def __init__(self, write: Callable[[str], None], every: float) -> None:
        self.write = write
        self.every = every
        self.last = 0.0

    def start(self, board: Board) -> None:
        self.last = board.start

    def stop(self, board: Board) -> None:
        pass

    def on_event(self, board: Board, event: Progress, row: Row) -> None:
        self.write(f"{row.label}: {escape(event.text)}")

    def on_poll(self, board: Board, changed: list[Row]) -> None:
        now = board.clock()
        for row in changed:
            elapsed = format_elapsed(row.elapsed(now))
            self.write(f"  {row.label}: {escape(row.phase)} ({elapsed} elapsed)")

    def on_tick(self, board: Board, now: float) -> None:
        if now - self.last >= self.every and board.active:
            self.last = now
            self.write(board.summary(now))


class Pace(Struct, frozen=True):
    """How often the printer looks at the clock, and how often plain lines summarise."""

    tick: float = 1.0
    heartbeat: float = 10.0  # a terminal that cannot redraw: a summary at least this often
    summary: float = 60.0  # off a terminal (CI logs): one summary line per minute

    def scaled(self, speed: float | None) -> Pace:
        """The simulator's time factor applies to the heartbeat too (demos and tests)."""
        if not speed or speed <= 1:
            return self
        return Pace(
            max(0.1, self.tick / speed),
            max(1.0, self.heartbeat / speed),
            max(1.0, self.summary / speed),
        )


class ProgressPrinter:
    """Takes apply's events and polls (from worker and poller threads) and a tick from its
    own thread, and hands them, under one lock, to the view."""

    def __init__(self, view: View, clock: Clock = time.monotonic, tick: float = 1.0) -> None:
        self.view = view
        self.board = Board(clock)
        self.tick_every = tick
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        view.start(self.board)

    def start_ticking(self) -> None:
        self._thread = threading.Thread(target=self._ticks, name="reconciler-progress")
        self._thread.daemon = True
        self._thread.start()

    def _ticks(self) -> None:
        while not self._stopped.wait(self.tick_every):
            self.tick()

    def event(self, event: Progress) -> None:
        with self._lock:
            row = self.board.event(event, self.board.clock())
            self.view.on_event(self.board, event, row)

    def poll(self, waiting: list[Waiting]) -> None:
        with self._lock:
            now = self.board.clock()
            self.view.on_poll(self.board, self.board.poll(waiting, now))
            self.view.on_tick(self.board, now)

    def interrupted(self) -> None:
        with self._lock:
            self.board.interrupted = True
            self.view.on_tick(self.board, self.board.clock())

    def tick(self) -> None:
        with self._lock:
            self.view.on_tick(self.board, self.board.clock())

    def close(self) -> None:
        """Stop ticking and leave the view's last state on screen; safe to call twice."""
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        with self._lock:
            self.view.stop(self.board)


def can_redraw(is_tty: bool, environ: Mapping[str, str]) -> bool:
    """A live table needs a terminal that moves its cursor; NO_COLOR (non-empty) asks for
    plain output too."""
    term = environ.get("TERM", "")
    return is_tty and term not in ("", "dumb") and not environ.get("NO_COLOR")


def make_printer(
    color: bool,
    sim_speed: float | None = None,
    environ: Mapping[str, str] = os.environ,
) -> ProgressPrinter:
    """The live table on a capable terminal, plain lines anywhere else."""
    pace = Pace().scaled(sim_speed)
    is_tty = sys.stdout.isatty()
    view: View
    if can_redraw(is_tty, environ):
        from reconciler.cli.live_table import LiveTable

        view = LiveTable.on_stdout(color)
    else:
        view = PlainLines(click.echo, pace.heartbeat if is_tty else pace.summary)
    return ProgressPrinter(view, tick=pace.tick)


def on_first_interrupt() -> None:
    echo_err(
        "\nInterrupt received: no new actions will start; waiting for the ones in flight."
        "\nPress Ctrl-C again to exit at once (`reconciler plan` will show the state)."
    )


def on_second_interrupt() -> None:
    echo_err("\nExiting now. Run `reconciler plan` to see the state.")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)
