"""The add-on kind: add-ons of a cluster (`/v1/compute/clusters/{cluster_id}/addons`). Pure.

Nested under their cluster in the spec (`add_ons: [{name, add_on_type, config, ensure}]`) and in
the cluster's answers. A new cluster is created with its add-ons in its create body; on a live
cluster each add-on is added, changed or (ensure: absent) removed through the add-on endpoints,
never by replacing the cluster. Add-ons the spec does not name are left alone.

The API's AddOnInfo has no id: the add-on's name, unique on its cluster, is the `{addon_id}`
of its path (the simulator does the same; REFERENCE and the 2026-07 spec leave it open).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.kinds.base import (
    Endpoints,
    Field,
    FieldClass,
    Hooks,
    Kind,
    Parent,
    Statuses,
    Texts,
)
from reconciler.model import ActionKind

FIELDS = (
    # Add-on answers carry the whole stored config: a key the spec sets and live lacks is a
    # change (unlike cluster_config, whose answers leave some keys out).
    Field("config", FieldClass.IN_PLACE, echoed_whole=True),
    # Another type is another add-on: the old one is removed, the new one added (cheap, and
    # the cluster stays), so no consent is asked for.
    Field("add_on_type", FieldClass.REPLACE),
    Field("state", FieldClass.COMPUTED),
)


def enable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The API lists only enabled add-ons in a cluster's answer: one that exists disabled is
    not seen, and its create is refused (409). It is enabled, with the config the spec gives."""
    return {"config": body.get("config") or {str(body["add_on_type"]): {"enabled": True}}}


KIND = Kind(
    name="add-on",
    plural="add_ons",
    api=Endpoints(
        collection="/v1/compute/clusters/{parent_id}/addons",
        list_key="add_ons",
        id_key="name",
        name_key="name",
        required=("name", "add_on_type"),
        noun="add-on",  # its id key is `name`: "name 'dash' lacks ..." said nothing
    ),
    fields=FIELDS,
    rank={  # with the cluster updates: after creates, before deletes
        ActionKind.CREATE: 3,
        ActionKind.UPDATE: 3,
        ActionKind.REPLACE: 3,
        ActionKind.DELETE: 3,
    },
    statuses=Statuses(default=""),
    parent=Parent(kind="cluster", key="add_ons"),
    replace_needs_consent=False,
    hooks=Hooks(conflict_update=enable),
    texts=Texts(
        update_reason="its config differs from the spec",
        replace_reason="its add_on_type changed",
        replace_why="changing {fields} removes the add-on and adds it again",
    ),
)
API = KIND.api
