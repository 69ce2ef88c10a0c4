"""The simulated Together GPU cluster API as a pure, in-memory state machine.

`SimState.handle` turns one `SimRequest` into one `SimResponse`; time comes only from the
injected clock and randomness only from a seeded PRNG, so every run is reproducible. The
HTTP server (http.py) and the httpx transport (transport.py) are thin shells around it.

Answers follow the 2026-07 spec (../shared/api/together-openapi-compute-2026-07.yaml): a
field without a value is left out, never `null`; only the spec's fields are sent, except
`num_reserved_gpus` and `num_capacity_pool_gpus` (the SDK requires them and the tool compares
them), the regions' `id`/`os`, and the SDK's extra add-on types and GPU types; a volume reports no
`region` (neither the spec nor the SDK has it). A `null` member of a request body reads
as absent (the official CLI sends them). Where the API is undocumented the simulator makes a
choice and says so ([INF] in comments):
- request-rule violations answer 400 naming the field in `error.param`;
- an `Idempotency-Key` reused with a different body answers 422;
- deleting a volume attached to a live cluster answers 409;
- scaling (`num_gpus`) a cluster that is not Ready/Degraded, or updating one that is
  Deleting (or changing its add-ons), answers 409;
- status-code faults are answered *before* the request is committed; "drop" and "stall"
  faults commit the request first;
- add-ons: `addon_id` in the add-on paths is the add-on's name (the spec's `AddOnInfo` has
  no id), percent-encoded; a taken name is 409, an unknown one 404; the add-on endpoints list
  disabled add-ons too, the cluster's `add_ons` only enabled ones; PUT merges `config`;
- remediations: `instance_id` is a GPU node's `instance_id`, `-` every node (list, get and
  actions); API-created ones are `PENDING`, then `RUNNING` and `SUCCEEDED` on the clock
  (subresources.py, remediations.py); only the spec's four modes are accepted; list filters
  take comma-joined values (as the SDK sends them); `page_token` is an offset;
- a SCHEDULED_CAPACITY cluster (with `scheduled_waits` on) waits until its
  `reservation_start_time` with status `WaitingForControlPlaneNodes` (the spec's status enum
  has no scheduled value) and `CLUSTER_PHASE_SCHEDULED` as its last phase, and no nodes;
- paused clusters (`Paused`, `OnDemandComputePaused`) come only from the `pause` hook: a
  pause is not a per-request fault, so it has no `--fault` kind.

Test and admin hooks (store.py): `pause`, `recover`, `stick`, `degrade`,
`request_remediation` (a system remediation in `PENDING_APPROVAL`), `oob_update`,
`add_cluster`, `add_volume`. The state file keeps `scheduled_waits` and the remediations.

The parts: wire (requests, routes, errors, the list filter), catalogue, shapes, faults, clusters
(+ request rules, views), volumes, remediations, subresources (add-on and remediation routes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from reconciler.acyclic import paused_gc
from reconciler.simulator.catalogue import REGIONS
from reconciler.simulator.clusters import DEMO_SPEED, PHASE_SECONDS, StoredCluster
from reconciler.simulator.faults import (
    FAULT_KINDS,
    Faults,
    PendingFault,
    check_queued_kind,
    draw_fault,
    fault_response,
)
from reconciler.simulator.idempotency import idempotent
from reconciler.simulator.prng import Prng
from reconciler.simulator.remediations import StoredRemediation
from reconciler.simulator.shapes import (
    CLUSTER_CREATE,
    CLUSTER_UPDATE,
    VOLUME_CREATE,
    VOLUME_UPDATE,
    check_shape,
)
from reconciler.simulator.store import Store
from reconciler.simulator.subresources import (
    on_addon,
    on_addons,
    on_remediation,
    on_remediation_action,
    on_remediations,
)
from reconciler.simulator.view_cache import (
    cluster_answer,
    cluster_list,
    created_answer,
    to_json,
)
from reconciler.simulator.volumes import StoredVolume
from reconciler.simulator.wire import (
    DEFAULT_TOKEN,
    MUTATING,
    ROUTE_ADDON,
    ROUTE_ADDONS,
    ROUTE_CLUSTER,
    ROUTE_CLUSTERS,
    ROUTE_METHODS,
    ROUTE_REGIONS,
    ROUTE_REMEDIATION,
    ROUTE_REMEDIATION_ACTIONS,
    ROUTE_REMEDIATIONS,
    ROUTE_VOLUME,
    ROUTE_VOLUMES,
    ApiFailure,
    RequestRecord,
    SimRequest,
    SimResponse,
    error_body,
    format_time,
    match_route,
    parse_body,
    project_filter,
)

API_VERSION = 1  # of the saved state's format

# Names that lived here before the split, kept importable from this module.
__all__ = [
    "API_VERSION",
    "DEFAULT_TOKEN",
    "DEMO_SPEED",
    "FAULT_KINDS",
    "MUTATING",
    "PHASE_SECONDS",
    "REGIONS",
    "ROUTE_ADDON",
    "ROUTE_ADDONS",
    "ROUTE_CLUSTER",
    "ROUTE_CLUSTERS",
    "ROUTE_REGIONS",
    "ROUTE_REMEDIATION",
    "ROUTE_REMEDIATIONS",
    "ROUTE_VOLUME",
    "ROUTE_VOLUMES",
    "Faults",
    "SimRequest",
    "SimResponse",
    "SimState",
    "format_time",
]

# A route's handler: (state, method, path parameters, request) → the answer's JSON.
Route = Callable[[Any, str, tuple[str, ...], SimRequest], Any]


class SimState(Store):
    """Clusters, volumes and the regions catalogue; `handle` answers one request."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        token: str = DEFAULT_TOKEN,
        speed: float = 1.0,
        seed: int = 0,
        faults: Faults | None = None,
        scheduled_waits: bool = True,
    ) -> None:
        super().__init__(clock=clock, speed=speed, seed=seed, scheduled_waits=scheduled_waits)
        self.token = token
        self.seed = seed
        self.faults = faults or Faults()
        self.fault_rng = Prng(seed ^ 0x5EED_FA17)
        self.idempotency: dict[str, dict[str, str]] = {}
        # The real API documents no Idempotency-Key: `sim serve --ignore-idempotency-key`
        # behaves so, and tests prove "never twice" without the header's help.
        self.ignore_idempotency_key = False
        self.request_log: list[RequestRecord] = []
        self.pending_faults: list[PendingFault] = []
        self.request_counter = 0

    # --- public helpers for tests and the shells -----------------------------------------

    def count(self, method: str, route: str) -> int:
        """How many requests with this method hit this route template (or literal path)."""
        method = method.upper()
        return sum(1 for r in self.request_log if r.method == method and route in (r.route, r.path))

    def queue_fault(
        self,
        kind: str | int,
        *,
        times: int = 1,
        method: str | None = None,
        route: str | None = None,
    ) -> None:
        """Force the next `times` matching requests (any method, reads too) to fail with `kind`."""
        kind = str(kind)
        check_queued_kind(kind)
        self.pending_faults.append(PendingFault(kind, times, method and method.upper(), route))

    # --- request handling ------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request: auth, routing, faults, then the operation (with the cyclic
        collector paused: a 10,000-cluster list answer is a million new objects in a tree)."""
        with paused_gc():
            try:
                return self._handle(request)
            finally:
                self.end()

    def _handle(self, request: SimRequest) -> SimResponse:
        method = request.method.upper()
        path = request.path.rstrip("/") or "/"
        route, ids = match_route(path)
        self.request_counter += 1
        self.begin(method)
        fault: str | None = None
        try:
            self.check_request(request, method, path, route)
            assert route is not None
            fault = draw_fault(self.pending_faults, self.faults, self.fault_rng, method, route)
            if fault is not None and fault.isdigit():
                headers = self.base_headers()
                response = fault_response(int(fault), self.faults.retry_after, headers)
                fault = None
            else:
                payload = ROUTES[route](self, method, ids, request)
                response = self.json_response(200, payload)
        except ApiFailure as exc:
            response = SimResponse(
                exc.status,
                error_body(exc.status, exc.message, exc.param, exc.code),
                self.base_headers(),
            )
        if fault is not None:
            response = replace(response, fault=fault)
        self.request_log.append(
            RequestRecord(method, path, route or path, response.status, fault or None)
        )
        return response

    def check_request(self, request: SimRequest, method: str, path: str, route: str | None) -> None:
        """401 without the token, 404 off the route table, 405 for a method it does not list."""
        if request.headers.get("authorization", "") != f"Bearer {self.token}":
            raise ApiFailure(
                401,
                "invalid or missing API key (Authorization: Bearer ...)",
                code="invalid_api_key",
            )
        if route is None:
            raise ApiFailure(404, f"no such endpoint: {path}", code="not_found")
        if method not in ROUTE_METHODS[route]:
            raise ApiFailure(
                405, f"method {method} is not allowed on {path}", code="method_not_allowed"
            )

    def base_headers(self) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-request-id": f"sim-req-{self.request_counter}",
        }

    def json_response(self, status: int, payload: Any) -> SimResponse:
        """`payload` written as JSON; bytes are JSON written already (view_cache.py)."""
        body = payload if isinstance(payload, bytes) else to_json(payload)
        return SimResponse(status, body, self.base_headers())

    def on_regions(self, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
        return {"regions": json.loads(json.dumps(REGIONS))}

    def on_clusters(self, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
        if method == "GET":
            return cluster_list(self, project_filter(request.query))
        body = parse_body(request.body)
        check_shape(body, CLUSTER_CREATE, "")

        def create() -> tuple[str, dict[str, Any] | bytes]:
            cluster = self.create_cluster(body)
            return cluster.cluster_id, created_answer(self, cluster)

        return idempotent(self, "cluster", request, body, create)

    def on_cluster(self, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
        (resource_id,) = ids
        cluster = self.live_cluster(resource_id, api=True)
        if method == "GET":
            return cluster_answer(self, cluster)
        if method == "PUT":
            body = parse_body(request.body)
            check_shape(body, CLUSTER_UPDATE, "", updating=True)
            self.update_cluster(cluster, body)
            return self.cluster_view(cluster)
        self.delete_cluster(cluster)
        return {"cluster_id": resource_id}

    def on_volumes(self, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
        if method == "GET":
            project = project_filter(request.query)
            views = [
                self.volume_view(v, self.index.is_attached(v.volume_id))
                for v in self.volumes.values()
                if project is None or v.project_id == project
            ]
            return {"volumes": views}
        body = parse_body(request.body)
        if method == "POST":
            check_shape(body, VOLUME_CREATE, "")

            def create() -> tuple[str, dict[str, Any]]:
                volume = self.create_volume(body)
                return volume.volume_id, self.volume_view(volume)

            return idempotent(self, "volume", request, body, create)
        check_shape(body, VOLUME_UPDATE, "", updating=True)
        volume = self.live_volume(body["volume_id"], api=True)
        volume.grow(body)
        return self.volume_view(volume)

    def on_volume(self, method: str, ids: tuple[str, ...], request: SimRequest) -> Any:
        (resource_id,) = ids
        volume = self.live_volume(resource_id, api=True)
        if method == "GET":
            return self.volume_view(volume)
        self.delete_volume(volume)
        return {"success": True}

    # --- persistence ---------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Everything needed to continue after a restart (not the request log)."""
        self.sweep()
        return {
            "format": "reconciler-sim",
            "version": API_VERSION,
            "token": self.token,
            "speed": self.speed,
            "seed": self.seed,
            "scheduled_waits": self.scheduled_waits,
            "faults": self.faults.to_json(),
            "prng": {"ids": self.ids.state, "faults": self.fault_rng.state},
            "clusters": {cid: c.to_json() for cid, c in self.clusters.items()},
            "volumes": {vid: v.to_json() for vid, v in self.volumes.items()},
            "remediations": {rid: r.to_json() for rid, r in self.remediations.items()},
            "idempotency": json.loads(json.dumps(self.idempotency)),
            "request_counter": self.request_counter,
        }

    @classmethod
    def from_json(
        cls,
        data: Any,
        *,
        clock: Callable[[], float],
        token: str | None = None,
        speed: float | None = None,
        faults: Faults | None = None,
    ) -> SimState:
        """Rebuild a state saved by `to_json`; keyword arguments override what was saved."""
        if data.get("format") != "reconciler-sim" or data.get("version") != API_VERSION:
            raise ValueError("not a reconciler simulator state (format/version mismatch)")
        state = cls(
            clock=clock,
            token=token if token is not None else str(data["token"]),
            speed=speed if speed is not None else float(data["speed"]),
            seed=int(data["seed"]),
            faults=faults if faults is not None else Faults.from_json(data["faults"]),
            scheduled_waits=bool(data.get("scheduled_waits", True)),
        )
        state.ids.state = int(data["prng"]["ids"])
        state.fault_rng.state = int(data["prng"]["faults"])
        state.clusters = {k: StoredCluster.from_json(c) for k, c in data["clusters"].items()}
        state.volumes = {k: StoredVolume.from_json(v) for k, v in data["volumes"].items()}
        state.remediations = {
            k: StoredRemediation.from_json({"id": k, **r})
            for k, r in data.get("remediations", {}).items()
        }
        state.index.rebuild(state.clusters.values(), state.remediations.values())
        state.idempotency = dict(data["idempotency"])
        state.request_counter = int(data.get("request_counter", 0))
        return state


ROUTES: dict[str, Route] = {
    ROUTE_REGIONS: SimState.on_regions,
    ROUTE_CLUSTERS: SimState.on_clusters,
    ROUTE_CLUSTER: SimState.on_cluster,
    ROUTE_VOLUMES: SimState.on_volumes,
    ROUTE_VOLUME: SimState.on_volume,
    ROUTE_ADDONS: on_addons,
    ROUTE_ADDON: on_addon,
    ROUTE_REMEDIATIONS: on_remediations,
    ROUTE_REMEDIATION: on_remediation,
    **{route: on_remediation_action(action) for action, route in ROUTE_REMEDIATION_ACTIONS.items()},
}
