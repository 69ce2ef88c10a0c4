"""A stored cluster as the API shows it at an instant: the 2026-07 spec's `GPUClusterInfo`.

Beyond the spec, answers keep only SDK_ONLY_FIELDS: the official SDK (3.1.1) requires them
in its `Cluster` model and the tool compares them. The SDK's other extras
(`deleted_gpu_worker_nodes`, `node_lifecycle_events`, a node's `deleted_at`) are not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.simulator.clusters import (
    PHASE_OF_STATUS,
    AddOn,
    ClusterFields,
    ControlNode,
    GpuNode,
    StoredCluster,
)
from reconciler.simulator.volumes import StoredVolume, volume_summary
from reconciler.simulator.wire import format_time

SDK_ONLY_FIELDS = ("num_reserved_gpus", "num_capacity_pool_gpus")


def cluster_view(
    cluster: StoredCluster,
    now: float,
    volumes: Mapping[str, StoredVolume],
    latest_remediations: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The cluster as the API returns it at `now`: the fields of the 2026-07 spec's
    `GPUClusterInfo` (plus the two the SDK requires and the tool compares, see
    SDK_ONLY_FIELDS); a field without a value is left out, never sent as `null`.
    `latest_remediations` maps an instance id to its newest remediation's view."""
    fields = cluster.fields
    passed = cluster.passed(now)
    first_ready = next((entry.at for entry in passed if entry.status == "Ready"), None)
    control_ready_at = cluster.control_nodes[0].running_at
    view = {
        "cluster_id": cluster.cluster_id,
        **_echoed(fields),
        "status": cluster.api_status(now),
        "phase_transitions": [
            {"phase": PHASE_OF_STATUS[entry.status], "transition_time": format_time(entry.at)}
            for entry in passed
        ],
        "control_plane_ready": control_ready_at is not None and control_ready_at <= now,
        **_nodes(cluster, now, latest_remediations or {}),
        "num_cpu_workers": 1 if fields.cluster_type == "SLURM" else 0,
        "volumes": [
            volume_summary(volumes[vid], now) for vid in cluster.volume_ids if vid in volumes
        ],
        "kube_config": kube_config(cluster),
        "duration_hours": fields.duration_hours,
        "desired_preemptible_gpus": fields.desired_preemptible_gpus,
        "allocated_preemptible_gpus": fields.desired_preemptible_gpus
        if first_ready is not None
        else 0,
        "num_reserved_gpus": fields.num_reserved_gpus,
        "num_capacity_pool_gpus": fields.num_capacity_pool_gpus,
        "capacity_pool_id": fields.capacity_pool_id,
        "add_ons": [add_on_view(a) for a in fields.add_ons if a.is_enabled()],
        "cluster_config": fields.cluster_config,
        "oidc_config": fields.oidc_config,
        "install_traefik": fields.install_traefik,
        "project_id": fields.project_id,
        "ums_project_id": fields.project_id,
        "ums_org_id": "org-sim",
        "reservation_start_time": fields.reservation_start_time,
        "reservation_end_time": fields.reservation_end_time,
        "slurm_shm_size_gib": fields.slurm_shm_size_gib,
        "created_at": format_time(cluster.created_at),
        "first_ready_at": format_time(first_ready) if first_ready is not None else None,
        "machine_cluster_id": cluster.machine_cluster_id,
        "is_in_substrate": True,
    }
    return present(view)


def settled_at(cluster: StoredCluster, volumes: Mapping[str, StoredVolume]) -> float:
    """The instant from which `cluster_view` no longer changes with time alone: its last
    phase, node start and attached volume's provisioning are past (remediations aside)."""
    times = [entry.at for entry in cluster.schedule]
    nodes: list[ControlNode | GpuNode] = [*cluster.control_nodes, *cluster.nodes]
    for node in nodes:
        times.append(node.created_at)
        if node.running_at is not None:
            times.append(node.running_at)
    times += (volumes[v].available_at for v in cluster.volume_ids if v in volumes)
    return max(times)


def present(view: Mapping[str, Any]) -> dict[str, Any]:
    """`view` without its `None` members: the API omits a field that has no value."""
    return {key: value for key, value in view.items() if value is not None}


def add_on_view(add_on: AddOn) -> dict[str, Any]:
    """An `AddOnInfo`: as in the cluster's `add_ons` and from the add-on endpoints."""
    return {
        "add_on_type": add_on.add_on_type,
        "name": add_on.name,
        "config": add_on.config,
        "state": {add_on.add_on_type: {}},
    }


def _echoed(fields: ClusterFields) -> dict[str, Any]:
    """The leading identity fields, in the answer's order."""
    return {
        "cluster_name": fields.cluster_name,
        "cluster_type": fields.cluster_type,
        "region": fields.region,
        "gpu_type": fields.gpu_type,
        "num_gpus": fields.num_gpus,
        "cuda_version": fields.cuda_version,
        "nvidia_driver_version": fields.nvidia_driver_version,
        "nvidia_driver_version_id": fields.nvidia_driver_version_id,
        "os_image": fields.os_image,
        "billing_type": fields.billing_type,
    }


def _nodes(
    cluster: StoredCluster, now: float, latest: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """The nodes that exist at `now` (a scheduled cluster has none before its start)."""
    return {
        "control_plane_nodes": [
            control_node_view(cluster, node, index, now)
            for index, node in enumerate(cluster.control_nodes)
            if node.created_at <= now
        ],
        "gpu_worker_nodes": [
            gpu_node_view(cluster, node, index, now, latest.get(node.instance_id))
            for index, node in enumerate(cluster.nodes)
            if node.created_at <= now
        ],
    }


def node_phases(
    cluster: StoredCluster, node: ControlNode | GpuNode, now: float
) -> tuple[str, list[dict[str, str]]]:
    """(status, phase_transitions) of a node at `now`."""
    created, running = node.created_at, node.running_at
    transitions = [{"phase": "NODE_PHASE_PENDING", "transition_time": format_time(created)}]
    if running is None or running > now:
        status = "Provisioning"
        if running is None or now >= (created + running) / 2:
            transitions.append(
                {"phase": "NODE_PHASE_BOOTING", "transition_time": format_time(created)}
            )
    else:
        status = "Ready"
        transitions.append({"phase": "NODE_PHASE_BOOTING", "transition_time": format_time(created)})
        transitions.append({"phase": "NODE_PHASE_RUNNING", "transition_time": format_time(running)})
    if node.node_id == cluster.unhealthy_node:
        status = "NotReady"
    if isinstance(node, GpuNode) and node.deleted_at is not None:
        status = "Deleted"
    return status, transitions


def control_node_view(
    cluster: StoredCluster, node: ControlNode, index: int, now: float
) -> dict[str, Any]:
    status, transitions = node_phases(cluster, node, now)
    return {
        "node_id": node.node_id,
        "host_name": f"{cluster.fields.cluster_name}-cp-{index}",
        "status": status,
        "num_cpu_cores": 16,
        "memory_gib": 64.0,
        "network": "10.0.0.0/24",
        "phase_transitions": transitions,
    }


def gpu_node_view(
    cluster: StoredCluster,
    node: GpuNode,
    index: int,
    now: float,
    latest_remediation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    status, transitions = node_phases(cluster, node, now)
    name = cluster.fields.cluster_name
    view = {
        "node_id": node.node_id,
        "instance_id": node.instance_id,
        "host_name": f"{name}-gpu-{index}",
        "status": status,
        "num_cpu_cores": 208,
        "num_gpus": 8,
        "memory_gib": 2048.0,
        "networks": [f"{node.ip}/16"],
        "phase_transitions": transitions,
        "auto_remediation_enabled": False,
        "ephemeral_storage": "7TiB",
        "ib_hca_count": 8,
        "ib_hca_type": "ConnectX-7",
        "nvswitch_count": 4,
        "nvswitch_type": "NVSwitch-3",
        "marked_for_deletion": False,
        "latest_remediation": latest_remediation,
        "slurm_worker_hostname": f"{name}-worker-{index}"
        if cluster.fields.cluster_type == "SLURM"
        else None,
    }
    return present(view)


def kube_config(cluster: StoredCluster) -> str:
    """A realistic (and fake) kubeconfig, base64-encoded as the real API sends it (the official
    CLI's `get-credentials` decodes it); its token is secret-looking on purpose."""
    # Imported here: this function is the only user, and the module's imports are shared.
    import base64

    name = cluster.fields.cluster_name
    ca = (
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzaW11bGF0ZWQK"
        "LS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
    )
    text = (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {name}\n"
        "  cluster:\n"
        f"    server: https://{cluster.cluster_id}.k8s.sim.together.ai:6443\n"
        f"    certificate-authority-data: {ca}\n"
        "contexts:\n"
        f"- name: {name}\n"
        "  context:\n"
        f"    cluster: {name}\n"
        f"    user: {name}-admin\n"
        f"current-context: {name}\n"
        "users:\n"
        f"- name: {name}-admin\n"
        "  user:\n"
        f"    token: sim-kube-{cluster.kube_secret}\n"
    )
    return base64.b64encode(text.encode()).decode("ascii")
