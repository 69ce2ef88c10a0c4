"""The live view of apply's progress on a capable terminal: one table redrawn in place (rich).

The title is the heartbeat: total elapsed, counts and a spinner move every tick even while
every resource sits in one phase. Every cell is a `Text` built from escaped strings, so a
name can neither inject rich markup nor move the cursor.
"""

from __future__ import annotations

import sys

from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from reconciler.apply import Progress, Step
from reconciler.cli.progress import Board, Row, format_elapsed
from reconciler.render import escape, show_name

#: Steps worth a line above the table (the table alone would lose them when a row moves on).
NOTED = (Step.FAILED, Step.CHECKING, Step.ADOPTED, Step.NOT_WAITED)
UTF_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_SPINNER = "|/-\\"


class LiveTable:
    """Kind, name, action, phase, time in phase, elapsed; done ✓ and failed ✗ marks."""

    def __init__(self, console: Console) -> None:
        self.console = console
        utf = (console.encoding or "").lower().replace("-", "").startswith("utf")
        self.spinner = UTF_SPINNER if utf else ASCII_SPINNER
        self.marks = {
            Step.DONE: ("✓" if utf else "+", "green"),
            Step.FAILED: ("✗" if utf else "x", "red"),
            Step.NOT_WAITED: ("–" if utf else "-", "yellow"),
        }
        self.frame = 0
        self.live: Live | None = None

    @classmethod
    def on_stdout(cls, color: bool) -> LiveTable:
        return cls(Console(file=sys.stdout, force_terminal=True, no_color=not color))

    def start(self, board: Board) -> None:
        self.live = Live(
            self.render(board, board.clock()),
            console=self.console,
            auto_refresh=False,  # the printer's tick redraws, on its injected clock
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self.live.start()

    def stop(self, board: Board) -> None:
        if self.live is not None:
            self.live.update(self.render(board, board.clock()), refresh=True)
            self.live.stop()
            self.live = None

    def on_event(self, board: Board, event: Progress, row: Row) -> None:
        if self.live is None:
            return
        if event.step in NOTED:
            self.live.console.print(Text(f"{row.label}: {escape(event.text)}"))
        self.live.update(self.render(board, board.clock()), refresh=True)

    def on_poll(self, board: Board, changed: list[Row]) -> None:
        pass  # on_tick follows at once and redraws

    def on_tick(self, board: Board, now: float) -> None:
        if self.live is not None:
            self.frame += 1
            self.live.update(self.render(board, now), refresh=True)

    def _title(self, board: Board, now: float) -> Text:
        active = len(board.active)
        counts = f"{active} in progress, {board.count(Step.DONE)} done"
        failed = board.count(Step.FAILED)
        counts += f", {failed} failed" if failed else ""
        checked = (
            f" · checked {format_elapsed(now - board.last_poll)} ago"
            if board.last_poll is not None and active
            else ""
        )
        spin = self.spinner[self.frame % len(self.spinner)] if active else " "
        elapsed = format_elapsed(now - board.start)
        doing = "Interrupted" if board.interrupted else "Applying"
        return Text(f"{spin} {doing} · {elapsed} elapsed · {counts}{checked}", style="bold")

    def _mark(self, row: Row) -> Text:
        if row.ended is None:
            return Text(self.spinner[self.frame % len(self.spinner)], style="cyan")
        mark, style = self.marks.get(row.step, ("?", ""))
        return Text(mark, style=style)

    def render(self, board: Board, now: float) -> Table:
        table = Table(
            box=box.SIMPLE_HEAD, title=self._title(board, now), title_justify="left", pad_edge=False
        )
        for header in ("", "kind", "name", "action", "phase", "in phase", "elapsed"):
            right = header in ("in phase", "elapsed")
            table.add_column(header, justify="right" if right else "left", no_wrap=header != "name")
        rows = sorted(board.rows.values(), key=lambda r: r.ended is not None)
        room = max(3, self.console.height - 6)
        for row in rows[:room]:
            in_phase = format_elapsed(now - row.phase_since) if row.ended is None else ""
            table.add_row(
                self._mark(row),
                Text(row.resource),
                Text(show_name(row.name)),
                Text(row.action),
                Text(escape(row.phase)),
                Text(in_phase),
                Text(format_elapsed(row.elapsed(now))),
            )
        if len(rows) > room:
            hidden = rows[room:]
            done = sum(1 for r in hidden if r.ended is not None)
            table.add_row("", "", Text(f"… and {len(hidden)} more ({done} finished)"))
        return table
