"""A cluster's sub-resources as the API serves them: add-ons and node remediations.

Add-ons (`/v1/compute/clusters/{cluster_id}/addons[/{addon_id}]`): the spec's `AddOnInfo`
has no id, so `addon_id` is the add-on's *name* (percent-encoded in the path) [INF]. The
add-on endpoints list every add-on, enabled or not; the cluster's `add_ons` lists only the
enabled ones (as the spec says of it). An update's `config` is merged key by key into the
stored one, as the cluster update's `add_ons` items are.

Remediations (`.../instances/{instance_id}/remediations[/{id}[/approve|reject|cancel]]`):
`instance_id` is a GPU worker node's `instance_id`; `-` stands for every node of the
cluster (list and get). A create's `?remediation_id=` is the client's id for idempotency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.simulator.cluster_requests import check_add_on_name
from reconciler.simulator.cluster_views import add_on_view
from reconciler.simulator.clusters import AddOn, StoredCluster
from reconciler.simulator.remediations import (
    ALL_INSTANCES,
    API_USER,
    StoredRemediation,
    act_on,
    list_page,
    remediation_view,
)
from reconciler.simulator.shapes import (
    ADD_ON_CREATE,
    ADD_ON_UPDATE,
    APPROVE_BODY,
    COMMENT_BODY,
    REMEDIATION_CREATE,
    check_shape,
)
from reconciler.simulator.wire import ApiFailure, SimRequest, parse_body

if TYPE_CHECKING:
    from reconciler.simulator.store import Store


def changeable_cluster(store: Store, cluster_id: str) -> StoredCluster:
    """The cluster of a change to a sub-resource: 404 if gone, 409 while it is deleted."""
    cluster = store.live_cluster(cluster_id, api=True)
    if cluster.gone_at is not None:
        raise ApiFailure(409, f"cluster {cluster_id} is being deleted", code="failed_precondition")
    return cluster


def find_add_on(cluster: StoredCluster, name: str) -> AddOn:
    found = next((a for a in cluster.fields.add_ons if a.name == name), None)
    if found is None:
        raise ApiFailure(
            404, f"cluster {cluster.cluster_id} has no add-on named {name!r}", code="not_found"
        )
    return found


def on_addons(store: Store, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
    """GET lists the cluster's add-ons; POST creates one (409 if the name is taken)."""
    if method == "GET":
        cluster = store.live_cluster(ids[0], api=True)
        return {"add_ons": [add_on_view(a) for a in cluster.fields.add_ons]}
    body = parse_body(request.body)
    check_shape(body, ADD_ON_CREATE, "")
    cluster = changeable_cluster(store, ids[0])
    taken = {a.name for a in cluster.fields.add_ons}
    check_add_on_name(body["name"], "name", taken, status=409)
    add_on = AddOn(body["add_on_type"], body["name"], dict(body.get("config", {})))
    cluster.fields.add_ons.append(add_on)
    return add_on_view(add_on)


def on_addon(store: Store, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
    """GET, PUT (`{config}`, merged) or DELETE (answers `{}`) one add-on, by name."""
    if method == "GET":
        return add_on_view(find_add_on(store.live_cluster(ids[0], api=True), ids[1]))
    body = parse_body(request.body) if method == "PUT" else {}
    if method == "PUT":
        check_shape(body, ADD_ON_UPDATE, "", updating=True)
    cluster = changeable_cluster(store, ids[0])
    add_on = find_add_on(cluster, ids[1])
    if method == "DELETE":
        cluster.fields.add_ons.remove(add_on)
        return {}
    add_on.config = {**add_on.config, **body.get("config", {})}
    return add_on_view(add_on)


def node_name(cluster: StoredCluster, instance_id: str) -> str:
    """The host name of the GPU node with this instance id; 404 for no such node."""
    for index, node in enumerate(cluster.nodes):
        if node.instance_id == instance_id:
            return f"{cluster.fields.cluster_name}-gpu-{index}"
    raise ApiFailure(
        404,
        f"cluster {cluster.cluster_id} has no GPU node with instance_id {instance_id}",
        code="not_found",
    )


def on_remediations(store: Store, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
    """GET lists (instance `-`: every node); POST creates one, `PENDING` at once."""
    cluster_id, instance_id = ids
    if method == "GET":
        cluster = store.live_cluster(cluster_id, api=True)
        if instance_id != ALL_INSTANCES:
            node_name(cluster, instance_id)
        own = (store.remediations[rid] for rid in store.index.remediations_of(cluster_id))
        found = [r for r in own if instance_id in (ALL_INSTANCES, r.instance_id)]
        return list_page(found, request.query, store.clock())
    body = parse_body(request.body)
    check_shape(body, REMEDIATION_CREATE, "")
    cluster = changeable_cluster(store, cluster_id)
    name = node_name(cluster, instance_id)
    client_id = request.query.get("remediation_id") or None
    if client_id is not None and client_id in store.remediations:
        same = store.remediations[client_id]
        if (same.cluster_id, same.instance_id) != (cluster_id, instance_id):
            raise ApiFailure(
                409, f"remediation_id {client_id} is already used", code="already_exists"
            )
        return remediation_view(same, store.clock())
    remediation = store.new_remediation(
        cluster_id,
        instance_id,
        name,
        body,
        trigger="REMEDIATION_TRIGGER_MANUAL",
        requested_by=API_USER,
        remediation_id=client_id,
    )
    remediation.queue(store.clock(), store.speed)
    return remediation_view(remediation, store.clock())


def find_remediation(store: Store, ids: tuple[str, ...]) -> StoredRemediation:
    cluster_id, instance_id, remediation_id = ids
    store.live_cluster(cluster_id, api=True)
    found = store.remediations.get(remediation_id)
    if (
        found is None
        or found.cluster_id != cluster_id
        or instance_id not in (ALL_INSTANCES, found.instance_id)
    ):
        raise ApiFailure(404, f"remediation {remediation_id} not found", code="not_found")
    return found


def on_remediation(store: Store, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
    return remediation_view(find_remediation(store, ids), store.clock())


def on_remediation_action(action: str) -> Any:
    """The handler of `.../{remediation_id}/{action}` (approve, reject, cancel)."""

    def handle(store: Store, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
        body = parse_body(request.body)
        check_shape(body, APPROVE_BODY if action == "approve" else COMMENT_BODY, "")
        remediation = find_remediation(store, ids)
        act_on(remediation, action, body, store.clock(), store.speed)
        return remediation_view(remediation, store.clock())

    return handle
