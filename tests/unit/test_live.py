"""live.py: API JSON → the comparable model, and the normalisation both sides share."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kinds.cluster import KIND as CLUSTER
from reconciler.live import comparable_fields, normalise_time, parse_live_state, parse_resource
from tests.unit.factories import api_cluster, api_volume

# --- timestamps -------------------------------------------------------------------------------

SAME_INSTANT = [
    ("2026-03-01T12:00:00Z", "zulu"),
    ("2026-03-01T12:00:00z", "lowercase-zulu"),
    ("2026-03-01T12:00:00+00:00", "utc-offset"),
    ("2026-03-01T14:00:00+02:00", "positive-offset"),
    ("2026-03-01T07:30:00-04:30", "negative-offset"),
    ("2026-03-01T12:00:00.000Z", "zero-fraction"),
    ("2026-03-01T12:00:00", "naive-is-utc"),
    (" 2026-03-01T12:00:00Z ", "padded"),
]


@pytest.mark.parametrize(("text", "_id"), SAME_INSTANT, ids=[i for _, i in SAME_INSTANT])
def test_timestamps_normalise_to_one_instant(text: str, _id: str) -> None:
    """Every RFC 3339 spelling of one instant normalises to the same canonical UTC string."""
    assert normalise_time(text) == "2026-03-01T12:00:00Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01T12:00:00.5Z", "2026-03-01T12:00:00.500000Z"),
        ("2026-03-01T12:00:00.500+00:00", "2026-03-01T12:00:00.500000Z"),
        ("next tuesday", "next tuesday"),
        (1234, 1234),
        (None, None),
    ],
    ids=["fraction-kept", "fraction-offset", "not-a-time-unchanged", "int-unchanged", "none"],
)
def test_normalise_time_edge_values(value: Any, expected: Any) -> None:
    """Sub-second instants keep their fraction; values that are not timestamps pass through."""
    assert normalise_time(value) == expected


def test_time_fields_compare_as_instants_on_both_sides() -> None:
    """A spec time with an offset and the API's UTC echo compare equal after normalisation."""
    desired = comparable_fields(
        CLUSTER, {"reservation_end_time": "2026-03-01T14:00:00+02:00"}, desired=True
    )
    live = comparable_fields(
        CLUSTER, {"reservation_end_time": "2026-03-01T12:00:00Z"}, desired=False
    )
    assert desired["reservation_end_time"] == live["reservation_end_time"]


# --- enums, aliases, defaults -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("cluster_type", "kubernetes", "KUBERNETES"),
        ("cluster_type", "Slurm", "SLURM"),
        ("gpu_type", "h100_sxm", "H100_SXM"),
        ("billing_type", "on_demand", "ON_DEMAND"),
    ],
    ids=["cluster_type-lower", "cluster_type-mixed", "gpu_type", "billing_type"],
)
@pytest.mark.parametrize("desired", [True, False], ids=["desired", "live"])
def test_enum_case_is_folded(field: str, value: str, expected: str, desired: bool) -> None:
    """Enum fields are compared upper-case, whichever side wrote them in another case."""
    assert comparable_fields(CLUSTER, {field: value}, desired=desired)[field] == expected


def test_region_is_not_case_folded() -> None:
    """Only the enum fields are case-folded; free strings like region are kept verbatim."""
    assert (
        comparable_fields(CLUSTER, {"region": "US-Central-8"}, desired=True)["region"]
        == "US-Central-8"
    )


@pytest.mark.parametrize(
    ("live_name", "spec_name", "value"),
    [
        ("desired_preemptible_gpus", "num_preemptible_gpus", 16),
        ("nvidia_driver_version_id", "nvidia_version_id", "drv-12.6-560"),
    ],
    ids=["preemptible", "nvidia-version-id"],
)
def test_live_aliases_map_to_spec_names(live_name: str, spec_name: str, value: Any) -> None:
    """The API echoes some create fields under other names; live.py maps them back."""
    live = comparable_fields(CLUSTER, {live_name: value}, desired=False)
    assert live[spec_name] == value
    assert live_name not in live


def test_aliases_apply_only_to_the_live_side() -> None:
    """A spec cannot use the API's echo names: on the desired side they are not compared."""
    fields = comparable_fields(CLUSTER, {"desired_preemptible_gpus": 8}, desired=True)
    assert "desired_preemptible_gpus" not in fields
    assert fields["num_preemptible_gpus"] == 0


@pytest.mark.parametrize("desired", [True, False], ids=["desired", "live"])
def test_server_defaults_are_filled_in(desired: bool) -> None:
    """cluster_type KUBERNETES, install_traefik False and 0 preemptible GPUs when unset."""
    fields = comparable_fields(CLUSTER, {"num_gpus": 8}, desired=desired)
    assert fields == {
        "num_gpus": 8,
        "cluster_type": "KUBERNETES",
        "install_traefik": False,
        "num_preemptible_gpus": 0,
    }


@pytest.mark.parametrize("desired", [True, False], ids=["desired", "live"])
def test_explicit_null_takes_the_server_default(desired: bool) -> None:
    """A field present but null is the same as absent: the server default applies."""
    fields = comparable_fields(
        CLUSTER, {"install_traefik": None, "cluster_type": None}, desired=desired
    )
    assert (fields["install_traefik"], fields["cluster_type"]) == (False, "KUBERNETES")


def test_set_values_win_over_server_defaults() -> None:
    """A value the user set is never replaced by a default."""
    fields = comparable_fields(
        CLUSTER,
        {"cluster_type": "SLURM", "install_traefik": True, "num_preemptible_gpus": 8},
        desired=True,
    )
    assert (fields["cluster_type"], fields["install_traefik"], fields["num_preemptible_gpus"]) == (
        "SLURM",
        True,
        8,
    )


@pytest.mark.parametrize(
    ("fields", "desired", "expected"),
    [
        ({"billing_type": "RESERVED", "num_gpus": 16}, True, 16),
        ({"billing_type": "reserved", "num_gpus": 16}, True, 16),
        ({"billing_type": "RESERVED", "num_gpus": 16, "num_reserved_gpus": 8}, True, 8),
        ({"billing_type": "ON_DEMAND", "num_gpus": 16}, True, None),
        ({"billing_type": "RESERVED", "num_gpus": 16}, False, None),
    ],
    ids=["reserved", "reserved-lowercase", "explicit-wins", "on-demand-none", "live-not-filled"],
)
def test_reserved_defaults_num_reserved_gpus_on_desired_side(
    fields: dict[str, Any], desired: bool, expected: int | None
) -> None:
    """RESERVED billing ⇒ num_reserved_gpus = num_gpus on the desired side, as the server does."""
    assert comparable_fields(CLUSTER, fields, desired=desired).get("num_reserved_gpus") == expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("cuda_version", 12.6, "12.6"),
        ("nvidia_driver_version", 560, "560"),
        ("nvidia_version_id", 7, "7"),
    ],
    ids=["cuda-float", "driver-int", "version-id-int"],
)
def test_version_fields_compare_as_strings(field: str, value: Any, expected: str) -> None:
    """Version numbers are strings, whether YAML read them as numbers or not."""
    assert comparable_fields(CLUSTER, {field: value}, desired=True)[field] == expected


def test_only_compared_fields_are_kept() -> None:
    """Computed and create-only fields never reach the comparable form."""
    fields = comparable_fields(
        CLUSTER,
        {
            "num_gpus": 8,
            "kube_config": "secret",
            "status": "Ready",
            "duration_hours": 72,
            "auto_scale": True,
            "created_at": "2026-01-01T00:00:00Z",
        },
        desired=False,
    )
    assert set(fields) == {"num_gpus", "cluster_type", "install_traefik", "num_preemptible_gpus"}


# --- parsing API objects ----------------------------------------------------------------------


def test_parse_cluster_reads_identity_volumes_and_gpus() -> None:
    """A list item becomes a Live cluster with id, status, volume ids and GPU capacity."""
    cluster = parse_resource(
        CLUSTER,
        api_cluster(
            "train-a", "c-1", status="Degraded", volumes=["v-1", "v-2"], gpu_type="h200_sxm"
        ),
    )
    assert (cluster.id, cluster.name, cluster.status) == ("c-1", "train-a", "Degraded")
    assert cluster.links["volume"] == ("v-1", "v-2")
    assert CLUSTER.hooks.cost_basis is not None
    basis = CLUSTER.hooks.cost_basis(cluster.fields)
    assert (basis.gpu_type, basis.gpus) == ("H200_SXM", 8)
    assert cluster.fields["gpu_type"] == "H200_SXM"
    assert "kube_config" not in cluster.fields


def test_add_ons_are_read_from_their_cluster_and_frozen() -> None:
    """A cluster's add-ons become add-on resources of that cluster (id = name), read-only."""
    state = parse_live_state(
        {
            "cluster": [
                api_cluster(
                    "a",
                    "c-1",
                    add_ons=[{"add_on_type": "dashboard", "name": "d", "config": {}, "state": {}}],
                )
            ]
        }
    )
    (add_on,) = state.of_kind("add-on")
    assert (add_on.key, add_on.id, add_on.parent, add_on.parent_id) == (
        "add-on.a/d",
        "d",
        "a",
        "c-1",
    )
    assert dict(add_on.fields) == {"add_on_type": "dashboard", "config": {}}
    assert "add_ons" not in state.of_kind("cluster")[0].fields
    with pytest.raises(TypeError):
        add_on.fields["config"] = {}  # type: ignore[index]


@pytest.mark.parametrize(
    ("drop", "match"),
    [
        ("cluster_name", "cluster without a string 'cluster_name'"),
        ("cluster_id", "cluster 'a' without a string 'cluster_id'"),
        ("status", "cluster 'a' without a string 'status'"),
    ],
    ids=["no-name", "no-id", "no-status"],
)
def test_parse_cluster_rejects_missing_keys(drop: str, match: str) -> None:
    """A cluster without its name, id or status is an error naming what is missing."""
    obj = api_cluster("a")
    del obj[drop]
    with pytest.raises(ValueError, match=match):
        parse_resource(CLUSTER, obj)


def test_parse_cluster_rejects_non_string_id() -> None:
    """An id of the wrong type is as bad as a missing one."""
    with pytest.raises(ValueError, match="cluster_id"):
        parse_resource(CLUSTER, {**api_cluster("a"), "cluster_id": 17})


@pytest.mark.parametrize(
    ("drop", "match"),
    [("volume_name", "volume without"), ("volume_id", "volume 'data' without")],
    ids=["no-name", "no-id"],
)
def test_parse_volume_rejects_missing_keys(drop: str, match: str) -> None:
    """A volume without its name or id is an error."""
    obj = api_volume("data")
    del obj[drop]
    with pytest.raises(ValueError, match=match):
        parse_live_state({"volume": [obj]})


def test_parse_live_state_sorts_by_name_then_id() -> None:
    """Live state is sorted, so plans do not depend on the order the API lists things in."""
    state = parse_live_state(
        {
            "cluster": [api_cluster("b", "c-2"), api_cluster("a", "c-9"), api_cluster("a", "c-1")],
            "volume": [api_volume("y"), api_volume("x")],
        }
    )
    assert [(c.name, c.id) for c in state.of_kind("cluster")] == [
        ("a", "c-1"),
        ("a", "c-9"),
        ("b", "c-2"),
    ]
    assert [v.name for v in state.of_kind("volume")] == ["x", "y"]


def test_parse_volume_keeps_size_and_region_only() -> None:
    """A live volume compares on size_tib and region; unknown status reads as "unknown"."""
    obj = {**api_volume("data", size_tib=4), "status": None, "extra": 1}
    (volume,) = parse_live_state({"volume": [obj]}).resources
    assert dict(volume.fields) == {"region": "us-central-8", "size_tib": 4}
    assert volume.status == "unknown"


def test_freeze_owned_is_freeze_without_the_copy() -> None:
    """A dict handed over is frozen in place: the same read-only value `freeze` gives, nested
    lists and dicts frozen too, and no write goes through."""
    from reconciler.frozen import freeze, freeze_owned

    value = {"a": 1, "b": [1, {"c": [2]}], "d": {"e": None}}
    expected = freeze(dict(value))
    frozen = freeze_owned(value)
    assert frozen == expected
    assert frozen["b"] == (1, {"c": (2,)})
    with pytest.raises(TypeError):
        frozen["a"] = 2  # type: ignore[index]
    with pytest.raises(TypeError):
        frozen["d"]["e"] = 1  # type: ignore[index]
