"""The commands: options in, a few lines calling the session, output out.

Each command is a plain click command; the group in cli/__init__.py adds them.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from reconciler.cli.execution import (
    CONFIRM_APPLY,
    CONFIRM_DESTROY,
    execute_saved_plan,
    plan_confirm_execute,
    require_confirmation_possible,
)
from reconciler.cli.files import (
    private_target,
    read_plan_file,
    write_file_atomically,
    write_plan_file,
)
from reconciler.cli.options import (
    FORMAT_OPTION,
    Run,
    money_options,
    plan_options,
    run_options,
    spec_option,
)
from reconciler.cli.progress import echo_err
from reconciler.cli.session import (
    MoneyFlags,
    export_text,
    finish_plan,
    load_desired,
    plan_and_show,
    read_catalogue,
)
from reconciler.errors import EXIT_CHANGES
from reconciler.kinds import TOP_LEVEL
from reconciler.plan import destroy_spec
from reconciler.render import render_plan, render_regions

if TYPE_CHECKING:
    from reconciler.cli import Settings
    from reconciler.model import Spec


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
    counts = ", ".join(f"{len(spec.of_kind(k.name))} {k.name}(s)" for k in reversed(TOP_LEVEL))
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
    selection = (targets, excludes, allow_replace, max_deletes)
    the_plan = plan_and_show(settings, paths, fmt, selection, money)
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
    the_plan = plan_and_show(settings, paths, fmt, money=money, mode="drift")
    if the_plan.has_changes or the_plan.is_blocked:
        sys.exit(EXIT_CHANGES)


@click.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@FORMAT_OPTION
@click.pass_obj
def show(settings: Settings, planfile: str, fmt: str) -> None:
    """Print a saved plan."""
    click.echo(render_plan(read_plan_file(planfile), fmt, settings.color), nl=False)


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
        execute_saved_plan(settings, planfile, paths, run.options, run.lock, run.money)
        return
    require_confirmation_possible(run.auto_approve)
    _plan_confirm_execute(settings, load_desired(paths), run, CONFIRM_APPLY)


def _plan_confirm_execute(settings: Settings, spec: Spec, run: Run, question: str) -> None:
    plan_confirm_execute(
        settings, spec, run.selection, run.options, run.auto_approve, question, run.lock, run.money
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
    _plan_confirm_execute(settings, destroy_spec(load_desired(paths)), run, CONFIRM_DESTROY)


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


# --- kubeconfig (issue 9) --------------------------------------------------------------------


@click.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the kubeconfig to FILE (created or replaced, mode 600; its directory must "
    "exist). Use it with KUBECONFIG=FILE kubectl ...",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Merge it into $KUBECONFIG (its first path) or ~/.kube/config: other clusters, users "
    "and contexts are kept, entries of the same name replaced; the current context is set "
    "only if the file has none.",
)
@click.pass_obj
def kubeconfig(settings: Settings, name: str, output: str | None, merge: bool) -> None:
    """Fetch the kubeconfig of the live cluster NAME (or cluster id), as
    `tg clusters get-credentials` does.

    One of -o FILE or --merge is required: a kubeconfig is a credential, so it is never printed
    and never written to a file you did not name. With --merge, the cluster, user and context
    are all named NAME.
    """
    from reconciler.cli import kubeconfig as kc

    if (output is None) == (not merge):
        raise click.UsageError(
            "give -o FILE to write the kubeconfig to a file, or --merge to merge it into "
            "$KUBECONFIG or ~/.kube/config (one of them; it is never printed)"
        )
    if output is not None:
        target = kc.output_target(output, os.environ)
        text = kc.fetch_kube_config(settings, name)
        echo_err(kc.write_kubeconfig(target, output, text, name))
        return
    path, is_default = kc.default_merge_path(os.environ)
    target = private_target(path, make_dir=is_default)
    text = kc.fetch_kube_config(settings, name)
    echo_err(kc.merge_kubeconfig_file(target, path, text, name))


#: Every command the group in cli/__init__.py adds (the `sim` group comes from cli/sim.py).
COMMANDS = (validate, schema, plan, drift, show, apply, destroy, regions, export, kubeconfig)
