"""Command line: click commands that read files, wire the pipeline, confirm, print, exit.

The only module that prints errors or chooses exit codes (see errors.py for the tree).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import click

from reconciler import __version__
from reconciler.apply import Applier, ApplyOptions
from reconciler.errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    ApiResponseError,
    ApplyFailedError,
    Cancelled,
    ConfigError,
    Interrupted,
    ReconcilerError,
    SpecError,
)
from reconciler.live import parse_live_state, parse_regions
from reconciler.model import ActionKind, LiveState, Outcome, Plan, Spec
from reconciler.plan import (
    DEFAULT_MAX_DELETES,
    PlanFileError,
    PlanOptions,
    build_plan,
    check_catalogue,
    destroy_spec,
    has_redacted_secrets,
    plan_from_dict,
    plan_to_dict,
    raise_if_stale,
    raise_if_unsafe,
    restore_secrets,
)
from reconciler.render import (
    escape,
    render_export,
    render_plan,
    render_regions,
    render_report,
    show_name,
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


class Group(click.Group):
    """Reads a bare `--sim` before a command name as the flag, not as `--sim=COMMAND`.

    Click gives an option with an optional value the next word when that word is not an
    option, so `reconciler --sim plan` would run nothing with the state file `plan`.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args = list(args)
        for i, arg in enumerate(args):
            if arg in self.commands:
                break
            if arg == "--sim" and i + 1 < len(args) and args[i + 1] in self.commands:
                args[i] = f"--sim={DEFAULT_SIM_STATE}"
        return super().parse_args(ctx, args)


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
    color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    ctx.obj = Settings(base_url, api_key_file, project_id, sim, sim_speed, color, debug)


# --- validate / schema (issue 2) -------------------------------------------------------------


SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 1024 * 1024  # the same limit spec.py enforces, checked before reading


def read_spec_files(paths: Sequence[str]) -> list[tuple[str, bytes]]:
    """Expand files and directories into (display path, bytes), sorted; the I/O half of specs.

    A directory contributes its *.yaml/*.yml files (not hidden ones, not subdirectories) in
    name order; files keep the order given. Every unreadable path is reported at once.
    """
    candidates: list[str] = []
    problems: list[str] = []
    for raw in paths:
        if os.path.isdir(raw):
            names = sorted(
                name
                for name in os.listdir(raw)
                if name.endswith(SPEC_SUFFIXES)
                and not name.startswith(".")
                and os.path.isfile(os.path.join(raw, name))
            )
            if not names:
                problems.append(
                    f"{raw}: no *.yaml or *.yml files in this directory; "
                    "pass a spec file or a directory that holds spec files"
                )
            candidates += [os.path.normpath(os.path.join(raw, name)) for name in names]
        elif os.path.exists(raw):
            candidates.append(raw)
        else:
            problems.append(f"{raw}: no such file or directory; check the -f path")
    files: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for path in candidates:
        real = os.path.realpath(path)
        if real in seen:  # the same file named twice is read once
            continue
        seen.add(real)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                # Never read an oversized file; read() is capped too, for pipes and devices.
                data = b"" if size > MAX_SPEC_BYTES else handle.read(MAX_SPEC_BYTES + 1)
                size = max(size, len(data))
        except OSError as exc:
            problems.append(f"{path}: cannot read it ({exc.strerror or exc}); check permissions")
            continue
        if size > MAX_SPEC_BYTES:
            problems.append(
                f"{path}:1:1: the file is larger than 1 MiB ({size} bytes); "
                "split it into several files in a directory"
            )
            continue
        files.append((path, data))
    if problems:
        raise SpecError(problems)
    return files


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


# --- plan / apply / show / drift / destroy (issue 4) -----------------------------------------


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


def load_desired(paths: Sequence[str]) -> Spec:
    from reconciler.spec import load_spec

    spec = load_spec(read_spec_files(paths or (".",)))
    for warning in spec.warnings:
        echo_err(f"warning: {warning}")
    return spec


def read_live(client: Client, project_id: str | None) -> LiveState:
    """One list call per resource kind, whatever the number of clusters."""
    clusters = client.list_clusters(project_id)
    volumes = client.list_volumes(project_id)
    try:
        return parse_live_state(clusters, volumes)
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


def write_plan_file(path: str, plan: Plan) -> None:
    write_file_atomically(path, json.dumps(plan_to_dict(plan), indent=2, sort_keys=True) + "\n")


def write_file_atomically(path: str, text: str) -> None:
    """Write to a temp file, then rename: a crash never leaves half a file behind."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_plan_file(path: str) -> Plan:
    try:
        with open(path, "rb") as handle:
            data = handle.read(16 * 1024 * 1024 + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    try:
        return plan_from_dict(json.loads(data), source=path)
    except (ValueError, UnicodeDecodeError):
        raise PlanFileError(f"{path}: not a reconciler plan (not JSON)") from None


def finish_plan(plan: Plan, detailed_exitcode: bool) -> None:
    raise_if_unsafe(plan)
    if detailed_exitcode and plan.has_changes:
        sys.exit(EXIT_CHANGES)


@cli.command()
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
    spec = load_desired(paths)
    with make_client(settings) as client:
        the_plan, _ = make_plan(
            settings, client, spec, targets, excludes, allow_replace, max_deletes
        )
    click.echo(render_plan(the_plan, fmt, settings.color), nl=False)
    if out and not the_plan.is_blocked:
        write_plan_file(out, the_plan)
        echo_err(f"Saved the plan to {out}; apply it with: reconciler apply {out}")
    finish_plan(the_plan, detailed_exitcode)


@cli.command()
@spec_option
@FORMAT_OPTION
@click.pass_obj
def drift(settings: Settings, paths: tuple[str, ...], fmt: str) -> None:
    """Read-only plan for schedules: exit 2 when live state drifted from the spec."""
    spec = load_desired(paths)
    with make_client(settings) as client:
        the_plan, _ = make_plan(settings, client, spec)
    click.echo(render_plan(the_plan, fmt, settings.color), nl=False)
    if the_plan.has_changes or the_plan.is_blocked:
        sys.exit(EXIT_CHANGES)


@cli.command()
@click.argument("planfile", type=click.Path(dir_okay=False))
@FORMAT_OPTION
@click.pass_obj
def show(settings: Settings, planfile: str, fmt: str) -> None:
    """Print a saved plan."""
    click.echo(render_plan(read_plan_file(planfile), fmt, settings.color), nl=False)


def parse_duration(text: str) -> float:
    """'45m', '90s', '1h30m' or plain seconds → seconds."""
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or match is None or not any(match.groups()):
        raise click.BadParameter(f"{text!r} is not a duration (e.g. 45m, 90s, 1h30m)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


CONFIRM_APPLY = "Do you want to perform these actions? Only 'yes' will be accepted to approve."
CONFIRM_DESTROY = (
    "Do you really want to destroy these resources? There is no undo. "
    "Only 'yes' will be accepted to confirm."
)


def confirm(question: str) -> None:
    """Only the exact answer 'yes' goes on; anything else cancels with exit 1."""
    click.echo(f"\n{question}")
    try:
        answer = click.prompt("  Enter a value", default="", show_default=False)
    except click.Abort:
        click.echo("")  # Ctrl-D / Ctrl-C at the prompt: end the prompt's line first
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


class ProgressPrinter:
    """Progress while apply waits (DESIGN §7): on a TTY a line whenever a resource changes
    phase; otherwise (CI logs) one line per waiting resource every 10 s."""

    def __init__(self, tty: bool, clock: Any = time.monotonic, every: float = 10.0) -> None:
        self.tty = tty
        self.clock = clock
        self.every = every
        self.last = -every
        self.phases: dict[str, str] = {}

    def line(self, text: str) -> None:
        click.echo(escape(text))

    def poll(self, waiting: list[tuple[str, str, float]]) -> None:
        now = self.clock()
        if self.tty:
            changed = [w for w in waiting if self.phases.get(w[0]) != w[1]]
        elif now - self.last >= self.every:
            changed, self.last = waiting, now
        else:
            changed = []
        for name, phase, elapsed in changed:
            if phase == "?":  # not listed yet: nothing to say
                continue
            self.phases[name] = phase
            click.echo(f"  cluster {show_name(name)}: {escape(phase)} ({elapsed:.0f}s elapsed)")


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
    settings: Settings, client: Client, the_plan: Plan, live: LiveState, options: ApplyOptions
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

    def on_first_interrupt() -> None:
        echo_err(
            "\nInterrupt received: no new actions will start; waiting for the ones in flight."
            "\nPress Ctrl-C again to exit at once (`reconciler plan` will show the state)."
        )

    def on_second_interrupt() -> None:
        echo_err("\nExiting now. Run `reconciler plan` to see the state.")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)

    report = applier.run(
        the_plan, live, on_interrupt=on_first_interrupt, on_second_interrupt=on_second_interrupt
    )
    click.echo("")
    click.echo(render_report(report, settings.color), nl=False)
    if report.interrupted:
        raise Interrupted("apply interrupted; run `reconciler plan` to see what is left")
    if report.has_failures:
        raise ApplyFailedError(
            f"apply finished with {report.count(Outcome.FAILED)} failure(s) and "
            f"{report.count(Outcome.SKIPPED)} skipped action(s)"
        )


@cli.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False))
@spec_option
@click.option("--auto-approve", is_flag=True, help="Skip the 'yes' prompt (for CI).")
@click.option(
    "--parallelism",
    type=click.IntRange(min=1, max=100),
    default=10,
    show_default=True,
    help="How many independent actions run at once.",
)
@click.option("--no-wait", is_flag=True, help="Do not wait for Ready / gone.")
@click.option(
    "--timeout",
    default="45m",
    show_default=True,
    help="How long to wait for each resource (e.g. 45m, 90s).",
)
@plan_options
@click.pass_obj
def apply(
    settings: Settings,
    planfile: str | None,
    paths: tuple[str, ...],
    auto_approve: bool,
    parallelism: int,
    no_wait: bool,
    timeout: str,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    allow_replace: tuple[str, ...],
    max_deletes: int,
) -> None:
    """Make live state match the spec (or run a saved PLANFILE), after you type 'yes'."""
    options = apply_options(settings, parallelism, not no_wait, parse_duration(timeout))
    if planfile is not None:
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
        return
    require_confirmation_possible(auto_approve)
    spec = load_desired(paths)
    selection = (targets, excludes, allow_replace, max_deletes)
    plan_confirm_execute(settings, spec, selection, options, auto_approve, CONFIRM_APPLY)


def plan_confirm_execute(
    settings: Settings,
    spec: Spec,
    selection: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int],
    options: ApplyOptions,
    auto_approve: bool,
    question: str,
) -> None:
    """Plan, show it, stop on a safety rule or no changes, ask, then execute."""
    with make_client(settings) as client:
        the_plan, live = make_plan(settings, client, spec, *selection)
        click.echo(render_plan(the_plan, "text", settings.color), nl=False)
        raise_if_unsafe(the_plan)
        if not the_plan.has_changes:
            return
        if not auto_approve:
            confirm(question)
        execute(settings, client, the_plan, live, options)


@cli.command()
@spec_option
@click.option("--auto-approve", is_flag=True, help="Skip the 'yes' prompt.")
@click.option("--parallelism", type=click.IntRange(min=1, max=100), default=10, show_default=True)
@click.option("--no-wait", is_flag=True, help="Do not wait until the resources are gone.")
@click.option("--timeout", default="45m", show_default=True, help="Wait per resource.")
@plan_options
@click.pass_obj
def destroy(
    settings: Settings,
    paths: tuple[str, ...],
    auto_approve: bool,
    parallelism: int,
    no_wait: bool,
    timeout: str,
    targets: tuple[str, ...],
    excludes: tuple[str, ...],
    allow_replace: tuple[str, ...],
    max_deletes: int,
) -> None:
    """Delete everything the spec declares (and nothing else)."""
    options = apply_options(settings, parallelism, not no_wait, parse_duration(timeout))
    require_confirmation_possible(auto_approve)
    spec = destroy_spec(load_desired(paths))
    selection = (targets, excludes, allow_replace, max_deletes)
    plan_confirm_execute(settings, spec, selection, options, auto_approve, CONFIRM_DESTROY)


# --- regions / export (issue 5) --------------------------------------------------------------


@cli.command()
@click.pass_obj
def regions(settings: Settings) -> None:
    """Print the regions catalogue: GPU types and CUDA/driver pairs per region."""
    with make_client(settings) as client:
        catalogue = parse_regions(client.list_regions())
    click.echo(render_regions(catalogue), nl=False)


@cli.command()
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
    project_id = export_project or settings.project_id
    with make_client(settings) as client:
        live = read_live(client, project_id)
    missing = sorted(set(names) - {c.name for c in live.clusters} - {v.name for v in live.volumes})
    if missing:
        raise ConfigError(f"export: no live cluster or volume named {', '.join(missing)}")
    text = render_export(live, names, project_id)
    if output is None:
        click.echo(text, nl=False)
        return
    write_file_atomically(output, text)
    echo_err(f"Wrote {output}.")


# --- entry point -----------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    echo_err(message)
    sys.exit(code)


#: Cyclic GC thresholds while a command runs (CPython's default is 700, 10, 10). A plan of
#: 10,000 clusters allocates millions of acyclic dicts and lists (the API's JSON, the
#: comparable model); at the default the collections they trigger rescan them again and again,
#: a third of the plan's time. Nothing here builds reference cycles in bulk.
GC_THRESHOLDS = (50_000, 20, 20)


@contextlib.contextmanager
def tuned_gc() -> Iterator[None]:
    """Run with GC_THRESHOLDS, then restore the previous ones (tests call `main` in-process)."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def main(argv: Sequence[str] | None = None) -> None:
    """Console script: run the group, turn every error into one line and an exit code."""
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
