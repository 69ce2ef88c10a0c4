"""The cluster kind: GPU clusters (`/v1/compute/clusters`) and the rules only they have. Pure.

Field classes follow DESIGN §5 and REFERENCE §3–§5: what a PUT can change in place, what
forces delete + create, what is sent on create and never reported back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from reconciler.kinds.base import (
    Endpoints,
    Field,
    FieldClass,
    Hooks,
    Kind,
    Ref,
    Statuses,
)
from reconciler.kinds.catalogue import compute_problem
from reconciler.kinds.values import normalise_time, text, upper
from reconciler.model import ActionKind

IN_PLACE, REPLACE = FieldClass.IN_PLACE, FieldClass.REPLACE
CREATE_ONLY, COMPUTED = FieldClass.CREATE_ONLY, FieldClass.COMPUTED

FIELDS = (
    # in place: one PUT with only the changed fields
    Field("num_gpus", IN_PLACE),
    Field(
        "cluster_type",
        IN_PLACE,
        normalise=upper,
        server_default="KUBERNETES",
        export_default="KUBERNETES",
    ),
    Field("reservation_end_time", IN_PLACE, normalise=normalise_time),
    Field("num_reserved_gpus", IN_PLACE),
    Field(
        "num_preemptible_gpus",
        IN_PLACE,
        live="desired_preemptible_gpus",
        server_default=0,
        export_default=0,
    ),
    Field("num_capacity_pool_gpus", IN_PLACE, export_default=0),
    Field("add_ons", IN_PLACE, export_default=[]),
    Field("cluster_config", IN_PLACE),
    # replace: delete, then create
    Field("region", REPLACE),
    Field("gpu_type", REPLACE, normalise=upper),
    Field("cuda_version", REPLACE, normalise=text),
    Field("nvidia_driver_version", REPLACE, normalise=text),
    Field("nvidia_version_id", REPLACE, live="nvidia_driver_version_id", normalise=text),
    Field("billing_type", REPLACE, normalise=upper),
    Field("capacity_pool_id", REPLACE),
    Field("reservation_start_time", REPLACE, normalise=normalise_time),
    Field("slurm_shm_size_gib", REPLACE),
    Field("install_traefik", REPLACE, server_default=False, export_default=False),
    Field("oidc_config", REPLACE, sensitive=("ca_cert",)),
    # create-only: sent on create, never reported back
    Field("duration_days", CREATE_ONLY),
    Field("auto_scale", CREATE_ONLY),
    Field("auto_scale_max_gpus", CREATE_ONLY),
    Field("slurm_image", CREATE_ONLY),
    Field("acceptance_tests_params", CREATE_ONLY),
    Field("shared_volume", CREATE_ONLY),
    Field("volume_id", CREATE_ONLY),
    Field("project_id", CREATE_ONLY, in_spec=False),  # from the spec's top-level project_id
    # computed: reported, never sent or compared
    Field("kube_config", COMPUTED, sensitive=("",)),
)


# --- the spec's own names for cluster fields ----------------------------------------------------

#: Deprecated `driver_version` values → (cuda_version, nvidia_driver_version).
LEGACY_DRIVER_VERSIONS: Mapping[str, tuple[str, str]] = {
    "CUDA_12_5_555": ("12.5", "555"),
    "CUDA_12_6_560": ("12.6", "560"),
    "CUDA_12_6_565": ("12.6", "565"),
    "CUDA_12_8_570": ("12.8", "570"),
}


def translate_legacy(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Older API names → current ones: driver_version → the cuda/driver pair, auto_scaled →
    auto_scale; gpu_node_failover_enabled (removed from the API) is dropped."""
    result = dict(fields)
    if "driver_version" in result:
        legacy = result.pop("driver_version")
        # An unknown value is reported by the schema; "?" keeps the rules from adding noise.
        pair = LEGACY_DRIVER_VERSIONS.get(legacy) if isinstance(legacy, str) else None
        cuda, driver = pair or ("?", "?")
        result.setdefault("cuda_version", cuda)
        result.setdefault("nvidia_driver_version", driver)
    if "auto_scaled" in result:
        result.setdefault("auto_scale", result.pop("auto_scaled"))
        result.pop("auto_scaled", None)
    result.pop("gpu_node_failover_enabled", None)
    return result


def merge_cluster(defaults: Mapping[str, Any] | None, cluster: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults under the cluster (cluster keys win), each side translated first."""
    merged = translate_legacy(defaults or {})
    merged.update(translate_legacy(cluster))
    return merged


def legacy_warnings(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for each older name in a spec item (or `defaults:`)."""
    warnings = []
    if "driver_version" in item:
        cuda, driver = LEGACY_DRIVER_VERSIONS[item["driver_version"]]
        warnings.append(
            (
                "driver_version",
                f'deprecated; read as cuda_version "{cuda}" + nvidia_driver_version '
                f'"{driver}" — write those instead',
            )
        )
    if "auto_scaled" in item:
        warnings.append(("auto_scaled", "deprecated; read as auto_scale — rename it"))
    if "gpu_node_failover_enabled" in item:
        warnings.append(
            (
                "gpu_node_failover_enabled",
                "removed from the API; ignored and never sent — remove it",
            )
        )
    return warnings


def spec_item(
    defaults: Mapping[str, Any], item: Mapping[str, Any], present: bool
) -> dict[str, Any]:
    """`defaults:` apply to present clusters only: an absent one is a name to delete. A
    `shared_volume` without a region is made in the cluster's region (its own or the default)."""
    if not present:
        return translate_legacy(item)
    merged = merge_cluster(defaults, item)
    volume, region = merged.get("shared_volume"), merged.get("region")
    if isinstance(volume, Mapping) and "region" not in volume and isinstance(region, str):
        merged["shared_volume"] = {**volume, "region": region}
    return merged


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_gpu_counts(merged: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for GPU counts that contradict num_gpus in a merged spec item."""
    num = merged.get("num_gpus")
    if not _is_int(num):
        return []
    problems = []
    top = merged.get("auto_scale_max_gpus")
    if merged.get("auto_scale") is True and _is_int(top) and top < num:
        problems.append(
            (
                "auto_scale_max_gpus",
                f"{top} is less than num_gpus ({num}); the autoscaler's maximum must be at "
                "least num_gpus",
            )
        )
    pool = merged.get("num_capacity_pool_gpus")
    if _is_int(pool) and pool > num:
        problems.append(
            (
                "num_capacity_pool_gpus",
                f"{pool} is more than num_gpus ({num}); it must not exceed num_gpus",
            )
        )
    return problems


# --- comparing ----------------------------------------------------------------------------------


def complete_desired(wanted: dict[str, Any]) -> None:
    """RESERVED clusters reserve all their GPUs unless told otherwise (server default)."""
    if wanted.get("billing_type") == "RESERVED" and "num_gpus" in wanted:
        wanted.setdefault("num_reserved_gpus", wanted["num_gpus"])


def ungoverned(fields: Mapping[str, Any]) -> frozenset[str]:
    """With `auto_scale`, the autoscaler owns `num_gpus`."""
    return frozenset({"num_gpus"}) if fields.get("auto_scale") else frozenset()


def forces_replacement(wanted: Mapping[str, Any], live: Mapping[str, Any]) -> frozenset[str]:
    """The update API only changes add-ons that exist (REFERENCE §5): adding one means
    creating the cluster again."""
    declared = wanted.get("add_ons")
    if not isinstance(declared, Sequence):
        return frozenset()
    have = {i.get("name") for i in live.get("add_ons") or () if isinstance(i, Mapping)}
    new = {i["name"] for i in declared if isinstance(i, Mapping) and i.get("name") not in have}
    return frozenset({"add_ons"}) if new else frozenset()


def update_body(body: dict[str, Any]) -> dict[str, Any]:
    """An update's add-on item is `{name, config}` (REFERENCE §5): `add_on_type` is refused. An
    add-on declared without config is wanted enabled, as a create would make it; the API
    lists only enabled add-ons, so without this a disabled one would never converge.
    """
    if "add_ons" in body:
        items = []
        for item in body["add_ons"]:
            config = item.get("config")
            if not config and item.get("add_on_type"):
                config = {item["add_on_type"]: {"enabled": True}}
            items.append({"name": item["name"], **({"config": config} if config else {})})
        body["add_ons"] = items
    return body


def capacity(fields: Mapping[str, Any]) -> tuple[str, int]:
    num_gpus = fields.get("num_gpus")
    return str(fields.get("gpu_type") or "").upper(), num_gpus if isinstance(num_gpus, int) else 0


def export(live: dict[str, Any]) -> dict[str, Any]:
    """Live fields an export would write twice or that the server fills in anyway."""
    if live.get("cuda_version") and live.get("nvidia_driver_version"):
        live.pop("nvidia_version_id", None)  # the pair says the same; the schema wants one
    reserved = live.get("num_reserved_gpus")
    billing = live.get("billing_type")
    if (billing != "RESERVED" and reserved == 0) or (
        billing == "RESERVED" and reserved == live.get("num_gpus")
    ):
        live.pop("num_reserved_gpus", None)
    if isinstance(live.get("add_ons"), list):
        live["add_ons"] = [{k: v for k, v in a.items() if k != "state"} for a in live["add_ons"]]
    return live


KIND = Kind(
    name="cluster",
    plural="clusters",
    api=Endpoints(
        collection="/v1/compute/clusters",
        list_key="clusters",
        id_key="cluster_id",
        name_key="cluster_name",
        required=("cluster_id", "cluster_name", "status"),
    ),
    fields=FIELDS,
    rank={
        ActionKind.REPLACE: 1,  # first: a replace frees the name its create needs
        ActionKind.CREATE: 2,
        ActionKind.UPDATE: 3,
        ActionKind.DELETE: 4,
    },
    statuses=Statuses(
        ready="Ready",
        deleting="Deleting",
        failed=frozenset({"Degraded"}),
        unhealthy=frozenset({"Degraded", "Paused", "OnDemandComputePaused"}),
        provisioning_prefixes=("Waiting", "Installing", "Running"),
    ),
    waits=True,
    refs=(
        Ref(
            key="volume",
            kind="volume",
            body_key="volume_id",
            live_list="volumes",
            live_id="volume_id",
        ),
    ),
    prunable=True,
    hooks=Hooks(
        spec_item=spec_item,
        spec_warnings=legacy_warnings,
        spec_checks=check_gpu_counts,
        complete_desired=complete_desired,
        ungoverned=ungoverned,
        forces_replacement=forces_replacement,
        update_body=update_body,
        catalogue=compute_problem,
        capacity=capacity,
        export=export,
    ),
)
API = KIND.api
