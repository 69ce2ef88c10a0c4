"""The session a command runs: spec and client in, live state read, plan made, shown,
confirmed, executed. Commands stay a few lines by calling these small steps."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from reconciler.apply import Applier, ApplyOptions
from reconciler.cli.files import read_plan_file, read_spec_files
from reconciler.cli.progress import (
    ProgressPrinter,
    echo_err,
    on_first_interrupt,
    on_second_interrupt,
)
from reconciler.errors import (
    EXIT_CHANGES,
    ApiResponseError,
    ApplyFailedError,
    Cancelled,
    ConfigError,
    Interrupted,
)
from reconciler.export import render_export
from reconciler.kinds import KINDS
from reconciler.live import parse_live_state, parse_regions
from reconciler.model import ActionKind, LiveState, Outcome, Plan, Region, Spec
from reconciler.plan import (
    DEFAULT_MAX_DELETES,
    PlanOptions,
    build_plan,
    check_catalogue,
    has_redacted_secrets,
    raise_if_stale,
    raise_if_unsafe,
    restore_secrets,
)
from reconciler.render import render_plan, render_report

if TYPE_CHECKING:
    from reconciler.cli import Settings
    from reconciler.client import Client

#: What to plan: --target, --exclude, --allow-replace, --max-deletes.
Selection = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]
EVERYTHING: Selection = ((), (), (), DEFAULT_MAX_DELETES)

# --- API client wiring (issue 3) -------------------------------------------------------------

# The in-process simulator's transport ignores the host; this name only shows in messages.
SIM_BASE_URL = "http://sim.local"


def make_client(settings: Settings) -> Client:
    """The one API client of this run: the in-process simulator (--sim) or the real API."""
    from reconciler.client import DEFAULT_BASE_URL, Client, check_base_url, resolve_api_key

    if settings.sim is not None:
        from reconciler.simulator.state import DEMO_SPEED
        from reconciler.simulator.transport import open_sim

        speed = settings.sim_speed if settings.sim_speed is not None else DEMO_SPEED
        transport = open_sim(settings.sim, speed=speed)
        return Client(SIM_BASE_URL, transport.state.token, transport=transport)
    base_url = check_base_url(settings.base_url or DEFAULT_BASE_URL)
    return Client(base_url, resolve_api_key(os.environ, settings.api_key_file))


# --- spec, live state, plan ------------------------------------------------------------------


def load_desired(paths: Sequence[str]) -> Spec:
    from reconciler.spec import load_spec

    spec = load_spec(read_spec_files(paths or (".",)))
    for warning in spec.warnings:
        echo_err(f"warning: {warning}")
    return spec


def read_live(client: Client, project_id: str | None) -> LiveState:
    """One list call per resource kind, whatever the number of clusters."""
    answers = {kind.name: client.list_resources(kind.api, project_id) for kind in KINDS}
    try:
        return parse_live_state(answers)
    except ValueError as exc:
        raise ApiResponseError(f"the API's lists are unusable: {exc}") from None


def make_plan(
    settings: Settings,
    client: Client,
    spec: Spec,
    targets: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
    allow_replace: tuple[str, ...] = (),
    max_deletes: int = DEFAULT_MAX_DELETES,
) -> tuple[Plan, LiveState]:
    project_id = settings.project_id or spec.project_id
    if project_id != spec.project_id:
        spec = dataclasses.replace(spec, project_id=project_id)
    live = read_live(client, project_id)
    options = PlanOptions(allow_replace, max_deletes, targets, excludes)
    the_plan = build_plan(spec, live, options)
    if any(a.kind in (ActionKind.CREATE, ActionKind.REPLACE) for a in the_plan.actions):
        # One catalogue call per run, and only when something will be created.
        the_plan = check_catalogue(the_plan, parse_regions(client.list_regions()))
    return the_plan, live


def plan_and_show(
    settings: Settings,
    paths: Sequence[str],
    fmt: str,
    selection: Selection = EVERYTHING,
    mode: str = "plan",
) -> Plan:
    """Read the spec, plan against live state, print the plan in `fmt` (nothing is changed);
    `mode` is the command whose words the plan speaks (`plan` or `drift`)."""
    spec = load_desired(paths)
    with make_client(settings) as client:
        the_plan, _ = make_plan(settings, client, spec, *selection)
    click.echo(render_plan(the_plan, fmt, settings.color, mode), nl=False)
    return the_plan


def finish_plan(plan: Plan, detailed_exitcode: bool) -> None:
    raise_if_unsafe(plan)
    if detailed_exitcode and plan.has_changes:
        sys.exit(EXIT_CHANGES)


def read_catalogue(settings: Settings) -> tuple[Region, ...]:
    with make_client(settings) as client:
        return parse_regions(client.list_regions())


def export_text(settings: Settings, names: tuple[str, ...], project_id: str | None) -> str:
    """A spec (YAML) for the live resources; every name asked for must exist."""
    with make_client(settings) as client:
        live = read_live(client, project_id)
    missing = sorted(set(names) - {r.name for r in live.resources})
    if missing:
        kinds = " or ".join(k.name for k in reversed(KINDS))
        raise ConfigError(f"export: no live {kinds} named {', '.join(missing)}")
    return render_export(live, names, project_id)


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
        options = dataclasses.replace(
            options,
            poll_initial=0.0 if fast else max(0.25, 5.0 / speed),
            poll_max=0.0 if fast else max(1.0, 30.0 / speed),
            adopt_grace=0.0 if fast else max(0.5, 10.0 / speed),
        )
    return options


def execute(
    settings: Settings,
    client: Client,
    the_plan: Plan,
    live: LiveState,
    options: ApplyOptions,
    verb: str = "Apply",
) -> None:
    """Run the plan, print the report, exit 5 on failures and 130 when interrupted."""
    printer = ProgressPrinter(tty=sys.stdout.isatty())
    applier = Applier(
        client,
        options=options,
        project_id=the_plan.project_id,
        progress=printer.line,
        on_poll=printer.poll,
    )
    report = applier.run(
        the_plan, live, on_interrupt=on_first_interrupt, on_second_interrupt=on_second_interrupt
    )
    click.echo("")
    click.echo(render_report(report, settings.color, verb), nl=False)
    if report.interrupted:
        raise Interrupted("apply interrupted; run `reconciler plan` to see what is left")
    if report.has_failures:
        raise ApplyFailedError(
            f"apply finished with {report.count(Outcome.FAILED)} failure(s) and "
            f"{report.count(Outcome.SKIPPED)} skipped action(s)"
        )


def execute_saved_plan(
    settings: Settings, planfile: str, paths: Sequence[str], options: ApplyOptions
) -> None:
    """Run a saved plan unless live state moved on since (no prompt: it was reviewed)."""
    saved = read_plan_file(planfile)
    raise_if_unsafe(saved)
    with make_client(settings) as client:
        live = read_live(client, saved.project_id)
        raise_if_stale(saved, live)
        if has_redacted_secrets(saved):
            saved = restore_secrets(saved, load_desired(paths))
        click.echo(render_plan(saved, "text", settings.color), nl=False)
        if not saved.has_changes:
            return
        execute(settings, client, saved, live, options)


def plan_confirm_execute(
    settings: Settings,
    spec: Spec,
    selection: Selection,
    options: ApplyOptions,
    auto_approve: bool,
    question: str,
) -> None:
    """Plan, show it, stop on a safety rule or no changes, ask, then execute."""
    mode = "destroy" if question == CONFIRM_DESTROY else "plan"
    with make_client(settings) as client:
        the_plan, live = make_plan(settings, client, spec, *selection)
        click.echo(render_plan(the_plan, "text", settings.color, mode), nl=False)
        raise_if_unsafe(the_plan)
        if not the_plan.has_changes:
            return
        if not auto_approve:
            confirm(question)
        execute(
            settings, client, the_plan, live, options, "Destroy" if mode == "destroy" else "Apply"
        )
