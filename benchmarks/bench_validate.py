"""Benchmark: validate a generated 10,000-cluster spec (a directory of files); prints times.

Run: .venv/bin/python benchmarks/bench_validate.py [--clusters N] [--files K]
Goal (DESIGN §10, issue 2): ≤ 1.5 s wall time for `reconciler validate` on a 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = """\
# yaml-language-server: $schema=../schemas/clusters.schema.json
version: 1
project_id: proj-bench
defaults:
  region: us-central-8
  gpu_type: H100_SXM
  cuda_version: "12.6"
  nvidia_driver_version: "560"
  billing_type: ON_DEMAND
"""


def cluster_yaml(index: int, volume: str) -> str:
    """One cluster entry; a mix of shapes so the validator sees more than one."""
    name = f"team-a-c{index:05d}"
    gpus = 8 * (1 + index % 4)
    match index % 5:
        case 0:
            return f"  - cluster_name: {name}\n    num_gpus: {gpus}\n    volume: {volume}\n"
        case 1:
            return (
                f"  - cluster_name: {name}\n    cluster_type: SLURM\n"
                f"    slurm_shm_size_gib: 64\n    num_gpus: {gpus}\n"
            )
        case 2:
            return (
                f"  - cluster_name: {name}\n    num_gpus: {gpus}\n"
                "    lifecycle: {prevent_destroy: true, ignore_changes: [num_gpus]}\n"
            )
        case 3:
            return f"  - {{cluster_name: {name}, num_gpus: {gpus}, gpu_type: H200_SXM}}\n"
        case _:
            return f"  - cluster_name: {name}\n    num_gpus: {gpus}\n    install_traefik: true\n"


def write_spec(directory: Path, clusters: int, files: int) -> int:
    """Write `clusters` clusters spread over `files` files; returns the total bytes."""
    per_file = -(-clusters // files)
    total = 0
    for number in range(files):
        first, last = number * per_file, min(clusters, (number + 1) * per_file)
        volume = (
            f"volumes:\n  - volume_name: data-{number}\n    region: us-central-8\n    size_tib: 4\n"
        )
        body = (
            HEADER
            + volume
            + "clusters:\n"
            + "".join(cluster_yaml(i, f"data-{number}") for i in range(first, last))
        )
        (directory / f"clusters-{number:02d}.yaml").write_text(body)
        total += len(body)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        size = write_spec(directory, args.clusters, args.files)
        print(f"spec: {args.clusters} clusters in {args.files} files, {size / 1e6:.2f} MB")

        # Cold: a fresh process would pay imports and the one-time schema/validator build.
        started = time.perf_counter()
        from reconciler.cli import main as cli_main
        from reconciler.cli import read_spec_files
        from reconciler.errors import SpecError
        from reconciler.spec import load_spec

        files = read_spec_files([str(directory)])
        spec = load_spec(files)
        cold = time.perf_counter() - started
        assert len(spec.clusters) == args.clusters, len(spec.clusters)
        print(f"load_spec, cold (imports + schema + read + validate): {cold:.3f} s")

        for _ in range(args.repeat):
            started = time.perf_counter()
            load_spec(read_spec_files([str(directory)]))
            print(
                f"load_spec, warm:                                      "
                f"{time.perf_counter() - started:.3f} s"
            )

        out, err = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            contextlib.suppress(SystemExit),
        ):
            cli_main(["validate", "-f", str(directory)])
        elapsed = time.perf_counter() - started
        print(f"reconciler validate (in-process):                     {elapsed:.3f} s")
        print(f"  -> {out.getvalue().strip() or err.getvalue().strip()}")

        # Safety is fast too: the 342-byte billion-laughs file is refused in milliseconds.
        bomb = "".join(
            f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        )
        bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + bomb
        started = time.perf_counter()
        try:
            load_spec([("bomb.yaml", bomb.encode())])
        except SpecError as exc:
            outcome = exc.problems[0]
        elapsed = time.perf_counter() - started
        print(f"alias bomb ({len(bomb)} bytes) refused in {elapsed * 1000:.1f} ms: {outcome}")

        # What a user waits for: a fresh process, interpreter start-up and imports included.
        script = "from reconciler.cli import main; main()"
        command = [sys.executable, "-c", script, "validate", "-f", str(directory)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        print(f"reconciler validate (new process):                    {elapsed:.3f} s")
        print(f"  -> exit {done.returncode}: {done.stdout.strip() or done.stderr.strip()}")


if __name__ == "__main__":
    main()
