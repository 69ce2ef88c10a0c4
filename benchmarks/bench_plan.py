"""Benchmark: `reconciler plan` end to end for 100, 1,000 and 10,000 clusters, 1 % drifted.

Run: .venv/bin/python benchmarks/bench_plan.py [--sizes 100,1000,10000] [--repeat 3]
     .venv/bin/python benchmarks/bench_plan.py --served   # fresh processes, `sim serve`,
                                                         # 10,000 and 50,000 (plan_served.py)

For each size N it writes a spec (YAML files in a temp dir, at most 1,000 clusters a file),
fills an in-process simulator (speed 0: every cluster Ready at once) with the same N clusters,
of which 1 % have num_gpus changed behind the spec's back, and then times what a user meets
when running `reconciler plan`:

    read the spec files + load_spec, Wanted     (YAML, schema, rules; the spec's side of the
                                                  comparison)
    list clusters + list volumes, parsed         (the real Client over SimTransport, 2 calls;
                                                  each object parsed as it is read: read_live)
    build_plan                                   (diff, safety rules, fingerprints)
    render_text                                  (the Terraform-like text)

The simulator's own work inside the list calls (building the API objects and their JSON) is
part of the end-to-end figure, because `--sim` users wait for it too, but it is not the
product: it is printed separately ("of which simulator"). Peak memory comes from a separate
run under tracemalloc (tracing slows Python down, so timed runs do not trace). For comparison
the same run times a naive whole-state DeepDiff: the full desired list against the full live
list, both as plain dicts.

Timings are measured, never asserted: the script exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from deepdiff import DeepDiff

from reconciler import kinds
from reconciler.cli import read_spec_files, tuned_gc
from reconciler.cli.listing import read_live
from reconciler.client import Client
from reconciler.diff import Wanted
from reconciler.model import ActionKind, Plan, thaw
from reconciler.plan import build_plan
from reconciler.render import render_text
from reconciler.simulator.state import SimRequest, SimState
from reconciler.simulator.transport import SimTransport
from reconciler.spec import load_spec

TOKEN = "bench-token"
PER_FILE = 1_000
DRIFT_EVERY = 100  # 1 % of the clusters drifted
DEFAULTS = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
}
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


# --- the fixture: spec files and a simulator holding the same clusters -----------------------


def cluster_fields(index: int) -> dict[str, Any]:
    """The create fields of cluster `index` (besides the defaults): a mix of shapes."""
    fields: dict[str, Any] = {"cluster_name": f"bench-c{index:05d}", "num_gpus": 8}
    if index % 5 == 1:
        fields.update(cluster_type="SLURM", slurm_shm_size_gib=64)
    elif index % 5 == 3:
        fields.update(install_traefik=True)
    return fields


def cluster_yaml(index: int) -> str:
    fields = cluster_fields(index)
    lines = [f"  - cluster_name: {fields.pop('cluster_name')}"]
    lines += [f"    {key}: {_yaml_scalar(value)}" for key, value in fields.items()]
    if index % 5 == 4:
        lines.append("    lifecycle: {prevent_destroy: true}")
    return "\n".join(lines) + "\n"


def _yaml_scalar(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def write_spec(directory: Path, clusters: int) -> int:
    """The spec as files of at most PER_FILE clusters each; returns the total bytes."""
    total = 0
    for number, first in enumerate(range(0, clusters, PER_FILE)):
        body = HEADER + "".join(
            cluster_yaml(i) for i in range(first, min(clusters, first + PER_FILE))
        )
        (directory / f"clusters-{number:02d}.yaml").write_text(body)
        total += len(body)
    return total


def populate(state: SimState, clusters: int) -> int:
    """The spec's clusters, live and Ready; every DRIFT_EVERY-th has num_gpus changed."""
    drifted = 0
    for index in range(clusters):
        fields = {**DEFAULTS, **cluster_fields(index)}
        if index % DRIFT_EVERY == 0:
            fields["num_gpus"] = 16  # resized in the console: the plan must show 16 -> 8
            drifted += 1
        state.add_cluster(**fields)
    return drifted


class TimedSimTransport(SimTransport):
    """SimTransport that adds up the time spent inside the simulator (not the product)."""

    def __init__(self, state: SimState) -> None:
        super().__init__(state)
        self.seconds = 0.0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            return super().handle_request(request)
        finally:
            self.seconds += time.perf_counter() - started


# --- one plan, as `reconciler plan` does it ----------------------------------------------------


@dataclass
class Run:
    stages: dict[str, float] = field(default_factory=dict)
    simulator: float = 0.0
    calls: int = 0
    sim_list_calls: int = 0
    plan: Plan | None = None
    text: str = ""

    @property
    def total(self) -> float:
        return sum(self.stages.values())


def plan_once(spec_dir: Path, state: SimState) -> Run:
    """Spec files → text, each stage timed; the same calls `reconciler plan` makes."""
    run = Run()
    transport = TimedSimTransport(state)
    before = state.count("GET", "/v1/compute/clusters") + state.count(
        "GET", "/v1/compute/clusters/storage/volumes"
    )
    with Client("http://sim", TOKEN, transport=transport) as client:
        clock = time.perf_counter
        t0 = clock()
        spec = load_spec(read_spec_files([str(spec_dir)]))
        wanted = Wanted(spec)  # `plan` works it out while the API answers
        t1 = clock()
        live = read_live(client, spec.project_id)
        t2 = clock()
        plan = build_plan(spec, live, wanted=wanted)
        t3 = clock()
        text = render_text(plan, color=False)
        t4 = clock()
        run.calls = sum(client.calls.values())
    gc.unfreeze()  # read_live froze the live state for a command; these runs follow one another
    run.stages = {"spec": t1 - t0, "lists": t2 - t1, "plan": t3 - t2, "render": t4 - t3}
    run.simulator = transport.seconds
    run.sim_list_calls = (
        state.count("GET", "/v1/compute/clusters")
        + state.count("GET", "/v1/compute/clusters/storage/volumes")
        - before
    )
    run.plan, run.text = plan, text
    return run


def peak_memory(spec_dir: Path, state: SimState) -> int:
    """Peak bytes allocated by Python during one plan (tracemalloc), simulator included."""
    gc.collect()
    tracemalloc.start()
    try:
        plan_once(spec_dir, state)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- the naive comparison ----------------------------------------------------------------------


def desired_dicts(spec_dir: Path) -> list[dict[str, Any]]:
    spec = load_spec(read_spec_files([str(spec_dir)]))
    return [{"cluster_name": c.name, **thaw(c.fields)} for c in spec.of_kind("cluster")]


def naive_deepdiff(desired: list[dict[str, Any]], live: list[dict[str, Any]]) -> tuple[float, int]:
    """DeepDiff of the whole desired list vs the whole live list: (seconds, reported items)."""
    started = time.perf_counter()
    diff = DeepDiff(desired, live)
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(items) for items in diff.values())


# --- reporting ---------------------------------------------------------------------------------


def best_median(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """Right-aligned columns separated by two spaces."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, *rows]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    )


def timed(repeat: int, action: Callable[[], Run]) -> list[Run]:
    runs = []
    for _ in range(repeat):
        gc.collect()
        runs.append(action())
    return runs


def bench_size(clusters: int, repeat: int, naive: bool) -> tuple[list[str], list[str], list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        spec_dir = Path(tmp)
        spec_bytes = write_spec(spec_dir, clusters)
        state = SimState(clock=time.time, token=TOKEN, speed=0)
        started = time.perf_counter()
        drifted = populate(state, clusters)
        fill = time.perf_counter() - started
        body = list_body_bytes(state)
        runs = timed(repeat, lambda: plan_once(spec_dir, state))
        peak = peak_memory(spec_dir, state)
        plan = runs[-1].plan
        assert plan is not None
        updates = plan.count(ActionKind.UPDATE)
        notes = [
            f"N={clusters:,}: spec {spec_bytes / 1e6:.2f} MB in {-(-clusters // PER_FILE)} "
            f"file(s); simulator filled with add_cluster in {fill:.2f} s; list body "
            f"{body / 1e6:.1f} MB; plan: {updates} to update, {len(plan.unchanged)} unchanged"
            + (f" (expected {drifted})" if updates != drifted else ""),
        ]
        median = {k: statistics.median(r.stages[k] for r in runs) for k in runs[0].stages}
        row = [
            f"{clusters:,}",
            str(drifted),
            best_median([r.total for r in runs]),
            f"{median['spec']:.3f}",
            f"{median['lists']:.3f}",
            f"({statistics.median(r.simulator for r in runs):.3f})",
            f"{median['plan']:.3f}",
            f"{median['render']:.3f}",
            f"{statistics.median(r.total - r.simulator for r in runs):.3f}",
            f"{peak / 2**20:.1f}",
            f"{runs[-1].calls} ({runs[-1].sim_list_calls})",
        ]
        naive_row: list[str] = []
        if naive:
            desired = desired_dicts(spec_dir)
            with Client("http://sim", TOKEN, transport=SimTransport(state)) as client:
                listed = client.list_resources(kinds.get("cluster").api)
            live = sorted(listed, key=lambda c: str(c["cluster_name"]))
            # Fairer: each live object cut down to the keys its desired twin sets.
            projected = [
                {k: v for k, v in c.items() if k in d} for d, c in zip(desired, live, strict=True)
            ]
            whole, narrowed = [], []
            for _ in range(repeat):
                gc.collect()
                whole.append(naive_deepdiff(desired, live))
                narrowed.append(naive_deepdiff(desired, projected))
            naive_row = [
                f"{clusters:,}",
                best_median([t for t, _ in whole]),
                f"{whole[0][1]:,}",
                best_median([t for t, _ in narrowed]),
                f"{narrowed[0][1]:,}",
                best_median([r.stages["plan"] for r in runs]),
                f"{updates:,}",
            ]
        return row, notes, naive_row


def list_body_bytes(state: SimState) -> int:
    """Size of the cluster list answer (asked of the simulator directly, not logged as a call)."""
    request = SimRequest(
        "GET", "/v1/compute/clusters", headers={"authorization": f"Bearer {TOKEN}"}
    )
    size = len(state.handle(request).body)
    state.request_log.pop()
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated N")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive DeepDiff")
    parser.add_argument(
        "--served",
        action="store_true",
        help="fresh processes against `reconciler sim serve` (plan_served.py; default sizes "
        "10000,50000) instead of the in-process run",
    )
    args = parser.parse_args()
    if args.served:
        import plan_served

        sizes_text = args.sizes if "--sizes" in sys.argv else "10000,50000"
        plan_served.run([int(s.replace("_", "")) for s in sizes_text.split(",")], args.repeat)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    # Imports and the schema/validator build are paid once per process, before any timing.
    warm = tempfile.TemporaryDirectory()
    write_spec(Path(warm.name), 2)
    load_spec(read_spec_files([warm.name]))
    warm.cleanup()

    rows: list[list[str]] = []
    notes: list[str] = []
    naive_rows: list[list[str]] = []
    for size in sizes:
        with tuned_gc():  # the GC thresholds `reconciler` runs every command with
            row, size_notes, naive_row = bench_size(size, args.repeat, naive=not args.no_naive)
        rows.append(row)
        notes += size_notes
        if naive_row:
            naive_rows.append(naive_row)
        print(f"... N={size:,} measured", file=sys.stderr, flush=True)

    print(f"reconciler plan, end to end: seconds, best / median of {args.repeat} runs")
    header = ["N", "drifted", "total", "spec", "lists", "(sim)", "plan", "render"]
    header += ["w/o sim", "peak MiB", "API calls (sim log)"]
    print(table(header, rows))
    print(
        "spec..render: median seconds per stage; (sim): the simulator's own handling inside\n"
        "the list calls; w/o sim: total minus (sim); peak MiB: tracemalloc, separate run"
    )
    for note in notes:
        print(f"- {note}")
    if naive_rows:
        print()
        print(
            "naive whole-state DeepDiff (desired list vs live list, plain dicts) vs build_plan:"
            f" seconds, best / median of {args.repeat}"
        )
        header = ["N", "DeepDiff, whole objects", "reported", "DeepDiff, cut to spec keys"]
        header += ["reported", "build_plan", "updates"]
        print(table(header, naive_rows))


if __name__ == "__main__":
    main()
