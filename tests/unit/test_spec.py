"""load_spec: YAML bytes → frozen Spec, or every problem at once with file:line:col."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import SpecError
from reconciler.model import Ensure, Lifecycle, Location, Prune
from reconciler.spec import format_path, load_spec
from reconciler.spec import reader as reader_module
from tests.conftest import SPEC_HEADER

LOCATED = re.compile(r"^[^\n]+:\d+:\d+: \S")

HEADER = SPEC_HEADER.removesuffix("clusters:\n")


def load(text: str | bytes, path: str = "spec.yaml") -> Any:
    """load_spec on one file given as text."""
    data = text.encode() if isinstance(text, str) else text
    return load_spec([(path, data)])


def problems(text: str | bytes, path: str = "spec.yaml") -> list[str]:
    """The problem lines load_spec raises for one file (fails if it accepts it)."""
    with pytest.raises(SpecError) as raised:
        load(text, path)
    return list(raised.value.problems)


# --- the Spec it builds ------------------------------------------------------------------------


def test_defaults_are_merged_under_clusters_and_cluster_keys_win() -> None:
    """Present clusters get every default they do not set; their own keys win."""
    spec = load(
        HEADER + "clusters:\n  - cluster_name: a\n    num_gpus: 8\n    gpu_type: H200_SXM\n"
    )
    (cluster,) = spec.of_kind("cluster")
    assert cluster.name == "a"
    assert dict(cluster.fields) == {
        "region": "us-central-8",
        "gpu_type": "H200_SXM",
        "cuda_version": "12.6",
        "nvidia_driver_version": "560",
        "billing_type": "ON_DEMAND",
        "num_gpus": 8,
    }
    assert cluster.location == Location("spec.yaml", 9, 5)


def test_absent_clusters_get_no_defaults() -> None:
    """`ensure: absent` needs only a name, and defaults are not merged into it."""
    spec = load(HEADER + "clusters:\n  - cluster_name: gone\n    ensure: absent\n")
    (cluster,) = spec.of_kind("cluster")
    assert (cluster.ensure, dict(cluster.fields)) == (Ensure.ABSENT, {})


def test_tool_keys_go_to_their_attributes() -> None:
    """cluster_name, ensure, lifecycle and volume never appear in fields."""
    text = (
        HEADER
        + "volumes:\n  - {volume_name: v, region: us-central-8, size_tib: 2, ensure: present,\n"
        "     lifecycle: {prevent_destroy: true}}\n"
        "clusters:\n  - cluster_name: a\n    num_gpus: 8\n    volume: v\n    ensure: present\n"
        "    lifecycle: {prevent_destroy: true, ignore_changes: [num_gpus], "
        "replace_on_change: true}\n"
    )
    spec = load(text)
    (cluster,) = spec.of_kind("cluster")
    assert cluster.refs.get("volume") == "v"
    assert cluster.lifecycle == Lifecycle(True, ("num_gpus",), True)
    assert not {"cluster_name", "ensure", "lifecycle", "volume"} & set(cluster.fields)
    (volume,) = spec.of_kind("volume")
    assert (volume.name, dict(volume.fields)) == ("v", {"region": "us-central-8", "size_tib": 2})
    assert volume.lifecycle == Lifecycle(prevent_destroy=True)


def test_values_are_frozen() -> None:
    """fields are read-only mappings and lists become tuples."""
    text = HEADER + (
        "clusters:\n  - cluster_name: a\n    num_gpus: 8\n"
        "    add_ons: [{add_on_type: dashboard, name: d}]\n"
    )
    spec = load(text)
    (cluster,) = spec.of_kind("cluster")
    (add_on,) = spec.of_kind("add-on")
    assert isinstance(cluster.fields, MappingProxyType)
    assert "add_ons" not in cluster.fields  # a kind of its own, nested in the cluster
    assert (add_on.name, add_on.parent, dict(add_on.fields)) == (
        "d",
        "a",
        {"add_on_type": "dashboard"},
    )
    with pytest.raises(TypeError):
        cluster.fields["num_gpus"] = 16  # type: ignore[index]


@pytest.mark.parametrize(
    "written",
    ["2026-05-01T00:00:00Z", "2026-05-01 00:00:00Z", '"2026-05-01T02:00:00+02:00"'],
    ids=["plain-T", "plain-space", "quoted"],
)
def test_timestamps_stay_strings_as_written(written: str) -> None:
    """YAML's timestamp type is not applied: the API gets the text the user wrote."""
    text = HEADER + (
        "clusters:\n  - cluster_name: a\n    num_gpus: 8\n    billing_type: SCHEDULED_CAPACITY\n"
        f"    reservation_start_time: {written}\n    reservation_end_time: 2026-06-01T00:00:00Z\n"
    )
    (cluster,) = load(text).of_kind("cluster")
    assert cluster.fields["reservation_start_time"] == written.strip('"')


def test_legacy_names_are_translated_with_warnings() -> None:
    """driver_version → the cuda/driver pair, auto_scaled → auto_scale, failover dropped."""
    text = (
        "version: 1\nclusters:\n  - cluster_name: a\n    region: r\n    gpu_type: H100_SXM\n"
        "    billing_type: ON_DEMAND\n    num_gpus: 8\n    driver_version: CUDA_12_6_560\n"
        "    auto_scaled: true\n    auto_scale_max_gpus: 16\n"
        "    gpu_node_failover_enabled: true\n"
    )
    spec = load(text)
    fields = dict(spec.of_kind("cluster")[0].fields)
    assert fields["cuda_version"] == "12.6" and fields["nvidia_driver_version"] == "560"
    assert fields["auto_scale"] is True
    assert not {"driver_version", "auto_scaled", "gpu_node_failover_enabled"} & set(fields)
    assert [w.split(": ")[0] for w in spec.warnings] == [
        "spec.yaml:8:5",
        "spec.yaml:9:5",
        "spec.yaml:11:5",
    ]
    assert all(LOCATED.match(w) for w in spec.warnings)


def test_project_id_prune_and_digest() -> None:
    """Top-level settings are filled in; the digest covers paths and bytes of every file."""
    text = HEADER + (
        "project_id: p-1\nprune: {enabled: true, name_prefix: team-}\n"
        "clusters:\n  - {cluster_name: team-a, num_gpus: 8}\n"
    )
    spec = load(text)
    assert spec.project_id == "p-1"
    assert spec.prune == Prune(True, "team-")
    assert re.fullmatch(r"[0-9a-f]{64}", spec.digest)
    assert load(text).digest == spec.digest
    assert load(text, path="other.yaml").digest != spec.digest
    assert load(text + "# comment\n").digest != spec.digest


def test_anchors_and_merge_keys() -> None:
    """Plain YAML reuse works: anchors, aliases and `<<` merge keys (own keys win)."""
    text = HEADER + (
        "clusters:\n  - &base\n    cluster_name: a\n    num_gpus: 8\n    install_traefik: true\n"
        "  - <<: *base\n    cluster_name: b\n    num_gpus: 16\n"
    )
    a, b = load(text).of_kind("cluster")
    assert (b.name, b.fields["num_gpus"], b.fields["install_traefik"]) == ("b", 16, True)
    assert a.fields["num_gpus"] == 8


def test_volumes_across_files_can_be_referenced() -> None:
    """A cluster in one file may use a volume declared in another."""
    volumes = b"version: 1\nvolumes:\n  - {volume_name: v, region: r, size_tib: 1}\n"
    clusters = (HEADER + "clusters:\n  - {cluster_name: a, num_gpus: 8, volume: v}\n").encode()
    spec = load_spec([("v.yaml", volumes), ("c.yaml", clusters)])
    assert spec.of_kind("cluster")[0].refs.get("volume") == "v"
    assert spec.of_kind("cluster")[0].location == Location("c.yaml", 9, 5)


def test_byte_order_mark_is_accepted() -> None:
    """A UTF-8 byte order mark at the start of a file is ignored."""
    text = HEADER + "clusters:\n  - {cluster_name: a, num_gpus: 8}\n"
    assert load(b"\xef\xbb\xbf" + text.encode()).of_kind("cluster")[0].name == "a"


def test_the_c_loader_is_used_when_available() -> None:
    """Speed: the libyaml-backed loader reads the events (DESIGN §10)."""
    if yaml.__with_libyaml__:
        assert reader_module._Loader is yaml.CSafeLoader


# --- problems -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &a [*a]\n", "spec.yaml:1:8: alias *a refers to no anchor defined before it"),
        ("? [a, b]\n: c\n", "spec.yaml:1:3: mapping keys must be plain words, not collections"),
        ("x: !!binary aGVsbG8=\n", "spec.yaml:1:4: the tag !!binary is not allowed"),
        ("version: !!int nope\n", "spec.yaml:1:10: 'nope' is not a valid !!int"),
        ("version: 1\n<<: 5\n", "spec.yaml:2:5: '<<' must merge a mapping or a list of mappings"),
        ("version: 1\n...\n---\nversion: 1\n", "spec.yaml:3:1: a second YAML document starts"),
        ("~\n", "spec.yaml:1:1: the file is empty"),
        ("version: 1\nclusters: [\n", "spec.yaml:3:1: invalid YAML:"),
        ("- 1\n- 2\n", "spec.yaml:1:1: a list is not a mapping (key: value lines)"),
        ("version: '1'\n", 'spec.yaml:1:10: version: must be 1, not "1"'),
    ],
    ids=[
        "recursive-alias",
        "complex-key",
        "binary-tag",
        "bad-int-tag",
        "bad-merge",
        "second-document",
        "null-document",
        "unclosed-flow",
        "not-a-mapping",
        "quoted-version",
    ],
)
def test_yaml_level_problems(text: str, expected: str) -> None:
    """Unsafe or unusual YAML is refused with a located one-line problem."""
    lines = problems(text)
    assert any(line.startswith(expected) for line in lines), lines


def test_explicit_str_tag_keeps_text() -> None:
    """`!!str 010` is the text "010" (the documented alternative to quoting)."""
    text = HEADER + "clusters:\n  - {cluster_name: !!str 010, num_gpus: !!int 8}\n"
    (cluster,) = load(text).of_kind("cluster")
    assert cluster.name == "010" and cluster.fields["num_gpus"] == 8


def test_octal_looking_string_field_gets_one_problem() -> None:
    """A YAML 1.1 octal in a string field is one type problem with a quote-it hint."""
    text = HEADER.replace('"560"', "0560") + "clusters:\n  - {cluster_name: a, num_gpus: 8}\n"
    assert problems(text) == [
        "spec.yaml:6:26: defaults.nvidia_driver_version: the number 368 is not a string; YAML "
        'reads 0560 as a number: quote it: "0560"'
    ]


def test_duplicate_keys_are_reported_with_the_rest() -> None:
    """A duplicate key does not hide other problems of the same file."""
    text = HEADER + "clusters:\n  - {cluster_name: a, num_gpus: 8, num_gpus: 12}\n  - num_gpus: 3\n"
    lines = problems(text)
    assert lines[0].startswith("spec.yaml:9:36: clusters[0].num_gpus: duplicate key 'num_gpus'")
    assert "spec.yaml:10:5: clusters[1]: missing required field 'cluster_name'" in lines
    assert "spec.yaml:10:15: clusters[1].num_gpus: 3 is less than the minimum of 8" in lines


def test_problems_from_every_file_in_order() -> None:
    """Problems come sorted by file order, then line and column, each located."""
    bad_b = (HEADER + "clusters:\n  - {cluster_name: b, num_gpus: 12}\n").encode()
    bad_a = (HEADER + "clusters:\n  - {cluster_name: a, num_gpus: 8, gpu_typ: x}\n").encode()
    with pytest.raises(SpecError) as raised:
        load_spec([("z.yaml", bad_b), ("a.yaml", bad_a)])
    lines = raised.value.problems
    assert [line.split(":")[0] for line in lines] == ["z.yaml", "a.yaml"]
    assert all(LOCATED.match(line) for line in lines)


def test_control_characters_are_escaped_one_problem_per_line() -> None:
    """Keys and values with control characters print escaped, never as raw line breaks."""
    text = HEADER + 'clusters:\n  - cluster_name: a\n    num_gpus: 8\n    "x\\ny": 1\n'
    assert problems(text) == [
        "spec.yaml:11:5: clusters[0].x\\x0ay: unknown field 'x\\x0ay'; remove it"
    ]
    (line,) = problems("version: 1\nx: a\x07b\n")
    assert line == (
        "spec.yaml:2:5: invalid YAML: unacceptable character #x0007: control characters are "
        "not allowed; remove it"
    )


def test_no_files_is_an_error() -> None:
    """load_spec of nothing is a problem, never an empty spec."""
    with pytest.raises(SpecError, match="no spec files given"):
        load_spec([])


def test_oversize_is_refused_by_the_pure_core_too() -> None:
    """The 1 MiB limit holds even when a caller skipped the CLI's size check."""
    (line,) = problems(b"version: 1\n" + b"#" * (1024 * 1024))
    assert line.startswith("spec.yaml:1:1: the file is 1.0 MiB; spec files are limited to 1 MiB")


@pytest.mark.parametrize(
    ("path", "text"),
    [(("clusters", 2, "num_gpus"), "clusters[2].num_gpus"), ((), ""), (("a", 0, 1), "a[0][1]")],
    ids=["nested", "root", "lists"],
)
def test_format_path(path: tuple[str | int, ...], text: str) -> None:
    """JSON paths print as the user reads them."""
    assert format_path(path) == text


# --- properties ---------------------------------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
GPU_TYPES = ["H100_SXM", "H200_SXM", "B200_SXM", "B300_SXM", "GB200_SXM"]
DEFAULTS = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
}


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Spec documents the schema accepts: unique names, multiples of 8, consistent rules."""
    volume_names = draw(st.lists(NAMES, unique=True, max_size=3))
    cluster_names = draw(st.lists(NAMES, unique=True, min_size=1, max_size=6))
    volumes = [
        {"volume_name": name, "region": "us-central-8", "size_tib": draw(st.integers(1, 500))}
        for name in volume_names
    ]
    clusters: list[dict[str, Any]] = []
    for name in cluster_names:
        cluster: dict[str, Any] = {"cluster_name": name}
        if draw(st.integers(0, 4)) == 0:
            cluster["ensure"] = "absent"
        else:
            cluster["num_gpus"] = 8 * draw(st.integers(1, 16))
            if draw(st.booleans()):
                cluster["gpu_type"] = draw(st.sampled_from(GPU_TYPES))
            if draw(st.booleans()):
                cluster["cluster_type"] = "SLURM"
                cluster["slurm_shm_size_gib"] = draw(st.integers(1, 512))
            if draw(st.booleans()):
                cluster["install_traefik"] = draw(st.booleans())
            if volume_names and draw(st.booleans()):
                cluster["volume"] = draw(st.sampled_from(volume_names))
            if draw(st.booleans()):
                cluster["lifecycle"] = {
                    "prevent_destroy": draw(st.booleans()),
                    "ignore_changes": draw(
                        st.lists(st.sampled_from(["num_gpus", "add_ons"]), unique=True)
                    ),
                }
        clusters.append(cluster)
    return {"version": 1, "defaults": DEFAULTS, "volumes": volumes, "clusters": clusters}


@settings(max_examples=50, deadline=None)
@given(document=valid_specs())
def test_generated_valid_specs_validate(document: dict[str, Any]) -> None:
    """Every generated valid spec loads, in order, with defaults merged into present clusters."""
    spec = load(yaml.safe_dump(document, sort_keys=False))
    assert [c.name for c in spec.of_kind("cluster")] == [
        c["cluster_name"] for c in document["clusters"]
    ]
    assert [v.name for v in spec.of_kind("volume")] == [
        v["volume_name"] for v in document["volumes"]
    ]
    for cluster, raw in zip(spec.of_kind("cluster"), document["clusters"], strict=True):
        if cluster.ensure is Ensure.PRESENT:
            assert cluster.fields["num_gpus"] == raw["num_gpus"]
            assert cluster.fields["region"] == "us-central-8"
        else:
            assert dict(cluster.fields) == {}


JUNK = st.sampled_from(
    [
        "\t",
        ":",
        "- ",
        "[",
        "{",
        "&a ",
        "*a",
        "!!python/name:os.system ",
        '"',
        "'",
        "\n",
        "  ",
        "<<: ",
        "\x00",
        "\xff",
        "010",
        "yes",
        "8.0",
        "---\n",
        "? ",
        "%YAML 1.1\n",
        "#",
        "~",
    ]
)


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    """A valid spec's YAML, then a few random edits: insert junk, delete, duplicate, swap."""
    text = yaml.safe_dump(draw(valid_specs()), sort_keys=False)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "duplicate", "swap"]))
        at = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:at] + draw(JUNK) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
        else:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "duplicate":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_texts())
def test_random_mutations_never_raise_anything_but_spec_error(data: bytes) -> None:
    """Whatever the edit, load_spec returns a Spec or raises SpecError with located lines."""
    try:
        load(data)
    except SpecError as exc:
        assert exc.problems
        assert all(LOCATED.match(line) for line in exc.problems), exc.problems
        assert not any("\n" in line for line in exc.problems)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 100) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=50, deadline=None)
@given(document=valid_specs(), data=st.data())
def test_random_values_anywhere_never_raise_anything_but_spec_error(
    document: dict[str, Any], data: st.DataObject
) -> None:
    """Replacing any value of a valid spec by arbitrary data gives a Spec or located problems."""
    target: Any = document
    path = data.draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    for step in path[:-1]:
        if isinstance(target, dict) and target:
            target = target[list(target)[step % len(target)]]
        elif isinstance(target, list) and target:
            target = target[step % len(target)]
    value = data.draw(JSONISH)
    if isinstance(target, dict) and target:
        target[list(target)[path[-1] % len(target)]] = value
    elif isinstance(target, list) and target:
        target[path[-1] % len(target)] = value
    try:
        load(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    except SpecError as exc:
        assert all(LOCATED.match(line) for line in exc.problems), exc.problems
        assert not any("\n" in line for line in exc.problems)


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (
            ("2030-13-45T00:00:00Z", "2030-12-01T00:00:00Z"),
            "clusters[0].reservation_start_time: '2030-13-45T00:00:00Z' is not a real date",
        ),
        (
            ("2030-05-01T00:00:00Z", "2030-04-01T00:00:00Z"),
            "clusters[0].reservation_end_time: 2030-04-01T00:00:00Z is not after "
            "reservation_start_time 2030-05-01T00:00:00Z",
        ),
    ],
    ids=["month-13", "end-before-start"],
)
def test_reservation_times_the_api_would_refuse_are_errors(
    times: tuple[str, str], message: str
) -> None:
    """A reservation the API would refuse is a spec error with its place, before any plan."""
    start, end = times
    text = HEADER + (
        "clusters:\n  - cluster_name: a\n    num_gpus: 8\n    billing_type: SCHEDULED_CAPACITY\n"
        f"    reservation_start_time: {start}\n    reservation_end_time: {end}\n"
    )
    with pytest.raises(SpecError) as caught:
        load(text)
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_an_add_on_declared_switched_off_or_twice_is_an_error() -> None:
    """`enabled: false` could never be seen as done (the API lists only enabled add-ons), and
    a name twice on one cluster is ambiguous: both are errors at their place."""
    text = HEADER + (
        "clusters:\n  - cluster_name: a\n    num_gpus: 8\n    add_ons:\n"
        "      - {name: d, add_on_type: dashboard, config: {dashboard: {enabled: false}}}\n"
        "      - {name: d, add_on_type: dashboard}\n"
    )
    with pytest.raises(SpecError) as caught:
        load(text)
    problems = caught.value.problems
    assert any(
        "clusters[0].add_ons[0].config.dashboard.enabled: false is never seen as done" in p
        for p in problems
    ), problems
    assert any("clusters[0].add_ons[1].name: add-on 'd' is named twice" in p for p in problems)


def test_a_number_beyond_the_apis_int32_is_an_error() -> None:
    """The API's counts are int32: a larger one is refused by validate, with its place."""
    text = HEADER + "clusters:\n  - cluster_name: a\n    num_gpus: 99999999992\n"
    with pytest.raises(SpecError) as caught:
        load(text)
    assert any(
        "clusters[0].num_gpus: 99999999992 is greater than the maximum of 2147483647" in p
        for p in caught.value.problems
    )
