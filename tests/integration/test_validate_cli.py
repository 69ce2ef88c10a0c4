"""`reconciler validate` and `reconciler schema` as a user runs them: the bad-spec catalogue."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler import cli

DATA = Path(__file__).resolve().parents[1] / "data"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the real console entry point; returns (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture(autouse=True)
def in_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in messages are shown as given: run from tests/data so they stay short."""
    monkeypatch.chdir(DATA)
    monkeypatch.setenv("NO_COLOR", "1")


@dataclass(frozen=True)
class Bad:
    id: str
    paths: tuple[str, ...]
    expected: tuple[str, ...]  # each appears in one stderr line: file:line:col: path: message


CATALOGUE = [
    Bad(
        "malformed-yaml",
        ("bad/malformed.yaml",),
        ("bad/malformed.yaml:5:3: invalid YAML: did not find expected '-' indicator",),
    ),
    Bad(
        "tabs",
        ("bad/tabs.yaml",),
        ("bad/tabs.yaml:4:1: invalid YAML:", "indent with spaces, not tabs"),
    ),
    Bad(
        "duplicate-key",
        ("bad/duplicate-key.yaml",),
        (
            "bad/duplicate-key.yaml:11:5: clusters[0].num_gpus: duplicate key 'num_gpus' "
            "(first at 10:5)",
        ),
    ),
    Bad(
        "duplicate-name-two-files",
        ("bad/duplicate-name-a.yaml", "bad/duplicate-name-b.yaml"),
        (
            'bad/duplicate-name-b.yaml:11:19: clusters[1].cluster_name: cluster "train-a" is '
            "declared twice (first at bad/duplicate-name-a.yaml:9:19)",
        ),
    ),
    Bad(
        "duplicate-name-one-file",
        ("bad/duplicate-name-same-file.yaml",),
        (
            'bad/duplicate-name-same-file.yaml:11:19: clusters[1].cluster_name: cluster "train-a" '
            "is declared twice (first at bad/duplicate-name-same-file.yaml:9:19)",
        ),
    ),
    Bad(
        "quoted-number",
        ("bad/quoted-number.yaml",),
        (
            'bad/quoted-number.yaml:10:15: clusters[0].num_gpus: the string "8" is not an '
            "integer; remove the quotes: 8",
        ),
    ),
    Bad(
        "float-number",
        ("bad/float-number.yaml",),
        (
            "bad/float-number.yaml:10:15: clusters[0].num_gpus: the number 8.0 is not an "
            "integer; write 8",
        ),
    ),
    Bad(
        "bool-number",
        ("bad/bool-number.yaml",),
        (
            "bad/bool-number.yaml:10:15: clusters[0].num_gpus: the boolean true is not an "
            "integer; YAML reads true as a boolean",
        ),
    ),
    Bad(
        "octal-number",
        ("bad/octal-number.yaml",),
        (
            "bad/octal-number.yaml:10:15: clusters[0].num_gpus: 010 is read as the octal number 8 "
            'by YAML 1.1; write 10 or quote it ("010")',
        ),
    ),
    Bad(
        "unquoted-cuda-version",
        ("bad/unquoted-cuda.yaml",),
        (
            "bad/unquoted-cuda.yaml:8:19: clusters[0].cuda_version: the number 12.1 is not a "
            'string; YAML reads 12.10 as a number: quote it: "12.10"',
        ),
    ),
    Bad(
        "yaml11-no-is-false",
        ("bad/yaml11-bool-name.yaml",),
        (
            "bad/yaml11-bool-name.yaml:9:19: clusters[0].cluster_name: the boolean false is not "
            'a string; YAML reads no as a boolean: quote it: "no"',
        ),
    ),
    Bad(
        "not-multiple-of-8",
        ("bad/not-multiple-of-8.yaml",),
        ("bad/not-multiple-of-8.yaml:10:15: clusters[0].num_gpus: 12 is not a multiple of 8",),
    ),
    Bad(
        "unknown-field-did-you-mean",
        ("bad/unknown-field.yaml",),
        (
            "bad/unknown-field.yaml:10:5: clusters[0].num_gpu: unknown field 'num_gpu'; "
            "did you mean 'num_gpus'?",
        ),
    ),
    Bad(
        "unknown-enum-lists-allowed",
        ("bad/unknown-enum.yaml",),
        (
            'bad/unknown-enum.yaml:11:15: clusters[0].gpu_type: "H100" is not one of the allowed '
            "values: H100_SXM, H200_SXM, RTX_6000_PCI, L40_PCIE, B200_SXM, H100_SXM_INF, B300_SXM, "
            "GB200_SXM; did you mean 'H100_SXM'?",
        ),
    ),
    Bad(
        "missing-required-all-reported",
        ("bad/missing-required.yaml",),
        (
            "bad/missing-required.yaml:3:5: clusters[0]: missing required fields 'region', "
            "'gpu_type', 'num_gpus', 'billing_type'; set them on the cluster or in defaults",
            "bad/missing-required.yaml:3:5: clusters[0]: no NVIDIA version selected",
            "bad/missing-required.yaml:5:5: clusters[1]: missing required field 'cluster_name'",
            "bad/missing-required.yaml:5:5: clusters[1]: missing required fields 'region', "
            "'gpu_type', 'billing_type'",
        ),
    ),
    Bad(
        "slurm-without-shm",
        ("bad/slurm-without-shm.yaml",),
        (
            "bad/slurm-without-shm.yaml:9:5: clusters[0]: missing required field "
            "'slurm_shm_size_gib' (required when cluster_type is SLURM)",
        ),
    ),
    Bad(
        "scheduled-capacity-without-times",
        ("bad/scheduled-without-times.yaml",),
        (
            "bad/scheduled-without-times.yaml:9:5: clusters[0]: missing required fields "
            "'reservation_start_time', 'reservation_end_time' (required when billing_type is "
            "SCHEDULED_CAPACITY)",
        ),
    ),
    Bad(
        "undeclared-volume",
        ("bad/undeclared-volume.yaml",),
        (
            'bad/undeclared-volume.yaml:11:13: clusters[0].volume: no volume named "team-dta" is '
            "declared under volumes; did you mean 'team-data'?",
        ),
    ),
    Bad(
        "bad-ignore-changes",
        ("bad/bad-ignore-changes.yaml",),
        (
            'bad/bad-ignore-changes.yaml:12:24: clusters[0].lifecycle.ignore_changes[0]: "num_gpu" '
            "is not one of the allowed values:",
            "did you mean 'num_gpus'?",
            "bad/bad-ignore-changes.yaml:12:33: clusters[0].lifecycle.ignore_changes[1]: "
            '"duration_days"',
            "duration_days is sent only on create and never compared: nothing to ignore",
        ),
    ),
    Bad(
        "empty-file",
        ("bad/empty.yaml",),
        ("bad/empty.yaml:1:1: the file is empty",),
    ),
    Bad(
        "empty-spec-is-not-delete-everything",
        ("bad/empty-spec.yaml",),
        (
            "bad/empty-spec.yaml:1:1: the spec declares no clusters and no volumes; an empty spec "
            "never means 'delete everything'",
        ),
    ),
    Bad(
        "multi-document",
        ("bad/multi-document.yaml",),
        ("bad/multi-document.yaml:3:1: a second YAML document starts here; put one spec per file",),
    ),
    Bad(
        "python-tag",
        ("bad/python-tag.yaml",),
        (
            "bad/python-tag.yaml:3:19: the tag !!python/object/apply:os.system is not allowed; "
            "specs are plain YAML data",
        ),
    ),
    Bad(
        "alias-bomb",
        ("bad/alias-bomb.yaml",),
        ("bad/alias-bomb.yaml:6:8: aliases expand to more than 100000 nodes (an alias bomb?)",),
    ),
    Bad(
        "deep-nesting",
        ("bad/deep-nesting.yaml",),
        ("bad/deep-nesting.yaml:4:50: nesting is deeper than 32 levels",),
    ),
    Bad(
        "invalid-utf8",
        ("bad/invalid-utf8.yaml",),
        ("bad/invalid-utf8.yaml:3:22: the file is not valid UTF-8 (byte 0xe9); save it as UTF-8",),
    ),
    Bad(
        "directory-without-yaml",
        ("bad/no-yaml",),
        ("bad/no-yaml: no *.yaml or *.yml files in this directory",),
    ),
    Bad(
        "missing-path",
        ("bad/does-not-exist.yaml",),
        ("bad/does-not-exist.yaml: no such file or directory; check the -f path",),
    ),
    Bad(
        "prune-without-prefix",
        ("bad/prune-without-prefix.yaml",),
        ("bad/prune-without-prefix.yaml:7:3: prune: missing required field 'name_prefix'",),
    ),
    Bad(
        "volume-exclusive",
        ("bad/volume-exclusive.yaml",),
        (
            "bad/volume-exclusive.yaml:9:5: clusters[0]: volume, volume_id and shared_volume are "
            "mutually exclusive; keep one",
        ),
    ),
    Bad(
        "autoscale",
        ("bad/autoscale.yaml",),
        (
            "bad/autoscale.yaml:9:5: clusters[0]: missing required field 'auto_scale_max_gpus' "
            "(required when auto_scale is true)",
            "bad/autoscale.yaml:15:26: clusters[1].auto_scale_max_gpus: 8 is less than "
            "num_gpus (16)",
        ),
    ),
    Bad(
        "wrong-version",
        ("bad/wrong-version.yaml",),
        ("bad/wrong-version.yaml:1:10: version: must be 1, not 2",),
    ),
    Bad(
        "legacy-driver-conflict",
        ("bad/legacy-conflict.yaml",),
        (
            "bad/legacy-conflict.yaml:9:5: clusters[0]: driver_version (deprecated) conflicts "
            "with cuda_version/nvidia_driver_version",
        ),
    ),
    Bad(
        "bad-timestamp",
        ("bad/bad-timestamp.yaml",),
        (
            'bad/bad-timestamp.yaml:12:29: clusters[0].reservation_start_time: "tomorrow" must be '
            "an RFC 3339 date-time",
        ),
    ),
    Bad(
        "misplaced-cluster-field",
        ("bad/misplaced-field.yaml",),
        (
            "bad/misplaced-field.yaml:2:1: region: unknown field 'region'; 'region' is a cluster "
            "field: put it under defaults or on each cluster",
        ),
    ),
    Bad(
        "empty-value",
        ("bad/no-driver.yaml",),
        (
            "bad/no-driver.yaml:11:19: clusters[0].cuda_version: an empty value (null) is not a "
            "string; write a value or remove the key",
        ),
    ),
]


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.id for c in CATALOGUE])
def test_bad_spec_is_reported_with_location(case: Bad, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad spec exits 1 with its file:line:col problem lines on stderr, nothing on stdout."""
    args = ["validate"]
    for path in case.paths:
        args += ["-f", path]
    code, out, err = run(args, capsys)
    assert code == 1, err
    assert out == ""
    lines = err.splitlines()
    for expected in case.expected:
        assert any(expected in line for line in lines), f"{expected!r} not in:\n{err}"
    assert lines[-1].startswith("Error: ") and lines[-1].endswith("problem(s) in the spec.")
    assert "Traceback" not in err


def test_catalogue_is_big_enough() -> None:
    """The issue asks for at least 25 catalogued bad specs (plus the generated oversize one)."""
    assert len(CATALOGUE) >= 25


def test_oversize_file_is_refused_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spec file over 1 MiB is refused with its size, without parsing it."""
    big = tmp_path / "big.yaml"
    big.write_bytes(b"version: 1\n" + b"# padding\n" * 110_000)
    code, _out, err = run(["validate", "-f", str(big)], capsys)
    assert code == 1
    assert f"{big}:1:1: the file is larger than 1 MiB" in err


def test_every_problem_of_every_file_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Problems from several files come together, in file order, with the count."""
    code, _out, err = run(
        ["validate", "-f", "bad/slurm-without-shm.yaml", "-f", "bad/not-multiple-of-8.yaml"],
        capsys,
    )
    assert code == 1
    assert err.splitlines() == [
        "bad/slurm-without-shm.yaml:9:5: clusters[0]: missing required field "
        "'slurm_shm_size_gib' (required when cluster_type is SLURM); set it on the cluster or "
        "in defaults",
        "bad/not-multiple-of-8.yaml:10:15: clusters[0].num_gpus: 12 is not a multiple of 8",
        "Error: 2 problem(s) in the spec.",
    ]


@pytest.mark.parametrize(
    ("paths", "summary"),
    [
        (["good/full.yaml"], "Valid: 4 cluster(s), 2 volume(s)."),
        (["good/anchors.yaml"], "Valid: 2 cluster(s), 1 volume(s)."),
        (["good/split"], "Valid: 1 cluster(s), 1 volume(s)."),
        (["../../examples/clusters.yaml"], "Valid: 3 cluster(s), 1 volume(s)."),
    ],
    ids=["every-field", "anchors", "directory", "example"],
)
def test_good_spec_validates(
    paths: list[str], summary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid spec exits 0 with the one-line summary on stdout and nothing on stderr."""
    args = ["validate"]
    for path in paths:
        args += ["-f", path]
    code, out, err = run(args, capsys)
    assert (code, out, err) == (0, summary + "\n", "")


def test_warnings_go_to_stderr_and_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """Deprecated and removed field names validate, with located warnings on stderr."""
    code, out, err = run(["validate", "-f", "good/legacy.yaml"], capsys)
    assert code == 0
    assert out == "Valid: 2 cluster(s), 0 volume(s).\n"
    assert err.splitlines() == [
        "warning: good/legacy.yaml:7:3: defaults.driver_version: deprecated; read as "
        'cuda_version "12.6" + nvidia_driver_version "560" — write those instead',
        "warning: good/legacy.yaml:11:5: clusters[0].auto_scaled: deprecated; read as "
        "auto_scale — rename it",
        "warning: good/legacy.yaml:13:5: clusters[0].gpu_node_failover_enabled: removed from "
        "the API; ignored and never sent — remove it",
        "warning: good/legacy.yaml:16:5: clusters[1].driver_version: deprecated; read as "
        'cuda_version "12.8" + nvidia_driver_version "570" — write those instead',
    ]


def test_default_path_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without -f, validate reads the current directory's *.yaml/*.yml, skipping dotfiles."""
    shutil.copy(DATA / "good" / "split" / "10-volumes.yaml", tmp_path / "a.yml")
    shutil.copy(DATA / "good" / "split" / "20-clusters.yaml", tmp_path / "b.yaml")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["validate"], capsys)
    assert (code, out, err) == (0, "Valid: 1 cluster(s), 1 volume(s).\n", "")


def test_read_spec_files_expands_and_sorts(tmp_path: Path) -> None:
    """Directories expand to their YAML files in name order; files keep the order given."""
    for name in ("b.yaml", "a.yml", "c.txt", ".hidden.yaml"):
        (tmp_path / name).write_text("version: 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.yaml").write_text("version: 1\n")
    single = tmp_path / "sub" / "d.yaml"
    files = cli.read_spec_files([str(single), str(tmp_path), str(single)])
    assert [Path(p).name for p, _ in files] == ["d.yaml", "a.yml", "b.yaml"]
    assert all(data == b"version: 1\n" for _, data in files)


def test_usage_error_exits_64(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is a usage error: exit 64 and a hint to --help."""
    code, _out, err = run(["validate", "--frobnicate"], capsys)
    assert code == 64
    assert "No such option" in err


def test_validate_help(capsys: pytest.CaptureFixture[str]) -> None:
    """validate --help documents -f and exits 0."""
    code, out, _err = run(["validate", "--help"], capsys)
    assert code == 0
    assert "-f, --file" in out


def test_schema_prints_the_packaged_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`reconciler schema` prints the shipped schema byte for byte, as valid JSON."""
    code, out, _err = run(["schema"], capsys)
    assert code == 0
    shipped = (DATA.parents[1] / "schemas" / "clusters.schema.json").read_text("utf-8")
    assert out == shipped
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
