"""The pure simulator state: request rules, lifecycle over fake time, volumes, faults."""

from __future__ import annotations

import ast
import json
from base64 import b64decode
from pathlib import Path
from typing import Any

import pytest
from together.types import Cluster
from together.types.clusters import ClusterStorage

from reconciler.simulator.clusters import DEMO_SPEED, PHASE_SECONDS, StoredCluster
from reconciler.simulator.faults import FAULT_KINDS, FAULTS, Faults, fault_help
from reconciler.simulator.shapes import CREATE_FIELDS, UPDATE_FIELDS
from reconciler.simulator.state import SimState
from reconciler.simulator.wire import SimRequest, SimResponse
from tests.conftest import SIM_TOKEN, FakeClock

CLUSTERS = "/v1/compute/clusters"
VOLUMES = "/v1/compute/clusters/storage/volumes"
AUTH = {"authorization": f"Bearer {SIM_TOKEN}"}
BASE: dict[str, Any] = {
    "cluster_name": "train-a",
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "num_gpus": 8,
    "billing_type": "ON_DEMAND",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
}
VOLUME: dict[str, Any] = {"volume_name": "data", "size_tib": 2, "region": "us-central-8"}


def call(
    state: SimState,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> SimResponse:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return state.handle(
        SimRequest(method, path, query or {}, AUTH if headers is None else headers, raw)
    )


def create(state: SimState, **overrides: Any) -> dict[str, Any]:
    response = call(state, "POST", CLUSTERS, {**BASE, **overrides})
    assert response.status == 200, response.body
    result: dict[str, Any] = response.json()
    return result


def get(state: SimState, cluster_id: str) -> SimResponse:
    return call(state, "GET", f"{CLUSTERS}/{cluster_id}")


def error(response: SimResponse) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    result: dict[str, Any] = body["error"]
    return result


@pytest.fixture
def slow_state(fake_clock: FakeClock) -> SimState:
    """Speed 1: realistic phase durations on the fake clock."""
    return SimState(clock=fake_clock, token=SIM_TOKEN, speed=1.0)


# --- create: the response -------------------------------------------------------------------


def test_create_returns_every_required_field_of_the_sdk_cluster_model(sim_state: SimState) -> None:
    """A created cluster carries every required field of the SDK's Cluster and parses into it;
    its optional fields without a value are left out, never `null` (the 2026-07 spec)."""
    cluster = create(sim_state)
    required = {name for name, info in Cluster.model_fields.items() if info.is_required()}
    assert required <= set(cluster)
    assert None not in cluster.values()
    assert not {"deleted_gpu_worker_nodes", "node_lifecycle_events"} & set(cluster)
    parsed = Cluster.model_validate(cluster)
    assert parsed.status == "Ready"
    assert parsed.gpu_worker_nodes[0].num_gpus == 8


def test_create_echoes_inputs_and_hides_create_only_fields(sim_state: SimState) -> None:
    """Create-only inputs are not echoed; the rest is, with server defaults filled in."""
    cluster = create(
        sim_state,
        billing_type="RESERVED",
        duration_days=3,
        num_gpus=16,
        num_preemptible_gpus=8,
        auto_scale=True,
        auto_scale_max_gpus=32,
        slurm_image="img:1",
        acceptance_tests_params={"enabled": True},
        oidc_config={
            "client_id": "c",
            "issuer_url": "https://idp",
            "username_claim": "sub",
            "username_prefix": "oidc:",
            "group_claim": "groups",
            "group_prefix": "oidc:",
            "ca_cert": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----",
        },
        cluster_config={"load_balancer": "TRAEFIK"},
    )
    for hidden in ("auto_scale", "auto_scale_max_gpus", "slurm_image", "duration_days"):
        assert hidden not in cluster
    assert "acceptance_tests_params" not in cluster
    assert cluster["duration_hours"] == 72
    assert cluster["num_reserved_gpus"] == 16
    assert cluster["desired_preemptible_gpus"] == 8
    assert cluster["oidc_config"]["ca_cert"].startswith("-----BEGIN")
    assert cluster["cluster_config"]["load_balancer"] == "TRAEFIK"
    assert cluster["cluster_config"]["gpu_operator_version"]
    assert cluster["cluster_type"] == "KUBERNETES"
    assert cluster["install_traefik"] is False
    assert cluster["project_id"] == "proj-sim"
    assert len(cluster["gpu_worker_nodes"]) == 2
    assert b"kind: Config" in b64decode(cluster["kube_config"])  # base64, as the real API


@pytest.mark.parametrize(
    "selector",
    [
        {"nvidia_version_id": "nv-usc8-12.8-570-u2204"},
        {"cuda_version": "12.8", "nvidia_driver_version": "570"},
        {"cuda_version": "12.8-ubuntu-22.04", "nvidia_driver_version": "570"},
        {
            "nvidia_version_id": "nv-usc8-12.8-570-u2204",
            "cuda_version": "12.8",
            "nvidia_driver_version": "570",
        },
    ],
    ids=["version-id", "pair", "os-suffixed-pair", "both-agreeing"],
)
def test_both_driver_selectors_resolve_to_the_catalogue_entry(
    sim_state: SimState, selector: dict[str, str]
) -> None:
    """nvidia_version_id and the cuda/driver pair (bare or OS-suffixed) pick one entry."""
    body = {k: v for k, v in BASE.items() if k not in ("cuda_version", "nvidia_driver_version")}
    response = call(sim_state, "POST", CLUSTERS, {**body, **selector})
    assert response.status == 200, response.body
    cluster = response.json()
    assert cluster["nvidia_driver_version_id"] == "nv-usc8-12.8-570-u2204"
    assert (cluster["cuda_version"], cluster["nvidia_driver_version"]) == ("12.8", "570")


# --- create: request rules -------------------------------------------------------------------

OIDC = {
    "client_id": "c",
    "issuer_url": "u",
    "username_claim": "sub",
    "username_prefix": "p",
    "group_claim": "g",
    "group_prefix": "p",
}
INVALID_CREATES: list[tuple[str, dict[str, Any], str | None]] = [
    ("missing-name", {"cluster_name": None}, "cluster_name"),
    ("missing-region", {"region": None}, "region"),
    ("missing-gpu-type", {"gpu_type": None}, "gpu_type"),
    ("missing-num-gpus", {"num_gpus": None}, "num_gpus"),
    ("missing-billing", {"billing_type": None}, "billing_type"),
    (
        "missing-driver-selector",
        {"cuda_version": None, "nvidia_driver_version": None},
        "nvidia_version_id",
    ),
    ("cuda-without-driver", {"nvidia_driver_version": None}, "nvidia_driver_version"),
    ("driver-without-cuda", {"cuda_version": None}, "cuda_version"),
    ("empty-name", {"cluster_name": "  "}, "cluster_name"),
    ("gpu-type-enum", {"gpu_type": "A100"}, "gpu_type"),
    ("billing-enum", {"billing_type": "PREPAID"}, "billing_type"),
    ("cluster-type-case", {"cluster_type": "kubernetes"}, "cluster_type"),
    ("num-gpus-not-multiple-of-8", {"num_gpus": 12}, "num_gpus"),
    ("num-gpus-zero", {"num_gpus": 0}, "num_gpus"),
    ("num-gpus-string", {"num_gpus": "8"}, "num_gpus"),
    ("num-gpus-bool", {"num_gpus": True}, "num_gpus"),
    ("slurm-without-shm", {"cluster_type": "SLURM"}, "slurm_shm_size_gib"),
    (
        "scheduled-without-start",
        {"billing_type": "SCHEDULED_CAPACITY", "reservation_end_time": "2027-02-01T00:00:00Z"},
        "reservation_start_time",
    ),
    (
        "scheduled-without-end",
        {"billing_type": "SCHEDULED_CAPACITY", "reservation_start_time": "2027-02-01T00:00:00Z"},
        "reservation_end_time",
    ),
    (
        "reservation-end-before-start",
        {
            "reservation_start_time": "2027-02-02T00:00:00Z",
            "reservation_end_time": "2027-02-01T00:00:00Z",
        },
        "reservation_end_time",
    ),
    ("bad-timestamp", {"reservation_end_time": "tomorrow"}, "reservation_end_time"),
    ("unknown-field", {"gpu_node_failover_enabled": True}, "gpu_node_failover_enabled"),
    ("legacy-auto-scaled", {"auto_scaled": True}, "auto_scaled"),
    ("unknown-region", {"region": "mars-1"}, "region"),
    ("gpu-not-in-region", {"gpu_type": "L40_PCIE"}, "gpu_type"),
    (
        "pair-not-in-region",
        {"cuda_version": "12.9", "nvidia_driver_version": "575"},
        "nvidia_driver_version",
    ),
    ("unknown-version-id", {"nvidia_version_id": "nv-nope"}, "nvidia_version_id"),
    ("version-id-disagrees", {"nvidia_version_id": "nv-usc8-12.5-555-u2204"}, "nvidia_version_id"),
    ("unknown-volume", {"volume_id": "vol-missing"}, "volume_id"),
    ("auto-scale-without-max", {"auto_scale": True}, "auto_scale_max_gpus"),
    (
        "auto-scale-max-below-num",
        {"auto_scale": True, "auto_scale_max_gpus": 8, "num_gpus": 16},
        "auto_scale_max_gpus",
    ),
    ("duration-days-zero", {"duration_days": 0}, "duration_days"),
    ("pool-gpus-without-pool", {"num_capacity_pool_gpus": 8}, "num_capacity_pool_gpus"),
    (
        "pool-gpus-over-num",
        {"capacity_pool_id": "cp-1", "num_capacity_pool_gpus": 16},
        "num_capacity_pool_gpus",
    ),
    ("preemptible-not-multiple", {"num_preemptible_gpus": 4}, "num_preemptible_gpus"),
    ("reserved-on-demand", {"num_reserved_gpus": 8}, "num_reserved_gpus"),
    (
        "config-without-load-balancer",
        {"cluster_config": {"ingress": {"enabled": True}}},
        "cluster_config.load_balancer",
    ),
    (
        "config-unknown-key",
        {"cluster_config": {"load_balancer": "NONE", "x": 1}},
        "cluster_config.x",
    ),
    (
        "oidc-missing-client",
        {"oidc_config": {k: v for k, v in OIDC.items() if k != "client_id"}},
        "oidc_config.client_id",
    ),
    (
        "add-on-bad-type",
        {"add_ons": [{"add_on_type": "grafana", "name": "g"}]},
        "add_ons[0].add_on_type",
    ),
    ("add-on-without-name", {"add_ons": [{"add_on_type": "headlamp"}]}, "add_ons[0].name"),
    (
        "shared-volume-too-small",
        {"shared_volume": {**VOLUME, "size_tib": 0}},
        "shared_volume.size_tib",
    ),
    (
        "shared-volume-other-region",
        {"shared_volume": {**VOLUME, "region": "us-east-1"}},
        "shared_volume.region",
    ),
    (
        "dcgm-level-enum",
        {"acceptance_tests_params": {"dcgm_diag_level": "HUGE"}},
        "acceptance_tests_params.dcgm_diag_level",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "param"),
    [(o, p) for _, o, p in INVALID_CREATES],
    ids=[name for name, _, _ in INVALID_CREATES],
)
def test_invalid_create_is_400_naming_the_field(
    sim_state: SimState, overrides: dict[str, Any], param: str
) -> None:
    """Every documented create rule answers 400 with the offending field in error.param."""
    body = {k: v for k, v in {**BASE, **overrides}.items() if v is not None}
    response = call(sim_state, "POST", CLUSTERS, body)
    assert response.status == 400, response.body
    err = error(response)
    assert err["param"] == param
    assert err["type"] == "invalid_request_error"
    assert sim_state.clusters == {}
    assert sim_state.volumes == {}


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[1, 2]", b'"text"'], ids=["invalid-json", "array", "string"]
)
def test_create_body_must_be_a_json_object(sim_state: SimState, raw: bytes) -> None:
    """A body that is not a JSON object is a 400."""
    response = call(sim_state, "POST", CLUSTERS, raw)
    assert response.status == 400
    error(response)


def test_both_volume_id_and_shared_volume_is_refused(sim_state: SimState) -> None:
    """volume_id and shared_volume are mutually exclusive."""
    volume = sim_state.add_volume()
    response = call(
        sim_state,
        "POST",
        CLUSTERS,
        {**BASE, "volume_id": volume["volume_id"], "shared_volume": VOLUME},
    )
    assert response.status == 400
    assert error(response)["param"] == "volume_id"


def test_slurm_and_scheduled_capacity_accepted_when_complete(sim_state: SimState) -> None:
    """SLURM with slurm_shm_size_gib and SCHEDULED_CAPACITY with both times are accepted."""
    cluster = create(
        sim_state,
        cluster_type="SLURM",
        slurm_shm_size_gib=64,
        billing_type="SCHEDULED_CAPACITY",
        reservation_start_time="2027-02-01T00:00:00+00:00",
        reservation_end_time="2027-02-03T00:00:00Z",
    )
    assert cluster["cluster_type"] == "SLURM"
    assert cluster["slurm_shm_size_gib"] == 64
    assert cluster["reservation_start_time"] == "2027-02-01T00:00:00Z"
    assert cluster["num_cpu_workers"] == 1
    sim_state.scheduled_waits = False  # nodes exist only once a scheduled cluster starts
    cluster = create(
        sim_state,
        cluster_name="now",
        cluster_type="SLURM",
        slurm_shm_size_gib=64,
        billing_type="SCHEDULED_CAPACITY",
        reservation_start_time="2027-02-01T00:00:00+00:00",
        reservation_end_time="2027-02-03T00:00:00Z",
    )
    assert cluster["gpu_worker_nodes"][0]["slurm_worker_hostname"]


# --- auth and routing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong"}, {"authorization": SIM_TOKEN}],
    ids=["missing", "wrong-token", "no-bearer-prefix"],
)
def test_requests_without_the_bearer_token_are_401(
    sim_state: SimState, headers: dict[str, str]
) -> None:
    """Every request needs `Authorization: Bearer <token>`; nothing is committed otherwise."""
    response = call(sim_state, "POST", CLUSTERS, BASE, headers=headers)
    assert response.status == 401
    assert error(response)["type"] == "authentication_error"
    assert sim_state.clusters == {}


def test_unknown_route_is_404_and_wrong_method_is_405(sim_state: SimState) -> None:
    """Paths outside the API are 404; a known path with a wrong method is 405."""
    assert call(sim_state, "GET", "/v1/compute/clusterz").status == 404
    assert call(sim_state, "GET", "/compute/clusters").status == 404
    assert call(sim_state, "PATCH", CLUSTERS).status == 405
    assert call(sim_state, "DELETE", VOLUMES).status == 405


def test_storage_segment_is_not_a_cluster_id(sim_state: SimState) -> None:
    """`/clusters/storage/volumes` routes to volumes, not to cluster `storage`."""
    response = call(sim_state, "GET", VOLUMES)
    assert response.status == 200
    assert response.json() == {"volumes": []}
    assert sim_state.count("GET", VOLUMES) == 1
    assert sim_state.count("GET", "/v1/compute/clusters/{id}") == 0


def test_regions_catalogue_lists_gpu_types_and_driver_ids(sim_state: SimState) -> None:
    """GET /regions returns regions with instance types and driver entries with ids."""
    regions = call(sim_state, "GET", "/v1/compute/regions").json()["regions"]
    by_name = {r["name"]: r for r in regions}
    assert {"us-central-8", "us-central-4", "us-east-1"} <= set(by_name)
    central = by_name["us-central-8"]
    assert {"H100_SXM", "H200_SXM", "B200_SXM"} <= set(central["supported_instance_types"])
    pairs = {(d["cuda_version"], d["nvidia_driver_version"]) for d in central["driver_versions"]}
    assert {("12.6", "560"), ("12.8", "570"), ("12.5", "555")} <= pairs
    assert all(
        set(d) == {"id", "cuda_version", "nvidia_driver_version", "os"}
        for r in regions
        for d in r["driver_versions"]
    )


# --- lifecycle -------------------------------------------------------------------------------


def test_create_walks_the_phases_over_time(slow_state: SimState, fake_clock: FakeClock) -> None:
    """Status follows the documented phase order, one phase per base duration at speed 1."""
    cluster = create(slow_state, num_gpus=16)
    seen = [cluster["status"]]
    for phase in (
        "WaitingForControlPlaneNodes",
        "WaitingForDataPlaneNodes",
        "WaitingForSubnet",
        "InstallingDrivers",
        "RunningAcceptanceTests",
    ):
        fake_clock.advance(PHASE_SECONDS[phase])
        seen.append(get(slow_state, cluster["cluster_id"]).json()["status"])
    assert seen == [
        "WaitingForControlPlaneNodes",
        "WaitingForDataPlaneNodes",
        "WaitingForSubnet",
        "InstallingDrivers",
        "RunningAcceptanceTests",
        "Ready",
    ]
    final = get(slow_state, cluster["cluster_id"]).json()
    assert [t["phase"] for t in final["phase_transitions"]] == [
        "CLUSTER_PHASE_WAITING_FOR_CONTROL_PLANE_NODES",
        "CLUSTER_PHASE_WAITING_FOR_DATA_PLANE_NODES",
        "CLUSTER_PHASE_WAITING_FOR_SUBNET",
        "CLUSTER_PHASE_INSTALLING_DRIVERS",
        "CLUSTER_PHASE_RUNNING_ACCEPTANCE_TESTS",
        "CLUSTER_PHASE_READY",
    ]
    assert final["first_ready_at"] == final["phase_transitions"][-1]["transition_time"]
    assert all(n["status"] == "Ready" for n in final["gpu_worker_nodes"])
    assert final["control_plane_ready"] is True


def test_nodes_become_ready_only_after_the_data_plane_phase(
    slow_state: SimState, fake_clock: FakeClock
) -> None:
    """GPU nodes report Provisioning until WaitingForDataPlaneNodes ends."""
    cluster = create(slow_state)
    assert cluster["gpu_worker_nodes"][0]["status"] == "Provisioning"
    assert cluster["control_plane_ready"] is False
    fake_clock.advance(PHASE_SECONDS["WaitingForControlPlaneNodes"] + 1)
    assert get(slow_state, cluster["cluster_id"]).json()["control_plane_ready"] is True
    fake_clock.advance(PHASE_SECONDS["WaitingForDataPlaneNodes"])
    node = get(slow_state, cluster["cluster_id"]).json()["gpu_worker_nodes"][0]
    assert node["status"] == "Ready"
    assert node["phase_transitions"][-1]["phase"] == "NODE_PHASE_RUNNING"


def test_a_volume_adds_the_shared_volume_phase(slow_state: SimState, fake_clock: FakeClock) -> None:
    """A cluster created with a volume passes WaitingForSharedVolume before InstallingDrivers."""
    cluster = create(slow_state, shared_volume=VOLUME)
    fake_clock.advance(sum(PHASE_SECONDS.values()))
    final = get(slow_state, cluster["cluster_id"]).json()
    phases = [t["phase"] for t in final["phase_transitions"]]
    assert phases.index("CLUSTER_PHASE_WAITING_FOR_SHARED_VOLUME") == 3
    assert final["status"] == "Ready"
    assert final["volumes"][0]["status"] == "bound"


def test_demo_speed_reaches_ready_in_a_few_seconds(fake_clock: FakeClock) -> None:
    """At DEMO_SPEED a new cluster is Ready after 3-5 seconds, not before 3."""
    state = SimState(clock=fake_clock, speed=DEMO_SPEED)
    cluster = create(state, shared_volume=VOLUME)
    fake_clock.advance(3.0)
    assert get(state, cluster["cluster_id"]).json()["status"] != "Ready"
    fake_clock.advance(2.0)
    assert get(state, cluster["cluster_id"]).json()["status"] == "Ready"


def test_speed_zero_is_instant(sim_state: SimState) -> None:
    """At speed 0 a cluster is Ready in its create response and gone right after delete."""
    cluster = create(sim_state)
    assert cluster["status"] == "Ready"
    assert call(sim_state, "DELETE", f"{CLUSTERS}/{cluster['cluster_id']}").status == 200
    assert get(sim_state, cluster["cluster_id"]).status == 404


def test_scaling_walks_back_through_the_data_plane_phases(
    slow_state: SimState, fake_clock: FakeClock
) -> None:
    """PUT num_gpus on a Ready cluster: WaitingForDataPlaneNodes → InstallingDrivers → Ready."""
    cluster = create(slow_state)
    cid = cluster["cluster_id"]
    fake_clock.advance(3600)
    response = call(slow_state, "PUT", f"{CLUSTERS}/{cid}", {"num_gpus": 24})
    assert response.status == 200
    scaled = response.json()
    assert (scaled["status"], scaled["num_gpus"]) == ("WaitingForDataPlaneNodes", 24)
    assert len(scaled["gpu_worker_nodes"]) == 3
    fake_clock.advance(PHASE_SECONDS["WaitingForDataPlaneNodes"])
    assert get(slow_state, cid).json()["status"] == "InstallingDrivers"
    fake_clock.advance(PHASE_SECONDS["InstallingDrivers"])
    ready = get(slow_state, cid).json()
    assert ready["status"] == "Ready"
    assert [t["phase"] for t in ready["phase_transitions"]][-4:] == [
        "CLUSTER_PHASE_READY",
        "CLUSTER_PHASE_WAITING_FOR_DATA_PLANE_NODES",
        "CLUSTER_PHASE_INSTALLING_DRIVERS",
        "CLUSTER_PHASE_READY",
    ]


def test_scaling_down_retires_nodes(sim_state: SimState) -> None:
    """Fewer GPUs retire the surplus nodes: they are no longer listed (the 2026-07 spec has no
    `deleted_gpu_worker_nodes`)."""
    cluster = create(sim_state, num_gpus=24)
    kept = cluster["gpu_worker_nodes"][0]["node_id"]
    scaled = call(sim_state, "PUT", f"{CLUSTERS}/{cluster['cluster_id']}", {"num_gpus": 8}).json()
    assert [n["node_id"] for n in scaled["gpu_worker_nodes"]] == [kept]
    assert "deleted_gpu_worker_nodes" not in scaled


def test_scaling_a_cluster_that_is_not_ready_is_409(slow_state: SimState) -> None:
    """num_gpus changes are refused while the cluster is still provisioning."""
    cluster = create(slow_state)
    response = call(slow_state, "PUT", f"{CLUSTERS}/{cluster['cluster_id']}", {"num_gpus": 16})
    assert response.status == 409
    assert error(response)["param"] == "num_gpus"


@pytest.mark.parametrize(
    "field_name",
    [
        "cluster_name",
        "region",
        "gpu_type",
        "billing_type",
        "cuda_version",
        "nvidia_version_id",
        "install_traefik",
        "oidc_config",
        "slurm_shm_size_gib",
        "volume_id",
        "project_id",
    ],
)
def test_update_refuses_fields_the_api_does_not_accept(
    sim_state: SimState, field_name: str
) -> None:
    """Only the update fields of REFERENCE §5 are accepted; others are a 400 naming the field."""
    cluster = create(sim_state)
    response = call(sim_state, "PUT", f"{CLUSTERS}/{cluster['cluster_id']}", {field_name: "x"})
    assert response.status == 400
    assert error(response)["param"] == field_name
    assert get(sim_state, cluster["cluster_id"]).json() == cluster


def test_update_in_place_fields(sim_state: SimState) -> None:
    """The in-place fields change; a partial body keeps everything else."""
    cluster = create(
        sim_state,
        billing_type="RESERVED",
        add_ons=[{"add_on_type": "headlamp", "name": "headlamp"}],
        cluster_config={"load_balancer": "NONE"},
    )
    path = f"{CLUSTERS}/{cluster['cluster_id']}"
    response = call(
        sim_state,
        "PUT",
        path,
        {
            "cluster_type": "SLURM",
            "num_preemptible_gpus": 8,
            "num_reserved_gpus": 0,
            "reservation_end_time": "2027-03-01T00:00:00Z",
            "cluster_config": {"load_balancer": "NGINX", "gpu_operator_version": "v25.1.0"},
        },
    )
    assert response.status == 200, response.body
    updated = response.json()
    assert updated["cluster_type"] == "SLURM"
    assert updated["desired_preemptible_gpus"] == 8
    assert updated["num_reserved_gpus"] == 0
    assert updated["reservation_end_time"] == "2027-03-01T00:00:00Z"
    assert updated["cluster_config"]["load_balancer"] == "NGINX"
    assert updated["cluster_config"]["gpu_operator_version"] == "v25.1.0"
    assert updated["num_gpus"] == 8
    assert call(sim_state, "PUT", path, {}).json()["status"] == "Ready"
    disabled = call(
        sim_state,
        "PUT",
        path,
        {"add_ons": [{"name": "headlamp", "config": {"headlamp": {"enabled": False}}}]},
    ).json()
    assert disabled["add_ons"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"num_gpus": 20}, "num_gpus"),
        ({"num_gpus": 0}, "num_gpus"),
        ({"reservation_end_time": "2027-03-01T00:00:00Z"}, "reservation_end_time"),
        ({"num_reserved_gpus": 8}, "num_reserved_gpus"),
        ({"num_capacity_pool_gpus": 8}, "num_capacity_pool_gpus"),
        ({"add_ons": [{"name": "nope"}]}, "add_ons[0].name"),
        ({"cluster_config": {}}, "cluster_config.load_balancer"),
        ({"cluster_type": "slurm"}, "cluster_type"),
    ],
    ids=[
        "not-multiple-of-8",
        "zero",
        "end-time-on-demand",
        "reserved-on-demand",
        "pool-without-pool-id",
        "unknown-add-on",
        "config-no-lb",
        "type-case",
    ],
)
def test_invalid_update_is_400(sim_state: SimState, body: dict[str, Any], param: str) -> None:
    """Update values follow the same rules as create (ON_DEMAND cluster here)."""
    cluster = create(sim_state)
    response = call(sim_state, "PUT", f"{CLUSTERS}/{cluster['cluster_id']}", body)
    assert response.status == 400
    assert error(response)["param"] == param


def test_unknown_cluster_is_404(sim_state: SimState) -> None:
    """GET, PUT and DELETE of a cluster id that does not exist answer 404."""
    for method in ("GET", "PUT", "DELETE"):
        response = call(sim_state, method, f"{CLUSTERS}/c-nope", {} if method == "PUT" else None)
        assert response.status == 404
        assert error(response)["type"] == "not_found_error"


def test_delete_shows_deleting_then_404(slow_state: SimState, fake_clock: FakeClock) -> None:
    """DELETE answers {cluster_id}; the cluster is Deleting, then gone from get and list."""
    cluster = create(slow_state)
    cid = cluster["cluster_id"]
    response = call(slow_state, "DELETE", f"{CLUSTERS}/{cid}")
    assert response.json() == {"cluster_id": cid}
    assert get(slow_state, cid).json()["status"] == "Deleting"
    assert call(slow_state, "DELETE", f"{CLUSTERS}/{cid}").status == 200
    refused = call(slow_state, "PUT", f"{CLUSTERS}/{cid}", {"num_gpus": 16})
    assert refused.status == 409
    fake_clock.advance(180)
    assert get(slow_state, cid).status == 404
    assert call(slow_state, "GET", CLUSTERS).json() == {"clusters": []}


def test_list_filters_by_project(sim_state: SimState) -> None:
    """The projectId query keeps only that project's clusters; without it, all are listed."""
    create(sim_state, project_id="proj-a")
    create(sim_state, project_id="proj-b")
    create(sim_state)
    everything = call(sim_state, "GET", CLUSTERS).json()["clusters"]
    only_a = call(sim_state, "GET", CLUSTERS, query={"projectId": "proj-a"}).json()["clusters"]
    assert len(everything) == 3
    assert [c["project_id"] for c in only_a] == ["proj-a"]


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ({"project_id": "proj-a"}, ["proj-a"]),  # the 2026-07 spec's name
        ({"projectId": "proj-b"}, ["proj-b"]),  # the SDK's
        ({"project_id": "proj-a", "projectId": "proj-b"}, ["proj-a"]),  # the spec's counts
        ({"project_id": "nope"}, []),
    ],
)
def test_lists_filter_by_either_name_of_the_project(
    sim_state: SimState, query: dict[str, str], listed: list[str]
) -> None:
    """Clusters and volumes alike, under the spec's `project_id` or the SDK's `projectId`."""
    for project in ("proj-a", "proj-b"):
        create(sim_state, project_id=project)
        call(sim_state, "POST", VOLUMES, {**VOLUME, "project_id": project})
    clusters = call(sim_state, "GET", CLUSTERS, query=query).json()["clusters"]
    volumes = call(sim_state, "GET", VOLUMES, query=query).json()["volumes"]
    assert [c["project_id"] for c in clusters] == listed
    assert len(volumes) == len(listed)


def test_duplicate_cluster_names_are_allowed(sim_state: SimState) -> None:
    """The real API documents no name uniqueness: two creates make two clusters."""
    first, second = create(sim_state), create(sim_state)
    assert first["cluster_id"] != second["cluster_id"]
    assert len(sim_state.clusters_named("train-a")) == 2


def test_idempotency_key_returns_the_same_cluster(sim_state: SimState) -> None:
    """The same Idempotency-Key returns the first cluster instead of creating another."""
    headers = {**AUTH, "idempotency-key": "k-1"}
    first = call(sim_state, "POST", CLUSTERS, BASE, headers=headers).json()
    again = call(sim_state, "POST", CLUSTERS, BASE, headers=headers).json()
    assert again["cluster_id"] == first["cluster_id"]
    assert len(sim_state.clusters_named("train-a")) == 1
    other = call(sim_state, "POST", CLUSTERS, BASE, headers={**AUTH, "idempotency-key": "k-2"})
    assert other.json()["cluster_id"] != first["cluster_id"]


def test_idempotency_key_reused_with_another_body_is_422(sim_state: SimState) -> None:
    """Reusing a key for a different request is refused, not silently answered."""
    headers = {**AUTH, "idempotency-key": "k-1"}
    call(sim_state, "POST", CLUSTERS, BASE, headers=headers)
    response = call(sim_state, "POST", CLUSTERS, {**BASE, "num_gpus": 16}, headers=headers)
    assert response.status == 422
    assert error(response)["code"] == "idempotency_key_reused"


def test_idempotency_key_on_volume_create(sim_state: SimState) -> None:
    """Volume create honours Idempotency-Key too."""
    headers = {**AUTH, "idempotency-key": "v-1"}
    first = call(sim_state, "POST", VOLUMES, VOLUME, headers=headers).json()
    again = call(sim_state, "POST", VOLUMES, VOLUME, headers=headers).json()
    assert first["volume_id"] == again["volume_id"]
    assert len(sim_state.volumes) == 1


# --- volumes ---------------------------------------------------------------------------------


def test_volume_lifecycle(slow_state: SimState, fake_clock: FakeClock) -> None:
    """provisioning → available; grow; get; list by project; delete → success, then 404."""
    volume = call(slow_state, "POST", VOLUMES, {**VOLUME, "project_id": "proj-a"}).json()
    assert set(ClusterStorage.model_fields) <= set(volume)
    assert volume["status"] == "provisioning"
    assert "region" not in volume  # not in the spec nor the SDK: the real API does not send it
    fake_clock.advance(90)
    vid = volume["volume_id"]
    assert call(slow_state, "GET", f"{VOLUMES}/{vid}").json()["status"] == "available"
    grown = call(slow_state, "PUT", VOLUMES, {"volume_id": vid, "size_tib": 5}).json()
    assert grown["size_tib"] == 5
    listed = call(slow_state, "GET", VOLUMES, query={"projectId": "proj-a"}).json()["volumes"]
    assert [v["volume_id"] for v in listed] == [vid]
    assert call(slow_state, "GET", VOLUMES, query={"projectId": "proj-b"}).json()["volumes"] == []
    assert call(slow_state, "DELETE", f"{VOLUMES}/{vid}").json() == {"success": True}
    assert call(slow_state, "GET", f"{VOLUMES}/{vid}").status == 404


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"size_tib": 1}, 400, "size_tib"),
        ({"size_tib": "3"}, 400, "size_tib"),
        ({"volume_name": "renamed"}, 400, "volume_name"),
        ({"volume_id": None}, 400, "volume_id"),
        ({"volume_id": "vol-nope"}, 404, None),
    ],
    ids=["shrink", "size-string", "rename", "missing-id", "unknown-id"],
)
def test_invalid_volume_update(
    sim_state: SimState, body: dict[str, Any], status: int, param: str | None
) -> None:
    """Only growth is allowed; the id is required and must exist."""
    volume = sim_state.add_volume(size_tib=2)
    request = {k: v for k, v in {"volume_id": volume["volume_id"], **body}.items() if v is not None}
    response = call(sim_state, "PUT", VOLUMES, request)
    assert response.status == status
    assert error(response)["param"] == param
    assert sim_state.volumes[volume["volume_id"]].size_tib == 2


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"volume_name": None}, "volume_name"),
        ({"size_tib": 0}, "size_tib"),
        ({"region": "mars-1"}, "region"),
        ({"color": "red"}, "color"),
        ({"instance_cluster_id": "c-nope"}, "instance_cluster_id"),
    ],
    ids=["missing-name", "zero-size", "unknown-region", "unknown-field", "unknown-cluster"],
)
def test_invalid_volume_create(sim_state: SimState, body: dict[str, Any], param: str) -> None:
    """Volume create enforces its required fields, whole TiB >= 1 and a known region."""
    request = {k: v for k, v in {**VOLUME, **body}.items() if v is not None}
    response = call(sim_state, "POST", VOLUMES, request)
    assert response.status == 400
    assert error(response)["param"] == param


def test_deleting_an_attached_volume_is_409(sim_state: SimState) -> None:
    """A volume used by a live cluster cannot be deleted; after the cluster is gone it can."""
    volume = sim_state.add_volume()
    vid = volume["volume_id"]
    cluster = create(sim_state, volume_id=vid)
    assert cluster["volumes"] == [
        {"volume_id": vid, "volume_name": "sim-volume", "size_tib": 1, "status": "bound"}
    ]
    response = call(sim_state, "DELETE", f"{VOLUMES}/{vid}")
    assert response.status == 409
    assert cluster["cluster_id"] in error(response)["message"]
    call(sim_state, "DELETE", f"{CLUSTERS}/{cluster['cluster_id']}")
    assert call(sim_state, "GET", f"{VOLUMES}/{vid}").json()["status"] == "available"
    assert call(sim_state, "DELETE", f"{VOLUMES}/{vid}").status == 200


def test_shared_volume_is_created_and_deleted_with_its_cluster(sim_state: SimState) -> None:
    """An inline shared_volume appears in volumes[] and goes when the cluster goes."""
    cluster = create(sim_state, shared_volume=VOLUME)
    assert [v["volume_name"] for v in cluster["volumes"]] == ["data"]
    assert len(call(sim_state, "GET", VOLUMES).json()["volumes"]) == 1
    call(sim_state, "DELETE", f"{CLUSTERS}/{cluster['cluster_id']}")
    assert call(sim_state, "GET", VOLUMES).json()["volumes"] == []


def test_lifecycle_independent_shared_volume_survives(sim_state: SimState) -> None:
    """is_lifecycle_independent keeps the inline volume after the cluster is deleted."""
    cluster = create(sim_state, shared_volume={**VOLUME, "is_lifecycle_independent": True})
    call(sim_state, "DELETE", f"{CLUSTERS}/{cluster['cluster_id']}")
    volumes = call(sim_state, "GET", VOLUMES).json()["volumes"]
    assert [(v["volume_name"], v["status"]) for v in volumes] == [("data", "available")]


def test_volume_in_another_region_cannot_attach(sim_state: SimState) -> None:
    """volume_id must name a volume in the cluster's region."""
    volume = sim_state.add_volume(region="us-east-1")
    response = call(sim_state, "POST", CLUSTERS, {**BASE, "volume_id": volume["volume_id"]})
    assert response.status == 400
    assert error(response)["param"] == "volume_id"


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("specs", "rates"),
    [
        (["429:0.1"], {"429": 0.1}),
        (["500:0.2", "drop:0.05", "STALL:0"], {"500": 0.2, "drop": 0.05, "stall": 0.0}),
        ([], {}),
    ],
    ids=["one", "several", "none"],
)
def test_fault_specs_parse(specs: list[str], rates: dict[str, float]) -> None:
    """KIND:RATE strings become the rate table."""
    assert Faults.parse(specs).rates == rates


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["429"], "expected KIND:RATE"),
        (["429:x"], "RATE must be a number"),
        (["418:0.1"], "unknown fault kind"),
        (["500:1.5"], "between 0 and 1"),
        (["500:0.6", "502:0.6"], "more than 1"),
        (["500:0.1", "500:0.2"], "given twice"),
    ],
    ids=["no-rate", "bad-rate", "unknown-kind", "rate-over-1", "sum-over-1", "duplicate"],
)
def test_bad_fault_specs_are_refused(specs: list[str], message: str) -> None:
    """Bad fault options raise ValueError with a message that says what is wrong."""
    with pytest.raises(ValueError, match=message):
        Faults.parse(specs)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_status_faults_answer_before_committing(sim_state: SimState, status: int) -> None:
    """A status fault answers that status with an error body and creates nothing."""
    sim_state.faults = Faults({str(status): 1.0}, retry_after=7)
    response = call(sim_state, "POST", CLUSTERS, BASE)
    assert response.status == status
    assert error(response)["code"] == "simulated_fault"
    assert sim_state.clusters == {}
    assert (response.headers.get("retry-after") == "7") is (status == 429)
    assert call(sim_state, "GET", CLUSTERS).status == 200  # reads are never drawn


@pytest.mark.parametrize("kind", ["drop", "stall"])
def test_drop_and_stall_commit_then_mark_the_answer(sim_state: SimState, kind: str) -> None:
    """drop/stall commit the create; the response carries the fault for the shell to act out."""
    sim_state.faults = Faults({kind: 1.0})
    response = call(sim_state, "POST", CLUSTERS, BASE)
    assert (response.status, response.fault) == (200, kind)
    assert len(sim_state.clusters_named("train-a")) == 1
    assert sim_state.request_log[-1].fault == kind


def test_faults_are_deterministic_under_a_seed(fake_clock: FakeClock) -> None:
    """The same seed gives the same fault sequence and ids; another seed differs."""

    def run(seed: int) -> list[tuple[int, str | None]]:
        state = SimState(clock=fake_clock, speed=0, seed=seed, faults=Faults.parse(["500:0.5"]))
        out = []
        for _ in range(30):
            response = call(state, "POST", VOLUMES, VOLUME)
            out.append((response.status, response.json().get("volume_id")))
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)
    statuses = [status for status, _ in run(7)]
    assert 5 < statuses.count(500) < 25


def test_queued_fault_hits_the_next_matching_request(sim_state: SimState) -> None:
    """queue_fault forces the next matching request (reads too) to fail, then stops."""
    sim_state.queue_fault(503, times=2, method="GET", route="/v1/compute/regions")
    assert call(sim_state, "GET", CLUSTERS).status == 200
    assert call(sim_state, "GET", "/v1/compute/regions").status == 503
    assert call(sim_state, "GET", "/v1/compute/regions").status == 503
    assert call(sim_state, "GET", "/v1/compute/regions").status == 200


def test_stuck_cluster_never_leaves_its_phase(slow_state: SimState, fake_clock: FakeClock) -> None:
    """stick() moves a provisioning cluster to that phase now and keeps it there forever."""
    cluster = create(slow_state)
    fake_clock.advance(10)
    slow_state.stick(cluster["cluster_id"], "InstallingDrivers")
    assert get(slow_state, cluster["cluster_id"]).json()["status"] == "InstallingDrivers"
    fake_clock.advance(100_000)
    stuck = get(slow_state, cluster["cluster_id"]).json()
    assert stuck["status"] == "InstallingDrivers"
    assert [t["phase"] for t in stuck["phase_transitions"]] == [
        "CLUSTER_PHASE_WAITING_FOR_CONTROL_PLANE_NODES",
        "CLUSTER_PHASE_INSTALLING_DRIVERS",
    ]
    assert stuck["gpu_worker_nodes"][0]["status"] == "Provisioning"


def test_degrade_and_recover(sim_state: SimState) -> None:
    """degrade() turns a Ready cluster Degraded with an unhealthy node; recover() undoes it."""
    cluster = create(sim_state)
    sim_state.degrade(cluster["cluster_id"])
    degraded = get(sim_state, cluster["cluster_id"]).json()
    assert degraded["status"] == "Degraded"
    assert degraded["phase_transitions"][-1]["phase"] == "CLUSTER_PHASE_DEGRADED"
    assert degraded["gpu_worker_nodes"][0]["status"] == "NotReady"
    sim_state.recover(cluster["cluster_id"])
    assert get(sim_state, cluster["cluster_id"]).json()["status"] == "Ready"


def test_out_of_band_update_changes_the_live_cluster(sim_state: SimState) -> None:
    """oob_update changes a cluster behind the tool's back (scale, other fields)."""
    cluster = create(sim_state)
    sim_state.oob_update(
        cluster["cluster_id"], num_gpus=16, num_preemptible_gpus=8, cluster_type="SLURM"
    )
    live = get(sim_state, cluster["cluster_id"]).json()
    assert (live["num_gpus"], live["desired_preemptible_gpus"], live["cluster_type"]) == (
        16,
        8,
        "SLURM",
    )
    assert len(live["gpu_worker_nodes"]) == 2
    with pytest.raises(ValueError, match="unknown cluster field"):
        sim_state.oob_update(cluster["cluster_id"], colour="red")


def test_add_cluster_bypasses_auth_faults_and_log(sim_state: SimState) -> None:
    """add_cluster creates directly (Ready unless told); bad fields raise ValueError."""
    sim_state.faults = Faults({"500": 1.0})
    ready = sim_state.add_cluster(cluster_name="seeded", num_gpus=16)
    stuck = sim_state.add_cluster(cluster_name="stuck", status="WaitingForSubnet")
    assert ready["status"] == "Ready"
    assert stuck["status"] == "WaitingForSubnet"
    assert sim_state.request_log == []
    with pytest.raises(ValueError, match="num_gpus"):
        sim_state.add_cluster(num_gpus=3)


def test_request_log_and_counters(sim_state: SimState) -> None:
    """Every request is logged with its route template; count() reads it."""
    cluster = create(sim_state)
    get(sim_state, cluster["cluster_id"])
    get(sim_state, "c-nope")
    call(sim_state, "GET", CLUSTERS)
    assert sim_state.count("POST", CLUSTERS) == 1
    assert sim_state.count("GET", "/v1/compute/clusters/{id}") == 2
    assert sim_state.count("get", f"{CLUSTERS}/c-nope") == 1
    assert [r.status for r in sim_state.request_log] == [200, 200, 404, 200]


# --- persistence -----------------------------------------------------------------------------


def test_state_round_trips_through_json(slow_state: SimState, fake_clock: FakeClock) -> None:
    """to_json/from_json keeps clusters, volumes, phases, idempotency keys and the PRNG."""
    headers = {**AUTH, "idempotency-key": "k-1"}
    first = call(
        slow_state, "POST", CLUSTERS, {**BASE, "shared_volume": VOLUME}, headers=headers
    ).json()
    saved = json.loads(json.dumps(slow_state.to_json()))
    restored = SimState.from_json(saved, clock=fake_clock)
    fake_clock.advance(600)
    assert get(restored, first["cluster_id"]).json() == get(slow_state, first["cluster_id"]).json()
    again = call(restored, "POST", CLUSTERS, {**BASE, "shared_volume": VOLUME}, headers=headers)
    assert again.json()["cluster_id"] == first["cluster_id"]
    assert create(restored)["cluster_id"] == create(slow_state)["cluster_id"]
    assert restored.speed == 1.0


def test_from_json_refuses_foreign_data(fake_clock: FakeClock) -> None:
    """A file that is not a simulator state is refused with ValueError."""
    with pytest.raises(ValueError, match="not a reconciler simulator state"):
        SimState.from_json({"clusters": {}}, clock=fake_clock)


def test_saved_state_loads_and_saves_back_unchanged(
    slow_state: SimState, fake_clock: FakeClock
) -> None:
    """The saved document survives load → save byte for byte (typed records lose nothing)."""
    cluster = create(slow_state, num_gpus=16, shared_volume=VOLUME, billing_type="RESERVED")
    slow_state.add_volume(volume_name="loose")
    fake_clock.advance(3600)
    call(slow_state, "PUT", f"{CLUSTERS}/{cluster['cluster_id']}", {"num_gpus": 8})
    slow_state.degrade(cluster["cluster_id"])
    saved = json.dumps(slow_state.to_json(), sort_keys=True)
    restored = SimState.from_json(json.loads(saved), clock=fake_clock)
    assert json.dumps(restored.to_json(), sort_keys=True) == saved


def test_stored_clusters_are_typed_records(sim_state: SimState) -> None:
    """A stored cluster is a StoredCluster with typed attributes, not a dict."""
    cluster_id = create(sim_state)["cluster_id"]
    stored = sim_state.clusters[cluster_id]
    assert isinstance(stored, StoredCluster)
    assert stored.fields.cluster_name == "train-a"
    assert not hasattr(stored, "__getitem__")


# --- one vocabulary, plain data for cross-checks ---------------------------------------------


def test_fault_vocabulary_is_one_table() -> None:
    """--fault accepts exactly the kinds of FAULTS, in draw order, and the help names each."""
    assert tuple(FAULTS) == FAULT_KINDS
    assert Faults.parse([f"{kind}:0" for kind in FAULTS]).rates == dict.fromkeys(FAULTS, 0.0)
    help_text = fault_help()
    for kind, description in FAULTS.items():
        assert f"{kind} ({description}" in help_text
    with pytest.raises(ValueError, match="unknown fault kind"):
        Faults.parse(["501:0.1"])


def test_body_field_tables_are_plain_data() -> None:
    """CREATE_FIELDS / UPDATE_FIELDS name each kind's top-level body fields."""
    assert set(CREATE_FIELDS) == set(UPDATE_FIELDS) == {"cluster", "volume", "add-on"}
    assert {"cluster_name", "num_gpus", "shared_volume"} <= CREATE_FIELDS["cluster"]
    assert UPDATE_FIELDS["cluster"] <= CREATE_FIELDS["cluster"]
    assert UPDATE_FIELDS["volume"] == {"volume_id", "size_tib"}


def test_simulator_imports_no_product_module() -> None:
    """The simulator never imports kinds/, model, live, diff, plan...: only itself, errors and
    the garbage-collector pause (reconciler.acyclic, no product logic)."""
    package = Path(__file__).resolve().parents[2] / "reconciler" / "simulator"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("reconciler"):
                    shared = ("reconciler.simulator", "reconciler.errors", "reconciler.acyclic")
                    assert name.startswith(shared), f"{path.name} imports {name}"


def test_ignore_idempotency_key_creates_again_as_the_real_api(sim_state: SimState) -> None:
    """With ignore_idempotency_key (sim serve --ignore-idempotency-key) a resend with the same
    key is a new request, as against the real API: tests prove "never twice" without it."""
    sim_state.ignore_idempotency_key = True
    headers = {**AUTH, "idempotency-key": "k-1"}
    first = call(sim_state, "POST", CLUSTERS, BASE, headers=headers).json()
    second = call(sim_state, "POST", CLUSTERS, BASE, headers=headers).json()
    assert first["cluster_id"] != second["cluster_id"]
