"""The simulator's wire: request and answer values, the route table, error answers, time.

Everything here is about HTTP as the Together API speaks it, nothing about what is stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

DEFAULT_TOKEN = "sim-token"
DEFAULT_PROJECT = "proj-sim"

ROUTE_CLUSTERS = "/v1/compute/clusters"
ROUTE_CLUSTER = "/v1/compute/clusters/{id}"
ROUTE_REGIONS = "/v1/compute/regions"
ROUTE_VOLUMES = "/v1/compute/clusters/storage/volumes"
ROUTE_VOLUME = "/v1/compute/clusters/storage/volumes/{id}"
ROUTE_ADDONS = "/v1/compute/clusters/{id}/addons"
ROUTE_ADDON = "/v1/compute/clusters/{id}/addons/{addon_id}"
ROUTE_REMEDIATIONS = "/v1/compute/clusters/{id}/instances/{instance_id}/remediations"
ROUTE_REMEDIATION = f"{ROUTE_REMEDIATIONS}/{{remediation_id}}"
REMEDIATION_ACTIONS = ("approve", "reject", "cancel")
ROUTE_REMEDIATION_ACTIONS = {
    action: f"{ROUTE_REMEDIATION}/{action}" for action in REMEDIATION_ACTIONS
}
ROUTE_METHODS = {
    ROUTE_CLUSTERS: ("GET", "POST"),
    ROUTE_CLUSTER: ("GET", "PUT", "DELETE"),
    ROUTE_REGIONS: ("GET",),
    ROUTE_VOLUMES: ("GET", "POST", "PUT"),
    ROUTE_VOLUME: ("GET", "DELETE"),
    ROUTE_ADDONS: ("GET", "POST"),
    ROUTE_ADDON: ("GET", "PUT", "DELETE"),
    ROUTE_REMEDIATIONS: ("GET", "POST"),
    ROUTE_REMEDIATION: ("GET",),
    **{route: ("POST",) for route in ROUTE_REMEDIATION_ACTIONS.values()},
}
MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass(frozen=True)
class SimRequest:
    """One HTTP request as the simulator sees it (header names lower-case)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class SimResponse:
    """One answer; `fault` tells the shell to "drop" the connection or "stall" the answer."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    fault: str | None = None

    def json(self) -> Any:
        """The body parsed as JSON (a convenience for tests)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class RequestRecord:
    """One line of the request log."""

    method: str
    path: str
    route: str
    status: int
    fault: str | None


class ApiFailure(Exception):
    """An error answer: status plus the `{"error": {...}}` fields."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def bad(message: str, param: str | None = None, code: str = "invalid_argument") -> ApiFailure:
    return ApiFailure(400, message, param=param, code=code)


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> bytes:
    error_type = ERROR_TYPES.get(status, "server_error" if status >= 500 else "api_error")
    payload = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return json.dumps(payload).encode()


@lru_cache(maxsize=65_536)
def format_time(t: float) -> str:
    """RFC 3339 in UTC with a `Z`, fractional seconds only when present.

    Cached: a list answer formats the same few instants per cluster over and over (phases,
    nodes), and datetime formatting was most of the time spent building a 10,000-cluster list.
    """
    moment = datetime.fromtimestamp(t, tz=UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any, param: str) -> float:
    if not isinstance(value, str):
        raise bad(f"{param} must be an RFC 3339 timestamp string", param)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"{param}: {value!r} is not an RFC 3339 timestamp", param) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def match_route(path: str) -> tuple[str | None, tuple[str, ...]]:
    """(route template, path parameters) for a raw path; each segment is percent-decoded
    after splitting, so an add-on name may carry an encoded `/`. The literal `storage`
    segment wins over a cluster id."""
    parts = [unquote(part) for part in path.strip("/").split("/")]
    if parts == ["v1", "compute", "regions"]:
        return ROUTE_REGIONS, ()
    if parts[:3] != ["v1", "compute", "clusters"]:
        return None, ()
    rest = parts[3:]
    if rest[:2] == ["storage", "volumes"]:
        return _match_volumes(rest[2:])
    if any(not part for part in rest):
        return None, ()
    match rest:
        case []:
            return ROUTE_CLUSTERS, ()
        case [cluster_id]:
            return ROUTE_CLUSTER, (cluster_id,)
        case [cluster_id, "addons"]:
            return ROUTE_ADDONS, (cluster_id,)
        case [cluster_id, "addons", addon_id]:
            return ROUTE_ADDON, (cluster_id, addon_id)
        case [cluster_id, "instances", instance_id, "remediations", *tail]:
            return _match_remediations((cluster_id, instance_id), tail)
    return None, ()


def _match_volumes(rest: list[str]) -> tuple[str | None, tuple[str, ...]]:
    if not rest:
        return ROUTE_VOLUMES, ()
    if len(rest) == 1 and rest[0]:
        return ROUTE_VOLUME, (rest[0],)
    return None, ()


def _match_remediations(
    ids: tuple[str, str], tail: list[str]
) -> tuple[str | None, tuple[str, ...]]:
    match tail:
        case []:
            return ROUTE_REMEDIATIONS, ids
        case [remediation_id]:
            return ROUTE_REMEDIATION, (*ids, remediation_id)
        case [remediation_id, action] if action in ROUTE_REMEDIATION_ACTIONS:
            return ROUTE_REMEDIATION_ACTIONS[action], (*ids, remediation_id)
    return None, ()


def project_filter(query: Mapping[str, str]) -> str | None:
    """The project a list is filtered by: `project_id`, as the 2026-07 spec names the query
    parameter, or `projectId`, as the SDK sends it. [INF] Both are read, as a grpc-gateway
    reads a field's proto name and its JSON name; given both, `project_id` counts."""
    return query.get("project_id") or query.get("projectId") or None


def parse_body(body: bytes) -> Any:
    """The JSON body with every `null` member dropped: the official CLI sends `null` for an
    optional field it leaves unset, and the API reads that as absent. (A required field sent
    as `null` is therefore reported missing.)"""
    try:
        return without_nulls(json.loads(body or b"{}"))
    except (ValueError, UnicodeDecodeError):
        raise bad("the request body is not valid JSON", None, "invalid_json") from None


def without_nulls(value: Any) -> Any:
    """`value` with the `null` members of its objects removed, at every depth."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value
