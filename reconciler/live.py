"""API JSON → the comparable model; every normalisation of field values lives here. Pure.

Both sides of a comparison go through `comparable_fields`, so a value the user wrote and the
value the API echoes compare equal whenever they mean the same thing (DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.model import (
    CLUSTER_COMPARED_FIELDS,
    DriverVersion,
    LiveCluster,
    LiveState,
    LiveVolume,
    Region,
    freeze,
    frozen_map,
)

#: Live field name → spec field name, where the API echoes a create field under another name.
LIVE_ALIASES: Mapping[str, str] = {
    "desired_preemptible_gpus": "num_preemptible_gpus",
    "nvidia_driver_version_id": "nvidia_version_id",
}
ENUM_FIELDS = frozenset({"cluster_type", "gpu_type", "billing_type"})
TIME_FIELDS = frozenset({"reservation_start_time", "reservation_end_time"})
#: What the server assumes when a create omits the field (REFERENCE §3).
SERVER_DEFAULTS: Mapping[str, Any] = {
    "cluster_type": "KUBERNETES",
    "install_traefik": False,
    "num_preemptible_gpus": 0,
}
#: Statuses that mean "will not become Ready by itself"; flagged in plans.
UNHEALTHY_STATUSES = frozenset({"Degraded", "Paused", "OnDemandComputePaused"})
READY = "Ready"
DELETING = "Deleting"


def normalise_time(value: Any) -> Any:
    """An RFC 3339 timestamp → canonical UTC `YYYY-MM-DDTHH:MM:SSZ`; anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return value
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{instant.microsecond:06d}Z" if instant.microsecond else "Z"
    )


def normalise_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in ENUM_FIELDS and isinstance(value, str):
        return value.upper()
    if name in TIME_FIELDS:
        return normalise_time(value)
    if name in ("cuda_version", "nvidia_driver_version", "nvidia_version_id"):
        return str(value)
    return value


def comparable_fields(fields: Mapping[str, Any], *, desired: bool) -> dict[str, Any]:
    """The compared cluster fields of `fields`, normalised, with the API's defaults filled in.

    Defaults the server applies are made explicit on both sides, so that dropping a field from
    the spec shows as a change back to the default, and an API that omits a field at its
    default shows no phantom change.
    """
    result: dict[str, Any] = {}
    for key, value in fields.items():
        name = LIVE_ALIASES.get(key, key) if not desired else key
        if name in CLUSTER_COMPARED_FIELDS:
            result[name] = normalise_value(name, value)
    for key, default in SERVER_DEFAULTS.items():
        if result.get(key) is None:
            result[key] = default
    if desired and result.get("billing_type") == "RESERVED" and "num_gpus" in result:
        result.setdefault("num_reserved_gpus", result["num_gpus"])
    return result


def _require_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{what} without a string {key!r}")
    return value


def parse_cluster(obj: Mapping[str, Any]) -> LiveCluster:
    """One cluster object of the API → LiveCluster (the client already checked the id keys)."""
    name = _require_str(obj, "cluster_name", "cluster")
    volumes = obj.get("volumes") or ()
    num_gpus = obj.get("num_gpus")
    return LiveCluster(
        cluster_id=_require_str(obj, "cluster_id", f"cluster {name!r}"),
        name=name,
        status=_require_str(obj, "status", f"cluster {name!r}"),
        fields=freeze(comparable_fields(obj, desired=False)),
        volume_ids=tuple(
            str(v["volume_id"]) for v in volumes if isinstance(v, Mapping) and "volume_id" in v
        ),
        num_gpus=num_gpus if isinstance(num_gpus, int) else 0,
        gpu_type=str(obj.get("gpu_type") or "").upper(),
    )


def parse_volume(obj: Mapping[str, Any]) -> LiveVolume:
    name = _require_str(obj, "volume_name", "volume")
    fields = {k: obj[k] for k in ("size_tib", "region") if obj.get(k) is not None}
    return LiveVolume(
        volume_id=_require_str(obj, "volume_id", f"volume {name!r}"),
        name=name,
        status=str(obj.get("status") or "unknown"),
        fields=frozen_map(fields),
    )


def parse_live_state(
    clusters: Sequence[Mapping[str, Any]], volumes: Sequence[Mapping[str, Any]] = ()
) -> LiveState:
    """The two list responses → LiveState, sorted by name then id for stable plans."""
    parsed_clusters = sorted(
        (parse_cluster(c) for c in clusters), key=lambda c: (c.name, c.cluster_id)
    )
    parsed_volumes = sorted((parse_volume(v) for v in volumes), key=lambda v: (v.name, v.volume_id))
    return LiveState(clusters=tuple(parsed_clusters), volumes=tuple(parsed_volumes))


def parse_regions(regions: Sequence[Mapping[str, Any]]) -> tuple[Region, ...]:
    """The regions catalogue; driver entries without an id (older API) keep an empty id."""
    parsed = []
    for region in regions:
        drivers = tuple(
            DriverVersion(
                id=str(d.get("id") or ""),
                cuda_version=str(d.get("cuda_version") or ""),
                nvidia_driver_version=str(d.get("nvidia_driver_version") or ""),
                os=str(d.get("os") or ""),
            )
            for d in region.get("driver_versions") or ()
            if isinstance(d, Mapping)
        )
        types = tuple(str(t).upper() for t in region.get("supported_instance_types") or ())
        parsed.append(Region(name=str(region.get("name")), gpu_types=types, drivers=drivers))
    return tuple(sorted(parsed, key=lambda r: r.name))
