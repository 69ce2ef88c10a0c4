"""Command line: the click group, its global options, and the one error handler.

The only package that prints errors or chooses exit codes (see errors.py for the tree). The
commands live in commands.py (and sim.py), the wiring they share in session.py, file I/O in
files.py, and what apply prints while it works in progress.py.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click
from msgspec import Struct

from reconciler import __version__
from reconciler.cli.process import leave, run_as_program, tuned_gc
from reconciler.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ReconcilerError,
    SpecError,
)

if TYPE_CHECKING:
    from reconciler.cli.files import read_spec_files
    from reconciler.cli.listing import make_client, read_live

# Names other code imports from `reconciler.cli` (tests, benchmarks, the console script).
__all__ = [
    "DEFAULT_SIM_STATE",
    "Settings",
    "cli",
    "main",
    "make_client",
    "read_live",
    "read_spec_files",
    "tuned_gc",
]


DEFAULT_SIM_STATE = ".reconciler/sim.json"

#: Command name → (module, attribute, the first paragraph of its help). A command's module is
#: imported only when that command runs (or its own --help is asked for): `--help` and
#: `validate` import no deepdiff, httpx or simulator. The summaries are what `--help` lists;
#: tests/unit/test_lazy_imports.py checks them against the commands' docstrings.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "apply": (
        "reconciler.cli.commands",
        "apply",
        "Make live state match the spec (or run a saved PLANFILE), after you type 'yes'.",
    ),
    "destroy": (
        "reconciler.cli.commands",
        "destroy",
        "Delete everything the spec declares (and nothing else).",
    ),
    "drift": (
        "reconciler.cli.planning",
        "drift",
        "Read-only plan for schedules: exit 2 when live state drifted from the spec or a "
        "cluster expired (lifecycle.expires_at); a reservation ending soon is a warning.",
    ),
    "export": (
        "reconciler.cli.commands",
        "export",
        "Write a spec for the live clusters and volumes (adopt what exists).",
    ),
    "kubeconfig": (
        "reconciler.cli.commands",
        "kubeconfig",
        "Fetch the kubeconfig of the live cluster NAME (or cluster id), as "
        "`tg clusters get-credentials` does.",
    ),
    "plan": (
        "reconciler.cli.planning",
        "plan",
        "Show what apply would change: field by field, nothing is changed.",
    ),
    "regions": (
        "reconciler.cli.commands",
        "regions",
        "Print the regions catalogue: GPU types and CUDA/driver pairs per region.",
    ),
    "schema": (
        "reconciler.cli.commands",
        "schema",
        "Print the spec's JSON Schema (draft 2020-12).",
    ),
    "show": ("reconciler.cli.commands", "show", "Print a saved plan."),
    "sim": ("reconciler.cli.sim", "sim", "The built-in simulator of the Together cluster API."),
    "validate": (
        "reconciler.cli.commands",
        "validate",
        "Check spec files offline: schema and rules, every problem at once.",
    ),
}

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


class Settings(Struct):
    """What the global options say; one per invocation, passed to every command."""

    base_url: str | None
    api_key_file: str | None
    project_id: str | None
    sim: str | None
    sim_speed: float | None
    color: bool
    debug: bool


class Group(click.Group):
    """Global options go before or after the command (`reconciler plan --sim` as well as
    `reconciler --sim plan`), and a bare `--sim` before a command name is the flag.

    Click gives an option with an optional value the next word when that word is not an
    option, so `reconciler --sim plan` would run nothing with the state file `plan`. After
    the command a bare `--sim` is always the flag (`--sim=FILE` names a state file there), so
    `apply --sim plan.json` reads plan.json as the PLANFILE.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use."""
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, attribute, _ = LAZY_COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute))
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands' list from LAZY_COMMANDS: `--help` imports no command module."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, _summary(self, ctx, name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = list(args)
        for i, arg in enumerate(args):
            if arg in LAZY_COMMANDS or arg in self.commands:
                args = args[:i] + hoist_global_options(self, args[i:])
                break
            if arg == "--sim" and i + 1 < len(args) and args[i + 1] in LAZY_COMMANDS:
                args[i] = f"--sim={DEFAULT_SIM_STATE}"
        return super().parse_args(ctx, args)


def _summary(group: click.Group, ctx: click.Context, name: str) -> click.Command:
    """A stand-in carrying the command's summary, or the command itself once it is loaded
    (or when its summary is not kept here)."""
    loaded = group.commands.get(name)
    summary = LAZY_COMMANDS.get(name, ("", "", ""))[2]
    if loaded is not None or not summary:
        return group.get_command(ctx, name) or click.Command(name)
    return click.Command(name, help=summary)


def _option_arity(command: click.Command) -> dict[str, int]:
    """Option name → words it takes (0 flag, 1 value, -1 optional value) for one command."""
    arity = {}
    for param in command.params:
        if isinstance(param, click.Option):
            takes = 0 if param.is_flag or param.count else 1
            if "--sim" in param.opts:  # `--sim[=FILE]`: a value only after `=`
                takes = -1
            for name in (*param.opts, *param.secondary_opts):
                arity[name] = takes
    return arity


def hoist_global_options(group: click.Group, args: list[str]) -> list[str]:
    """`COMMAND [SUB] ... --global [VALUE] ...` → the global options first, then the rest.

    An option the command defines itself (export's `--project-id`) stays the command's; a
    value of the command's own options is never taken for an option; `--` ends the scan.
    """
    global_arity = _option_arity(group)
    global_arity.pop("--version", None)
    global_arity.pop("--help", None)
    global_arity.pop("-h", None)
    command: click.Command | None = group.get_command(click.Context(group), args[0])
    own: dict[str, int] = {}
    while command is not None:
        own.update(_option_arity(command))
        sub = command.commands if isinstance(command, click.Group) else {}
        command = next((sub[a] for a in args[1:3] if a in sub), None)
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest += args[i:]
            break
        if name in own:
            takes = 1 if own[name] == 1 and "=" not in arg else 0
            rest += args[i : i + 1 + takes]
        elif name in global_arity:
            takes = 1 if global_arity[name] == 1 and "=" not in arg else 0
            word = f"--sim={DEFAULT_SIM_STATE}" if arg == "--sim" else arg
            hoisted += [word, *args[i + 1 : i + 1 + takes]]
        else:
            takes = 0
            rest.append(arg)
        i += 1 + takes
    return hoisted + rest


@click.group(
    cls=Group,
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
    # NO_COLOR counts only when set and non-empty (https://no-color.org).
    color = not no_color and not os.environ.get("NO_COLOR") and sys.stdout.isatty()
    ctx.obj = Settings(base_url, api_key_file, project_id, sim, sim_speed, color, debug)


def __getattr__(name: str) -> Any:
    """The names tests and benchmarks import from here, loaded on first use."""
    lazy = {
        "read_spec_files": "reconciler.cli.files",
        "make_client": "reconciler.cli.listing",
        "read_live": "reconciler.cli.listing",
    }
    if name in lazy:
        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- entry point -----------------------------------------------------------------------------


def echo_err(message: str) -> None:
    """One line on stderr (defined here, not in cli.progress, so that the error handler
    imports no progress display)."""
    click.echo(message, err=True)


def escape(text: str) -> str:
    """reconciler.render's escape, imported when an error is shown, not at start-up."""
    from reconciler.render import escape as escape_text

    return escape_text(text)


def _fail(message: str, code: int) -> NoReturn:
    echo_err(message)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console script: run the group, turn every error into one line and an exit code. As
    the program (`argv` None) it leaves without CPython's teardown (`process.leave`); in-process
    callers (tests) get the SystemExit."""
    if argv is None:
        run_as_program()
    try:
        _main(argv)
    except SystemExit as exc:
        if argv is None:
            leave(exc.code)
        raise


def _main(argv: Sequence[str] | None) -> None:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        with tuned_gc():
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
    except Exception as exc:  # a bug of ours: still one line, never a traceback
        if debug:
            raise
        _fail(
            f"Error: internal error ({type(exc).__name__}: {escape(str(exc))}); "
            "run again with --debug for the traceback and report it",
            EXIT_ERROR,
        )
    sys.exit(EXIT_OK)
