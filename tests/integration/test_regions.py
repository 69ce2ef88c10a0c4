"""The regions catalogue: checks before the prompt, one GET per run, and `reconciler regions`.

A create (or replace) that the catalogue cannot serve is a blocked action in the plan, with
the available choices, before anyone is asked to type `yes`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.state import REGIONS, ROUTE_REGIONS
from tests.integration.helpers import (
    SimSpy,
    load_sim_file,
    mutations,
    run_cli,
    run_in_pty,
    seed_sim_file,
    sim_args,
)

BASE = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
    "num_gpus": 8,
}
PROMPT = "Only 'yes' will be accepted"


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> SimSpy:
    """Records the requests each in-process run made (the real simulator transports)."""
    return SimSpy().install(monkeypatch)


def write(tmp_path: Path, clusters: list[dict[str, Any]], volumes: Any = ()) -> str:
    document: dict[str, Any] = {"version": 1, "clusters": clusters}
    if volumes:
        document["volumes"] = list(volumes)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def cluster(name: str = "new", **fields: Any) -> dict[str, Any]:
    return {"cluster_name": name, **{**BASE, **fields}}


CASES = [
    (
        cluster(region="mars-1"),
        "region 'mars-1' does not exist; available: eu-north-1, us-central-4, us-central-8, "
        "us-east-1",
    ),
    (
        cluster(gpu_type="B300_SXM"),
        "GPU type B300_SXM is not offered in us-central-8; available there: "
        "H100_SXM, H200_SXM, B200_SXM",
    ),
    (
        cluster(cuda_version="12.9", nvidia_driver_version="575"),
        "CUDA 12.9 with driver 575 is not offered in us-central-8; available cuda/driver "
        "pairs: 12.5/555, 12.6/560, 12.8/570",
    ),
    (
        {
            **{k: v for k, v in cluster().items() if "_version" not in k},
            "nvidia_version_id": "nv-use1-12.9-575-u2204",
        },
        "nvidia_version_id 'nv-use1-12.9-575-u2204' is not offered in us-central-8; available: "
        "nv-usc8-12.5-555-u2204",
    ),
]


@pytest.mark.parametrize(
    ("spec", "message"), CASES, ids=["region", "gpu-type", "driver-pair", "version-id"]
)
def test_create_outside_the_catalogue_is_blocked_in_the_plan(
    tmp_path: Path, spy: SimSpy, spec: dict[str, Any], message: str
) -> None:
    """plan and apply --auto-approve exit 3 with the choices; one regions GET per run, no change."""
    state_file = tmp_path / "sim.json"
    seed_sim_file(state_file)
    path = write(tmp_path, [spec, cluster("fine")])
    for argv in (["plan"], ["apply", "--auto-approve"]):
        result = run_cli([*sim_args(state_file), *argv, "-f", path])
        assert result.code == 3, result.all
        assert message in result.all
        assert "cluster 'new'" in result.err
        assert PROMPT not in result.all
        assert spy.last.count("GET", ROUTE_REGIONS) == 1
        assert mutations(spy.last) == []


def test_catalogue_mismatches_stop_apply_on_a_terminal_before_the_prompt(tmp_path: Path) -> None:
    """On a real terminal apply exits 3 with every mismatch's choices and never prompts."""
    state_file = tmp_path / "sim.json"
    seed_sim_file(state_file)
    # All four cases in one run: each message shows, so each check runs in the plan.
    bad = [{**spec, "cluster_name": f"bad-{i}"} for i, (spec, _) in enumerate(CASES)]
    path = write(tmp_path, [*bad, cluster("fine")])
    code, screen = run_in_pty([*sim_args(state_file), "apply", "-f", path], expect_prompt=False)
    assert code == 3, screen
    assert "plan blocked by a safety rule" in screen
    for i, (_, message) in enumerate(CASES):
        assert message in screen
        assert f"cluster 'bad-{i}'" in screen
    assert PROMPT not in screen
    assert load_sim_file(state_file).clusters == {}


def test_replace_into_a_gpu_type_the_new_region_lacks_is_blocked(
    tmp_path: Path, spy: SimSpy
) -> None:
    """An allowed replace is checked like a create: H100_SXM is not offered in us-east-1; on a
    real terminal apply exits 3 without a prompt."""
    state_file = tmp_path / "sim.json"
    seed_sim_file(state_file, [{"cluster_name": "moving"}])
    path = write(
        tmp_path,
        [cluster("moving", region="us-east-1", cuda_version="12.8", nvidia_driver_version="570")],
    )
    message = "GPU type H100_SXM is not offered in us-east-1; available there: H200_SXM"
    argv = [*sim_args(state_file), "apply", "-f", path, "--allow-replace", "moving"]
    result = run_cli([*argv, "--auto-approve"])
    assert result.code == 3, result.all
    assert message in result.err
    assert spy.last.count("GET", ROUTE_REGIONS) == 1
    assert mutations(spy.last) == []
    before = state_file.read_bytes()
    code, screen = run_in_pty(argv, expect_prompt=False)
    assert code == 3, screen
    assert message in screen
    assert PROMPT not in screen
    assert state_file.read_bytes() == before


def test_one_regions_call_per_run_whatever_the_number_of_creates(
    tmp_path: Path, spy: SimSpy
) -> None:
    """Ten valid creates, planned and applied: one GET /v1/compute/regions in each run; a plan
    without creates makes none."""
    state_file = tmp_path / "sim.json"
    seed_sim_file(state_file)
    path = write(tmp_path, [cluster(f"c{i}") for i in range(10)])
    for argv, code in ((["plan", "--detailed-exitcode"], 2), (["apply", "--auto-approve"], 0)):
        result = run_cli([*sim_args(state_file), *argv, "-f", path])
        assert result.code == code, result.all
        assert spy.last.count("GET", ROUTE_REGIONS) == 1
    result = run_cli([*sim_args(state_file), "plan", "--detailed-exitcode", "-f", path])
    assert result.code == 0, result.all
    assert spy.last.count("GET", ROUTE_REGIONS) == 0


def test_regions_command_prints_the_catalogue_table(tmp_path: Path, spy: SimSpy) -> None:
    """`reconciler regions`: a header, then every region with its GPU types and driver ids."""
    result = run_cli([*sim_args(tmp_path / "sim.json"), "regions"])
    assert result.code == 0, result.all
    lines = result.out.splitlines()
    assert lines[0].split() == ["REGION", "GPU", "TYPES", "CUDA/DRIVER", "(OS)", "ID"]
    for region in REGIONS:
        row = next(line for line in lines if line.startswith(region["name"] + " "))
        assert ", ".join(region["supported_instance_types"]) in row
        for driver in region["driver_versions"]:
            assert driver["id"] in result.out
    assert sum(len(r["driver_versions"]) for r in REGIONS) == len(lines) - 1
    assert spy.last.count("GET", ROUTE_REGIONS) == 1
