"""The commands: options in, a few lines calling the session, output out.

Each command is a plain click command; the group in cli/__init__.py adds them.
"""

from __future__ import annotations

import os
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
)
from reconciler.cli.options import (
    FORMAT_OPTION,
    Run,
    run_options,
    spec_option,
)
from reconciler.cli.progress import echo_err
from reconciler.cli.session import (
    export_text,
    load_desired,
    read_catalogue,
)
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
