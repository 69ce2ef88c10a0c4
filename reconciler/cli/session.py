"""The session a command runs: spec and client in, live state read, plan made, shown,
confirmed, executed. Commands stay a few lines by calling these small steps."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
from msgspec import structs

from reconciler.cli import echo_err
from reconciler.cli.files import read_spec_files
from reconciler.cli.listing import Listing, Started, make_client, read_live
from reconciler.cli.options import (
    EVERYTHING,
    NO_MONEY_FLAGS,
    MoneyFlags,
    Selection,
)
from reconciler.cli.process import keep
from reconciler.diff import Wanted
from reconciler.errors import (
    EXIT_CHANGES,
    ConfigError,
    ReconcilerError,
    SpecError,
)
from reconciler.export import render_export
from reconciler.kinds import TOP_LEVEL
from reconciler.kinds import get as kind_of
from reconciler.live import parse_regions
from reconciler.model import DEFAULT_MAX_DELETES, ActionKind, LiveState, Plan, Region, Spec
from reconciler.plan import (
    PlanOptions,
    build_plan,
    check_catalogue,
    prepare_live,
    raise_if_unsafe,
)
from reconciler.render import escape, render_plan, show_name

if TYPE_CHECKING:
    from reconciler.cli import Settings
    from reconciler.cli.forked import ForkedCheck
    from reconciler.client import Client
    from reconciler.spec import CheckedSpec
    from reconciler.spec.prices import PriceTable

# --- spec, live state, plan ------------------------------------------------------------------


def load_desired(paths: Sequence[str]) -> Spec:
    return check_desired(read_spec_files(paths or (".",))).build()


def check_desired(
    files: Sequence[tuple[str, bytes]], forked: ForkedCheck | None = None
) -> CheckedSpec:
    """The spec files checked (SpecError when they are not valid), not yet built; its
    warnings (older field names) on stderr. `forked`: a child checking them (cli/forked.py),
    whose answer is taken when it has one."""
    from reconciler.spec import check_spec

    checked = forked.result() if forked is not None else None
    if checked is None:
        checked = check_spec(files)
    for warning in checked.warnings:
        echo_err(f"warning: {warning}")
    return checked


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
    wanted = None
    if isinstance(spec, Spec):
        live = read_live(client, project_id)
    else:
        if listing is None or listing.project_id != project_id:
            listing = Listing(client, project_id)
        keep(spec.files)  # its values go with the process, not one by one (cli/process.py)
        spec = spec.build()
        wanted = Wanted(spec)  # the spec's side of the comparison, while the API answers
        live = listing.result()
    if project_id != spec.project_id:
        spec = structs.replace(spec, project_id=project_id)
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
    the_plan = build_plan(spec, live, options, wanted)
    keep(spec, live, wanted, the_plan)
    if any(a.kind in (ActionKind.CREATE, ActionKind.REPLACE) for a in the_plan.actions):
        # One catalogue call per run, and only when something will be created.
        the_plan = check_catalogue(the_plan, parse_regions(client.list_regions()))
    return the_plan, live


def plan_and_show(
    settings: Settings,
    started: Started,
    fmt: str,
    selection: Selection = EVERYTHING,
    money: MoneyFlags = NO_MONEY_FLAGS,
    mode: str = "plan",
) -> Plan:
    """Check the spec while the list calls `started` sent are answered, plan against live
    state, print the plan in `fmt` (nothing is changed), then the note on resources that are
    not ready (stdout with text, else stderr). `mode` is the command whose words the plan
    speaks (`plan` or `drift`)."""
    client = started.client
    if isinstance(client, ReconcilerError):
        # The spec's own problems and warnings come first.
        check_desired(started.files, started.check)
        raise client
    if started.listing is not None:
        started.listing.then(prepare_live)  # in its thread, while the spec is checked
    # --sim: checked first (the in-process simulator is opened once the spec is valid).
    checked = check_desired(started.files, started.check) if client is None else None
    with client or make_client(settings) as client:
        if checked is None:
            checked = check_desired(started.files, started.check)
        the_plan, live = make_plan(
            settings, client, checked, *selection, money=money, listing=started.listing
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
