"""Issue 13: `-f DIR` reads nested directories (never skipping spec files silently), and
`shared_volume.region` comes from the cluster's region when left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli.files import read_spec_files
from tests.conftest import SPEC_HEADER
from tests.integration.helpers import run_cli, sim_args, write_spec

ROOT = Path(__file__).resolve().parents[2]
INFRA_REPO = ROOT / "examples" / "infra-repo"

DEFAULTS = SPEC_HEADER.removesuffix("clusters:\n")


def cluster_file(name: str) -> str:
    return DEFAULTS + f"clusters:\n  - cluster_name: {name}\n    num_gpus: 8\n"


def test_a_directory_is_read_recursively_sorted_without_hidden_paths(tmp_path: Path) -> None:
    """Nested *.yaml/*.yml files are read, sorted by path; hidden files and directories and
    other suffixes are not."""
    layout = {
        "b.yaml": "b",
        "a/z.yml": "az",
        "a/deeper/y.yaml": "ay",
        "c/x.yaml": "cx",
        ".hidden.yaml": "hidden",
        ".github/workflows/ci.yml": "ci",
        "a/notes.txt": "txt",
    }
    for path, name in layout.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(cluster_file(name))
    files = [
        Path(path).relative_to(tmp_path).as_posix() for path, _ in read_spec_files([str(tmp_path)])
    ]
    assert files == ["a/deeper/y.yaml", "a/z.yml", "b.yaml", "c/x.yaml"]


def test_validate_at_the_top_of_the_infra_repo_sees_every_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`validate` with no -f at the top of examples/infra-repo reads clusters/ too (it used to
    report 0 clusters) and skips .github/ and .pre-commit-config.yaml."""
    monkeypatch.chdir(INFRA_REPO)
    result = run_cli(["validate"])
    assert (result.code, result.out) == (0, "Valid: 4 cluster(s), 2 volume(s).\n"), result.all


def test_a_directory_without_spec_files_anywhere_is_an_error(tmp_path: Path) -> None:
    """A directory with no spec file at any depth: one line naming it, exit 1."""
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("hi")
    result = run_cli(["validate", "-f", str(tmp_path / "empty")])
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        f"{tmp_path / 'empty'}: no *.yaml or *.yml files in this directory or below it; "
        "pass a spec file or a directory that holds spec files"
    )


def test_a_name_declared_in_two_nested_files_names_both(tmp_path: Path) -> None:
    """Nested files are one spec: a name declared twice is still an error naming both."""
    (tmp_path / "x").mkdir()
    write_spec(tmp_path, cluster_file("twice"), "a.yaml")
    write_spec(tmp_path / "x", cluster_file("twice"), "b.yaml")
    result = run_cli(["validate", "-f", str(tmp_path)])
    assert result.code == 1
    assert 'cluster "twice" is declared twice' in result.err
    assert f"{tmp_path / 'a.yaml'}:" in result.err


def test_shared_volume_region_defaults_to_the_clusters_region(tmp_path: Path) -> None:
    """`shared_volume` without region is valid when the cluster has a region (here from
    defaults); the create sends the volume in that region."""
    spec = write_spec(
        tmp_path,
        cluster_file("with-volume")
        + "    shared_volume: {volume_name: scratch, size_tib: 2}\n"
        + "  - cluster_name: elsewhere\n    num_gpus: 8\n    region: us-east-1\n"
        + "    gpu_type: H200_SXM\n    cuda_version: '12.8'\n    nvidia_driver_version: '570'\n"
        + "    shared_volume: {volume_name: far, size_tib: 1}\n",
    )
    assert run_cli(["validate", "-f", spec]).out == "Valid: 2 cluster(s), 0 volume(s).\n"
    result = run_cli([*sim_args(tmp_path / "sim.json"), "plan", "-f", spec])
    assert result.code == 0, result.all
    assert '{"region": "us-central-8", "size_tib": 2, "volume_name": "scratch"}' in result.out
    assert '{"region": "us-east-1", "size_tib": 1, "volume_name": "far"}' in result.out


def test_shared_volume_region_of_its_own_wins(tmp_path: Path) -> None:
    """A region written under shared_volume is kept as written."""
    spec = write_spec(
        tmp_path,
        cluster_file("own")
        + "    shared_volume: {volume_name: v, size_tib: 1, region: us-central-4}\n",
    )
    result = run_cli([*sim_args(tmp_path / "sim.json"), "plan", "-f", spec])
    assert '"region": "us-central-4"' in result.out, result.all


def test_shared_volume_without_any_region_is_one_error(tmp_path: Path) -> None:
    """No region anywhere: the cluster's missing region is reported (one line), exit 1."""
    spec = write_spec(
        tmp_path,
        "version: 1\nclusters:\n  - cluster_name: lost\n    gpu_type: H100_SXM\n"
        "    num_gpus: 8\n    billing_type: ON_DEMAND\n    nvidia_version_id: nv-x\n"
        "    shared_volume: {volume_name: v, size_tib: 1}\n",
    )
    result = run_cli(["validate", "-f", spec])
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{spec}:3:5: clusters[0]: missing required field 'region'; set it on the cluster "
        "or in defaults",
        "Error: 1 problem(s) in the spec.",
    ]


def test_the_infra_repo_example_is_complete() -> None:
    """Every file its README lists exists, its specs point at its schema, which is the
    project's own schema, and its .gitignore keeps out the simulator's state and plans."""
    readme = (INFRA_REPO / "README.md").read_text()
    listed = [line.split()[0] for line in readme.split("```")[1].strip().splitlines()]
    listed = [name for name in listed if "." in name or "/" in name]
    assert len(listed) >= 7
    for name in listed:
        assert (INFRA_REPO / name).is_file(), name
    schema = INFRA_REPO / "clusters.schema.json"
    assert schema.read_text() == (ROOT / "schemas" / "clusters.schema.json").read_text()
    for spec in [*INFRA_REPO.glob("clusters/*.yaml"), INFRA_REPO / "volumes.yaml"]:
        first = spec.read_text().splitlines()[0]
        target = first.split("$schema=", 1)[1]
        assert (spec.parent / target).resolve() == schema.resolve(), spec
    ignored = (INFRA_REPO / ".gitignore").read_text().split()
    assert {".reconciler/", "plan.json"} <= set(ignored)
