"""The commands: options in, a few lines calling the session, output out.

Each command is a plain click command; the group in cli/__init__.py adds them.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from reconciler.apply import ApplyOptions
from reconciler.cli.files import read_plan_file, write_file_atomically, write_plan_file
from reconciler.cli.progress import echo_err
from reconciler.cli.session import (
    CONFIRM_APPLY,
    CONFIRM_DESTROY,
    Selection,
    apply_options,
    execute_saved_plan,
    export_text,
    finish_plan,
    load_desired,
    plan_and_show,
    plan_confirm_execute,
    read_catalogue,
    require_confirmation_possible,
)
from reconciler.errors import EXIT_CHANGES
from reconciler.kinds import KINDS
from reconciler.plan import DEFAULT_MAX_DELETES, destroy_spec
from reconciler.render import render_plan, render_regions

if TYPE_CHECKING:
    from reconciler.cli import Settings

# --- shared options --------------------------------------------------------------------------


def spec_option(func: Any) -> Any:
    return click.option(
        "-f",
        "--file",
        "paths",
        multiple=True,
        type=click.Path(),
        help="Spec file or directory (repeatable; default: the current directory).",
    )(func)


def plan_options(func: Any) -> Any:
    """The options every command that builds a plan shares."""
    for option in reversed(
        [
            click.option(
                "--target", "targets", multiple=True, metavar="NAME", help="Only this resource."
            ),
            click.option(
                "--exclude", "excludes", multiple=True, metavar="NAME", help="Leave it out."
            ),
            click.option(
                "--allow-replace",
                multiple=True,
                metavar="NAME",
                help="Allow replacing (delete, then create) this resource.",
            ),
            click.option(
                "--max-deletes",
                type=click.IntRange(min=0),
                default=DEFAULT_MAX_DELETES,
                show_default=True,
                help="Block a plan that deletes or replaces more resources than this.",
            ),
        ]
    ):
        func = option(func)
    return func


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def parse_duration(text: str) -> float:
    """'45m', '90s', '1h30m' or plain seconds → seconds."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or match is None or not any(match.groups()):
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 45m, 90s, 1h30m)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


# --- validate / schema (issue 2) -------------------------------------------------------------


@click.command()
@click.option(
    "-f",
    "--file",
    "paths",
    multiple=True,
    type=click.Path(),
    help="Spec file or directory (repeatable; default: the current directory's *.yaml).",
)
def validate(paths: tuple[str, ...]) -> None:
    """Check spec files offline: schema and rules, every problem at once."""
    spec = load_desired(paths)
    counts = ", ".join(f"{len(spec.of_kind(k.name))} {k.name}(s)" for k in reversed(KINDS))
    click.echo(f"Valid: {counts}.")


@click.command()
def schema() -> None:
    """Print the spec's JSON Schema (draft 2020-12)."""
    from reconciler.schema import schema_text

    click.echo(schema_text(), nl=False)


# --- plan / apply / show / drift / destroy (issue 4) -----------------------------------------


@click.command()
@spec_option
@click.option("--out", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@FORMAT_OPTION
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes, 0 when there are none.",
)
@plan_options
@click.pass_obj
def plan(
    settings: Settings,
    paths: tuple[str, ...],
    out: str | None,
    fmt: str,
    detailed_exitcode: bool,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    allow_replace: tuple[str, ...],
    max_deletes: int,
) -> None:
    """Show what apply would change: field by field, nothing is changed."""
    selection = (targets, excludes, allow_replace, max_deletes)
    the_plan = plan_and_show(settings, paths, fmt, selection)
    if out and not the_plan.is_blocked:
        write_plan_file(out, the_plan)
        echo_err(f"Saved the plan to {out}; apply it with: reconciler apply {out}")
    finish_plan(the_plan, detailed_exitcode)


@click.command()
@spec_option
@FORMAT_OPTION
@click.pass_obj
def drift(settings: Settings, paths: tuple[str, ...], fmt: str) -> None:
    """Read-only plan for schedules: exit 2 when live state drifted from the spec."""
    the_plan = plan_and_show(settings, paths, fmt, mode="drift")
    if the_plan.has_changes or the_plan.is_blocked:
        sys.exit(EXIT_CHANGES)


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@FORMAT_OPTION
@click.pass_obj
def show(settings: Settings, planfile: str, fmt: str) -> None:
    """Print a saved plan."""
    click.echo(render_plan(read_plan_file(planfile), fmt, settings.color), nl=False)


@dataclass(frozen=True, slots=True)
class Run:
    """How to execute, from the options apply and destroy share."""

    auto_approve: bool
    options: ApplyOptions
    selection: Selection


def run_options(approve: str, wait: str, timeout: str) -> Callable[[Any], Any]:
    """--auto-approve, --parallelism, --no-wait, --timeout and the plan options, handed to the
    command as one `run` (below `click.pass_obj`, so `settings` comes first)."""

    def decorate(func: Any) -> Any:
        @functools.wraps(func)
        def command(settings: Settings, *args: Any, **kwargs: Any) -> Any:
            wait_for = not kwargs.pop("no_wait")
            duration = parse_duration(kwargs.pop("timeout"))
            options = apply_options(settings, kwargs.pop("parallelism"), wait_for, duration)
            selection: Selection = tuple(
                kwargs.pop(k) for k in ("targets", "excludes", "allow_replace", "max_deletes")
            )
            run = Run(kwargs.pop("auto_approve"), options, selection)
            return func(settings, *args, run=run, **kwargs)

        options = [
            click.option("--auto-approve", is_flag=True, help=approve),
            click.option(
                "--parallelism",
                type=click.IntRange(min=1, max=100),
                default=10,
                show_default=True,
                help="How many independent actions run at once.",
            ),
            click.option("--no-wait", is_flag=True, help=wait),
            click.option("--timeout", default="45m", show_default=True, help=timeout),
        ]
        command = plan_options(command)
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@click.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@spec_option
@click.pass_obj
@run_options(
    approve="Skip the 'yes' prompt (for CI).",
    wait="Do not wait for Ready / gone.",
    timeout="How long to wait for each resource (e.g. 45m, 90s).",
)
def apply(settings: Settings, planfile: str | None, paths: tuple[str, ...], run: Run) -> None:
    """Make live state match the spec (or run a saved PLANFILE), after you type 'yes'."""
    if planfile is not None:
        execute_saved_plan(settings, planfile, paths, run.options)
        return
    require_confirmation_possible(run.auto_approve)
    spec = load_desired(paths)
    plan_confirm_execute(
        settings, spec, run.selection, run.options, run.auto_approve, CONFIRM_APPLY
    )


@click.command()
@spec_option
@click.pass_obj
@run_options(
    approve="Skip the 'yes' prompt.",
    wait="Do not wait until the resources are gone.",
    timeout="Wait per resource.",
)
def destroy(settings: Settings, paths: tuple[str, ...], run: Run) -> None:
    """Delete everything the spec declares (and nothing else)."""
    require_confirmation_possible(run.auto_approve)
    spec = destroy_spec(load_desired(paths))
    plan_confirm_execute(
        settings, spec, run.selection, run.options, run.auto_approve, CONFIRM_DESTROY
    )


# --- regions / export (issue 5) --------------------------------------------------------------


@click.command()
@click.pass_obj
def regions(settings: Settings) -> None:
    """Print the regions catalogue: GPU types and CUDA/driver pairs per region."""
    click.echo(render_regions(read_catalogue(settings)), nl=False)


@click.command()
@click.option("--name", "names", multiple=True, metavar="NAME", help="Only this resource.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout."
)
@click.option(
    "--project-id",
    "export_project",
    metavar="ID",
    help="Only this project's resources, written as the spec's project_id (as the global "
    "--project-id).",
)
@click.pass_obj
def export(
    settings: Settings, names: tuple[str, ...], output: str | None, export_project: str | None
) -> None:
    """Write a spec for the live clusters and volumes (adopt what exists).

    `plan` on the result reports no changes. Secrets are never exported.
    """
    text = export_text(settings, names, export_project or settings.project_id)
    if output is None:
        click.echo(text, nl=False)
        return
    write_file_atomically(output, text)
    echo_err(f"Wrote {output}.")


#: Every command the group in cli/__init__.py adds (the `sim` group comes from cli/sim.py).
COMMANDS = (validate, schema, plan, drift, show, apply, destroy, regions, export)
