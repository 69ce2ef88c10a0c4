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

DEFAULT_TOKEN = "sim-token"
DEFAULT_PROJECT = "proj-sim"

ROUTE_CLUSTERS = "/v1/compute/clusters"
ROUTE_CLUSTER = "/v1/compute/clusters/{id}"
ROUTE_REGIONS = "/v1/compute/regions"
ROUTE_VOLUMES = "/v1/compute/clusters/storage/volumes"
ROUTE_VOLUME = "/v1/compute/clusters/storage/volumes/{id}"
ROUTE_METHODS = {
    ROUTE_CLUSTERS: ("GET", "POST"),
    ROUTE_CLUSTER: ("GET", "PUT", "DELETE"),
    ROUTE_REGIONS: ("GET",),
    ROUTE_VOLUMES: ("GET", "POST", "PUT"),
    ROUTE_VOLUME: ("GET", "DELETE"),
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


def match_route(path: str) -> tuple[str | None, str | None]:
    """(route template, id) for a path; the literal `storage` segment wins over `{id}`."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["v1", "compute", "regions"] and len(parts) == 3:
        return ROUTE_REGIONS, None
    if parts[:3] != ["v1", "compute", "clusters"]:
        return None, None
    rest = parts[3:]
    if not rest:
        return ROUTE_CLUSTERS, None
    if rest[:2] == ["storage", "volumes"]:
        if len(rest) == 2:
            return ROUTE_VOLUMES, None
        if len(rest) == 3 and rest[2]:
            return ROUTE_VOLUME, rest[2]
        return None, None
    if len(rest) == 1 and rest[0]:
        return ROUTE_CLUSTER, rest[0]
    return None, None


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise bad("the request body is not valid JSON", None, "invalid_json") from None
