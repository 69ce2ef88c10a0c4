"""The volume kind: shared volumes (`/v1/compute/clusters/storage/volumes`). Pure."""

from __future__ import annotations

from reconciler.kinds import Endpoints

API = Endpoints(
    collection="/v1/compute/clusters/storage/volumes",
    list_key="volumes",
    id_key="volume_id",
    name_key="volume_name",
    required=("volume_id", "volume_name"),
    update_id_in_body=True,
    delete_reports_success=True,
)
