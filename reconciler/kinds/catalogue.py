"""The regions catalogue's answer to a create body: can it be served there? Pure.

Shared by the kinds whose creates name a region (DESIGN §6: online checks before any prompt).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.model import Region


def region_problem(body: Mapping[str, Any], regions: Mapping[str, Region]) -> str | None:
    name = body.get("region")
    if str(name) not in regions:
        return f"region {name!r} does not exist; available: {', '.join(sorted(regions))}"
    return None


def compute_problem(body: Mapping[str, Any], regions: Mapping[str, Region]) -> str | None:
    """Why the catalogue cannot serve this create body, with the available choices; or None."""
    problem = region_problem(body, regions)
    if problem is not None:
        return problem
    region = regions[str(body.get("region"))]
    if "gpu_type" in body:
        gpu_type = str(body["gpu_type"]).upper()
        if gpu_type not in region.gpu_types:
            return (
                f"GPU type {gpu_type} is not offered in {region.name}; available there: "
                f"{', '.join(region.gpu_types) or 'none'}"
            )
    version_id = body.get("nvidia_version_id")
    if version_id is not None and not any(d.id == version_id for d in region.drivers):
        ids = ", ".join(d.id for d in region.drivers if d.id)
        return f"nvidia_version_id {version_id!r} is not offered in {region.name}; available: {ids}"
    cuda, driver = body.get("cuda_version"), body.get("nvidia_driver_version")
    if (
        cuda is not None
        and driver is not None
        and not any(
            _same_cuda(d.cuda_version, str(cuda)) and d.nvidia_driver_version == str(driver)
            for d in region.drivers
        )
    ):
        pairs = ", ".join(
            sorted({f"{d.cuda_version}/{d.nvidia_driver_version}" for d in region.drivers})
        )
        return (
            f"CUDA {cuda} with driver {driver} is not offered in {region.name}; "
            f"available cuda/driver pairs: {pairs}"
        )
    return None


def _same_cuda(offered: str, wanted: str) -> bool:
    # "Bare semantic values such as 12.5 select ubuntu-22.04; OS-suffixed values remain
    # accepted" (REFERENCE §3b): compare the semantic part.
    return offered.split("-")[0] == wanted.split("-")[0]
