"""The volume kind: shared volumes (`/v1/compute/clusters/storage/volumes`). Pure.

Volumes grow and never shrink; a region change loses the data, so it is a replace that must be
allowed explicitly. Clusters refer to volumes by name (`volume:`), so volumes are created
first and deleted last.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds.base import Endpoints, Field, FieldClass, Hooks, Kind, Texts
from reconciler.kinds.catalogue import region_problem
from reconciler.model import ActionKind, Region

FIELDS = (
    Field("size_tib", FieldClass.IN_PLACE),
    # Not every answer reports a volume's region: absent, it is taken as the spec's.
    Field("region", FieldClass.REPLACE, unreported_matches=True),
    Field("is_lifecycle_independent", FieldClass.CREATE_ONLY),
    # Not offered in specs: a cluster names its volume instead of a volume its cluster.
    Field("instance_cluster_id", FieldClass.CREATE_ONLY, in_spec=False),
    Field("project_id", FieldClass.CREATE_ONLY, in_spec=False),  # the spec's top-level one
)


def grow_only(live: Mapping[str, Any], wanted: Mapping[str, Any]) -> str | None:
    before, after = live.get("size_tib"), wanted.get("size_tib")
    if isinstance(before, int) and isinstance(after, int) and after < before:
        return (
            f"shrinking a shared volume ({before} -> {after} TiB) is not supported by the API; "
            "volumes can only grow"
        )
    return None


def catalogue(body: Mapping[str, Any], regions: Mapping[str, Region]) -> str | None:
    return region_problem(body, regions)


KIND = Kind(
    name="volume",
    plural="volumes",
    api=Endpoints(
        collection="/v1/compute/clusters/storage/volumes",
        list_key="volumes",
        id_key="volume_id",
        name_key="volume_name",
        required=("volume_id", "volume_name"),
        update_id_in_body=True,
        delete_reports_success=True,
    ),
    fields=FIELDS,
    rank={
        ActionKind.CREATE: 0,  # before the clusters that mount them
        ActionKind.UPDATE: 0,
        ActionKind.REPLACE: 0,
        ActionKind.DELETE: 6,  # after the clusters that used them are gone
    },
    texts=Texts(
        update_reason="size differs from the spec",
        replace_reason="the region of a volume cannot change",
        replace_why="changing {fields} forces replacement of the volume and loses its data",
    ),
    hooks=Hooks(update_guard=grow_only, catalogue=catalogue),
)
API = KIND.api
