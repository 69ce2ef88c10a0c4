"""What the CLI prints while it works: stderr lines, apply's progress and interrupt notices."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from reconciler.errors import EXIT_INTERRUPTED
from reconciler.render import escape, show_name


def echo_err(message: str) -> None:
    click.echo(message, err=True)


class ProgressPrinter:
    """Progress while apply waits (DESIGN §7): on a TTY a line whenever a resource changes
    phase; otherwise (CI logs) one line per waiting resource every 10 s."""

    def __init__(self, tty: bool, clock: Any = time.monotonic, every: float = 10.0) -> None:
        self.tty = tty
        self.clock = clock
        self.every = every
        self.last = -every
        self.phases: dict[tuple[str, str], str] = {}

    def line(self, text: str) -> None:
        click.echo(escape(text))

    def poll(self, waiting: list[tuple[str, str, str, float]]) -> None:
        now = self.clock()
        if self.tty:
            changed = [w for w in waiting if self.phases.get(w[:2]) != w[2]]
        elif now - self.last >= self.every:
            changed, self.last = waiting, now
        else:
            changed = []
        for kind, name, phase, elapsed in changed:
            if phase == "?":  # not listed yet: nothing to say
                continue
            self.phases[(kind, name)] = phase
            click.echo(f"  {kind} {show_name(name)}: {escape(phase)} ({elapsed:.0f}s elapsed)")


def on_first_interrupt() -> None:
    echo_err(
        "\nInterrupt received: no new actions will start; waiting for the ones in flight."
        "\nPress Ctrl-C again to exit at once (`reconciler plan` will show the state)."
    )


def on_second_interrupt() -> None:
    echo_err("\nExiting now. Run `reconciler plan` to see the state.")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)
