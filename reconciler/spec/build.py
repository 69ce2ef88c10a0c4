"""The builder: valid, checked documents → the frozen `Spec`. Pure.

The only module of `spec` that constructs model values; it runs after every check passed, so
it reads the documents without guarding against wrong shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.model import (
    DesiredCluster,
    DesiredVolume,
    Ensure,
    Lifecycle,
    Location,
    Prune,
    Spec,
    freeze,
)
from reconciler.schema import CLUSTER_TOOL_KEYS, VOLUME_TOOL_KEYS, merge_cluster, translate_legacy
from reconciler.spec.reader import File, locate


def build_spec(files: Sequence[File], digest: str, warnings: Sequence[str]) -> Spec:
    """Valid documents → the frozen Spec (defaults merged, legacy names translated)."""
    clusters: list[DesiredCluster] = []
    volumes: list[DesiredVolume] = []
    project_id: str | None = None
    prune = Prune()
    for file in files:
        document: Mapping[str, Any] = file.value
        project_id = document.get("project_id", project_id)
        if "prune" in document:
            raw_prune = document["prune"]
            prune = Prune(bool(raw_prune.get("enabled", False)), raw_prune.get("name_prefix"))
        defaults: Mapping[str, Any] = document.get("defaults", {})
        for index, item in enumerate(document.get("volumes", ())):
            volumes.append(_build_volume(file, index, item))
        for index, item in enumerate(document.get("clusters", ())):
            clusters.append(_build_cluster(file, index, item, defaults))
    return Spec(
        clusters=tuple(clusters),
        volumes=tuple(volumes),
        project_id=project_id,
        prune=prune,
        warnings=tuple(warnings),
        digest=digest,
    )


def _build_volume(file: File, index: int, item: Mapping[str, Any]) -> DesiredVolume:
    node, _ = locate(file.node, ("volumes", index), False)
    return DesiredVolume(
        name=item["volume_name"],
        fields=freeze({k: v for k, v in item.items() if k not in VOLUME_TOOL_KEYS}),
        ensure=Ensure(item.get("ensure", "present")),
        lifecycle=_lifecycle(item.get("lifecycle")),
        location=Location(file.path, node[0], node[1]),
    )


def _build_cluster(
    file: File, index: int, item: Mapping[str, Any], defaults: Mapping[str, Any]
) -> DesiredCluster:
    node, _ = locate(file.node, ("clusters", index), False)
    ensure = Ensure(item.get("ensure", "present"))
    merged = merge_cluster(defaults, item) if ensure is Ensure.PRESENT else translate_legacy(item)
    return DesiredCluster(
        name=item["cluster_name"],
        fields=freeze({k: v for k, v in merged.items() if k not in CLUSTER_TOOL_KEYS}),
        ensure=ensure,
        lifecycle=_lifecycle(item.get("lifecycle")),
        volume=merged.get("volume"),
        location=Location(file.path, node[0], node[1]),
    )


def _lifecycle(raw: Mapping[str, Any] | None) -> Lifecycle:
    raw = raw or {}
    return Lifecycle(
        prevent_destroy=bool(raw.get("prevent_destroy", False)),
        ignore_changes=tuple(raw.get("ignore_changes", ())),
        replace_on_change=bool(raw.get("replace_on_change", False)),
    )
