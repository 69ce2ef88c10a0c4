"""Benchmark: apply 200 cluster creates at 100 ms simulated latency, parallelism 10, 20 and 50,
--no-wait.

Run: .venv/bin/python benchmarks/bench_apply.py [--clusters 200] [--parallelism 10,20,50]
     [--latency-ms 100] [--repeat 3] [--no-http]

The simulator answers every request, reads included, `latency_ms` after it came, sleeping for
real (time.sleep) outside its lock, so requests in flight at once overlap as they would against
the real API; its own work falls inside that time (`simulator.transport.with_latency`). With
`ApplyOptions(wait=False)` (`apply --no-wait`) apply makes one POST per cluster and, after
them, one list call (the check that no name is now held twice); nothing waits, so the shared
poller never polls. The ideal wall time is ceil(N / P) * latency, 2.0, 1.0 and 0.4 s for the
defaults: it leaves out that list's round trip. The plan is made before the clock starts; its
list calls pay the latency too and are not part of the figure.

Two transports: the in-process SimTransport (what `--sim` uses) and the simulator served on a
loopback socket (real HTTP: a kept-alive connection per worker thread, as `apply` has, the
server's threads and its listen backlog).

The floor, measured in the same run against its own `sim serve` (rows "floor"): the same
creates (the plan's bodies, each with an Idempotency-Key) and the list after them, sent by
`parallelism` threads with the least client there is (the standard library's http.client,
one kept-alive connection per thread, json.loads of each answer), none of the tool's layers.
What the machine, the served simulator and Python threads allow at that moment: "vs floor"
is what the tool adds. The machine's stretch moves both.

Timings are measured, never asserted: the script exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
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
from reconciler.frozen import thaw
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


def floor_once(spec_dir: Path, parallelism: int, latency_ms: int) -> float:
    """Seconds for the floor: the plan's creates and one list, by bare http.client threads
    against a `sim serve` of its own (see the module docstring)."""
    state = SimState(clock=time.time, token=TOKEN, speed=0, faults=Faults(latency_ms=latency_ms))
    spec = load_spec(read_spec_files([str(spec_dir)]))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with served_process(state, parallelism) as client:
        plan = build_plan(spec, read_live(client, spec.project_id))  # before the clock, as apply
        numbered = iter(enumerate(json.dumps(thaw(a.body)).encode() for a in plan.actions))
        host, port = client.base_url.removeprefix("http://").split(":")

        def send(connection: http.client.HTTPConnection, body: bytes | None, key: str) -> None:
            method, more = ("POST", {"Idempotency-Key": key}) if body else ("GET", {})
            connection.request(method, ROUTE_CLUSTERS, body, {**headers, **more})
            json.loads(connection.getresponse().read())

        def worker() -> None:
            connection = http.client.HTTPConnection(host, int(port))
            for number, body in numbered:  # next() on one iterator: atomic under the GIL
                send(connection, body, f"floor-{number}")
            connection.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(parallelism)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        listing = http.client.HTTPConnection(host, int(port))
        send(listing, None, "")
        elapsed = time.perf_counter() - started
        listing.close()
    return elapsed


def floor_row(spec_dir: Path, parallelism: int, args: Args) -> tuple[Row, float]:
    """The floor's row, and its median."""
    ideal = math.ceil(args.clusters / parallelism) * args.latency_ms / 1000
    times = [floor_once(spec_dir, parallelism, args.latency_ms) for _ in range(args.repeat)]
    best, median = min(times), statistics.median(times)
    row = ["floor: http.client, sim serve", str(parallelism), f"{ideal:.3f}"]
    row += [f"{best:.3f} / {median:.3f}", f"{best / ideal:.2f}x / {median / ideal:.2f}x"]
    return [*row, "-", str(args.clusters), "1", "-"], median


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
    to_floor: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, tuned_gc():
        spec_dir = Path(tmp)
        write_spec(spec_dir, args.clusters)
        for label, connect in transports:
            for p in levels:
                rows.append(measure(spec_dir, label, connect, p, args))
                if connect is served_process:  # its floor next, in the same stretch
                    row, floor = floor_row(spec_dir, p, args)
                    median = float(rows[-1][3].split(" / ")[1])
                    to_floor.append(f"P={p} {median / floor:.2f}x")
                    rows.append(row)

    print(
        f"apply --no-wait: {args.clusters} cluster creates, {args.latency_ms} ms simulated "
        f"latency per request; ideal = ceil(N/P)*latency; best / median of {args.repeat} runs"
    )
    header = ["transport", "P", "ideal s", "wall s", "vs ideal", "done", "POSTs", "other calls"]
    print_table([*header, "clusters"], rows)
    print(
        "wall s and vs ideal: best / median; other calls: requests besides the creates made\n"
        "during apply (1: the list that checks no name is now held twice; the ideal leaves its\n"
        "round trip out); clusters: in the simulator afterwards (no duplicates); floor: see\n"
        "the module's docstring"
    )
    if to_floor:
        print(f"apply against sim serve / its floor (medians): {', '.join(to_floor)}")


if __name__ == "__main__":
    main()
