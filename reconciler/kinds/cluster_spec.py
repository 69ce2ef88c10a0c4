"""The cluster kind's spec rules: older names, `defaults:`, and what a merged cluster must
meet that JSON Schema cannot say. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

from reconciler.frozen import remember_last
from reconciler.kinds.values import epoch

# --- the spec's own names for cluster fields ----------------------------------------------------

#: Deprecated `driver_version` values → (cuda_version, nvidia_driver_version).
LEGACY_DRIVER_VERSIONS: Mapping[str, tuple[str, str]] = {
    "CUDA_12_5_555": ("12.5", "555"),
    "CUDA_12_6_560": ("12.6", "560"),
    "CUDA_12_6_565": ("12.6", "565"),
    "CUDA_12_8_570": ("12.8", "570"),
}


#: The older names `translate_legacy` reads: a spec item with none of them is taken as it is.
LEGACY_KEYS = frozenset({"driver_version", "auto_scaled", "gpu_node_failover_enabled"})


def translate_legacy(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Older API names → current ones: driver_version → the cuda/driver pair, auto_scaled →
    auto_scale; gpu_node_failover_enabled (removed from the API) is dropped."""
    result = dict(fields)
    if LEGACY_KEYS.isdisjoint(result):
        return result
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
    merged = dict(_translated_defaults(defaults or {}))
    merged.update(cluster if LEGACY_KEYS.isdisjoint(cluster) else translate_legacy(cluster))
    return merged


#: A file's `defaults:` translated once: every cluster of the file merges the very same one
#: (10,000 translations a plan). Read only: merge_cluster copies it.
_translated_defaults = remember_last(translate_legacy)


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


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_item(merged: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """Rules a merged cluster must meet that JSON Schema cannot say: GPU counts against
    num_gpus, reservation times that are real instants, and an end after the start. A value
    the API would refuse is caught here, before a replace deletes anything."""
    problems: list[tuple[Any, str]] = [*check_gpu_counts(merged), *check_reservation(merged)]
    return problems + check_add_ons(merged)


def check_add_ons(merged: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """Add-on names are unique on a cluster, and none is declared switched off: the API lists
    only enabled add-ons, so one declared `enabled: false` could never be seen as done."""
    problems: list[tuple[Any, str]] = []
    seen: set[Any] = set()
    for index, item in enumerate(merged.get("add_ons") or ()):
        if not isinstance(item, Mapping):
            continue
        if item.get("name") in seen:
            problems.append((("add_ons", index, "name"), f"add-on {item['name']!r} is named twice"))
        seen.add(item.get("name"))
        for key, value in (item.get("config") or {}).items():
            own = key == item.get("add_on_type")  # its own switch; others are settings of it
            if own and isinstance(value, Mapping) and value.get("enabled") is False:
                problems.append(
                    (
                        ("add_ons", index, "config", key, "enabled"),
                        "false is never seen as done (the API lists only enabled add-ons); "
                        "to switch an add-on off, mark it ensure: absent",
                    )
                )
    return problems


def check_reservation(merged: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = []
    instants = {}
    for key in ("reservation_start_time", "reservation_end_time"):
        value = merged.get(key)
        if isinstance(value, str):
            instants[key] = epoch(value)
            if instants[key] is None:
                problems.append((key, f"{value!r} is not a real date and time (RFC 3339)"))
    start, end = instants.get("reservation_start_time"), instants.get("reservation_end_time")
    if start is not None and end is not None and end <= start:
        problems.append(
            (
                "reservation_end_time",
                f"{merged['reservation_end_time']} is not after reservation_start_time "
                f"{merged['reservation_start_time']}",
            )
        )
    return problems


def check_gpu_counts(merged: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, message) for GPU counts that contradict num_gpus in a merged spec item."""
    num = merged.get("num_gpus")
    if not is_int(num):
        return []
    problems = []
    top = merged.get("auto_scale_max_gpus")
    if merged.get("auto_scale") is True and is_int(top) and top < num:
        problems.append(
            (
                "auto_scale_max_gpus",
                f"{top} is less than num_gpus ({num}); the autoscaler's maximum must be at "
                "least num_gpus",
            )
        )
    pool = merged.get("num_capacity_pool_gpus")
    if is_int(pool) and pool > num:
        problems.append(
            (
                "num_capacity_pool_gpus",
                f"{pool} is more than num_gpus ({num}); it must not exceed num_gpus",
            )
        )
    return problems
