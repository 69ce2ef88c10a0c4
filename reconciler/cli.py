"""Command line: click commands that read files, wire the pipeline, confirm, print, exit.

The only module that prints errors or chooses exit codes (see errors.py for the tree).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click

from reconciler import __version__
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ReconcilerError,
    SpecError,
)

DEFAULT_SIM_STATE = ".reconciler/sim.json"

EXIT_CODES_HELP = """\b
Exit codes:
  0    success, no changes
  1    error (nothing was changed)
  2    changes present (plan --detailed-exitcode; drift)
  3    plan blocked by a safety rule
  4    saved plan is stale
  5    apply finished with failures or timeouts
  64   usage error
  130  interrupted
"""


@dataclass
class Settings:
    """What the global options say; one per invocation, passed to every command."""

    base_url: str | None
    api_key_file: str | None
    project_id: str | None
    sim: str | None
    sim_speed: float | None
    color: bool
    debug: bool


# --- API client wiring (issue 3) -------------------------------------------------------------

if TYPE_CHECKING:
    from reconciler.client import Client

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


def echo_err(message: str) -> None:
    click.echo(message, err=True)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES_HELP,
)
@click.version_option(__version__, prog_name="reconciler")
@click.option(
    "--base-url",
    envvar="TOGETHER_BASE_URL",
    help="API host root, as the official SDK takes it [env TOGETHER_BASE_URL; "
    "default https://api.together.ai]. http:// only for loopback hosts.",
)
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False),
    help="Read the API key from this file (mode 600) instead of env TOGETHER_API_KEY.",
)
@click.option("--project-id", help="Project to scope list calls and creates to.")
@click.option(
    "--sim",
    is_flag=False,
    flag_value=DEFAULT_SIM_STATE,
    default=None,
    metavar="[STATE_FILE]",
    help=f"Run against the built-in simulator, state in STATE_FILE (default {DEFAULT_SIM_STATE}).",
)
@click.option(
    "--sim-speed",
    type=float,
    default=None,
    help="Simulator time factor (default: demo speed, Ready in a few seconds; 0 = instant).",
)
@click.option("--no-color", is_flag=True, help="No colour (also when NO_COLOR is set).")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(
    ctx: click.Context,
    base_url: str | None,
    api_key_file: str | None,
    project_id: str | None,
    sim: str | None,
    sim_speed: float | None,
    no_color: bool,
    debug: bool,
) -> None:
    """Declarative management of Together AI GPU clusters and shared volumes.

    Keep YAML specs in git; `validate` checks them, `plan` shows what would change against
    the live clusters, `apply` does it after you confirm.
    """
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Settings(base_url, api_key_file, project_id, sim, sim_speed, color, debug)


# --- validate / schema (issue 2) -------------------------------------------------------------


def read_spec_files(paths: Sequence[str]) -> list[tuple[str, bytes]]:
    """Expand files and directories into (display path, bytes), sorted; the I/O half of specs."""
    raise NotImplementedError


@cli.command()
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
    from reconciler.spec import load_spec

    spec = load_spec(read_spec_files(paths or (".",)))
    for warning in spec.warnings:
        echo_err(f"warning: {warning}")
    n_clusters, n_volumes = len(spec.clusters), len(spec.volumes)
    click.echo(f"Valid: {n_clusters} cluster(s), {n_volumes} volume(s).")


@cli.command()
def schema() -> None:
    """Print the spec's JSON Schema (draft 2020-12)."""
    from reconciler.schema import schema_text

    click.echo(schema_text(), nl=False)


# --- simulator (issue 3) ---------------------------------------------------------------------


@cli.group()
def sim() -> None:
    """The built-in simulator of the Together cluster API."""


@sim.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--token", default=None, help="Accepted bearer token [default: sim-token].")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    help="Persist state to this JSON file (atomically, after every change); reloaded on start.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=None,
    help="Time factor: 1 = realistic minutes, 0 = instant [default: demo speed, Ready in ~4 s].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for ids and faults.")
@click.option("--latency", "latency_ms", type=click.IntRange(min=0), default=0, metavar="MS")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND:RATE",
    help="KIND is 429 (answers Retry-After), 500, 502, 503, 504, drop (commit, then close "
    "without answering) or stall (answer after the client's timeout); RATE is the "
    "probability per mutating request, 0-1. Repeatable.",
)
@click.option("--retry-after", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--stall-seconds", type=click.FloatRange(min=0), default=65.0, show_default=True)
@click.option("--log", "access_log", is_flag=True, help="Print one line per request to stderr.")
def sim_serve(
    host: str,
    port: int,
    token: str | None,
    state_file: str | None,
    speed: float | None,
    seed: int,
    latency_ms: int,
    faults: tuple[str, ...],
    retry_after: int,
    stall_seconds: float,
    access_log: bool,
) -> None:
    """Serve the simulator over HTTP on loopback until Ctrl-C.

    Point the official SDK (base_url) or TOGETHER_BASE_URL at the printed URL.
    """
    from reconciler.simulator.http import is_loopback, serve
    from reconciler.simulator.state import DEFAULT_TOKEN, DEMO_SPEED, Faults
    from reconciler.simulator.transport import load_state

    if not is_loopback(host):
        raise click.BadParameter(
            f"{host!r}: the simulator listens on loopback only (127.0.0.1, ::1, localhost)",
            param_hint="--host",
        )
    try:
        fault_config = Faults.parse(faults, latency_ms=latency_ms, retry_after=retry_after)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None
    state = load_state(
        state_file,
        speed=speed if speed is not None else DEMO_SPEED,
        token=token,
        seed=seed,
        faults=fault_config,
    )
    shown_token = state.token if state.token == DEFAULT_TOKEN else "(as given by --token)"

    def ready(url: str) -> None:
        click.echo(f"Together API simulator listening on {url}  (Ctrl-C stops)")
        click.echo(f"  token: {shown_token}   speed: {state.speed:g}   seed: {state.seed}")
        if state_file:
            click.echo(f"  state: {state_file}")
        click.echo(f"  try:   curl -H 'Authorization: Bearer <token>' {url}/v1/compute/regions")

    serve(
        state,
        host,
        port,
        state_file=state_file,
        stall_seconds=stall_seconds,
        on_ready=ready,
        log=echo_err if access_log else None,
    )
    click.echo("Simulator stopped.")


# --- entry point -----------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    echo_err(message)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console script: run the group, turn every error into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        hint = f"\nTry '{exc.ctx.command_path} --help' for help." if exc.ctx else ""
        _fail(f"Error: {exc.format_message()}{hint}", EXIT_USAGE)
    except click.Abort:
        _fail("Interrupted.", EXIT_INTERRUPTED)
    except SpecError as exc:
        if debug:
            raise
        for problem in exc.problems:
            echo_err(problem)
        _fail(f"Error: {len(exc.problems)} problem(s) in the spec.", exc.exit_code)
    except ReconcilerError as exc:
        if debug:
            raise
        _fail(f"Error: {exc}", exc.exit_code)
    except KeyboardInterrupt:
        _fail("Interrupted.", EXIT_INTERRUPTED)
    except click.ClickException as exc:
        _fail(f"Error: {exc.format_message()}", EXIT_ERROR)
    sys.exit(EXIT_OK)
