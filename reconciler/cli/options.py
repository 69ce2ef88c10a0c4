"""The options commands share: spec paths, plan selection, money, output format, and how
apply and destroy run (one `Run` value); durations as people write them (45m, 90s).

Light to import (no planning, rendering or apply code): `plan` and `drift` start their list
calls before they import those (cli/listing.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from msgspec import Struct

from reconciler.kinds.values import epoch
from reconciler.model import DEFAULT_MAX_DELETES, DEFAULT_WARN_EXPIRY, Budget

if TYPE_CHECKING:
    from reconciler.apply import ApplyOptions
    from reconciler.cli import Settings

#: The lock around plan → apply: (--lock URL or None for the lock file, --lock-timeout s).
LockChoice = tuple[str | None, float]
NO_LOCK_WAIT: LockChoice = (None, 300.0)

#: What to plan: --target, --exclude, --allow-replace, --max-deletes.
Selection = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]
EVERYTHING: Selection = ((), (), (), DEFAULT_MAX_DELETES)


class MoneyFlags(Struct, frozen=True):
    """--prices (RECONCILER_PRICES), the budget limits, --allow-forfeit, --warn-expiry, --now."""

    prices: str | None = None
    budget: Budget = Budget()
    allow_forfeit: tuple[str, ...] = ()
    warn_expiry: float = DEFAULT_WARN_EXPIRY  # seconds
    now: float | None = None  # None: the clock


NO_MONEY_FLAGS = MoneyFlags()

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


def _instant(_ctx: Any, _param: Any, value: str | None) -> float | None:
    at = epoch(value) if value is not None else None
    if value is not None and at is None:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 date-time (2026-05-01T00:00:00Z)")
    return at


#: Options every plan shows money with (drift too): prices, the expiry warning, the time.
MONEY_VIEW = [
    click.option(
        "--prices",
        type=click.Path(dir_okay=False),
        envvar="RECONCILER_PRICES",
        metavar="FILE",
        help="Prices file (USD per GPU-hour): show hourly and monthly cost. "
        "Env RECONCILER_PRICES; else the spec's prices:.",
    ),
    click.option(
        "--warn-expiry",
        type=click.FloatRange(min=0),
        default=DEFAULT_WARN_EXPIRY / 86_400,
        show_default=True,
        metavar="DAYS",
        help="Warn when a cluster's reservation ends within this many days (it is "
        "decommissioned then).",
    ),
    click.option("--now", callback=_instant, hidden=True, help="Plan as of this RFC 3339 instant."),
]
#: Options of the commands that can change things: the budget gate and forfeits.
MONEY_GATES = [
    click.option(
        "--max-hourly-increase",
        type=click.FloatRange(min=0),
        metavar="USD",
        help="Block a plan that raises the hourly cost by more (needs prices; "
        "default: the spec's budget:).",
    ),
    click.option(
        "--max-gpu-increase",
        type=click.IntRange(min=0),
        metavar="N",
        help="Block a plan that adds more GPUs (default: the spec's budget:).",
    ),
    click.option(
        "--allow-forfeit",
        multiple=True,
        metavar="NAME",
        help="Allow deleting or replacing this prepaid cluster before its reservation ends.",
    ),
]


def money_options(gates: bool) -> Callable[[Any], Any]:
    """The money options, handed to the command as one `money` (below `click.pass_obj`)."""

    def decorate(func: Any) -> Any:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            budget = Budget(
                kwargs.pop("max_hourly_increase", None), kwargs.pop("max_gpu_increase", None)
            )
            money = MoneyFlags(
                prices=kwargs.pop("prices"),
                budget=budget,
                allow_forfeit=tuple(kwargs.pop("allow_forfeit", ())),
                warn_expiry=kwargs.pop("warn_expiry") * 86_400,
                now=kwargs.pop("now"),
            )
            return func(*args, money=money, **kwargs)

        for option in reversed(MONEY_VIEW + (MONEY_GATES if gates else [])):
            command = option(command)
        return command

    return decorate


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


class Run(Struct, frozen=True):
    """How to execute, from the options apply and destroy share."""

    auto_approve: bool
    options: ApplyOptions
    selection: Selection
    lock: LockChoice
    money: MoneyFlags


def run_options(approve: str, wait: str, timeout: str) -> Callable[[Any], Any]:
    """--auto-approve, --parallelism, --no-wait, --timeout and the plan options, handed to the
    command as one `run` (below `click.pass_obj`, so `settings` comes first)."""

    def decorate(func: Any) -> Any:
        @functools.wraps(func)
        def command(settings: Settings, *args: Any, **kwargs: Any) -> Any:
            from reconciler.cli.execution import apply_options

            wait_for = not kwargs.pop("no_wait")
            duration = parse_duration(kwargs.pop("timeout"))
            options = apply_options(settings, kwargs.pop("parallelism"), wait_for, duration)
            selection: Selection = tuple(
                kwargs.pop(k) for k in ("targets", "excludes", "allow_replace", "max_deletes")
            )
            lock = (kwargs.pop("lock") or None, parse_duration(kwargs.pop("lock_timeout")))
            money = kwargs.pop("money")
            run = Run(kwargs.pop("auto_approve"), options, selection, lock, money)
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
            click.option(
                "--lock",
                metavar="URL",
                envvar="RECONCILER_LOCK",
                help="Lock across machines: postgresql://… (a session advisory lock; needs "
                "the postgres extra). Default: a lock file on this machine, per API and project. "
                "[env RECONCILER_LOCK]",
            ),
            click.option(
                "--lock-timeout",
                default="5m",
                show_default=True,
                help="How long to wait for a lock another apply holds, then stop (exit 1).",
            ),
        ]
        command = plan_options(money_options(gates=True)(command))
        for option in reversed(options):
            command = option(command)
        return command

    return decorate
