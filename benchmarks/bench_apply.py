"""Benchmark: apply 200 cluster creates at 100 ms simulated latency, parallelism 10, 20 and 50,
--no-wait.

Run: .venv/bin/python benchmarks/bench_apply.py [--clusters 200] [--parallelism 10,20,50]
     [--latency-ms 100] [--repeat 3] [--no-http]

The simulator sleeps for real (time.sleep) for `latency_ms` before it answers every request,
reads included, and outside its lock, so requests in flight at once overlap as they would
against the real API. With `ApplyOptions(wait=False)` (`apply --no-wait`) apply makes exactly
one POST per cluster and no list call (nothing waits, so the shared poller never polls): the
ideal wall time is ceil(N / P) * latency: 2.0, 1.0 and 0.4 s for the defaults. The plan is
made before the clock starts; its list calls pay the latency too and are not part of the
figure.

Two transports: the in-process SimTransport (what `--sim` uses) and the simulator served on a
loopback socket (real HTTP: a kept-alive connection per worker thread, as `apply` has, the
server's threads and its listen backlog).

Timings are measured, never asserted: the script exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from reconciler import kinds
from reconciler.apply import Applier, ApplyOptions
from reconciler.cli import read_live, read_spec_files, tuned_gc
from reconciler.client import Client
from reconciler.model import ActionKind, Outcome, Plan
from reconciler.plan import build_plan
from reconciler.simulator.http import make_server
from reconciler.simulator.state import Faults, SimState
from reconciler.simulator.transport import SimTransport
from reconciler.spec import load_spec

Row = list[str]


class Args(argparse.Namespace):
    clusters: int
    parallelism: str
    latency_ms: int
    repeat: int
    no_http: bool


TOKEN = "bench-token"
ROUTE_CLUSTERS = "/v1/compute/clusters"
HEADER = """\
version: 1
defaults:
  region: us-central-8
  gpu_type: H100_SXM
  cuda_version: "12.6"
  nvidia_driver_version: "560"
  billing_type: ON_DEMAND
clusters:
"""


Connect = Callable[[SimState, int], AbstractContextManager[Client]]


def write_spec(directory: Path, clusters: int) -> None:
    body = HEADER + "".join(
        f"  - cluster_name: bench-a{i:04d}\n    num_gpus: 8\n" for i in range(clusters)
    )
    (directory / "clusters.yaml").write_text(body)


@contextmanager
def in_process(state: SimState, parallelism: int) -> Iterator[Client]:
    with Client("http://sim", TOKEN, transport=SimTransport(state)) as client:
        yield client


@contextmanager
def over_http(state: SimState, parallelism: int) -> Iterator[Client]:
    server = make_server(state, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        with Client(server.url, TOKEN) as client:
            yield client
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def served_process(state: SimState, parallelism: int) -> Iterator[Client]:
    """`reconciler sim serve` in its own process (its own interpreter lock), as a user runs
    it; only the latency of `state` is used."""
    command = [sys.executable, "-m", "reconciler", "sim", "serve", "--port", "0"]
    command += ["--speed", "0", "--token", TOKEN, "--latency", str(state.faults.latency_ms)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" on ")[1].split()[0]
        with Client(url, TOKEN) as client:
            yield client
    finally:
        server.terminate()  # no state file to save; SIGINT is ignored in a background job
        server.wait(timeout=10)


def apply_once(
    spec_dir: Path,
    connect: Connect,
    parallelism: int,
    latency_ms: int,
) -> tuple[float, int, int, int, int]:
    """(seconds, creates done, POSTs, other requests during apply, clusters in the end), as
    the client counts its requests (retries included)."""
    state = SimState(clock=time.time, token=TOKEN, speed=0, faults=Faults(latency_ms=latency_ms))
    spec = load_spec(read_spec_files([str(spec_dir)]))
    with connect(state, parallelism) as client:
        live = read_live(client, spec.project_id)
        plan: Plan = build_plan(spec, live)
        assert plan.count(ActionKind.CREATE) == len(spec.of_kind("cluster"))
        before = sum(client.calls.values())
        applier = Applier(client, options=ApplyOptions(parallelism=parallelism, wait=False))
        started = time.perf_counter()
        report = applier.run(plan, live)
        elapsed = time.perf_counter() - started
        during = sum(client.calls.values()) - before
        posts = client.calls[f"POST {ROUTE_CLUSTERS}"]
        clusters = len(client.list_resources(kinds.get("cluster").api))
    return elapsed, report.count(Outcome.DONE), posts, during - posts, clusters


def measure(spec_dir: Path, label: str, connect: Connect, parallelism: int, args: Args) -> Row:
    """One row: best / median wall time of `repeat` runs, and the counts of the last run."""
    ideal = math.ceil(args.clusters / parallelism) * args.latency_ms / 1000
    runs = [apply_once(spec_dir, connect, parallelism, args.latency_ms) for _ in range(args.repeat)]
    times = [r[0] for r in runs]
    best, median = min(times), statistics.median(times)
    _, done, posts, other, clusters = runs[-1]
    return [
        label,
        str(parallelism),
        f"{ideal:.3f}",
        f"{best:.3f} / {median:.3f}",
        f"{best / ideal:.2f}x / {median / ideal:.2f}x",
        str(done),
        str(posts),
        str(other),
        str(clusters),
    ]


def print_table(header: Row, rows: list[Row]) -> None:
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        print(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--parallelism", default="10,20,50", help="comma-separated")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-http", action="store_true", help="skip the loopback-socket rows")
    args = parser.parse_args(namespace=Args())
    levels = [int(p) for p in args.parallelism.split(",")]

    transports: list[tuple[str, Connect]] = [("in-process SimTransport", in_process)]
    if not args.no_http:
        transports.append(("HTTP, loopback, server thread", over_http))
        transports.append(("HTTP, loopback, sim serve", served_process))

    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, tuned_gc():
        spec_dir = Path(tmp)
        write_spec(spec_dir, args.clusters)
        for label, connect in transports:
            rows += [measure(spec_dir, label, connect, p, args) for p in levels]

    print(
        f"apply --no-wait: {args.clusters} cluster creates, {args.latency_ms} ms simulated "
        f"latency per request; ideal = ceil(N/P)*latency; best / median of {args.repeat} runs"
    )
    header = ["transport", "P", "ideal s", "wall s", "vs ideal", "done", "POSTs", "other calls"]
    print_table([*header, "clusters"], rows)
    print(
        "wall s and vs ideal: best / median; other calls: requests besides the creates made\n"
        "during apply (0: no list call); clusters: in the simulator afterwards (no duplicates)"
    )


if __name__ == "__main__":
    main()
