"""`reconciler sim serve`: the built-in simulator over HTTP on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from reconciler.cli.progress import echo_err
from reconciler.errors import ConfigError
from reconciler.simulator.faults import fault_help


@click.group()
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
@click.option(
    "--latency",
    "latency_ms",
    type=click.IntRange(min=0),
    default=0,
    metavar="MS",
    help="Answer each request MS ms after it came (the simulator's own work falls inside).",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND:RATE",
    help=fault_help(),
)
@click.option("--retry-after", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--stall-seconds", type=click.FloatRange(min=0), default=65.0, show_default=True)
@click.option("--log", "access_log", is_flag=True, help="Print one line per request to stderr.")
@click.option(
    "--ignore-idempotency-key",
    is_flag=True,
    help="Treat every create as new, as the real API (which documents no Idempotency-Key).",
)
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
    ignore_idempotency_key: bool,
) -> None:
    """Serve the simulator over HTTP on loopback until Ctrl-C.

    Point the official SDK (base_url) or TOGETHER_BASE_URL at the printed URL.
    """
    from reconciler.simulator.http import is_loopback
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
    state.ignore_idempotency_key = ignore_idempotency_key
    shown_token = state.token if state.token == DEFAULT_TOKEN else "(as given by --token)"

    def ready(url: str) -> None:
        click.echo(f"Together API simulator listening on {url}  (Ctrl-C stops)")
        click.echo(f"  token: {shown_token}   speed: {state.speed:g}   seed: {state.seed}")
        if state_file:
            click.echo(f"  state: {state_file}")
        click.echo(f"  try:   curl -H 'Authorization: Bearer <token>' {url}/v1/compute/regions")

    _serve(state, host, port, state_file, stall_seconds, ready, access_log)
    click.echo("Simulator stopped.")


def _serve(
    state: Any,
    host: str,
    port: int,
    state_file: str | None,
    stall_seconds: float,
    ready: Callable[[str], None],
    access_log: bool,
) -> None:
    """Serve until Ctrl-C; a port that cannot be bound is one line, exit 1."""
    from reconciler.simulator.http import serve

    try:
        serve(
            state,
            host,
            port,
            state_file=state_file,
            stall_seconds=stall_seconds,
            on_ready=ready,
            log=echo_err if access_log else None,
        )
    except OSError as exc:
        raise ConfigError(
            f"sim serve on {host}:{port}: {exc.strerror or exc}; is another simulator running "
            "there? pick another --port"
        ) from None
