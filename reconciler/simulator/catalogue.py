"""What the simulated service offers: GPU types, enums, regions and their driver catalogue.

`REGIONS` is exactly what `GET /v1/compute/regions` answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from reconciler.simulator.wire import bad

GPU_TYPES = (
    "H100_SXM",
    "H200_SXM",
    "RTX_6000_PCI",
    "L40_PCIE",
    "B200_SXM",
    "H100_SXM_INF",
    "B300_SXM",
    "GB200_SXM",
)
BILLING_TYPES = ("RESERVED", "ON_DEMAND", "SCHEDULED_CAPACITY")
CLUSTER_TYPES = ("KUBERNETES", "SLURM")
LOAD_BALANCERS = ("NONE", "TRAEFIK", "NGINX", "ISTIO")
ADD_ON_TYPES = ("dashboard", "headlamp", "ingress", "slurm_web")
DCGM_LEVELS = (
    "DCGM_DIAG_LEVEL_SHORT",
    "DCGM_DIAG_LEVEL_MEDIUM",
    "DCGM_DIAG_LEVEL_LONG",
    "DCGM_DIAG_LEVEL_EXTENDED",
)
DEFAULT_OS = "ubuntu-22.04"
GPU_OPERATOR_DEFAULT = "v24.6.2"
MAX_GPUS = 4096


class DriverVersion(TypedDict):
    """One entry of a region's driver catalogue, as the API lists it."""

    id: str
    cuda_version: str
    nvidia_driver_version: str
    os: str


class Region(TypedDict):
    """One region, as the API lists it."""

    name: str
    supported_instance_types: list[str]
    driver_versions: list[DriverVersion]


def _driver(region_code: str, cuda: str, driver: str, os_name: str = DEFAULT_OS) -> DriverVersion:
    os_code = os_name.replace("ubuntu-", "u").replace(".", "")
    return {
        "id": f"nv-{region_code}-{cuda}-{driver}-{os_code}",
        "cuda_version": cuda,
        "nvidia_driver_version": driver,
        "os": os_name,
    }


REGIONS: tuple[Region, ...] = (
    {
        "name": "us-central-8",
        "supported_instance_types": ["H100_SXM", "H200_SXM", "B200_SXM"],
        "driver_versions": [
            _driver("usc8", "12.5", "555"),
            _driver("usc8", "12.6", "560"),
            _driver("usc8", "12.8", "570"),
            _driver("usc8", "12.8", "570", "ubuntu-24.04"),
        ],
    },
    {
        "name": "us-central-4",
        "supported_instance_types": ["H100_SXM", "RTX_6000_PCI", "L40_PCIE"],
        "driver_versions": [_driver("usc4", "12.5", "555"), _driver("usc4", "12.6", "560")],
    },
    {
        "name": "us-east-1",
        "supported_instance_types": ["H200_SXM", "B200_SXM", "B300_SXM", "GB200_SXM"],
        "driver_versions": [_driver("use1", "12.8", "570"), _driver("use1", "12.9", "575")],
    },
    {
        "name": "eu-north-1",
        "supported_instance_types": ["H100_SXM", "H100_SXM_INF"],
        "driver_versions": [_driver("eun1", "12.6", "560"), _driver("eun1", "12.8", "570")],
    },
)
REGION_BY_NAME = {region["name"]: region for region in REGIONS}


def _by_version_id(body: Mapping[str, Any], region: Region) -> DriverVersion | None:
    if "nvidia_version_id" not in body:
        return None
    found = next(
        (e for e in region["driver_versions"] if e["id"] == body["nvidia_version_id"]), None
    )
    if found is None:
        raise bad(
            f"nvidia_version_id {body['nvidia_version_id']!r} is not offered in region "
            f"{region['name']} (see GET /v1/compute/regions)",
            "nvidia_version_id",
        )
    return found


def _by_pair(body: Mapping[str, Any], region: Region) -> DriverVersion:
    entries = region["driver_versions"]
    cuda, _, os_name = str(body["cuda_version"]).partition("-")
    os_name = os_name or DEFAULT_OS
    by_pair = next(
        (
            e
            for e in entries
            if e["cuda_version"] == cuda
            and e["nvidia_driver_version"] == body["nvidia_driver_version"]
            and e["os"] == os_name
        ),
        None,
    )
    if by_pair is None:
        pairs = ", ".join(f"{e['cuda_version']}/{e['nvidia_driver_version']}" for e in entries)
        raise bad(
            f"cuda_version {body['cuda_version']} with nvidia_driver_version "
            f"{body['nvidia_driver_version']} is not offered in region {region['name']} "
            f"(offered: {pairs})",
            "nvidia_driver_version",
        )
    return by_pair


def resolve_driver(body: Mapping[str, Any]) -> DriverVersion:
    """The catalogue entry chosen by `nvidia_version_id` and/or the cuda/driver pair."""
    region = REGION_BY_NAME[body["region"]]
    by_id = _by_version_id(body, region)
    has_cuda, has_driver = "cuda_version" in body, "nvidia_driver_version" in body
    if has_cuda != has_driver:
        missing = "nvidia_driver_version" if has_cuda else "cuda_version"
        raise bad(
            f"{missing} is required: cuda_version and nvidia_driver_version go together", missing
        )
    if not has_cuda:
        if by_id is None:
            raise bad(
                "nvidia_version_id (or cuda_version with nvidia_driver_version) is required",
                "nvidia_version_id",
                "missing_field",
            )
        return by_id
    by_pair = _by_pair(body, region)
    if by_id is not None and by_id["id"] != by_pair["id"]:
        raise bad(
            "nvidia_version_id and cuda_version/nvidia_driver_version resolve to different "
            "catalogue entries",
            "nvidia_version_id",
        )
    return by_pair
