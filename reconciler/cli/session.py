"""The session a command runs: spec and client in, live state read, plan made, shown,
confirmed, executed. Commands stay a few lines by calling these small steps."""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from reconciler.acyclic import paused_gc
from reconciler.cli.files import read_spec_files
from reconciler.cli.progress import (
    echo_err,
)
from reconciler.errors import (
    EXIT_CHANGES,
    ApiResponseError,
    ConfigError,
    ReconcilerError,
    SpecError,
)
from reconciler.export import render_export
from reconciler.kinds import TOP_LEVEL
from reconciler.kinds import get as kind_of
from reconciler.live import parse_live_state, parse_regions
from reconciler.model import ActionKind, Budget, LiveState, Plan, Region, Spec
from reconciler.plan import (
    DEFAULT_MAX_DELETES,
    DEFAULT_WARN_EXPIRY,
    PlanOptions,
    build_plan,
    check_catalogue,
    raise_if_unsafe,
)
from reconciler.render import escape, render_plan, show_name

if TYPE_CHECKING:
    from reconciler.cli import Settings
    from reconciler.client import Client
    from reconciler.spec import CheckedSpec
    from reconciler.spec.prices import PriceTable

#: The lock around plan → apply: (--lock URL or None for the lock file, --lock-timeout s).
LockChoice = tuple[str | None, float]
NO_LOCK_WAIT: LockChoice = (None, 300.0)

#: What to plan: --target, --exclude, --allow-replace, --max-deletes.
Selection = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]
EVERYTHING: Selection = ((), (), (), DEFAULT_MAX_DELETES)


@dataclass(frozen=True, slots=True)
class MoneyFlags:
    """--prices (RECONCILER_PRICES), the budget limits, --allow-forfeit, --warn-expiry, --now."""

    prices: str | None = None
    budget: Budget = dataclasses.field(default_factory=Budget)
    allow_forfeit: tuple[str, ...] = ()
    warn_expiry: float = DEFAULT_WARN_EXPIRY  # seconds
    now: float | None = None  # None: the clock


NO_MONEY_FLAGS = MoneyFlags()

# --- API client wiring (issue 3) -------------------------------------------------------------

# The in-process simulator's transport ignores the host; this name only shows in messages.
SIM_BASE_URL = "http://sim.local"


def make_client(settings: Settings, parallelism: int | None = None) -> Client:
    """The one API client of this run: the in-process simulator (--sim) or the real API;
    apply's --parallelism sizes its connection pool."""
    from reconciler.client import DEFAULT_BASE_URL, Client, check_base_url, resolve_api_key
    from reconciler.client.config import DEFAULT_PARALLELISM

    if settings.sim is not None:
        from reconciler.simulator.state import DEMO_SPEED
        from reconciler.simulator.transport import open_sim

        speed = settings.sim_speed if settings.sim_speed is not None else DEMO_SPEED
        transport = open_sim(settings.sim, speed=speed)
        return Client(SIM_BASE_URL, transport.state.token, transport=transport)
    base_url = check_base_url(settings.base_url or DEFAULT_BASE_URL)
    key = resolve_api_key(os.environ, settings.api_key_file)
    return Client(base_url, key, parallelism=parallelism or DEFAULT_PARALLELISM)


# --- spec, live state, plan ------------------------------------------------------------------


def load_desired(paths: Sequence[str]) -> Spec:
    return check_desired(read_spec_files(paths or (".",))).build()


def check_desired(files: Sequence[tuple[str, bytes]]) -> CheckedSpec:
    """The spec files checked (SpecError when they are not valid), not yet built; its
    warnings (older field names) on stderr."""
    from reconciler.spec import check_spec

    checked = check_spec(files)
    for warning in checked.warnings:
        echo_err(f"warning: {warning}")
    return checked


def read_live(client: Client, project_id: str | None) -> LiveState:
    """One list call per resource kind, whatever the number of clusters. The answers are
    read and parsed, and let go, with the cyclic collector paused (see reconciler.acyclic):
    let go first, their millions of objects are never scanned (at 50,000 clusters the first
    collection after the answers were parsed took 0.6 s)."""
    with paused_gc():
        return _parse_live(
            {kind.name: client.list_resources(kind.api, project_id) for kind in TOP_LEVEL}
        )


def _parse_live(answers: dict[str, list[dict[str, Any]]]) -> LiveState:
    try:
        return parse_live_state(answers)
    except ValueError as exc:
        raise ApiResponseError(f"the API's lists are unusable: {exc}") from None


def read_prices(spec: Spec | CheckedSpec, flag: str | None) -> PriceTable | None:
    """The prices file of --prices (or RECONCILER_PRICES), else of the spec's `prices:`
    (relative to the spec file that names it); None when neither names one."""
    from reconciler.spec.prices import load_prices

    if flag:
        path, where = flag, "--prices"
    elif spec.prices is not None:
        base = os.path.dirname(spec.prices.location.file)
        path = os.path.join(base, os.path.expanduser(spec.prices.path))
        where = f"{spec.prices.location}: prices"
    else:
        return None
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        message = f"{where}: cannot read the prices file {path}: {exc.strerror or exc}"
        raise (ConfigError(message) if flag else SpecError([message])) from None
    return load_prices(path, data)


def make_plan(
    settings: Settings,
    client: Client,
    spec: Spec | CheckedSpec,
    targets: tuple[str, ...] = (),
    excludes: tuple[str, ...] = (),
    allow_replace: tuple[str, ...] = (),
    max_deletes: int = DEFAULT_MAX_DELETES,
    money: MoneyFlags = NO_MONEY_FLAGS,
    listing: Listing | None = None,
) -> tuple[Plan, LiveState]:
    """The plan and the live state it was made from. A spec only checked is built while the
    API answers the list calls (`listing`, when they were started before the check)."""
    project_id = settings.project_id or spec.project_id
    prices = read_prices(spec, money.prices)  # before the answers are used: fails fast
    if isinstance(spec, Spec):
        live = read_live(client, project_id)
    else:
        if listing is None or listing.project_id != project_id:
            listing = Listing(client, project_id)
        spec = spec.build()
        live = listing.result()
    if project_id != spec.project_id:
        spec = dataclasses.replace(spec, project_id=project_id)
    options = PlanOptions(
        allow_replace,
        max_deletes,
        targets,
        excludes,
        now=time.time() if money.now is None else money.now,
        prices=prices,
        budget=money.budget,
        allow_forfeit=money.allow_forfeit,
        warn_expiry=money.warn_expiry,
    )
    the_plan = build_plan(spec, live, options)
    if any(a.kind in (ActionKind.CREATE, ActionKind.REPLACE) for a in the_plan.actions):
        # One catalogue call per run, and only when something will be created.
        the_plan = check_catalogue(the_plan, parse_regions(client.list_regions()))
    return the_plan, live


class Listing:
    """The list calls, made by a thread while the command's thread checks and builds the
    spec: at 10,000 clusters the API (or `sim serve`) takes about half a second to answer,
    and checking and building the spec fits in that wait. `result` raises the calls' error in
    the caller's thread. A spec that fails its check never waits for them: the answers of
    these read-only calls are dropped unread."""

    def __init__(self, client: Client, project_id: str | None) -> None:
        self.project_id = project_id
        self._client = client
        self._done: list[LiveState] = []
        self._failed: list[BaseException] = []
        self._thread = threading.Thread(target=self._list, name="reconciler-list", daemon=True)
        self._thread.start()

    def _list(self) -> None:
        try:
            self._done.append(read_live(self._client, self.project_id))
        except BaseException as exc:  # raised again in the caller's thread
            self._failed.append(exc)

    def result(self) -> LiveState:
        self._thread.join()
        if self._failed:
            raise self._failed[0]
        return self._done[0]


def plan_and_show(
    settings: Settings,
    paths: Sequence[str],
    fmt: str,
    selection: Selection = EVERYTHING,
    money: MoneyFlags = NO_MONEY_FLAGS,
    mode: str = "plan",
) -> Plan:
    """Read the spec, plan against live state, print the plan in `fmt` (nothing is changed),
    then the note on resources that are not ready (stdout with text, else stderr). `mode` is
    the command whose words the plan speaks (`plan` or `drift`)."""
    from reconciler.spec import project_hint

    files = read_spec_files(paths or (".",))
    try:
        client = make_client(settings)
    except ReconcilerError:  # told after the spec's own problems and warnings
        check_desired(files)
        raise
    with client:
        # The read-only list calls start now; the spec is parsed and checked meanwhile.
        listing = Listing(client, settings.project_id or project_hint(files))
        checked = check_desired(files)
        the_plan, live = make_plan(
            settings, client, checked, *selection, money=money, listing=listing
        )
    click.echo(render_plan(the_plan, fmt, settings.color, mode), nl=False)
    note = render_not_ready(live)
    if note:
        click.echo(f"\n{note}" if fmt == "text" else note, nl=False, err=fmt != "text")
    return the_plan


NOT_READY_SHOWN = 20


def render_not_ready(live: LiveState, limit: int = NOT_READY_SHOWN) -> str:
    """Live resources of kinds that have a ready status and are not in it, one line each (at
    most `limit`): a plan saying "No changes" still tells that an interrupted apply's clusters
    are provisioning."""
    lines = []
    for resource in live.resources:
        ready = kind_of(resource.kind).statuses.ready
        if ready is not None and resource.status != ready:
            name = f"{resource.kind} {show_name(resource.name)} (id {escape(resource.id)})"
            lines.append(f"  {name}: {escape(resource.status)}")
    if not lines:
        return ""
    more = [f"  … and {len(lines) - limit} more"] if len(lines) > limit else []
    head = f"Not ready: {len(lines)} live resource(s) are not in their ready state yet:"
    return "\n".join([head, *lines[:limit], *more]) + "\n"


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
        kinds = " or ".join(k.name for k in reversed(TOP_LEVEL))
        raise ConfigError(f"export: no live {kinds} named {', '.join(missing)}")
    return render_export(live, names, project_id)
