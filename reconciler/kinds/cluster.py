"""The cluster kind: GPU clusters (`/v1/compute/clusters`). Pure."""

from __future__ import annotations

from reconciler.kinds import Endpoints

API = Endpoints(
    collection="/v1/compute/clusters",
    list_key="clusters",
    id_key="cluster_id",
    name_key="cluster_name",
    required=("cluster_id", "cluster_name", "status"),
)
