"""Confirmation and execution: the prompt, the lock, apply with its progress and Ctrl-C, and
a saved plan made again before it runs."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from msgspec import structs

from reconciler.apply import Applier, ApplyOptions
from reconciler.cli.files import read_plan_file
from reconciler.cli.lock import LockSpec, held
from reconciler.cli.progress import (
    echo_err,
    make_printer,
    on_first_interrupt,
    on_second_interrupt,
)
from reconciler.errors import (
    ApplyFailedError,
    Cancelled,
    ConfigError,
    Interrupted,
    StalePlanError,
)
from reconciler.model import LiveState, Outcome, Plan, Spec
from reconciler.plan import (
    options_of,
    raise_if_differs,
    raise_if_stale,
    raise_if_unsafe,
)
from reconciler.render import render_plan, render_report

if TYPE_CHECKING:
    from reconciler.cli import Settings
    from reconciler.client import Client

from reconciler.cli.listing import make_client
from reconciler.cli.options import (
    NO_LOCK_WAIT,
    NO_MONEY_FLAGS,
    LockChoice,
    MoneyFlags,
    Selection,
)
from reconciler.cli.session import load_desired, make_plan

# --- confirmation and execution --------------------------------------------------------------

CONFIRM_APPLY = "Do you want to perform these actions? Only 'yes' will be accepted to approve."
CONFIRM_DESTROY = (
    "Do you really want to destroy these resources? There is no undo. "
    "Only 'yes' will be accepted to confirm."
)


def confirm(question: str) -> None:
    """Only the exact answer 'yes' goes on; anything else (Ctrl-D too) cancels with exit 1;
    Ctrl-C at the prompt is an interrupt (exit 130), as everywhere else."""
    click.echo(f"\n{question}")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except click.Abort as exc:
        click.echo("")  # end the prompt's line first
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise Interrupted("interrupted at the prompt; nothing was changed") from None
        answer = ""
    if answer.strip() != "yes":
        raise Cancelled("Apply cancelled; nothing was changed.")


def require_confirmation_possible(auto_approve: bool) -> None:
    """No TTY and no --auto-approve: refuse before any API call — never assume yes."""
    if not auto_approve and not sys.stdin.isatty():
        raise ConfigError(
            "stdin is not a terminal, so apply cannot ask for confirmation; "
            "pass --auto-approve (CI) or apply a reviewed plan file"
        )


def apply_options(settings: Settings, parallelism: int, wait: bool, timeout: float) -> ApplyOptions:
    options = ApplyOptions(parallelism=parallelism, wait=wait, timeout=timeout)
    if settings.sim is not None:
        # The simulator's time factor applies to the tool's waits too, so a demo or a test
        # does not sit through poll intervals sized for real clusters.
        from reconciler.simulator.state import DEMO_SPEED

        speed = settings.sim_speed if settings.sim_speed is not None else DEMO_SPEED
        fast = speed == 0
        options = structs.replace(
            options,
            poll_initial=0.0 if fast else max(0.25, 5.0 / speed),
            poll_max=0.0 if fast else max(1.0, 30.0 / speed),
            adopt_grace=0.0 if fast else max(0.5, 10.0 / speed),
        )
    return options


def sim_speed(settings: Settings) -> float | None:
    """The in-process simulator's time factor, None on the real API."""
    if settings.sim is None:
        return None
    from reconciler.simulator.state import DEMO_SPEED

    return settings.sim_speed if settings.sim_speed is not None else DEMO_SPEED


def execute(
    settings: Settings,
    client: Client,
    the_plan: Plan,
    live: LiveState,
    options: ApplyOptions,
    verb: str = "Apply",
) -> None:
    """Run the plan, print the report, exit 5 on failures and 130 when interrupted."""
    printer = make_printer(settings.color, sim_speed(settings))
    applier = Applier(
        client,
        options=options,
        project_id=the_plan.project_id,
        progress=printer.event,
        on_poll=printer.poll,
    )

    def stop_starting() -> None:
        printer.interrupted()
        on_first_interrupt()

    def exit_at_once() -> None:
        printer.close()  # a live table gives the terminal back (cursor shown) before the exit
        on_second_interrupt()

    printer.start_ticking()
    try:
        report = applier.run(
            the_plan, live, on_interrupt=stop_starting, on_second_interrupt=exit_at_once
        )
    finally:
        printer.close()
    try:
        click.echo("")
        click.echo(render_report(report, settings.color, verb), nl=False)
    except OSError as exc:  # the changes are made: say so where it can still be read
        echo_err(f"could not print the report ({exc.strerror or exc}); `reconciler plan` shows it")
    if applier.progress_failures:
        echo_err(f"note: {applier.progress_failures} progress line(s) could not be shown")
    if report.interrupted:
        raise Interrupted("apply interrupted; run `reconciler plan` to see what is left")
    if report.has_failures:
        raise ApplyFailedError(
            f"apply finished with {report.count(Outcome.FAILED)} failure(s) and "
            f"{report.count(Outcome.SKIPPED)} skipped action(s)"
        )


def project_lock(settings: Settings, choice: LockChoice, project_id: str | None) -> LockSpec:
    """The lock of this API (or this simulator state file) and project."""
    if settings.sim is not None:
        where = "sim:" + os.path.abspath(settings.sim)
    else:
        from reconciler.client import DEFAULT_BASE_URL

        where = settings.base_url or DEFAULT_BASE_URL
    url, timeout = choice
    return LockSpec(url, where, settings.project_id or project_id, timeout)


def execute_saved_plan(
    settings: Settings,
    planfile: str,
    paths: Sequence[str],
    options: ApplyOptions,
    lock: LockChoice = NO_LOCK_WAIT,
    money: MoneyFlags = NO_MONEY_FLAGS,
) -> None:
    """Run a saved plan (no prompt: it was reviewed) only if the spec files are the ones it was
    made from and the plan made now from them and live state is the same plan; what runs is
    that plan made now, so nothing in the file's bodies is trusted."""
    saved = read_plan_file(planfile)
    spec = load_desired(paths)
    if spec.digest != saved.spec_digest:
        raise StalePlanError(
            f"{planfile}: the spec files given (-f, default the current directory) are not the "
            "ones the plan was made from; pass the same files, or plan again"
        )
    selection = options_of(saved)
    forfeit = tuple(sorted({*money.allow_forfeit, *selection.allow_forfeit}))
    money = structs.replace(money, allow_forfeit=forfeit)
    with (
        held(project_lock(settings, lock, spec.project_id), echo_err),
        make_client(settings) as client,
    ):
        fresh, live = make_plan(
            settings,
            client,
            spec,
            selection.targets,
            selection.excludes,
            selection.allow_replace,
            selection.max_deletes,
            money,
        )
        raise_if_stale(saved, live)
        raise_if_differs(saved, fresh)
        click.echo(render_plan(fresh, "text", settings.color), nl=False)
        raise_if_unsafe(fresh)
        if not fresh.has_changes:
            return
        execute(settings, client, fresh, live, options)


def plan_confirm_execute(
    settings: Settings,
    spec: Spec,
    selection: Selection,
    options: ApplyOptions,
    auto_approve: bool,
    question: str,
    lock: LockChoice = NO_LOCK_WAIT,
    money: MoneyFlags = NO_MONEY_FLAGS,
) -> None:
    """Under the project's lock: plan, show it, stop on a safety rule or no changes, ask, then
    execute. A second apply waits for the lock, then plans what the first left to do."""
    mode = "destroy" if question == CONFIRM_DESTROY else "plan"
    with (
        held(project_lock(settings, lock, spec.project_id), echo_err),
        make_client(settings) as client,
    ):
        the_plan, live = make_plan(settings, client, spec, *selection, money=money)
        click.echo(render_plan(the_plan, "text", settings.color, mode), nl=False)
        raise_if_unsafe(the_plan)
        if not the_plan.has_changes:
            return
        if not auto_approve:
            confirm(question)
        execute(
            settings, client, the_plan, live, options, "Destroy" if mode == "destroy" else "Apply"
        )
