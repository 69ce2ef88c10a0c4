"""The published JSON Schema and the checks in schema.py (pure: documents in, issues out)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler import schema as schema_module
from reconciler.kinds.cluster_spec import merge_cluster
from reconciler.schema import Issue, plain_string_check, schema, schema_text, validators
from reconciler.spec.rules import check_documents

ROOT = Path(__file__).resolve().parents[2]

#: Every create field of the current API (REFERENCE §3a + §3b), except project_id, which is
#: top-level in the spec.
API_CREATE_FIELDS = {
    "cluster_type",
    "region",
    "gpu_type",
    "num_gpus",
    "duration_days",
    "shared_volume",
    "volume_id",
    "billing_type",
    "auto_scale",
    "auto_scale_max_gpus",
    "slurm_shm_size_gib",
    "capacity_pool_id",
    "reservation_start_time",
    "reservation_end_time",
    "install_traefik",
    "cuda_version",
    "nvidia_driver_version",
    "nvidia_version_id",
    "slurm_image",
    "num_capacity_pool_gpus",
    "num_preemptible_gpus",
    "num_reserved_gpus",
    "acceptance_tests_params",
    "add_ons",
    "cluster_config",
    "oidc_config",
}
LEGACY_FIELDS = {"driver_version", "auto_scaled", "gpu_node_failover_enabled"}
TOOL_FIELDS = {"cluster_name", "ensure", "lifecycle", "volume"}

GOOD: dict[str, Any] = {
    "version": 1,
    "defaults": {
        "region": "us-central-8",
        "gpu_type": "H100_SXM",
        "cuda_version": "12.6",
        "nvidia_driver_version": "560",
        "billing_type": "ON_DEMAND",
    },
    "clusters": [{"cluster_name": "a", "num_gpus": 8}],
}


def object_schemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that declares properties, with a JSON-pointer-ish location."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from object_schemas(value, f"{where}/{index}")


def test_schema_is_valid_draft_2020_12() -> None:
    """The shipped file is a valid draft 2020-12 schema."""
    document = json.loads(schema_text())
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(document)


def test_schema_text_is_the_packaged_file_loaded_once() -> None:
    """schema_text() is the file under schemas/, read once and cached."""
    assert schema_text() == (ROOT / "schemas" / "clusters.schema.json").read_text("utf-8")
    assert schema_text() is schema_text()
    assert schema() is schema()


def test_every_property_has_a_description() -> None:
    """Editors show help for every field: each property schema carries a description."""
    missing = [
        f"{where}/properties/{name}"
        for where, node in object_schemas(schema())
        for name, prop in node["properties"].items()
        if isinstance(prop, dict)
        and "description" not in prop
        and "$ref" not in prop
        and "const" not in prop.get("properties", {}).get(name, {})
        and not where.endswith(("/if", "/not"))
    ]
    assert missing == []


def test_every_object_refuses_unknown_fields() -> None:
    """additionalProperties: false on every object that lists its properties (not conditions)."""
    open_objects = [
        where
        for where, node in object_schemas(schema())
        if node.get("type") == "object" and node.get("additionalProperties") is not False
    ]
    assert open_objects == []


def test_cluster_accepts_every_api_create_field_and_nothing_else() -> None:
    """The cluster schema is exactly the API's create fields, legacy names and tool keys."""
    cluster = set(schema()["$defs"]["cluster"]["properties"])
    assert cluster == API_CREATE_FIELDS | LEGACY_FIELDS | TOOL_FIELDS


def test_defaults_take_every_cluster_field_but_identity_and_lifecycle() -> None:
    """defaults accepts what a cluster does, minus cluster_name, ensure and lifecycle."""
    defs = schema()["$defs"]
    cluster, defaults = defs["cluster"]["properties"], defs["defaults"]["properties"]
    assert set(defaults) == set(cluster) - {"cluster_name", "ensure", "lifecycle"}
    assert all(defaults[name] == cluster[name] for name in defaults)


@pytest.mark.parametrize(
    ("field", "values"),
    [
        (
            "gpu_type",
            [
                "H100_SXM",
                "H200_SXM",
                "RTX_6000_PCI",
                "L40_PCIE",
                "B200_SXM",
                "H100_SXM_INF",
                "B300_SXM",
                "GB200_SXM",
            ],
        ),
        ("billing_type", ["RESERVED", "ON_DEMAND", "SCHEDULED_CAPACITY"]),
        ("cluster_type", ["KUBERNETES", "SLURM"]),
        ("driver_version", ["CUDA_12_5_555", "CUDA_12_6_560", "CUDA_12_6_565", "CUDA_12_8_570"]),
    ],
    ids=["gpu_type", "billing_type", "cluster_type", "driver_version"],
)
def test_enums_are_the_apis_verbatim(field: str, values: list[str]) -> None:
    """Enum values are copied from the API (SDK 3.1.1), in its order."""
    assert schema()["$defs"]["cluster"]["properties"][field]["enum"] == values


def test_rules_only_look_at_presence_and_constants() -> None:
    """The merged-cluster rules use only keywords the rules cache keys on (keys + a few values)."""
    allowed = {
        "description",
        "errorMessage",
        "required",
        "allOf",
        "anyOf",
        "not",
        "if",
        "then",
        "dependentRequired",
        "properties",
        "const",
    }
    seen: set[str] = set()

    def walk(node: Any, under_properties: bool = False) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not under_properties:
                    seen.add(key)
                names_follow = key in ("properties", "dependentRequired")
                walk(value, names_follow and not under_properties)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema()["$defs"]["clusterRules"])
    assert seen <= allowed


def test_example_spec_is_valid_for_editors() -> None:
    """The example validates against the published schema alone (what an editor checks)."""
    import yaml

    example = yaml.safe_load((ROOT / "examples" / "clusters.yaml").read_text("utf-8"))
    errors = list(Draft202012Validator(schema()).iter_errors(example))
    assert errors == []


def test_good_document_has_no_issues() -> None:
    """A minimal complete spec passes every check."""
    assert check_documents([GOOD]) == []


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        ({"num_gpus": 8.0}, Issue(0, ("clusters", 0, "num_gpus"), "", expected=("integer",))),
        ({"num_gpus": True}, Issue(0, ("clusters", 0, "num_gpus"), "", expected=("integer",))),
        ({"num_gpus": 12}, Issue(0, ("clusters", 0, "num_gpus"), "12 is not a multiple of 8")),
        ({"num_gpus": 0}, Issue(0, ("clusters", 0, "num_gpus"), "0 is less than the minimum of 8")),
        (
            {"cluster_type": "SLURM"},
            Issue(
                0,
                ("clusters", 0),
                "missing required field 'slurm_shm_size_gib' (required when cluster_type is "
                "SLURM); set it on the cluster or in defaults",
            ),
        ),
        (
            {"num_capacity_pool_gpus": 16},
            Issue(
                0,
                ("clusters", 0, "num_capacity_pool_gpus"),
                "16 is more than num_gpus (8); it must not exceed num_gpus",
            ),
        ),
        (
            {"nvidia_driver_version": None},
            Issue(0, ("clusters", 0, "nvidia_driver_version"), "", expected=("string",)),
        ),
    ],
    ids=["float", "bool", "multiple", "minimum", "slurm", "pool", "null"],
)
def test_cluster_checks(cluster: dict[str, Any], expected: Issue) -> None:
    """One wrong field on an otherwise good cluster gives exactly one issue, at that field."""
    document = {**GOOD, "clusters": [{"cluster_name": "a", "num_gpus": 8, **cluster}]}
    issues = check_documents([document])
    assert len(issues) == 1, issues
    issue = issues[0]
    assert (issue.doc, issue.path, issue.expected) == (
        expected.doc,
        expected.path,
        expected.expected,
    )
    if expected.message:
        assert issue.message == expected.message


def test_required_fields_may_come_from_defaults() -> None:
    """A cluster without region etc. is complete when defaults provide them; absent needs none."""
    document = {
        "version": 1,
        "clusters": [
            {"cluster_name": "a", "num_gpus": 8},
            {"cluster_name": "b", "ensure": "absent"},
        ],
    }
    issues = check_documents([document])
    assert [(i.path, i.message.split(";")[0]) for i in issues] == [
        (
            ("clusters", 0),
            "missing required fields 'region', 'gpu_type', 'billing_type'",
        ),
        (("clusters", 0), "no NVIDIA version selected"),
    ]


def test_names_declared_twice_across_documents_point_at_both() -> None:
    """The second declaration is the problem; `see` points at the first, in another document."""
    issues = check_documents([GOOD, GOOD])
    assert issues == [
        Issue(
            1,
            ("clusters", 0, "cluster_name"),
            'cluster "a" is declared twice (first at {see}); rename one or remove one',
            see=(0, ("clusters", 0, "cluster_name")),
        )
    ]


def test_settings_must_agree_across_documents() -> None:
    """project_id set to two values in two files is a problem naming the first."""
    first = {**GOOD, "project_id": "p1"}
    second = {"version": 1, "project_id": "p2", "volumes": []}
    issues = check_documents([first, second])
    assert [(i.doc, i.path, i.see) for i in issues] == [(1, ("project_id",), (0, ("project_id",)))]


def test_item_cache_gives_the_same_issues_as_direct_validation() -> None:
    """Identical clusters (but for the name) are validated once with identical results."""
    bad = [{"cluster_name": f"c{i}", "num_gpus": 12, "gpu_type": "H100"} for i in range(3)]
    issues = check_documents([{**GOOD, "clusters": bad}])
    by_cluster = sorted((i.path, i.message) for i in issues)
    assert len(by_cluster) == 6
    assert {m for _p, m in by_cluster if "multiple" in m} == {"12 is not a multiple of 8"}
    assert {p[:2] for p, _m in by_cluster} == {("clusters", 0), ("clusters", 1), ("clusters", 2)}


def test_merge_translates_legacy_names_before_merging() -> None:
    """Cluster keys win over defaults, after each side's legacy names are translated."""
    merged = merge_cluster(
        {"cuda_version": "12.6", "nvidia_driver_version": "560", "auto_scaled": True},
        {"driver_version": "CUDA_12_8_570", "gpu_node_failover_enabled": True},
    )
    assert merged == {"cuda_version": "12.8", "nvidia_driver_version": "570", "auto_scale": True}


def test_validators_are_built_once() -> None:
    """The validators are cached: building them is the slow part."""
    assert schema_module.validators() is schema_module.validators()


# --- the fast check of names ------------------------------------------------------------------

NAME_KEYS = [("cluster", "cluster_name"), ("volume", "volume_name")]


@settings(max_examples=300, deadline=None)
@given(
    value=st.text(max_size=12)
    | st.sampled_from(["", "a", "x\x00y", "tab\there", "\x7f", "é名", "a\n"])
    | st.integers()
    | st.none()
    | st.lists(st.text(max_size=2), max_size=2)
)
def test_the_fast_name_check_passes_exactly_what_the_schema_passes(value: Any) -> None:
    """Names are checked without the validator when they pass (it only words failures): the
    fast check must agree with the validator on every value, strings or not."""
    for kind, key in NAME_KEYS:
        check = plain_string_check(schema()["$defs"][kind]["properties"][key])
        assert check is not None
        assert check(value) == validators()[key].is_valid(value)


def test_the_fast_check_is_only_for_plain_string_schemas() -> None:
    assert plain_string_check({"type": "string", "format": "date-time"}) is None
    assert plain_string_check({"type": "integer", "minimum": 1}) is None
    assert plain_string_check({"enum": ["a"]}) is None
    check = plain_string_check({"type": "string", "maxLength": 3, "pattern": "b"})
    assert check is not None
    assert [check(v) for v in ("ab", "abcd", "", "ccc")] == [True, False, False, False]
