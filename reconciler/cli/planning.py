"""`plan` and `drift`: the read-only commands that show a plan.

Both send their list calls first (cli/listing.py) and import the planning code afterwards,
while the API answers: this module and what it imports at the top stay light (no schema,
planning, rendering or apply code; tests/unit/test_lazy_imports.py checks it).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from reconciler.cli import echo_err
from reconciler.cli.listing import start_lists
from reconciler.cli.options import (
    FORMAT_OPTION,
    MoneyFlags,
    money_options,
    plan_options,
    spec_option,
)
from reconciler.errors import EXIT_CHANGES

if TYPE_CHECKING:
    from reconciler.cli import Settings


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
@money_options(gates=True)
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
    money: MoneyFlags,
) -> None:
    """Show what apply would change: field by field, nothing is changed."""
    started = start_lists(settings, paths)
    from reconciler.cli.files import write_plan_file
    from reconciler.cli.session import finish_plan, plan_and_show  # while the API answers

    selection = (targets, excludes, allow_replace, max_deletes)
    the_plan = plan_and_show(settings, started, fmt, selection, money)
    if out and not the_plan.is_blocked:
        write_plan_file(out, the_plan)
        echo_err(f"Saved the plan to {out}; apply it with: reconciler apply {out}")
    finish_plan(the_plan, detailed_exitcode)


@click.command()
@spec_option
@FORMAT_OPTION
@click.pass_obj
@money_options(gates=False)
def drift(settings: Settings, paths: tuple[str, ...], fmt: str, money: MoneyFlags) -> None:
    """Read-only plan for schedules: exit 2 when live state drifted from the spec or a
    cluster expired (lifecycle.expires_at); a reservation ending soon is a warning."""
    started = start_lists(settings, paths)
    from reconciler.cli.session import plan_and_show  # imported while the API answers

    the_plan = plan_and_show(settings, started, fmt, money=money, mode="drift")
    if the_plan.has_changes or the_plan.is_blocked:
        sys.exit(EXIT_CHANGES)
