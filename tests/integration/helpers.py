"""Shared helpers for the plan/apply integration tests: real client, real simulator, no mocks.

Three ways in: the Applier-level helpers (`sim_api`, `plan_against`, `apply_spec`) drive the
real Client over the simulator's transport on a FakeClock; the CLI helpers (`run_cli`,
`SimSpy`, `seed_sim_file`) run `reconciler.cli.main` in-process against a `--sim` state file;
`run_in_pty` runs the installed CLI as a subprocess on a real pseudo-terminal (prompts).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.apply import Applier, ApplyOptions, Progress, ProgressFn
from reconciler.cli import main
from reconciler.cli.listing import read_live as session_read_live
from reconciler.client import Client
from reconciler.model import (
    ApplyReport,
    Desired,
    Ensure,
    Lifecycle,
    LiveState,
    Plan,
    Prune,
    Spec,
    frozen_map,
)
from reconciler.plan import PlanOptions, build_plan
from reconciler.simulator import transport as sim_transport_module
from reconciler.simulator.state import ROUTE_CLUSTERS, ROUTE_VOLUMES, SimState
from reconciler.simulator.transport import SimTransport, save_state
from tests.conftest import SIM_TOKEN, FakeClock

SIM_URL = "http://sim.local"

#: What a `defaults:` block would hold: a valid cluster in the simulator's catalogue.
BASE_FIELDS: Mapping[str, Any] = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
    "num_gpus": 8,
}

#: Apply options for the FakeClock: short stall limit and timeout, realistic poll growth.
FAST = ApplyOptions(
    parallelism=10,
    timeout=3600.0,
    stall_limit=600.0,
    poll_initial=5.0,
    poll_max=30.0,
    appear_grace=30.0,
    adopt_grace=10.0,
)


NO_LIFECYCLE = Lifecycle()
DEFAULT_PLAN = PlanOptions()


# --- Applier level ---------------------------------------------------------------------------


def desired(
    name: str,
    *,
    ensure: Ensure = Ensure.PRESENT,
    lifecycle: Lifecycle = NO_LIFECYCLE,
    volume: str | None = None,
    **fields: Any,
) -> Desired:
    """A spec cluster: BASE_FIELDS overridden by `fields` (None drops a key); absent: name only."""
    merged = {} if ensure is Ensure.ABSENT else {**BASE_FIELDS, **fields}
    return Desired(
        kind="cluster",
        name=name,
        fields=frozen_map({k: v for k, v in merged.items() if v is not None}),
        ensure=ensure,
        lifecycle=lifecycle,
        refs=frozen_map({"volume": volume} if volume else {}),
    )


def make_spec(
    *clusters: Desired,
    volumes: Sequence[Desired] = (),
    prune_prefix: str | None = None,
    project_id: str | None = None,
) -> Spec:
    prune = Prune(enabled=True, name_prefix=prune_prefix) if prune_prefix else Prune()
    return Spec(resources=(*volumes, *clusters), project_id=project_id, prune=prune)


def sim_api(transport: httpx.BaseTransport, clock: FakeClock) -> Client:
    """The real Client on the in-process simulator; retries sleep on the fake clock."""
    return Client(SIM_URL, SIM_TOKEN, transport=transport, sleep=clock.sleep, jitter=lambda: 1.0)


def read_live(client: Client, project_id: str | None = None) -> LiveState:
    """Live state as the CLI reads it: one list call per kind."""
    return session_read_live(client, project_id)


def plan_against(
    client: Client, spec: Spec, options: PlanOptions = DEFAULT_PLAN
) -> tuple[Plan, LiveState]:
    live = read_live(client, spec.project_id)
    return build_plan(spec, live, options), live


def make_applier(
    client: Client,
    clock: FakeClock,
    options: ApplyOptions = FAST,
    *,
    progress: ProgressFn | None = None,
    project_id: str | None = None,
) -> Applier:
    return Applier(
        client,
        options=options,
        project_id=project_id,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=clock,  # START_TIME is an epoch instant: tests never depend on today's date
        progress=progress,
    )


def apply_spec(
    client: Client,
    spec: Spec,
    clock: FakeClock,
    options: ApplyOptions = FAST,
    *,
    plan_options: PlanOptions = DEFAULT_PLAN,
    progress: ProgressFn | None = None,
) -> tuple[Plan, ApplyReport]:
    """Plan against the simulator, then run the plan with the real Applier."""
    plan, live = plan_against(client, spec, plan_options)
    applier = make_applier(client, clock, options, progress=progress, project_id=spec.project_id)
    return plan, applier.run(plan, live)


def duplicate_names(state: SimState) -> dict[str, int]:
    """Names held by more than one live cluster in the simulator (must always be empty)."""
    counts = Counter(c.fields.cluster_name for c in state.clusters.values())
    return {name: n for name, n in counts.items() if n > 1}


def on_waiting(state: SimState, act: Callable[[str], None]) -> ProgressFn:
    """A progress hook that calls act(cluster_id) the moment apply starts waiting for Ready:
    the create has been answered, the first poll has not happened yet."""

    def hook(event: Progress) -> None:
        if event.resource == "cluster" and event.text == "waiting until Ready":
            for cluster in state.clusters_named(event.name):
                act(str(cluster["cluster_id"]))

    return hook


class RecordingTransport(SimTransport):
    """The simulator's transport, also keeping each request's Idempotency-Key header and
    calling `after(method, path)` once each request has been answered (to act out of band)."""

    def __init__(
        self,
        state: SimState,
        *,
        sleep: Callable[[float], None],
        after: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__(state, sleep=sleep)
        self.keys: list[tuple[str, str, str | None]] = []
        self.after = after

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        with self.lock:
            self.keys.append((request.method, request.url.path, key))
        try:
            return super().handle_request(request)
        finally:
            if self.after is not None:
                with self.lock:
                    self.after(request.method, request.url.path)


def list_calls(state: SimState) -> tuple[int, int]:
    """(GET clusters, GET volumes) list calls the simulator answered."""
    return state.count("GET", ROUTE_CLUSTERS), state.count("GET", ROUTE_VOLUMES)


def mutations(state: SimState) -> list[tuple[str, str]]:
    """Every mutating request the simulator saw, as (method, path)."""
    return [(r.method, r.path) for r in state.request_log if r.method != "GET"]


# --- CLI level -------------------------------------------------------------------------------


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


_cli_lock = threading.Lock()


def run_cli(
    argv: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str | None] | None = None,
) -> CliResult:
    """`reconciler ARGV` in-process: NO_COLOR, no TTY on stdin/stdout, exit code captured."""
    runner = CliRunner()
    environment: dict[str, str | None] = {
        "NO_COLOR": "1",
        "TOGETHER_API_KEY": None,
        "TOGETHER_BASE_URL": None,
        "COLUMNS": "100",
    }
    environment.update(env or {})
    with _cli_lock, runner.isolation(input=input, env=environment) as (out, err, _):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())


#: What the confirmation prompt shows where it waits for the answer.
PROMPT = b"Enter a value"


def reconciler_command() -> list[str]:
    """The installed console script when there is one, else the same entry point via -c."""
    script = Path(sys.executable).with_name("reconciler")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from reconciler.cli import main; main()"]


def _pty_environment(env: Mapping[str, str | None]) -> dict[str, str]:
    overrides = {"NO_COLOR": "1", "COLUMNS": "100", "TOGETHER_API_KEY": None}
    overrides.update({"TOGETHER_BASE_URL": None, **env})
    environment = {**os.environ, **{k: v for k, v in overrides.items() if v is not None}}
    return {k: v for k, v in environment.items() if overrides.get(k, "") is not None}


def run_in_pty(
    argv: Sequence[str],
    answer: bytes | None = None,
    *,
    expect_prompt: bool = True,
    timeout: float = 20.0,
    env: Mapping[str, str | None] | None = None,
) -> tuple[int, str]:
    """Run the CLI in a subprocess with stdin/stdout/stderr on a pseudo-terminal, so it sees a
    real TTY. expect_prompt: type `answer` at the prompt (None: Ctrl-D) and assert the prompt
    appeared; otherwise never answer and assert no prompt appeared (a prompt stops the run at
    once). `env`: overrides (None removes). Returns (exit code, all the terminal showed)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*reconciler_command(), *argv],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_pty_environment(env or {}),
        close_fds=True,
    )
    os.close(follower)
    seen = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the follower side closed: the process has exited
                    break
                if not chunk:
                    break
                seen += chunk
            if PROMPT in seen and not answered:
                if not expect_prompt:
                    break  # fail below; the process waiting for an answer is killed
                os.write(leader, b"\x04" if answer is None else answer + b"\r")
                answered = True
            if process.poll() is not None and not ready:
                break
        prompted = PROMPT in seen
        if prompted and not expect_prompt:
            process.kill()
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    screen = seen.decode(errors="replace")
    if expect_prompt:
        assert answered, f"no prompt seen:\n{screen}"
    else:
        assert not prompted, f"prompted although no prompt was expected:\n{screen}"
    return code, screen


def sim_args(state_file: os.PathLike[str] | str) -> list[str]:
    """The global options that put a command on the instant in-process simulator."""
    return [f"--sim={state_file}", "--sim-speed", "0"]


def new_sim_state(clock: Callable[[], float] = time.time) -> SimState:
    """An empty simulator with the CLI's clock (wall time) and token, instant."""
    return SimState(clock=clock, token=SIM_TOKEN, speed=0)


def communicate_or_kill(
    process: subprocess.Popen[bytes], timeout: float = 20.0
) -> tuple[bytes, bytes]:
    """`process.communicate(timeout)`; a process still running then is killed and the test
    fails with what it wrote. (A hung CLI left running outlived its test, and its Popen's
    ResourceWarning failed an unrelated test later in the run.)"""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(
            f"still running after {timeout} s, killed; stdout {out[-2000:]!r}, "
            f"stderr {err[-2000:]!r}"
        )


def seed_sim_file(
    path: os.PathLike[str] | str, clusters: Iterable[Mapping[str, Any]] = ()
) -> SimState:
    """Write a state file holding these clusters (add_cluster keyword sets); returns the state."""
    state = new_sim_state()
    for fields in clusters:
        state.add_cluster(**fields)
    save_state(state, os.fspath(path))
    return state


def load_sim_file(path: os.PathLike[str] | str) -> SimState:
    return sim_transport_module.load_state(os.fspath(path), speed=0)


@dataclass
class SimSpy:
    """Records every in-process simulator transport the CLI opens (one per command run), so
    tests can read the requests it answered. The transports are the real ones."""

    transports: list[SimTransport] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> SimSpy:
        real_open = sim_transport_module.open_sim

        def recording_open(state_file: str | None, **kwargs: Any) -> SimTransport:
            transport = real_open(state_file, **kwargs)
            self.transports.append(transport)
            return transport

        monkeypatch.setattr(sim_transport_module, "open_sim", recording_open)
        return self

    @property
    def last(self) -> SimState:
        assert self.transports, "the command opened no simulator"
        return self.transports[-1].state

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request of every run, in order."""
        return [(r.method, r.path) for t in self.transports for r in t.state.request_log]


def write_spec(directory: os.PathLike[str] | str, text: str, name: str = "clusters.yaml") -> str:
    path = os.path.join(os.fspath(directory), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def read_json(path: os.PathLike[str] | str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


#: A spec written with an older field name (`driver_version`: a warning) and a prices file.
LEGACY = """\
version: 1
project_id: proj-sim
prices: prices.yaml
defaults:
  region: us-central-8
  gpu_type: H100_SXM
  driver_version: CUDA_12_6_560
  billing_type: ON_DEMAND
clusters:
  - cluster_name: train-a
    num_gpus: 8
"""
