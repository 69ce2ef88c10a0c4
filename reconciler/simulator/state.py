"""The simulated Together GPU cluster API as a pure, in-memory state machine.

`SimState.handle` turns one `SimRequest` into one `SimResponse`; time comes only from the
injected clock and randomness only from a seeded PRNG, so every run is reproducible. The
HTTP server (http.py) and the httpx transport (transport.py) are thin shells around it.

Behaviour follows ../shared/api/REFERENCE.md. Where the real API is undocumented this
module makes a choice and says so ([INF] in comments):
- request-rule violations answer 400 naming the field in `error.param`;
- an `Idempotency-Key` reused with a different body answers 422;
- deleting a volume attached to a live cluster answers 409;
- scaling (`num_gpus`) a cluster that is not Ready/Degraded, or updating one that is
  Deleting, answers 409;
- status-code faults are answered *before* the request is committed; "drop" and "stall"
  faults commit the request first;
- volumes carry an extra `region` field the real API does not document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

API_VERSION = 1
DEFAULT_TOKEN = "sim-token"
DEFAULT_PROJECT = "proj-sim"

# Base phase durations in seconds at speed 1 (realistic: ~23-25 minutes to Ready).
PHASE_SECONDS: dict[str, float] = {
    "WaitingForControlPlaneNodes": 240.0,
    "WaitingForDataPlaneNodes": 360.0,
    "WaitingForSubnet": 60.0,
    "WaitingForSharedVolume": 120.0,
    "InstallingDrivers": 300.0,
    "RunningAcceptanceTests": 420.0,
}
DELETE_SECONDS = 180.0
VOLUME_PROVISION_SECONDS = 90.0
# A fresh cluster reaches Ready in about 3.5 s (3.75 s with a volume) at this speed.
DEMO_SPEED = 400.0

STATUSES = (
    "WaitingForControlPlaneNodes",
    "WaitingForDataPlaneNodes",
    "WaitingForSubnet",
    "WaitingForSharedVolume",
    "InstallingDrivers",
    "RunningAcceptanceTests",
    "Paused",
    "OnDemandComputePaused",
    "Ready",
    "Degraded",
    "Deleting",
)
PHASE_OF_STATUS = {
    "WaitingForControlPlaneNodes": "CLUSTER_PHASE_WAITING_FOR_CONTROL_PLANE_NODES",
    "WaitingForDataPlaneNodes": "CLUSTER_PHASE_WAITING_FOR_DATA_PLANE_NODES",
    "WaitingForSubnet": "CLUSTER_PHASE_WAITING_FOR_SUBNET",
    "WaitingForSharedVolume": "CLUSTER_PHASE_WAITING_FOR_SHARED_VOLUME",
    "InstallingDrivers": "CLUSTER_PHASE_INSTALLING_DRIVERS",
    "RunningAcceptanceTests": "CLUSTER_PHASE_RUNNING_ACCEPTANCE_TESTS",
    "Paused": "CLUSTER_PHASE_PAUSED",
    "OnDemandComputePaused": "CLUSTER_PHASE_ON_DEMAND_COMPUTE_PAUSED",
    "Ready": "CLUSTER_PHASE_READY",
    "Degraded": "CLUSTER_PHASE_DEGRADED",
    "Deleting": "CLUSTER_PHASE_DELETING",
}
CREATE_WALK = (
    "WaitingForControlPlaneNodes",
    "WaitingForDataPlaneNodes",
    "WaitingForSubnet",
    "InstallingDrivers",
    "RunningAcceptanceTests",
)
SCALE_WALK = ("WaitingForDataPlaneNodes", "InstallingDrivers")

GPU_TYPES = (
    "H100_SXM",
    "H200_SXM",
    "RTX_6000_PCI",
    "L40_PCIE",
    "B200_SXM",
    "H100_SXM_INF",
    "B300_SXM",
    "GB200_SXM",
)
BILLING_TYPES = ("RESERVED", "ON_DEMAND", "SCHEDULED_CAPACITY")
CLUSTER_TYPES = ("KUBERNETES", "SLURM")
LOAD_BALANCERS = ("NONE", "TRAEFIK", "NGINX", "ISTIO")
ADD_ON_TYPES = ("dashboard", "headlamp", "ingress", "slurm_web")
DCGM_LEVELS = (
    "DCGM_DIAG_LEVEL_SHORT",
    "DCGM_DIAG_LEVEL_MEDIUM",
    "DCGM_DIAG_LEVEL_LONG",
    "DCGM_DIAG_LEVEL_EXTENDED",
)
DEFAULT_OS = "ubuntu-22.04"
GPU_OPERATOR_DEFAULT = "v24.6.2"
NETWORK_OPERATOR_DEFAULT = "v24.7.0"
MAX_GPUS = 4096


def _driver(region_code: str, cuda: str, driver: str, os_name: str = DEFAULT_OS) -> dict[str, str]:
    os_code = os_name.replace("ubuntu-", "u").replace(".", "")
    return {
        "id": f"nv-{region_code}-{cuda}-{driver}-{os_code}",
        "cuda_version": cuda,
        "nvidia_driver_version": driver,
        "os": os_name,
    }


REGIONS: tuple[dict[str, Any], ...] = (
    {
        "name": "us-central-8",
        "supported_instance_types": ["H100_SXM", "H200_SXM", "B200_SXM"],
        "driver_versions": [
            _driver("usc8", "12.5", "555"),
            _driver("usc8", "12.6", "560"),
            _driver("usc8", "12.8", "570"),
            _driver("usc8", "12.8", "570", "ubuntu-24.04"),
        ],
    },
    {
        "name": "us-central-4",
        "supported_instance_types": ["H100_SXM", "RTX_6000_PCI", "L40_PCIE"],
        "driver_versions": [_driver("usc4", "12.5", "555"), _driver("usc4", "12.6", "560")],
    },
    {
        "name": "us-east-1",
        "supported_instance_types": ["H200_SXM", "B200_SXM", "B300_SXM", "GB200_SXM"],
        "driver_versions": [_driver("use1", "12.8", "570"), _driver("use1", "12.9", "575")],
    },
    {
        "name": "eu-north-1",
        "supported_instance_types": ["H100_SXM", "H100_SXM_INF"],
        "driver_versions": [_driver("eun1", "12.6", "560"), _driver("eun1", "12.8", "570")],
    },
)
REGION_BY_NAME = {region["name"]: region for region in REGIONS}

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
FAULT_KINDS = ("408", "409", "422", "429", "500", "502", "503", "504", "drop", "stall")

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
REASONS = {
    408: "request timeout",
    409: "conflict",
    422: "unprocessable entity",
    429: "rate limit exceeded, retry later",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


# --- wire values -------------------------------------------------------------------------


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


@dataclass
class Faults:
    """Fault rates per mutating request, plus latency and the 429 `Retry-After` value."""

    rates: dict[str, float] = field(default_factory=dict)
    latency_ms: int = 0
    retry_after: int = 1

    def __post_init__(self) -> None:
        for kind, rate in self.rates.items():
            if kind not in FAULT_KINDS:
                raise ValueError(
                    f"unknown fault kind {kind!r}: expected one of {', '.join(FAULT_KINDS)}"
                )
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind} must be between 0 and 1, got {rate}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        if self.latency_ms < 0:
            raise ValueError("latency must not be negative")

    @classmethod
    def parse(cls, specs: Sequence[str], *, latency_ms: int = 0, retry_after: int = 1) -> Faults:
        """Build from `KIND:RATE` strings (e.g. `429:0.1`, `drop:0.05`); ValueError if bad."""
        rates: dict[str, float] = {}
        for spec in specs:
            kind, sep, rate_text = spec.partition(":")
            kind = kind.strip().lower()
            if not sep or not kind or not rate_text.strip():
                raise ValueError(f"fault {spec!r}: expected KIND:RATE, e.g. 429:0.1 or drop:0.05")
            try:
                rate = float(rate_text)
            except ValueError:
                raise ValueError(f"fault {spec!r}: RATE must be a number from 0 to 1") from None
            if kind in rates:
                raise ValueError(f"fault {spec!r}: {kind} given twice")
            rates[kind] = rate
        try:
            return cls(rates=rates, latency_ms=latency_ms, retry_after=retry_after)
        except ValueError as exc:
            raise ValueError(f"fault {', '.join(specs)}: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        return cls(
            rates={str(k): float(v) for k, v in data.get("rates", {}).items()},
            latency_ms=int(data.get("latency_ms", 0)),
            retry_after=int(data.get("retry_after", 1)),
        )


class Prng:
    """splitmix64: a tiny deterministic generator (the `random` module is off limits here)."""

    MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        self.state = seed & self.MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float in [0, 1)."""
        return (self.next_u64() >> 11) / float(1 << 53)

    def hex(self, digits: int) -> str:
        return f"{self.next_u64():016x}"[:digits]


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


# --- request schemas ---------------------------------------------------------------------


@dataclass(frozen=True)
class Obj:
    """A JSON object shape: field name → type (a tag string, an enum tuple, an Obj, a list)."""

    fields: Mapping[str, Any]
    required: frozenset[str] = frozenset()


ENABLED = Obj({"enabled": "bool"})
ADD_ON_CONFIG = Obj({name: ENABLED for name in ADD_ON_TYPES})
CREATE_ADD_ON = Obj(
    {"add_on_type": ADD_ON_TYPES, "name": "str", "config": ADD_ON_CONFIG},
    frozenset({"add_on_type", "name"}),
)
UPDATE_ADD_ON = Obj({"name": "str", "config": ADD_ON_CONFIG}, frozenset({"name"}))
CLUSTER_CONFIG = Obj(
    {
        "load_balancer": LOAD_BALANCERS,
        "gpu_operator_version": "str",
        "network_operator_version": "str",
        "ingress": ENABLED,
        "observability": ENABLED,
        "jumphost_enabled": "bool",
        "kubernetes_dashboard_enabled": "bool",
        "ssh_ca_enabled": "bool",
        "slurm_startup_scripts": Obj(
            {
                name: "str"
                for name in (
                    "controller_prolog",
                    "controller_epilog",
                    "worker_prolog",
                    "worker_epilog",
                    "login_init_script",
                    "nodeset_init_script",
                    "extra_slurm_conf",
                )
            }
        ),
    },
    frozenset({"load_balancer"}),
)
OIDC_CONFIG = Obj(
    {
        "client_id": "str",
        "issuer_url": "str",
        "username_claim": "str",
        "username_prefix": "str",
        "group_claim": "str",
        "group_prefix": "str",
        "ca_cert": "str",
    },
    frozenset(
        {
            "client_id",
            "issuer_url",
            "username_claim",
            "username_prefix",
            "group_claim",
            "group_prefix",
        }
    ),
)
ACCEPTANCE_TESTS = Obj(
    {
        "enabled": "bool",
        "dcgm_diag_level": DCGM_LEVELS,
        "dcgm_diag_skipped": "bool",
        "gpu_burn_duration": "int",
        "gpu_burn_skipped": "bool",
        "nccl_single_node_skipped": "bool",
        "nccl_multi_node_skipped": "bool",
        "storage_skipped": "bool",
    }
)
VOLUME_CREATE = Obj(
    {
        "volume_name": "str",
        "size_tib": "int",
        "region": "str",
        "instance_cluster_id": "str",
        "is_lifecycle_independent": "bool",
        "project_id": "str",
    },
    frozenset({"volume_name", "size_tib", "region"}),
)
VOLUME_UPDATE = Obj({"volume_id": "str", "size_tib": "int"}, frozenset({"volume_id"}))
CLUSTER_CREATE = Obj(
    {
        "billing_type": BILLING_TYPES,
        "cluster_name": "str",
        "gpu_type": GPU_TYPES,
        "num_gpus": "int",
        "region": "str",
        "nvidia_version_id": "str",
        "cuda_version": "str",
        "nvidia_driver_version": "str",
        "acceptance_tests_params": ACCEPTANCE_TESTS,
        "add_ons": [CREATE_ADD_ON],
        "auto_scale": "bool",
        "auto_scale_max_gpus": "int",
        "capacity_pool_id": "str",
        "cluster_config": CLUSTER_CONFIG,
        "cluster_type": CLUSTER_TYPES,
        "duration_days": "int",
        "install_traefik": "bool",
        "num_capacity_pool_gpus": "int",
        "num_preemptible_gpus": "int",
        "num_reserved_gpus": "int",
        "oidc_config": OIDC_CONFIG,
        "project_id": "str",
        "reservation_start_time": "time",
        "reservation_end_time": "time",
        "shared_volume": VOLUME_CREATE,
        "slurm_image": "str",
        "slurm_shm_size_gib": "int",
        "volume_id": "str",
    },
    frozenset({"billing_type", "cluster_name", "gpu_type", "num_gpus", "region"}),
)
CLUSTER_UPDATE = Obj(
    {
        "cluster_type": CLUSTER_TYPES,
        "num_gpus": "int",
        "reservation_end_time": "time",
        "num_reserved_gpus": "int",
        "num_preemptible_gpus": "int",
        "num_capacity_pool_gpus": "int",
        "add_ons": [UPDATE_ADD_ON],
        "cluster_config": CLUSTER_CONFIG,
    }
)


def check_shape(value: Any, shape: Any, param: str, *, updating: bool = False) -> None:  # noqa: C901 (split by the resource-kinds redesign)
    """Raise a 400 naming `param` when `value` does not fit `shape`."""
    where = param or "body"
    if isinstance(shape, Obj):
        if not isinstance(value, dict):
            raise bad(f"{where} must be a JSON object", param or None)
        for key in value:
            if key not in shape.fields:
                sub = f"{param}.{key}" if param else key
                if updating and not param:
                    raise bad(f"{key} cannot be updated (not an update field of this API)", sub)
                raise bad(f"unknown field {sub}", sub)
        for key in sorted(shape.required):
            if key not in value or value[key] is None:
                sub = f"{param}.{key}" if param else key
                raise bad(f"{sub} is required", sub, "missing_field")
        for key, item in value.items():
            check_shape(item, shape.fields[key], f"{param}.{key}" if param else key)
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise bad(f"{where} must be a list", param)
        for index, item in enumerate(value):
            check_shape(item, shape[0], f"{param}[{index}]")
    elif isinstance(shape, tuple):
        if value not in shape:
            raise bad(f"{where} must be one of {', '.join(shape)}; got {value!r}", param)
    elif shape == "str":
        if not isinstance(value, str):
            raise bad(f"{where} must be a string", param)
    elif shape == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad(f"{where} must be an integer", param)
    elif shape == "bool":
        if not isinstance(value, bool):
            raise bad(f"{where} must be a boolean", param)
    elif shape == "time":
        parse_time(value, param)
    else:  # pragma: no cover - a programming error in the shapes above
        raise AssertionError(shape)


def check_gpus(value: int, param: str, *, positive: bool) -> None:
    if value < 0 or (positive and value == 0):
        raise bad(f"{param} must be {'positive' if positive else 'zero or more'}", param)
    if value % 8:
        raise bad(f"{param} must be a multiple of 8 (8, 16, 24, ...); got {value}", param)
    if value > MAX_GPUS:
        raise bad(f"{param} must be at most {MAX_GPUS}", param)


def resolve_driver(body: Mapping[str, Any]) -> dict[str, str]:
    """The catalogue entry chosen by `nvidia_version_id` and/or the cuda/driver pair."""
    region = REGION_BY_NAME[body["region"]]
    entries: list[dict[str, str]] = region["driver_versions"]
    by_id: dict[str, str] | None = None
    if "nvidia_version_id" in body:
        by_id = next((e for e in entries if e["id"] == body["nvidia_version_id"]), None)
        if by_id is None:
            raise bad(
                f"nvidia_version_id {body['nvidia_version_id']!r} is not offered in region "
                f"{region['name']} (see GET /v1/compute/regions)",
                "nvidia_version_id",
            )
    has_cuda, has_driver = "cuda_version" in body, "nvidia_driver_version" in body
    if has_cuda != has_driver:
        missing = "nvidia_driver_version" if has_cuda else "cuda_version"
        raise bad(
            f"{missing} is required: cuda_version and nvidia_driver_version go together", missing
        )
    if not has_cuda:
        if by_id is None:
            raise bad(
                "nvidia_version_id (or cuda_version with nvidia_driver_version) is required",
                "nvidia_version_id",
                "missing_field",
            )
        return by_id
    cuda, _, os_name = str(body["cuda_version"]).partition("-")
    os_name = os_name or DEFAULT_OS
    by_pair = next(
        (
            e
            for e in entries
            if e["cuda_version"] == cuda
            and e["nvidia_driver_version"] == body["nvidia_driver_version"]
            and e["os"] == os_name
        ),
        None,
    )
    if by_pair is None:
        pairs = ", ".join(f"{e['cuda_version']}/{e['nvidia_driver_version']}" for e in entries)
        raise bad(
            f"cuda_version {body['cuda_version']} with nvidia_driver_version "
            f"{body['nvidia_driver_version']} is not offered in region {region['name']} "
            f"(offered: {pairs})",
            "nvidia_driver_version",
        )
    if by_id is not None and by_id["id"] != by_pair["id"]:
        raise bad(
            "nvidia_version_id and cuda_version/nvidia_driver_version resolve to different "
            "catalogue entries",
            "nvidia_version_id",
        )
    return by_pair


# --- the state ---------------------------------------------------------------------------


class SimState:
    """Clusters, volumes and the regions catalogue; `handle` answers one request."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        token: str = DEFAULT_TOKEN,
        speed: float = 1.0,
        seed: int = 0,
        faults: Faults | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be zero (instant) or positive")
        self.clock = clock
        self.token = token
        self.speed = speed
        self.seed = seed
        self.faults = faults or Faults()
        self.ids = Prng(seed)
        self.fault_rng = Prng(seed ^ 0x5EED_FA17)
        self.clusters: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, dict[str, str]] = {}
        self.request_log: list[RequestRecord] = []
        self.pending_faults: list[dict[str, Any]] = []
        self.request_counter = 0

    # --- public helpers for tests and the shells -----------------------------------------

    def count(self, method: str, route: str) -> int:
        """How many requests with this method hit this route template (or literal path)."""
        method = method.upper()
        return sum(1 for r in self.request_log if r.method == method and route in (r.route, r.path))

    def clusters_named(self, name: str) -> list[dict[str, Any]]:
        """Live clusters (not gone) with this name, as the API shows them."""
        self.sweep()
        return [
            self.cluster_view(c)
            for c in self.clusters.values()
            if c["fields"]["cluster_name"] == name
        ]

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
        if kind not in ("drop", "stall") and not (kind.isdigit() and 400 <= int(kind) <= 599):
            raise ValueError(f"unknown fault kind {kind!r}")
        self.pending_faults.append(
            {"kind": kind, "times": times, "method": method and method.upper(), "route": route}
        )

    def oob_update(self, cluster_id: str, **fields: Any) -> dict[str, Any]:
        """Change a cluster behind the tool's back (as a console user would); returns it."""
        cluster = self.live_cluster(cluster_id)
        now = self.clock()
        for key, value in fields.items():
            if key == "num_gpus":
                self.resize(cluster, int(value), now, walk=True)
            elif key == "num_preemptible_gpus":
                cluster["fields"]["desired_preemptible_gpus"] = value
            elif key == "status":
                self.stick(cluster_id, str(value))
            elif key in cluster["fields"]:
                cluster["fields"][key] = value
            else:
                raise ValueError(f"oob_update: unknown cluster field {key!r}")
        return self.cluster_view(cluster)

    def stick(self, cluster_id: str, status: str) -> None:
        """Put the cluster in `status` now (unless it is there) and keep it there forever."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        cluster = self.live_cluster(cluster_id)
        now = self.clock()
        cluster["schedule"] = [entry for entry in cluster["schedule"] if entry[1] <= now]
        if self.status_at(cluster, now) != status:
            cluster["schedule"].append([status, now])
        cluster["stuck"] = status
        for node in cluster["nodes"]:
            if node["running_at"] is not None and node["running_at"] > now:
                node["running_at"] = None

    def degrade(self, cluster_id: str) -> None:
        """Turn the cluster `Degraded` now (one GPU node reports NotReady)."""
        cluster = self.live_cluster(cluster_id)
        now = self.clock()
        cluster["schedule"] = [e for e in cluster["schedule"] if e[1] <= now]
        cluster["schedule"].append(["Degraded", now])
        cluster["stuck"] = "Degraded"
        if cluster["nodes"]:
            cluster["unhealthy_node"] = cluster["nodes"][0]["node_id"]

    def recover(self, cluster_id: str) -> None:
        """Undo `stick`/`degrade`: the cluster becomes Ready now."""
        cluster = self.live_cluster(cluster_id)
        now = self.clock()
        cluster["schedule"] = [e for e in cluster["schedule"] if e[1] <= now]
        cluster["schedule"].append(["Ready", now])
        cluster["stuck"] = None
        cluster["unhealthy_node"] = None
        for node in cluster["nodes"]:
            if node["running_at"] is None:
                node["running_at"] = now

    def add_cluster(self, *, status: str = "Ready", **create_fields: Any) -> dict[str, Any]:
        """Create a cluster directly (no auth, faults or log), Ready at once unless told."""
        body: dict[str, Any] = {
            "cluster_name": "sim-cluster",
            "region": "us-central-8",
            "gpu_type": "H100_SXM",
            "num_gpus": 8,
            "billing_type": "ON_DEMAND",
        }
        body.update(create_fields)
        if "nvidia_version_id" not in body and "cuda_version" not in body:
            body.update(cuda_version="12.6", nvidia_driver_version="560")
        try:
            cluster = self.create_cluster(body, instant=True)
        except ApiFailure as exc:
            raise ValueError(exc.message) from None
        if status == "Degraded":
            self.degrade(cluster["cluster_id"])
        elif status != "Ready":
            self.stick(cluster["cluster_id"], status)
        return self.cluster_view(cluster)

    def add_volume(self, **create_fields: Any) -> dict[str, Any]:
        """Create a volume directly (no auth, faults or log), available at once."""
        body: dict[str, Any] = {
            "volume_name": "sim-volume",
            "size_tib": 1,
            "region": "us-central-8",
        }
        body.update(create_fields)
        try:
            volume = self.create_volume(body, instant=True)
        except ApiFailure as exc:
            raise ValueError(exc.message) from None
        return self.volume_view(volume)

    # --- request handling ------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request: auth, routing, faults, then the operation."""
        method = request.method.upper()
        path = request.path.rstrip("/") or "/"
        route, resource_id = match_route(path)
        self.request_counter += 1
        self.sweep()
        fault: str | None = None
        try:
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
            fault = self.draw_fault(method, route)
            if fault is not None and fault.isdigit():
                response = self.fault_response(int(fault))
                fault = None
            else:
                status, payload = self.dispatch(method, route, resource_id, request)
                response = self.json_response(status, payload)
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

    def base_headers(self) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-request-id": f"sim-req-{self.request_counter}",
        }

    def json_response(self, status: int, payload: Any) -> SimResponse:
        return SimResponse(status, json.dumps(payload).encode(), self.base_headers())

    def fault_response(self, status: int) -> SimResponse:
        headers = self.base_headers()
        if status == 429:
            headers["retry-after"] = str(self.faults.retry_after)
        message = f"simulated fault: {REASONS.get(status, 'error')}"
        return SimResponse(status, error_body(status, message, code="simulated_fault"), headers)

    def draw_fault(self, method: str, route: str) -> str | None:
        for pending in self.pending_faults:
            if pending["method"] not in (None, method) or pending["route"] not in (None, route):
                continue
            pending["times"] -= 1
            if pending["times"] <= 0:
                self.pending_faults.remove(pending)
            return str(pending["kind"])
        if method not in MUTATING or not self.faults.rates:
            return None
        draw = self.fault_rng.uniform()
        total = 0.0
        for kind in FAULT_KINDS:
            total += self.faults.rates.get(kind, 0.0)
            if draw < total:
                return kind
        return None

    def dispatch(
        self, method: str, route: str, resource_id: str | None, request: SimRequest
    ) -> tuple[int, Any]:
        project = request.query.get("projectId") or None
        if route == ROUTE_REGIONS:
            return 200, {"regions": json.loads(json.dumps(REGIONS))}
        if route == ROUTE_CLUSTERS and method == "GET":
            views = [
                self.cluster_view(c)
                for c in self.clusters.values()
                if project is None or c["fields"]["project_id"] == project
            ]
            return 200, {"clusters": views}
        if route == ROUTE_CLUSTERS:
            body = parse_body(request.body)
            check_shape(body, CLUSTER_CREATE, "")
            return 200, self.idempotent(
                "cluster", request, body, lambda: self.cluster_view(self.create_cluster(body))
            )
        if route == ROUTE_CLUSTER:
            assert resource_id is not None
            cluster = self.live_cluster(resource_id, api=True)
            if method == "GET":
                return 200, self.cluster_view(cluster)
            if method == "PUT":
                body = parse_body(request.body)
                check_shape(body, CLUSTER_UPDATE, "", updating=True)
                self.update_cluster(cluster, body)
                return 200, self.cluster_view(cluster)
            self.delete_cluster(cluster)
            return 200, {"cluster_id": resource_id}
        if route == ROUTE_VOLUMES and method == "GET":
            attached = {vid for c in self.clusters.values() for vid in c["volume_ids"]}
            views = [
                self.volume_view(v, v["volume_id"] in attached)
                for v in self.volumes.values()
                if project is None or v["project_id"] == project
            ]
            return 200, {"volumes": views}
        if route == ROUTE_VOLUMES and method == "POST":
            body = parse_body(request.body)
            check_shape(body, VOLUME_CREATE, "")
            return 200, self.idempotent(
                "volume", request, body, lambda: self.volume_view(self.create_volume(body))
            )
        if route == ROUTE_VOLUMES:
            body = parse_body(request.body)
            check_shape(body, VOLUME_UPDATE, "", updating=True)
            volume = self.live_volume(body["volume_id"], api=True)
            self.update_volume(volume, body)
            return 200, self.volume_view(volume)
        assert resource_id is not None
        volume = self.live_volume(resource_id, api=True)
        if method == "GET":
            return 200, self.volume_view(volume)
        self.delete_volume(volume)
        return 200, {"success": True}

    def idempotent(
        self, kind: str, request: SimRequest, body: Any, create: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        key = request.headers.get("idempotency-key")
        if not key:
            return create()
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        slot = f"{kind}:{key}"
        seen = self.idempotency.get(slot)
        if seen is not None:
            if seen["digest"] != digest:
                raise ApiFailure(
                    422,
                    "Idempotency-Key was already used with a different request body",
                    code="idempotency_key_reused",
                )
            if kind == "cluster" and seen["id"] in self.clusters:
                return self.cluster_view(self.clusters[seen["id"]])
            if kind == "volume" and seen["id"] in self.volumes:
                return self.volume_view(self.volumes[seen["id"]])
            # The resource is gone: the key has expired, so this is a new request.
        view = create()
        self.idempotency[slot] = {
            "id": view["cluster_id" if kind == "cluster" else "volume_id"],
            "digest": digest,
        }
        return view

    # --- clusters ----------------------------------------------------------------------------

    def live_cluster(self, cluster_id: str, *, api: bool = False) -> dict[str, Any]:
        self.sweep()
        cluster = self.clusters.get(cluster_id)
        if cluster is None:
            if api:
                raise ApiFailure(404, f"cluster {cluster_id} not found", code="not_found")
            raise KeyError(f"no live cluster {cluster_id}")
        return cluster

    def new_id(self, prefix: str, taken: Container[str]) -> str:
        while True:
            candidate = f"{prefix}-{self.ids.hex(12)}"
            if candidate not in taken:
                return candidate

    def duration(self, status: str) -> float:
        return 0.0 if self.speed == 0 else PHASE_SECONDS[status] / self.speed

    def walk(
        self, start: float, phases: Sequence[str], *, instant: bool = False
    ) -> list[list[Any]]:
        schedule: list[list[Any]] = []
        t = start
        for status in phases:
            schedule.append([status, t])
            t += 0.0 if instant else self.duration(status)
        schedule.append(["Ready", t])
        return schedule

    def create_cluster(self, body: dict[str, Any], *, instant: bool = False) -> dict[str, Any]:  # noqa: C901 (split by the resource-kinds redesign)
        """Validate a create body (already shape-checked) and add the cluster."""
        check_shape(body, CLUSTER_CREATE, "")
        now = self.clock()
        name = body["cluster_name"]
        if not name.strip():
            raise bad("cluster_name must not be empty", "cluster_name")
        if body["region"] not in REGION_BY_NAME:
            raise bad(
                f"region {body['region']!r} does not exist (regions: {', '.join(REGION_BY_NAME)})",
                "region",
            )
        region = REGION_BY_NAME[body["region"]]
        if body["gpu_type"] not in region["supported_instance_types"]:
            raise bad(
                f"gpu_type {body['gpu_type']} is not offered in region {region['name']} "
                f"(offered: {', '.join(region['supported_instance_types'])})",
                "gpu_type",
            )
        driver = resolve_driver(body)
        num_gpus = body["num_gpus"]
        check_gpus(num_gpus, "num_gpus", positive=True)
        cluster_type = body.get("cluster_type", "KUBERNETES")
        billing = body["billing_type"]
        if cluster_type == "SLURM" and "slurm_shm_size_gib" not in body:
            raise bad(
                "slurm_shm_size_gib is required when cluster_type is SLURM",
                "slurm_shm_size_gib",
                "missing_field",
            )
        if body.get("slurm_shm_size_gib", 1) <= 0:
            raise bad("slurm_shm_size_gib must be positive", "slurm_shm_size_gib")
        if body.get("auto_scale"):
            if "auto_scale_max_gpus" not in body:
                raise bad(
                    "auto_scale_max_gpus is required when auto_scale is true",
                    "auto_scale_max_gpus",
                    "missing_field",
                )
            check_gpus(body["auto_scale_max_gpus"], "auto_scale_max_gpus", positive=True)
            if body["auto_scale_max_gpus"] < num_gpus:
                raise bad(
                    "auto_scale_max_gpus must not be less than num_gpus", "auto_scale_max_gpus"
                )
        start = end = None
        if "reservation_start_time" in body:
            start = parse_time(body["reservation_start_time"], "reservation_start_time")
        if "reservation_end_time" in body:
            end = parse_time(body["reservation_end_time"], "reservation_end_time")
        if billing == "SCHEDULED_CAPACITY":
            for key, value in (("reservation_start_time", start), ("reservation_end_time", end)):
                if value is None:
                    raise bad(
                        f"{key} is required when billing_type is SCHEDULED_CAPACITY",
                        key,
                        "missing_field",
                    )
        if start is not None and end is not None and end <= start:
            raise bad(
                "reservation_end_time must be after reservation_start_time", "reservation_end_time"
            )
        if "duration_days" in body and not 1 <= body["duration_days"] <= 90:
            raise bad("duration_days must be between 1 and 90", "duration_days")
        self.check_counts(body, billing, num_gpus, body.get("capacity_pool_id"))
        if "volume_id" in body and "shared_volume" in body:
            raise bad("give either volume_id or shared_volume, not both", "volume_id")
        volume_ids: list[str] = []
        if "volume_id" in body:
            volume = self.volumes.get(body["volume_id"])
            if volume is None:
                raise bad(f"volume_id {body['volume_id']} does not exist", "volume_id")
            if volume["region"] != region["name"]:
                raise bad(
                    f"volume {volume['volume_id']} is in region {volume['region']}, "
                    f"not {region['name']}",
                    "volume_id",
                )
            volume_ids.append(volume["volume_id"])
        if "shared_volume" in body:
            self.check_volume_body(body["shared_volume"], "shared_volume.")
            if body["shared_volume"]["region"] != region["name"]:
                raise bad(
                    "shared_volume.region must be the cluster's region", "shared_volume.region"
                )
        for index, add_on in enumerate(body.get("add_ons", [])):
            self.check_add_on_config(add_on, f"add_ons[{index}]")
        project = body.get("project_id") or DEFAULT_PROJECT
        # Everything is valid: commit.
        owned: list[str] = []
        if "shared_volume" in body:
            shared = dict(body["shared_volume"])
            shared.setdefault("project_id", project)
            volume = self.create_volume(shared, instant=instant)
            volume_ids.append(volume["volume_id"])
            if not shared.get("is_lifecycle_independent", False):
                owned.append(volume["volume_id"])
        cluster_id = self.new_id("c", self.clusters)
        phases = list(CREATE_WALK)
        if volume_ids:
            phases.insert(3, "WaitingForSharedVolume")
        schedule = self.walk(now, phases, instant=instant)
        fields = {
            "cluster_name": name,
            "cluster_type": cluster_type,
            "region": region["name"],
            "gpu_type": body["gpu_type"],
            "num_gpus": num_gpus,
            "cuda_version": driver["cuda_version"],
            "nvidia_driver_version": driver["nvidia_driver_version"],
            "nvidia_driver_version_id": driver["id"],
            "os_image": f"together-gpu-{driver['os']}-cuda{driver['cuda_version']}",
            "billing_type": billing,
            "duration_hours": body["duration_days"] * 24
            if billing == "RESERVED" and "duration_days" in body
            else None,
            "desired_preemptible_gpus": body.get("num_preemptible_gpus", 0),
            "num_reserved_gpus": body.get(
                "num_reserved_gpus", num_gpus if billing == "RESERVED" else 0
            ),
            "num_capacity_pool_gpus": body.get("num_capacity_pool_gpus", 0),
            "capacity_pool_id": body.get("capacity_pool_id"),
            "add_ons": [
                {"add_on_type": a["add_on_type"], "name": a["name"], "config": a.get("config", {})}
                for a in body.get("add_ons", [])
            ],
            "cluster_config": fill_cluster_config(body.get("cluster_config")),
            "oidc_config": body.get("oidc_config"),
            "install_traefik": body.get("install_traefik", False),
            "project_id": project,
            "reservation_start_time": format_time(start) if start is not None else None,
            "reservation_end_time": format_time(end) if end is not None else None,
            "slurm_shm_size_gib": body.get("slurm_shm_size_gib"),
        }
        cluster: dict[str, Any] = {
            "cluster_id": cluster_id,
            "fields": fields,
            "created_at": now,
            "schedule": schedule,
            "gone_at": None,
            "stuck": None,
            "unhealthy_node": None,
            "nodes": [],
            "deleted_nodes": [],
            "control_nodes": [],
            "events": [],
            "volume_ids": volume_ids,
            "owned_volume_ids": owned,
            "machine_cluster_id": f"mc-{self.ids.hex(10)}",
            "kube_secret": self.ids.hex(16) + self.ids.hex(16),
        }
        control_ready = next(t for s, t in schedule if s == "WaitingForDataPlaneNodes")
        for _ in range(3 if cluster_type == "KUBERNETES" else 1):
            cluster["control_nodes"].append(
                {"node_id": self.new_id("cp", ()), "created_at": now, "running_at": control_ready}
            )
        data_ready = schedule[2][1]  # the end of WaitingForDataPlaneNodes
        self.add_nodes(cluster, num_gpus // 8, now, data_ready, reason=None)
        self.clusters[cluster_id] = cluster
        return cluster

    def check_counts(
        self, body: Mapping[str, Any], billing: str, num_gpus: int, pool: str | None
    ) -> None:
        if "num_preemptible_gpus" in body:
            check_gpus(body["num_preemptible_gpus"], "num_preemptible_gpus", positive=False)
        if "num_capacity_pool_gpus" in body:
            value = body["num_capacity_pool_gpus"]
            check_gpus(value, "num_capacity_pool_gpus", positive=False)
            if value and not pool:
                raise bad(
                    "num_capacity_pool_gpus is only valid for clusters with a capacity_pool_id",
                    "num_capacity_pool_gpus",
                )
            if value > num_gpus:
                raise bad(
                    "num_capacity_pool_gpus must not exceed num_gpus", "num_capacity_pool_gpus"
                )
        if "num_reserved_gpus" in body:
            value = body["num_reserved_gpus"]
            if value < 0:
                raise bad("num_reserved_gpus must be zero or more", "num_reserved_gpus")
            if value and billing != "RESERVED":
                raise bad(
                    "num_reserved_gpus is only applicable for RESERVED billing", "num_reserved_gpus"
                )

    def check_add_on_config(self, add_on: Mapping[str, Any], param: str) -> None:
        if not add_on.get("name", "x").strip():
            raise bad(f"{param}.name must not be empty", f"{param}.name")

    def add_nodes(
        self,
        cluster: dict[str, Any],
        count: int,
        now: float,
        ready: float | None,
        *,
        reason: str | None,
    ) -> None:
        taken = {n["node_id"] for n in cluster["nodes"] + cluster["deleted_nodes"]}
        for _ in range(count):
            node_id = self.new_id("n", taken)
            taken.add(node_id)
            cluster["nodes"].append(
                {
                    "node_id": node_id,
                    "instance_id": f"i-{self.ids.hex(12)}",
                    "created_at": now,
                    "running_at": ready,
                    "ip": f"10.{self.ids.next_u64() % 250}.{self.ids.next_u64() % 250}.2",
                }
            )
            if reason:
                cluster["events"].append(
                    {
                        "message": "GPU node added",
                        "node_id": node_id,
                        "reason": reason,
                        "timestamp": format_time(now),
                    }
                )

    def resize(self, cluster: dict[str, Any], num_gpus: int, now: float, *, walk: bool) -> None:
        old = cluster["fields"]["num_gpus"]
        if num_gpus == old:
            return
        cluster["fields"]["num_gpus"] = num_gpus
        ready: float | None = now
        if walk and not cluster["stuck"]:
            cluster["schedule"] = [e for e in cluster["schedule"] if e[1] <= now]
            schedule = self.walk(now, SCALE_WALK)
            cluster["schedule"].extend(schedule)
            ready = schedule[1][1]
        elif cluster["stuck"]:
            ready = None
        want = num_gpus // 8
        have = len(cluster["nodes"])
        if want > have:
            self.add_nodes(cluster, want - have, now, ready, reason="TogetherScaledUp")
        while len(cluster["nodes"]) > want:
            node = cluster["nodes"].pop()
            node["deleted_at"] = now
            cluster["deleted_nodes"].append(node)
            cluster["events"].append(
                {
                    "message": "GPU node removed",
                    "node_id": node["node_id"],
                    "reason": "TogetherScaledDown",
                    "timestamp": format_time(now),
                }
            )

    def update_cluster(self, cluster: dict[str, Any], body: dict[str, Any]) -> None:  # noqa: C901 (split by the resource-kinds redesign)
        now = self.clock()
        fields = cluster["fields"]
        status = self.status_at(cluster, now)
        if body and status == "Deleting":
            raise ApiFailure(
                409, f"cluster {cluster['cluster_id']} is being deleted", code="failed_precondition"
            )
        num_gpus = body.get("num_gpus", fields["num_gpus"])
        check_gpus(num_gpus, "num_gpus", positive=True)
        if num_gpus != fields["num_gpus"] and status not in ("Ready", "Degraded"):
            raise ApiFailure(
                409,
                f"cluster {cluster['cluster_id']} is {status}; num_gpus can change only when "
                "it is Ready",
                param="num_gpus",
                code="failed_precondition",
            )
        self.check_counts(body, fields["billing_type"], num_gpus, fields["capacity_pool_id"])
        if "num_capacity_pool_gpus" not in body and fields["num_capacity_pool_gpus"] > num_gpus:
            raise bad("num_gpus must not be less than num_capacity_pool_gpus", "num_gpus")
        end = None
        if "reservation_end_time" in body:
            if fields["billing_type"] == "ON_DEMAND":
                raise bad(
                    "reservation_end_time is only accepted for prepaid clusters",
                    "reservation_end_time",
                )
            end = parse_time(body["reservation_end_time"], "reservation_end_time")
            if fields["reservation_start_time"] is not None and end <= parse_time(
                fields["reservation_start_time"], "reservation_start_time"
            ):
                raise bad(
                    "reservation_end_time must be after reservation_start_time",
                    "reservation_end_time",
                )
        add_ons = {a["name"]: a for a in fields["add_ons"]}
        for index, add_on in enumerate(body.get("add_ons", [])):
            if add_on["name"] not in add_ons:
                raise bad(
                    f"add_ons[{index}].name {add_on['name']!r} matches no add-on of this cluster",
                    f"add_ons[{index}].name",
                )
        # Valid: commit.
        for add_on in body.get("add_ons", []):
            merged = dict(add_ons[add_on["name"]]["config"])
            merged.update(add_on.get("config", {}))
            add_ons[add_on["name"]]["config"] = merged
        if "cluster_config" in body:
            fields["cluster_config"] = fill_cluster_config(body["cluster_config"])
        if "cluster_type" in body:
            fields["cluster_type"] = body["cluster_type"]
        if end is not None:
            fields["reservation_end_time"] = format_time(end)
        if "num_reserved_gpus" in body:
            fields["num_reserved_gpus"] = body["num_reserved_gpus"]
        if "num_preemptible_gpus" in body:
            fields["desired_preemptible_gpus"] = body["num_preemptible_gpus"]
        if "num_capacity_pool_gpus" in body:
            fields["num_capacity_pool_gpus"] = body["num_capacity_pool_gpus"]
        self.resize(cluster, num_gpus, now, walk=True)

    def delete_cluster(self, cluster: dict[str, Any]) -> None:
        now = self.clock()
        if cluster["gone_at"] is not None:
            return
        cluster["schedule"] = [e for e in cluster["schedule"] if e[1] <= now]
        cluster["schedule"].append(["Deleting", now])
        cluster["stuck"] = None
        cluster["gone_at"] = now + (0.0 if self.speed == 0 else DELETE_SECONDS / self.speed)

    def status_at(self, cluster: Mapping[str, Any], now: float) -> str:
        status: str = cluster["schedule"][0][0]
        for entry_status, t in cluster["schedule"]:
            if t <= now:
                status = entry_status
        return status

    def sweep(self) -> None:
        """Forget clusters whose deletion finished, with the volumes they own."""
        now = self.clock()
        for cluster_id in [
            c["cluster_id"]
            for c in self.clusters.values()
            if c["gone_at"] is not None and c["gone_at"] <= now
        ]:
            cluster = self.clusters.pop(cluster_id)
            for volume_id in cluster["owned_volume_ids"]:
                if not self.attached_clusters(volume_id):
                    self.volumes.pop(volume_id, None)

    def cluster_view(self, cluster: Mapping[str, Any]) -> dict[str, Any]:
        """The cluster as the API returns it: every field of the SDK's `Cluster` model."""
        now = self.clock()
        fields = cluster["fields"]
        cluster_id = cluster["cluster_id"]
        status = self.status_at(cluster, now)
        passed = [(s, t) for s, t in cluster["schedule"] if t <= now]
        first_ready = next((t for s, t in passed if s == "Ready"), None)
        control_ready_at = cluster["control_nodes"][0]["running_at"]
        return {
            "cluster_id": cluster_id,
            "cluster_name": fields["cluster_name"],
            "cluster_type": fields["cluster_type"],
            "region": fields["region"],
            "gpu_type": fields["gpu_type"],
            "num_gpus": fields["num_gpus"],
            "cuda_version": fields["cuda_version"],
            "nvidia_driver_version": fields["nvidia_driver_version"],
            "nvidia_driver_version_id": fields["nvidia_driver_version_id"],
            "os_image": fields["os_image"],
            "billing_type": fields["billing_type"],
            "status": status,
            "phase_transitions": [
                {"phase": PHASE_OF_STATUS[s], "transition_time": format_time(t)} for s, t in passed
            ],
            "control_plane_ready": control_ready_at is not None and control_ready_at <= now,
            "control_plane_nodes": [
                self.node_view(cluster, node, index, control=True)
                for index, node in enumerate(cluster["control_nodes"])
            ],
            "gpu_worker_nodes": [
                self.node_view(cluster, node, index, control=False)
                for index, node in enumerate(cluster["nodes"])
            ],
            "deleted_gpu_worker_nodes": [
                self.node_view(cluster, node, index, control=False)
                for index, node in enumerate(cluster["deleted_nodes"])
            ],
            "num_cpu_workers": 1 if fields["cluster_type"] == "SLURM" else 0,
            "volumes": [
                self.volume_summary(self.volumes[vid], now)
                for vid in cluster["volume_ids"]
                if vid in self.volumes
            ],
            "kube_config": kube_config(cluster),
            "duration_hours": fields["duration_hours"],
            "desired_preemptible_gpus": fields["desired_preemptible_gpus"],
            "allocated_preemptible_gpus": fields["desired_preemptible_gpus"]
            if first_ready is not None
            else 0,
            "num_reserved_gpus": fields["num_reserved_gpus"],
            "num_capacity_pool_gpus": fields["num_capacity_pool_gpus"],
            "capacity_pool_id": fields["capacity_pool_id"],
            "add_ons": [
                {
                    "add_on_type": a["add_on_type"],
                    "name": a["name"],
                    "config": a["config"],
                    "state": {a["add_on_type"]: {}},
                }
                for a in fields["add_ons"]
                if a["config"].get(a["add_on_type"], {}).get("enabled", True)
            ],
            "cluster_config": fields["cluster_config"],
            "oidc_config": fields["oidc_config"],
            "install_traefik": fields["install_traefik"],
            "project_id": fields["project_id"],
            "ums_project_id": fields["project_id"],
            "ums_org_id": "org-sim",
            "reservation_start_time": fields["reservation_start_time"],
            "reservation_end_time": fields["reservation_end_time"],
            "slurm_shm_size_gib": fields["slurm_shm_size_gib"],
            "created_at": format_time(cluster["created_at"]),
            "first_ready_at": format_time(first_ready) if first_ready is not None else None,
            "machine_cluster_id": cluster["machine_cluster_id"],
            "is_in_substrate": True,
            "node_lifecycle_events": list(cluster["events"]),
        }

    def node_view(
        self, cluster: Mapping[str, Any], node: Mapping[str, Any], index: int, *, control: bool
    ) -> dict[str, Any]:
        now = self.clock()
        created, running = node["created_at"], node["running_at"]
        transitions = [{"phase": "NODE_PHASE_PENDING", "transition_time": format_time(created)}]
        if running is None or running > now:
            status = "Provisioning"
            if running is None or now >= (created + running) / 2:
                transitions.append(
                    {"phase": "NODE_PHASE_BOOTING", "transition_time": format_time(created)}
                )
        else:
            status = "Ready"
            transitions.append(
                {"phase": "NODE_PHASE_BOOTING", "transition_time": format_time(created)}
            )
            transitions.append(
                {"phase": "NODE_PHASE_RUNNING", "transition_time": format_time(running)}
            )
        if node["node_id"] == cluster.get("unhealthy_node"):
            status = "NotReady"
        if "deleted_at" in node:
            status = "Deleted"
        name = cluster["fields"]["cluster_name"]
        if control:
            return {
                "node_id": node["node_id"],
                "host_name": f"{name}-cp-{index}",
                "status": status,
                "num_cpu_cores": 16,
                "memory_gib": 64.0,
                "network": "10.0.0.0/24",
                "public_ipv4": None,
                "phase_transitions": transitions,
            }
        view = {
            "node_id": node["node_id"],
            "instance_id": node["instance_id"],
            "host_name": f"{name}-gpu-{index}",
            "status": status,
            "num_cpu_cores": 208,
            "num_gpus": 8,
            "memory_gib": 2048.0,
            "networks": [f"{node['ip']}/16"],
            "phase_transitions": transitions,
            "auto_remediation_enabled": False,
            "ephemeral_storage": "7TiB",
            "ib_hca_count": 8,
            "ib_hca_type": "ConnectX-7",
            "nvswitch_count": 4,
            "nvswitch_type": "NVSwitch-3",
            "marked_for_deletion": False,
            "public_ipv4": None,
            "slurm_worker_hostname": f"{name}-worker-{index}"
            if cluster["fields"]["cluster_type"] == "SLURM"
            else None,
        }
        if "deleted_at" in node:
            view["deleted_at"] = format_time(node["deleted_at"])
        return view

    # --- volumes ---------------------------------------------------------------------------

    def live_volume(self, volume_id: str, *, api: bool = False) -> dict[str, Any]:
        self.sweep()
        volume = self.volumes.get(volume_id)
        if volume is None:
            if api:
                raise ApiFailure(404, f"volume {volume_id} not found", code="not_found")
            raise KeyError(f"no volume {volume_id}")
        return volume

    def check_volume_body(self, body: Mapping[str, Any], prefix: str) -> None:
        if not body["volume_name"].strip():
            raise bad(f"{prefix}volume_name must not be empty", f"{prefix}volume_name")
        if body["size_tib"] < 1:
            raise bad(f"{prefix}size_tib must be at least 1 (whole tebibytes)", f"{prefix}size_tib")
        if body["region"] not in REGION_BY_NAME:
            raise bad(f"region {body['region']!r} does not exist", f"{prefix}region")
        if "instance_cluster_id" in body and body["instance_cluster_id"] not in self.clusters:
            raise bad(
                f"instance_cluster_id {body['instance_cluster_id']} does not exist",
                f"{prefix}instance_cluster_id",
            )

    def create_volume(self, body: dict[str, Any], *, instant: bool = False) -> dict[str, Any]:
        check_shape(body, VOLUME_CREATE, "")
        self.check_volume_body(body, "")
        now = self.clock()
        provision = 0.0 if instant or self.speed == 0 else VOLUME_PROVISION_SECONDS / self.speed
        volume = {
            "volume_id": self.new_id("vol", self.volumes),
            "volume_name": body["volume_name"],
            "size_tib": body["size_tib"],
            "region": body["region"],
            "project_id": body.get("project_id") or DEFAULT_PROJECT,
            "is_lifecycle_independent": body.get("is_lifecycle_independent", False),
            "created_at": now,
            "available_at": now + provision,
        }
        self.volumes[volume["volume_id"]] = volume
        return volume

    def update_volume(self, volume: dict[str, Any], body: Mapping[str, Any]) -> None:
        if "size_tib" not in body:
            return
        size = body["size_tib"]
        if size < volume["size_tib"]:
            raise bad(
                f"size_tib {size} is smaller than the current {volume['size_tib']}: volumes can "
                "only grow (contact support to reduce)",
                "size_tib",
                "shrink_not_allowed",
            )
        volume["size_tib"] = size

    def attached_clusters(self, volume_id: str) -> list[str]:
        return [c["cluster_id"] for c in self.clusters.values() if volume_id in c["volume_ids"]]

    def delete_volume(self, volume: Mapping[str, Any]) -> None:
        users = self.attached_clusters(volume["volume_id"])
        if users:
            raise ApiFailure(
                409,
                f"volume {volume['volume_id']} is attached to cluster(s) {', '.join(users)}; "
                "delete them first",
                param="volume_id",
                code="volume_attached",
            )
        del self.volumes[volume["volume_id"]]

    def volume_view(
        self, volume: Mapping[str, Any], attached: bool | None = None
    ) -> dict[str, Any]:
        """The volume as the API returns it, plus the undocumented `region`."""
        now = self.clock()
        if attached is None:
            attached = bool(self.attached_clusters(volume["volume_id"]))
        if now < volume["available_at"]:
            status = "provisioning"
        elif attached:
            status = "bound"
        else:
            status = "available"
        return {
            "volume_id": volume["volume_id"],
            "volume_name": volume["volume_name"],
            "size_tib": volume["size_tib"],
            "status": status,
            "region": volume["region"],
        }

    def volume_summary(self, volume: Mapping[str, Any], now: float) -> dict[str, Any]:
        """A cluster's `volumes[]` item: attached by definition, bound once provisioned."""
        return {
            "volume_id": volume["volume_id"],
            "volume_name": volume["volume_name"],
            "size_tib": volume["size_tib"],
            "status": "provisioning" if now < volume["available_at"] else "bound",
        }

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
            "faults": self.faults.to_json(),
            "prng": {"ids": self.ids.state, "faults": self.fault_rng.state},
            "clusters": json.loads(json.dumps(self.clusters)),
            "volumes": json.loads(json.dumps(self.volumes)),
            "idempotency": json.loads(json.dumps(self.idempotency)),
            "request_counter": self.request_counter,
        }

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any],
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
        )
        state.ids.state = int(data["prng"]["ids"])
        state.fault_rng.state = int(data["prng"]["faults"])
        state.clusters = dict(data["clusters"])
        state.volumes = dict(data["volumes"])
        state.idempotency = dict(data["idempotency"])
        state.request_counter = int(data.get("request_counter", 0))
        return state


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


def fill_cluster_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Echo a cluster_config with the service defaults the API fills in."""
    if config is None:
        return None
    filled = dict(config)
    filled.setdefault("gpu_operator_version", GPU_OPERATOR_DEFAULT)
    filled.setdefault("network_operator_version", NETWORK_OPERATOR_DEFAULT)
    return filled


def kube_config(cluster: Mapping[str, Any]) -> str:
    """A realistic (and fake) kubeconfig; its token is secret-looking on purpose."""
    name = cluster["fields"]["cluster_name"]
    cluster_id = cluster["cluster_id"]
    ca = (
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzaW11bGF0ZWQK"
        "LS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
    )
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: {name}\n"
        "  cluster:\n"
        f"    server: https://{cluster_id}.k8s.sim.together.ai:6443\n"
        f"    certificate-authority-data: {ca}\n"
        "contexts:\n"
        f"- name: {name}\n"
        "  context:\n"
        f"    cluster: {name}\n"
        f"    user: {name}-admin\n"
        f"current-context: {name}\n"
        "users:\n"
        f"- name: {name}-admin\n"
        "  user:\n"
        f"    token: sim-kube-{cluster['kube_secret']}\n"
    )
