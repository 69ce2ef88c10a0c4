"""A cluster's create and update bodies: the rules beyond their shape, checked in the order
the errors are reported, then turned into the stored record's fields.

Nothing here commits: every check runs before the state changes.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.simulator.catalogue import (
    GPU_OPERATOR_DEFAULT,
    MAX_GPUS,
    REGION_BY_NAME,
    DriverVersion,
    Region,
    resolve_driver,
)
from reconciler.simulator.clusters import AddOn, ClusterFields, StoredCluster
from reconciler.simulator.volumes import StoredVolume, check_volume_body
from reconciler.simulator.wire import DEFAULT_PROJECT, ApiFailure, bad, format_time, parse_time


@dataclass(frozen=True)
class ClusterCreate:
    """A valid create body with what was resolved from it."""

    body: Mapping[str, Any]
    region: Region
    driver: DriverVersion
    start: float | None
    end: float | None
    volume_ids: tuple[str, ...]  # an existing volume to attach (`volume_id`)
    project: str


def check_gpus(value: int, param: str, *, positive: bool) -> None:
    if value < 0 or (positive and value == 0):
        raise bad(f"{param} must be {'positive' if positive else 'zero or more'}", param)
    if value % 8:
        raise bad(f"{param} must be a multiple of 8 (8, 16, 24, ...); got {value}", param)
    if value > MAX_GPUS:
        raise bad(f"{param} must be at most {MAX_GPUS}", param)


def check_counts(body: Mapping[str, Any], billing: str, num_gpus: int, pool: str | None) -> None:
    """The preemptible, capacity-pool and reserved GPU counts of a create or update body."""
    if "num_preemptible_gpus" in body:
        check_gpus(body["num_preemptible_gpus"], "num_preemptible_gpus", positive=False)
    if "num_capacity_pool_gpus" in body:
        value = body["num_capacity_pool_gpus"]
        check_gpus(value, "num_capacity_pool_gpus", positive=False)
        if value and not pool:
            raise bad(
                "num_capacity_pool_gpus is only valid for clusters with a capacity_pool_id",
                "num_capacity_pool_gpus",
            )
        if value > num_gpus:
            raise bad("num_capacity_pool_gpus must not exceed num_gpus", "num_capacity_pool_gpus")
    if "num_reserved_gpus" in body:
        value = body["num_reserved_gpus"]
        if value < 0:
            raise bad("num_reserved_gpus must be zero or more", "num_reserved_gpus")
        if value and billing != "RESERVED":
            raise bad(
                "num_reserved_gpus is only applicable for RESERVED billing", "num_reserved_gpus"
            )


def fill_cluster_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Echo a cluster_config with the service default the spec documents (the GPU operator's
    version; the SDK's `network_operator_version` default is not in the 2026-07 spec)."""
    if config is None:
        return None
    filled = dict(config)
    filled.setdefault("gpu_operator_version", GPU_OPERATOR_DEFAULT)
    return filled


def check_cluster_create(
    body: Mapping[str, Any], volumes: Mapping[str, StoredVolume], cluster_ids: Container[str]
) -> ClusterCreate:
    """Validate a shape-checked create body; 400 naming the first offending field."""
    region, driver = _check_placement(body)
    num_gpus = body["num_gpus"]
    check_gpus(num_gpus, "num_gpus", positive=True)
    _check_slurm_and_auto_scale(body, num_gpus)
    start, end = _check_reservation(body)
    if "duration_days" in body and not 1 <= body["duration_days"] <= 90:
        raise bad("duration_days must be between 1 and 90", "duration_days")
    check_counts(body, body["billing_type"], num_gpus, body.get("capacity_pool_id"))
    volume_ids = _check_volumes(body, region, volumes, cluster_ids)
    seen: set[str] = set()
    for index, add_on in enumerate(body.get("add_ons", [])):
        check_add_on_name(add_on["name"], f"add_ons[{index}].name", seen, status=400)
        seen.add(add_on["name"])
    project = body.get("project_id") or DEFAULT_PROJECT
    return ClusterCreate(body, region, driver, start, end, volume_ids, project)


def check_add_on_name(name: str, param: str, taken: Container[str], *, status: int) -> None:
    """An add-on's name is its id in the add-on endpoints' paths: not empty, unique (a name
    taken answers `status`: 400 within one create body, 409 for an add-on that exists)."""
    if not name.strip():
        raise bad(f"{param} must not be empty", param)
    if name in taken:
        raise ApiFailure(
            status,
            f"{param}: an add-on named {name!r} already exists on this cluster",
            param=param,
            code="already_exists",
        )


def _check_placement(body: Mapping[str, Any]) -> tuple[Region, DriverVersion]:
    if not body["cluster_name"].strip():
        raise bad("cluster_name must not be empty", "cluster_name")
    if body["region"] not in REGION_BY_NAME:
        raise bad(
            f"region {body['region']!r} does not exist (regions: {', '.join(REGION_BY_NAME)})",
            "region",
        )
    region = REGION_BY_NAME[body["region"]]
    if body["gpu_type"] not in region["supported_instance_types"]:
        raise bad(
            f"gpu_type {body['gpu_type']} is not offered in region {region['name']} "
            f"(offered: {', '.join(region['supported_instance_types'])})",
            "gpu_type",
        )
    return region, resolve_driver(body)


def _check_slurm_and_auto_scale(body: Mapping[str, Any], num_gpus: int) -> None:
    if body.get("cluster_type", "KUBERNETES") == "SLURM" and "slurm_shm_size_gib" not in body:
        raise bad(
            "slurm_shm_size_gib is required when cluster_type is SLURM",
            "slurm_shm_size_gib",
            "missing_field",
        )
    if body.get("slurm_shm_size_gib", 1) <= 0:
        raise bad("slurm_shm_size_gib must be positive", "slurm_shm_size_gib")
    if not body.get("auto_scale"):
        return
    if "auto_scale_max_gpus" not in body:
        raise bad(
            "auto_scale_max_gpus is required when auto_scale is true",
            "auto_scale_max_gpus",
            "missing_field",
        )
    check_gpus(body["auto_scale_max_gpus"], "auto_scale_max_gpus", positive=True)
    if body["auto_scale_max_gpus"] < num_gpus:
        raise bad("auto_scale_max_gpus must not be less than num_gpus", "auto_scale_max_gpus")


def _check_reservation(body: Mapping[str, Any]) -> tuple[float | None, float | None]:
    start = end = None
    if "reservation_start_time" in body:
        start = parse_time(body["reservation_start_time"], "reservation_start_time")
    if "reservation_end_time" in body:
        end = parse_time(body["reservation_end_time"], "reservation_end_time")
    if body["billing_type"] == "SCHEDULED_CAPACITY":
        for key, value in (("reservation_start_time", start), ("reservation_end_time", end)):
            if value is None:
                raise bad(
                    f"{key} is required when billing_type is SCHEDULED_CAPACITY",
                    key,
                    "missing_field",
                )
    if start is not None and end is not None and end <= start:
        raise bad(
            "reservation_end_time must be after reservation_start_time", "reservation_end_time"
        )
    return start, end


def _check_volumes(
    body: Mapping[str, Any],
    region: Region,
    volumes: Mapping[str, StoredVolume],
    cluster_ids: Container[str],
) -> tuple[str, ...]:
    if "volume_id" in body and "shared_volume" in body:
        raise bad("give either volume_id or shared_volume, not both", "volume_id")
    volume_ids: tuple[str, ...] = ()
    if "volume_id" in body:
        volume = volumes.get(body["volume_id"])
        if volume is None:
            raise bad(f"volume_id {body['volume_id']} does not exist", "volume_id")
        if volume.region != region["name"]:
            raise bad(
                f"volume {volume.volume_id} is in region {volume.region}, not {region['name']}",
                "volume_id",
            )
        volume_ids = (volume.volume_id,)
    if "shared_volume" in body:
        check_volume_body(body["shared_volume"], "shared_volume.", cluster_ids)
        if body["shared_volume"]["region"] != region["name"]:
            raise bad("shared_volume.region must be the cluster's region", "shared_volume.region")
    return volume_ids


def cluster_fields(create: ClusterCreate) -> ClusterFields:
    """The stored fields of a new cluster: what was asked for, with the service defaults."""
    body, driver, billing = create.body, create.driver, create.body["billing_type"]
    num_gpus = body["num_gpus"]
    return ClusterFields(
        cluster_name=body["cluster_name"],
        cluster_type=body.get("cluster_type", "KUBERNETES"),
        region=create.region["name"],
        gpu_type=body["gpu_type"],
        num_gpus=num_gpus,
        cuda_version=driver["cuda_version"],
        nvidia_driver_version=driver["nvidia_driver_version"],
        nvidia_driver_version_id=driver["id"],
        os_image=f"together-gpu-{driver['os']}-cuda{driver['cuda_version']}",
        billing_type=billing,
        duration_hours=body["duration_days"] * 24
        if billing == "RESERVED" and "duration_days" in body
        else None,
        desired_preemptible_gpus=body.get("num_preemptible_gpus", 0),
        num_reserved_gpus=body.get("num_reserved_gpus", num_gpus if billing == "RESERVED" else 0),
        num_capacity_pool_gpus=body.get("num_capacity_pool_gpus", 0),
        capacity_pool_id=body.get("capacity_pool_id"),
        add_ons=[
            AddOn(a["add_on_type"], a["name"], a.get("config", {})) for a in body.get("add_ons", [])
        ],
        cluster_config=fill_cluster_config(body.get("cluster_config")),
        oidc_config=body.get("oidc_config"),
        install_traefik=body.get("install_traefik", False),
        project_id=create.project,
        reservation_start_time=format_time(create.start) if create.start is not None else None,
        reservation_end_time=format_time(create.end) if create.end is not None else None,
        slurm_shm_size_gib=body.get("slurm_shm_size_gib"),
    )


def check_cluster_update(
    cluster: StoredCluster, body: Mapping[str, Any], status: str
) -> tuple[int, float | None]:
    """Validate a shape-checked update body against the cluster: (num_gpus, new end time)."""
    fields = cluster.fields
    if body and status == "Deleting":
        raise ApiFailure(
            409, f"cluster {cluster.cluster_id} is being deleted", code="failed_precondition"
        )
    num_gpus = body.get("num_gpus", fields.num_gpus)
    check_gpus(num_gpus, "num_gpus", positive=True)
    if num_gpus != fields.num_gpus and status not in ("Ready", "Degraded"):
        raise ApiFailure(
            409,
            f"cluster {cluster.cluster_id} is {status}; num_gpus can change only when it is Ready",
            param="num_gpus",
            code="failed_precondition",
        )
    check_counts(body, fields.billing_type, num_gpus, fields.capacity_pool_id)
    if "num_capacity_pool_gpus" not in body and fields.num_capacity_pool_gpus > num_gpus:
        raise bad("num_gpus must not be less than num_capacity_pool_gpus", "num_gpus")
    end = _check_new_end(fields, body)
    names = {a.name for a in fields.add_ons}
    for index, add_on in enumerate(body.get("add_ons", [])):
        if add_on["name"] not in names:
            raise bad(
                f"add_ons[{index}].name {add_on['name']!r} matches no add-on of this cluster",
                f"add_ons[{index}].name",
            )
    return num_gpus, end


def _check_new_end(fields: ClusterFields, body: Mapping[str, Any]) -> float | None:
    if "reservation_end_time" not in body:
        return None
    if fields.billing_type == "ON_DEMAND":
        raise bad(
            "reservation_end_time is only accepted for prepaid clusters", "reservation_end_time"
        )
    end = parse_time(body["reservation_end_time"], "reservation_end_time")
    if fields.reservation_start_time is not None and end <= parse_time(
        fields.reservation_start_time, "reservation_start_time"
    ):
        raise bad(
            "reservation_end_time must be after reservation_start_time", "reservation_end_time"
        )
    return end


def apply_cluster_update(fields: ClusterFields, body: Mapping[str, Any], end: float | None) -> None:
    """Commit a validated update body, all but num_gpus (a resize, done by the caller)."""
    add_ons = {a.name: a for a in fields.add_ons}
    for add_on in body.get("add_ons", []):
        merged = dict(add_ons[add_on["name"]].config)
        merged.update(add_on.get("config", {}))
        add_ons[add_on["name"]].config = merged
    if "cluster_config" in body:
        fields.cluster_config = fill_cluster_config(body["cluster_config"])
    if "cluster_type" in body:
        fields.cluster_type = body["cluster_type"]
    if end is not None:
        fields.reservation_end_time = format_time(end)
    if "num_reserved_gpus" in body:
        fields.num_reserved_gpus = body["num_reserved_gpus"]
    if "num_preemptible_gpus" in body:
        fields.desired_preemptible_gpus = body["num_preemptible_gpus"]
    if "num_capacity_pool_gpus" in body:
        fields.num_capacity_pool_gpus = body["num_capacity_pool_gpus"]
