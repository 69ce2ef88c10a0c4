"""Benchmark: apply with waiting, N creates at parallelism P, clusters Ready after T seconds.

Run: .venv/bin/python benchmarks/bench_wait.py [--clusters 100] [--parallelism 10]
     [--ready-seconds 3] [--latency-ms 20] [--repeat 2] [--no-http]

The simulator walks every cluster through its phases (about 23 minutes at speed 1); its speed
is set to walk / T, so a cluster is Ready T seconds after its create. Apply's poll intervals
(5 s growing x1.5 to 30 s for real clusters) are scaled by the same factor, as `--sim` scales
them, so the poll granularity is the share of T it is against the real API. Nothing in the
product is faked: the real Applier, the real Client, the simulator's own clock (wall time).

Each request is answered `latency_ms` after it came (`with_latency`). Printed per row: the
wall time of the apply, wall / T (goal: <= 1.3 for N=100, P=10), the list calls made while waiting,
and the formula of the old engine (each worker blocked on its own cluster): ceil(N/P) * T.
A row with N=1 shows what one cluster costs on its own: T plus up to one poll interval.

Timings are measured, never asserted: the script exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from bench_apply import (
    ROUTE_CLUSTERS,
    TOKEN,
    Connect,
    in_process,
    over_http,
    print_table,
    write_spec,
)
from msgspec import structs

from reconciler.apply import Applier, ApplyOptions
from reconciler.cli import read_live, read_spec_files, tuned_gc
from reconciler.model import Outcome
from reconciler.plan import build_plan
from reconciler.simulator.clusters import CREATE_WALK, PHASE_SECONDS
from reconciler.simulator.state import Faults, SimState
from reconciler.spec import load_spec

WALK = sum(PHASE_SECONDS[phase] for phase in CREATE_WALK)


class Args(argparse.Namespace):
    clusters: int
    parallelism: int
    ready_seconds: float
    latency_ms: int
    repeat: int
    no_http: bool


def scaled_options(parallelism: int, speed: float) -> ApplyOptions:
    """Apply's defaults with every duration divided by the simulator's speed."""
    real = ApplyOptions(parallelism=parallelism)
    return structs.replace(
        real,
        timeout=real.timeout / speed,
        stall_limit=real.stall_limit / speed,
        poll_initial=real.poll_initial / speed,
        poll_max=real.poll_max / speed,
        appear_grace=real.appear_grace / speed,
        adopt_grace=real.adopt_grace / speed,
    )


def wait_once(spec_dir: Path, connect: Connect, parallelism: int, args: Args) -> tuple[float, int]:
    """(seconds, list calls while applying) for one apply of the spec's creates, waiting."""
    speed = WALK / args.ready_seconds
    faults = Faults(latency_ms=args.latency_ms)
    state = SimState(clock=time.time, token=TOKEN, speed=speed, faults=faults)
    spec = load_spec(read_spec_files([str(spec_dir)]))
    with connect(state, parallelism) as client:
        live = read_live(client, spec.project_id)
        plan = build_plan(spec, live)
        lists_before = state.count("GET", ROUTE_CLUSTERS)
        applier = Applier(client, options=scaled_options(parallelism, speed))
        started = time.perf_counter()
        report = applier.run(plan, live)
        elapsed = time.perf_counter() - started
    assert report.count(Outcome.DONE) == len(plan.actions), report
    assert len(state.clusters) == len(plan.actions)
    # Less the one list after the creates that checks no name is held twice.
    return elapsed, state.count("GET", ROUTE_CLUSTERS) - lists_before - 1


def measure(label: str, connect: Connect, clusters: int, args: Args) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        write_spec(Path(tmp), clusters)
        runs = [wait_once(Path(tmp), connect, args.parallelism, args) for _ in range(args.repeat)]
    times = [wall for wall, _ in runs]
    best, median = min(times), statistics.median(times)
    t = args.ready_seconds
    old = math.ceil(clusters / args.parallelism) * t
    return [
        label,
        str(clusters),
        f"{best:.2f} / {median:.2f}",
        f"{best / t:.2f} / {median / t:.2f}",
        str(runs[-1][1]),
        f"{old:.1f} ({old / t:.2f})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--ready-seconds", type=float, default=3.0)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-http", action="store_true", help="skip the loopback-socket rows")
    args = parser.parse_args(namespace=Args())
    transports: list[tuple[str, Connect]] = [("in-process SimTransport", in_process)]
    if not args.no_http:
        transports.append(("HTTP, loopback socket", over_http))
    with tuned_gc():
        rows = [
            measure(label, connect, n, args)
            for label, connect in transports
            for n in (1, args.clusters)
        ]
    print(
        f"apply (waiting): N creates at parallelism {args.parallelism}, each cluster Ready "
        f"T = {args.ready_seconds:g} s after its create, {args.latency_ms} ms latency per "
        f"request; best / median of {args.repeat} runs"
    )
    header = ["transport", "N", "wall s", "wall / T", "list calls", "old ceil(N/P)*T s (/ T)"]
    print_table(header, rows)
    print(
        "list calls: cluster list calls while waiting (the poller's, one per poll interval for\n"
        "all waiting clusters); old: what the engine that blocked a worker per wait took"
    )


if __name__ == "__main__":
    main()
