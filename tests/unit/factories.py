"""Hand-built desired and live values for the pure-core tests: no simulator, no I/O.

`desired_cluster` / `desired_volume` build spec resources; `api_cluster` / `api_volume` build
the JSON objects the list endpoints return, so tests go through `live.py` like production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from msgspec.structs import replace

from reconciler.kinds import FieldClass
from reconciler.kinds.cluster import KIND as CLUSTER
from reconciler.live import parse_live_state
from reconciler.model import (
    Desired,
    Ensure,
    Lifecycle,
    LiveState,
    Prune,
    Spec,
    frozen_map,
    thaw,
)

#: The create fields most clusters share (what `defaults:` would hold in a spec).
BASE_FIELDS: Mapping[str, Any] = {
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
    "billing_type": "ON_DEMAND",
    "num_gpus": 8,
}

NO_LIFECYCLE = Lifecycle()
NO_PRUNE = Prune()

#: Spec field name → the name the API echoes it under.
ECHO_NAMES: Mapping[str, str] = {
    "num_preemptible_gpus": "desired_preemptible_gpus",
    "nvidia_version_id": "nvidia_driver_version_id",
}


def desired_cluster(
    name: str,
    *,
    ensure: Ensure = Ensure.PRESENT,
    lifecycle: Lifecycle = NO_LIFECYCLE,
    volume: str | None = None,
    base: Mapping[str, Any] = BASE_FIELDS,
    **fields: Any,
) -> Desired:
    """A spec cluster: `base` fields overridden by `fields` (a value of None drops the key)."""
    merged = {**base, **fields}
    return Desired(
        kind="cluster",
        name=name,
        fields=frozen_map({k: v for k, v in merged.items() if v is not None}),
        ensure=ensure,
        lifecycle=lifecycle,
        refs=frozen_map({"volume": volume} if volume else {}),
    )


def absent_cluster(name: str, **kwargs: Any) -> Desired:
    """`ensure: absent` as a user writes it: a name and nothing else."""
    return desired_cluster(name, ensure=Ensure.ABSENT, base={}, **kwargs)


def desired_volume(
    name: str,
    *,
    ensure: Ensure = Ensure.PRESENT,
    lifecycle: Lifecycle = NO_LIFECYCLE,
    region: str = "us-central-8",
    size_tib: int = 10,
) -> Desired:
    return Desired(
        kind="volume",
        name=name,
        fields=frozen_map({"region": region, "size_tib": size_tib}),
        ensure=ensure,
        lifecycle=lifecycle,
    )


def make_spec(
    *clusters: Desired,
    volumes: Iterable[Desired] = (),
    project_id: str | None = None,
    prune: Prune = NO_PRUNE,
    digest: str = "",
) -> Spec:
    return Spec(
        resources=(*volumes, *(r for c in clusters for r in with_add_ons(c))),
        project_id=project_id,
        prune=prune,
        digest=digest,
    )


def with_add_ons(cluster: Desired) -> list[Desired]:
    """A cluster written with `add_ons=[...]` as the spec builder reads it: the cluster, then
    each add-on as a resource of its own nested in it."""
    add_ons = cluster.fields.get("add_ons")
    if add_ons is None:
        return [cluster]
    fields = {k: v for k, v in cluster.fields.items() if k != "add_ons"}
    nested = [
        Desired(
            kind="add-on",
            name=item["name"],
            fields=frozen_map({k: v for k, v in item.items() if k not in ("name", "ensure")}),
            ensure=Ensure(item.get("ensure", "present")),
            parent=cluster.name,
        )
        for item in add_ons
    ]
    return [replace(cluster, fields=frozen_map(fields)), *nested]


def echo_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What the API echoes for a cluster created with `fields`: renamed keys, create-only and
    tool-only keys dropped, RESERVED's server default for num_reserved_gpus filled in."""
    echoed = {
        ECHO_NAMES.get(k, k): thaw(v)
        for k, v in fields.items()
        if k not in CLUSTER.names(FieldClass.CREATE_ONLY)
    }
    if fields.get("billing_type") == "RESERVED":
        echoed.setdefault("num_reserved_gpus", fields.get("num_gpus"))
    return echoed


def api_cluster(
    name: str,
    cluster_id: str | None = None,
    *,
    status: str = "Ready",
    volumes: Iterable[str] = (),
    base: Mapping[str, Any] = BASE_FIELDS,
    **fields: Any,
) -> dict[str, Any]:
    """One item of `GET /compute/clusters` as the API returns it (computed fields included)."""
    obj: dict[str, Any] = {
        "cluster_id": cluster_id or f"c-{name}",
        "cluster_name": name,
        "status": status,
        "cluster_type": "KUBERNETES",
        "install_traefik": False,
        "desired_preemptible_gpus": 0,
        "kube_config": "apiVersion: v1 # secret",
        "control_plane_nodes": [],
        "gpu_worker_nodes": [],
        "created_at": "2026-01-01T00:00:00Z",
        "volumes": [
            {"volume_id": v, "volume_name": v, "size_tib": 1, "status": "bound"} for v in volumes
        ],
        **echo_fields(base),
    }
    for key, value in fields.items():
        if value is None:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def api_volume(
    name: str,
    volume_id: str | None = None,
    *,
    region: str = "us-central-8",
    size_tib: int = 10,
    status: str = "available",
) -> dict[str, Any]:
    return {
        "volume_id": volume_id or f"v-{name}",
        "volume_name": name,
        "region": region,
        "size_tib": size_tib,
        "status": status,
    }


def live_state(
    *clusters: Mapping[str, Any], volumes: Iterable[Mapping[str, Any]] = ()
) -> LiveState:
    return parse_live_state({"cluster": list(clusters), "volume": list(volumes)})


def clusters_of(state: Spec | LiveState) -> tuple[Any, ...]:
    """The cluster resources of a spec or a live state."""
    return state.of_kind("cluster")


def volumes_of(state: Spec | LiveState) -> tuple[Any, ...]:
    """The volume resources of a spec or a live state."""
    return state.of_kind("volume")
