"""A stored shared volume: its typed record, its request rules, its views and saved form."""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.simulator.catalogue import REGION_BY_NAME
from reconciler.simulator.wire import bad

VOLUME_PROVISION_SECONDS = 90.0


@dataclass
class StoredVolume:
    """One volume as the simulator keeps it; it is `provisioning` until `available_at`."""

    volume_id: str
    volume_name: str
    size_tib: int
    region: str
    project_id: str
    is_lifecycle_independent: bool
    created_at: float
    available_at: float

    def grow(self, body: Mapping[str, Any]) -> None:
        """Apply an update body (shape-checked): volumes only grow."""
        if "size_tib" not in body:
            return
        size = body["size_tib"]
        if size < self.size_tib:
            raise bad(
                f"size_tib {size} is smaller than the current {self.size_tib}: volumes can "
                "only grow (contact support to reduce)",
                "size_tib",
                "shrink_not_allowed",
            )
        self.size_tib = size

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredVolume:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def check_volume_body(body: Mapping[str, Any], prefix: str, cluster_ids: Container[str]) -> None:
    """The rules beyond the shape of a create body (`prefix` for one inside a cluster's)."""
    if not body["volume_name"].strip():
        raise bad(f"{prefix}volume_name must not be empty", f"{prefix}volume_name")
    if body["size_tib"] < 1:
        raise bad(f"{prefix}size_tib must be at least 1 (whole tebibytes)", f"{prefix}size_tib")
    if body["region"] not in REGION_BY_NAME:
        raise bad(f"region {body['region']!r} does not exist", f"{prefix}region")
    if "instance_cluster_id" in body and body["instance_cluster_id"] not in cluster_ids:
        raise bad(
            f"instance_cluster_id {body['instance_cluster_id']} does not exist",
            f"{prefix}instance_cluster_id",
        )


def new_volume(
    volume_id: str, body: Mapping[str, Any], project: str, now: float, provision: float
) -> StoredVolume:
    return StoredVolume(
        volume_id=volume_id,
        volume_name=body["volume_name"],
        size_tib=body["size_tib"],
        region=body["region"],
        project_id=body.get("project_id") or project,
        is_lifecycle_independent=body.get("is_lifecycle_independent", False),
        created_at=now,
        available_at=now + provision,
    )


def volume_view(volume: StoredVolume, now: float, attached: bool) -> dict[str, Any]:
    """The volume as the API returns it: no `region` (neither the spec nor the SDK has it; the
    simulator keeps it, to check a cluster mounts a volume of its own region)."""
    if now < volume.available_at:
        status = "provisioning"
    elif attached:
        status = "bound"
    else:
        status = "available"
    return {
        "volume_id": volume.volume_id,
        "volume_name": volume.volume_name,
        "size_tib": volume.size_tib,
        "status": status,
    }


def volume_summary(volume: StoredVolume, now: float) -> dict[str, Any]:
    """A cluster's `volumes[]` item: attached by definition, bound once provisioned."""
    return {
        "volume_id": volume.volume_id,
        "volume_name": volume.volume_name,
        "size_tib": volume.size_tib,
        "status": "provisioning" if now < volume.available_at else "bound",
    }
