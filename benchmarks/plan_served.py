"""`bench_plan.py --served`: `reconciler plan` in a fresh process against `reconciler sim serve`.

For each size N: the spec files (as bench_plan.py writes them) and a simulator state file
written directly (SimState.add_cluster at speed 0, then save_state; no HTTP), served by
`reconciler sim serve --speed 0 --port 0` on 127.0.0.1, warmed up with a dozen list calls
(a fresh server answers its first ones up to 0.5 s slower). Then, `--repeat` times, one of
each in turn (so the plan and the floor meet the server in the same state):

- `reconciler plan` as a user runs it (console script, fresh process): wall time and peak
  RSS (the child's own `ru_maxrss`, from os.wait4);
- a fresh process that does the same stages, one after the other, with a clock around each
  (imports, spec, the list calls with each object parsed as it is read (`read_live`),
  build_plan, render; `reconciler plan` overlaps the first two with the list calls), then
  the floor on the same data: one raw GET of the cluster list, `json.loads` (with the
  garbage collector paused, as the client parses), and a plain dict comparison of each spec
  cluster's fields with its live twin by name.

Goals (printed, never asserted): plan 10,000 <= 1.5 s wall including the served simulator,
<= 2x the floor, peak <= 200 MiB; 50,000 <= 5.5x the 10,000 figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOALS = {"wall_10k": 1.5, "floor_ratio": 2.0, "peak_mib": 200.0, "growth_50k": 5.5}
TOKEN = "bench-token"
WARM_UP_LISTS = 12
STAGES = ("imports", "spec", "lists", "plan", "render")  # lists: calls + parse, streamed

# Run in a fresh process: the stages of `reconciler plan`, then the floor, as JSON on stdout.
CHILD = r"""
import sys, time
t0 = time.perf_counter()
import json
import httpx
from reconciler.cli import read_spec_files, tuned_gc
from reconciler.client import Client
from reconciler.cli.listing import read_live
from reconciler.diff import Wanted
from reconciler.plan import build_plan
from reconciler.render import render_text
from reconciler.spec import load_spec
from reconciler.model import thaw
from reconciler.acyclic import paused_gc
url, token, spec_dir = sys.argv[1:4]
clock = time.perf_counter
out = {"imports": clock() - t0}
with tuned_gc(), Client(url, token) as client:
    t = clock(); spec = load_spec(read_spec_files([spec_dir])); wanted = Wanted(spec)
    out["spec"] = clock() - t
    t = clock(); live = read_live(client, spec.project_id); out["lists"] = clock() - t
    t = clock(); plan = build_plan(spec, live, wanted=wanted); out["plan"] = clock() - t
    t = clock(); text = render_text(plan, color=False); out["render"] = clock() - t
    desired = [(c.name, thaw(c.fields)) for c in spec.of_kind("cluster")]
    del live, plan, text
    headers = {"authorization": f"Bearer {token}"}
    t = clock()  # httpx's 5 s default read timeout: the 50,000-cluster list can take longer
    raw = httpx.get(f"{url}/v1/compute/clusters", headers=headers, timeout=120).content
    out["floor_get"] = clock() - t
    with paused_gc():  # as the client parses: the floor gets the same collector pause
        t = clock(); data = json.loads(raw); out["floor_loads"] = clock() - t
    t = clock()
    by_name = {c["cluster_name"]: c for c in data["clusters"]}
    differ = sum(
        1 for name, fields in desired
        if any(by_name[name].get(k) != v for k, v in fields.items())
    )
    out["floor_compare"] = clock() - t
    out["floor_differ"] = differ
    import pathlib, yaml  # informational: what reading the spec alone costs (not in the floor)
    texts = [p.read_bytes() for p in sorted(pathlib.Path(spec_dir).glob("*.yaml"))]
    t = clock()
    for text in texts:
        yaml.load(text, Loader=yaml.CSafeLoader)
    out["spec_yaml"] = clock() - t
print(json.dumps(out))
"""


def reconciler_bin() -> str:
    return str(Path(sys.executable).with_name("reconciler"))


def write_state(path: Path, clusters: int) -> float:
    """The simulator's state file holding the spec's clusters; returns the seconds it took."""
    from bench_plan import populate

    from reconciler.simulator.persist import save_state
    from reconciler.simulator.state import SimState

    started = time.perf_counter()
    state = SimState(clock=time.time, token=TOKEN, speed=0)
    populate(state, clusters)
    save_state(state, str(path))
    return time.perf_counter() - started


def start_server(state_file: Path) -> tuple[subprocess.Popen[str], str]:
    """`reconciler sim serve` on 127.0.0.1, a free port; returns (process, its URL)."""
    command = [reconciler_bin(), "sim", "serve", "--port", "0", "--speed", "0"]
    command += ["--state", str(state_file), "--token", TOKEN]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    line = server.stdout.readline()
    url = line.split("listening on ")[1].split()[0]
    return server, url


def warm_up(url: str, lists: int = WARM_UP_LISTS) -> None:
    """A few list calls before any is timed: a freshly started `sim serve` answers its first
    dozen 40 MB lists up to 0.5 s slower (measured: plans against a fresh server 3.1–3.4 s,
    against a warm one 2.0–2.4 s, on the same state). Made from a child process: this one
    stays small, because a child's peak RSS (ru_maxrss) counts the parent it was forked from."""
    code = (
        "import sys, httpx\n"
        "url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
        "for _ in range(n):\n"
        "    httpx.get(url + '/v1/compute/clusters', timeout=120,\n"
        "              headers={'authorization': 'Bearer ' + token}).raise_for_status()\n"
    )
    subprocess.run([sys.executable, "-c", code, url, TOKEN, str(lists)], check=True)


def plan_process(url: str, spec_dir: Path) -> tuple[float, float]:
    """`reconciler plan` in a fresh process: (wall seconds, peak RSS MiB)."""
    env = {**os.environ, "TOGETHER_BASE_URL": url, "TOGETHER_API_KEY": TOKEN, "NO_COLOR": "1"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [reconciler_bin(), "plan", "-f", str(spec_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    assert os.waitstatus_to_exitcode(status) == 0, "reconciler plan failed"
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


def staged_process(url: str, spec_dir: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, TOKEN, str(spec_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:  # its own traceback, not only the exit status
        raise SystemExit(f"the instrumented process failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def measure(clusters: int, repeat: int) -> dict[str, Any]:
    from bench_plan import write_spec

    with tempfile.TemporaryDirectory() as tmp:
        spec_dir, state_file = Path(tmp, "spec"), Path(tmp, "sim.json")
        spec_dir.mkdir()
        write_spec(spec_dir, clusters)
        fill = write_state(state_file, clusters)
        server, url = start_server(state_file)
        try:
            warm_up(url)
            whole, staged = [], []
            for _ in range(repeat):  # interleaved: the plan and the floor see the same server
                whole.append(plan_process(url, spec_dir))
                staged.append(staged_process(url, spec_dir))
        finally:
            server.terminate()
            server.wait()
    median = {key: statistics.median(s[key] for s in staged) for key in staged[0]}
    walls = [w for w, _ in whole]
    return {
        "n": clusters,
        "fill": fill,
        "wall": walls,
        "peak": max(p for _, p in whole),
        "peaks": [p for _, p in whole],
        "stages": median,
        "floor": median["floor_get"] + median["floor_loads"] + median["floor_compare"],
    }


def report(results: list[dict[str, Any]], repeat: int) -> None:
    print(f"reconciler plan, fresh process against `sim serve`: best / median of {repeat}")
    for r in results:
        stages, best, med = r["stages"], min(r["wall"]), statistics.median(r["wall"])
        staged_total = sum(stages[k] for k in STAGES)
        shares = ", ".join(
            f"{k} {stages[k]:.3f} s ({stages[k] / staged_total:.0%})" for k in STAGES
        )
        peaks = ", ".join(f"{p:.0f}" for p in r["peaks"])
        print(
            f"N={r['n']:,}: wall {best:.2f} / {med:.2f} s, peak RSS {r['peak']:.0f} MiB ({peaks})"
        )
        print(f"  stages (staged run, median): {shares}")
        print(
            f"  floor {r['floor']:.3f} s (GET {stages['floor_get']:.3f}, json.loads "
            f"{stages['floor_loads']:.3f}, dict compare {stages['floor_compare']:.3f}; "
            f"{stages['floor_differ']:.0f} differ); plan wall / floor = {med / r['floor']:.2f}, "
            f"staged stages / floor = {staged_total / r['floor']:.2f}"
        )
        with_spec = r["floor"] + stages["spec_yaml"]
        print(
            f"  (informational, not a goal: the spec's YAML alone, libyaml's C loader, takes "
            f"{stages['spec_yaml']:.3f} s; floor + that {with_spec:.3f} s, plan wall / it = "
            f"{med / with_spec:.2f})"
        )
        print(f"  (state file written directly in {r['fill']:.1f} s)")
    print("goals:")
    by_n = {r["n"]: r for r in results}
    if 10_000 in by_n:
        r = by_n[10_000]
        med = statistics.median(r["wall"])
        print(f"  10,000 wall <= {GOALS['wall_10k']} s: {med:.2f} s")
        print(f"  10,000 wall / floor <= {GOALS['floor_ratio']}: {med / r['floor']:.2f}")
        print(f"  10,000 peak <= {GOALS['peak_mib']:.0f} MiB: {r['peak']:.0f} MiB")
        if 50_000 in by_n:
            growth = statistics.median(by_n[50_000]["wall"]) / med
            print(f"  50,000 / 10,000 wall <= {GOALS['growth_50k']}: {growth:.2f}")


def run(sizes: list[int], repeat: int) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    results = []
    for size in sizes:
        results.append(measure(size, repeat))
        print(f"... N={size:,} measured (served)", file=sys.stderr, flush=True)
    report(results, repeat)
