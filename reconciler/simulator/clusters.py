"""A stored cluster: its typed record, its phase schedule over time, and its saved form.

The schedule is a list of (status, instant) entries: the status at time t is that of the last
entry at or before t, so provisioning, scaling, deleting and stuck phases are all just entries.
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from reconciler.simulator.prng import Prng
from reconciler.simulator.wire import format_time

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
# A fresh cluster reaches Ready in about 3.5 s (3.75 s with a volume) at this speed.
DEMO_SPEED = 400.0

# A cluster waiting for its `reservation_start_time`. The API has no such `status` (the enum
# of spec and SDK stops at the Waiting* values): it reports `WaitingForControlPlaneNodes`, and
# the phase `CLUSTER_PHASE_SCHEDULED` as the last of its `phase_transitions`.
SCHEDULED = "Scheduled"
API_STATUS = {SCHEDULED: "WaitingForControlPlaneNodes"}
PAUSED_STATUSES = ("Paused", "OnDemandComputePaused")

PHASE_OF_STATUS = {
    SCHEDULED: "CLUSTER_PHASE_SCHEDULED",
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
STATUSES = tuple(status for status in PHASE_OF_STATUS if status not in API_STATUS)
CREATE_WALK = (
    "WaitingForControlPlaneNodes",
    "WaitingForDataPlaneNodes",
    "WaitingForSubnet",
    "InstallingDrivers",
    "RunningAcceptanceTests",
)
SCALE_WALK = ("WaitingForDataPlaneNodes", "InstallingDrivers")


class PhaseEntry(NamedTuple):
    """From `at` on, the cluster is in `status` (saved as a `[status, at]` pair)."""

    status: str
    at: float


@dataclass
class AddOn:
    add_on_type: str
    name: str
    config: dict[str, Any]

    def is_enabled(self) -> bool:
        enabled: bool = self.config.get(self.add_on_type, {}).get("enabled", True)
        return enabled

    def to_json(self) -> dict[str, Any]:
        return {"add_on_type": self.add_on_type, "name": self.name, "config": self.config}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AddOn:
        return cls(data["add_on_type"], data["name"], dict(data.get("config", {})))


@dataclass
class ClusterFields:
    """The fields the API echoes back as they were asked for (or defaulted)."""

    cluster_name: str
    cluster_type: str
    region: str
    gpu_type: str
    num_gpus: int
    cuda_version: str
    nvidia_driver_version: str
    nvidia_driver_version_id: str
    os_image: str
    billing_type: str
    duration_hours: int | None
    desired_preemptible_gpus: int
    num_reserved_gpus: int
    num_capacity_pool_gpus: int
    capacity_pool_id: str | None
    add_ons: list[AddOn]
    cluster_config: dict[str, Any] | None
    oidc_config: dict[str, Any] | None
    install_traefik: bool
    project_id: str
    reservation_start_time: str | None
    reservation_end_time: str | None
    slurm_shm_size_gib: int | None

    def set(self, name: str, value: Any) -> None:
        """Set one field by name (out-of-band changes); ValueError for an unknown name."""
        if name not in self.__dataclass_fields__:
            raise ValueError(f"oob_update: unknown cluster field {name!r}")
        if name == "add_ons":
            value = [AddOn.from_json(a) for a in value]
        setattr(self, name, value)

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["add_ons"] = [a.to_json() for a in self.add_ons]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClusterFields:
        values = {name: data[name] for name in cls.__dataclass_fields__}
        values["add_ons"] = [AddOn.from_json(a) for a in data["add_ons"]]
        return cls(**values)


@dataclass
class ControlNode:
    node_id: str
    created_at: float
    running_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "created_at": self.created_at,
            "running_at": self.running_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ControlNode:
        return cls(data["node_id"], data["created_at"], data["running_at"])


@dataclass
class GpuNode:
    node_id: str
    instance_id: str
    created_at: float
    running_at: float | None  # None: not running until the cluster is un-stuck
    ip: str
    deleted_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "node_id": self.node_id,
            "instance_id": self.instance_id,
            "created_at": self.created_at,
            "running_at": self.running_at,
            "ip": self.ip,
        }
        if self.deleted_at is not None:
            data["deleted_at"] = self.deleted_at
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GpuNode:
        return cls(
            data["node_id"],
            data["instance_id"],
            data["created_at"],
            data["running_at"],
            data["ip"],
            data.get("deleted_at"),
        )


@dataclass
class NodeEvent:
    message: str
    node_id: str
    reason: str
    timestamp: str

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "node_id": self.node_id,
            "reason": self.reason,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NodeEvent:
        return cls(data["message"], data["node_id"], data["reason"], data["timestamp"])


def phase_seconds(status: str, speed: float) -> float:
    return 0.0 if speed == 0 else PHASE_SECONDS[status] / speed


def walk(
    start: float, phases: Sequence[str], speed: float, *, instant: bool = False
) -> list[PhaseEntry]:
    """Entries for `phases` one after the other from `start`, then Ready."""
    schedule: list[PhaseEntry] = []
    t = start
    for status in phases:
        schedule.append(PhaseEntry(status, t))
        t += 0.0 if instant else phase_seconds(status, speed)
    schedule.append(PhaseEntry("Ready", t))
    return schedule


@dataclass
class StoredCluster:
    """One cluster as the simulator keeps it (its API view is computed, see cluster_views)."""

    cluster_id: str
    fields: ClusterFields
    created_at: float
    schedule: list[PhaseEntry]
    gone_at: float | None  # when a deletion finishes
    stuck: str | None  # a status the cluster stays in until recovered
    unhealthy_node: str | None
    nodes: list[GpuNode]
    deleted_nodes: list[GpuNode]
    control_nodes: list[ControlNode]
    events: list[NodeEvent]
    volume_ids: list[str]
    owned_volume_ids: list[str]  # inline shared volumes that go with the cluster
    machine_cluster_id: str
    kube_secret: str

    def status_at(self, now: float) -> str:
        """The phase at `now`: an API status, or `SCHEDULED` (see `api_status`)."""
        status = self.schedule[0].status
        for entry in self.schedule:
            if entry.at <= now:
                status = entry.status
        return status

    def api_status(self, now: float) -> str:
        status = self.status_at(now)
        return API_STATUS.get(status, status)

    def passed(self, now: float) -> list[PhaseEntry]:
        return [entry for entry in self.schedule if entry.at <= now]

    def enter(self, status: str, now: float) -> None:
        """Forget the future of the schedule and be in `status` from now on."""
        self.schedule = self.passed(now)
        self.schedule.append(PhaseEntry(status, now))

    def stick(self, status: str, now: float) -> None:
        """Be in `status` now (unless already) and stay there; pending nodes stop booting."""
        self.schedule = self.passed(now)
        if self.status_at(now) != status:
            self.schedule.append(PhaseEntry(status, now))
        self.stuck = status
        for node in self.nodes:
            if node.running_at is not None and node.running_at > now:
                node.running_at = None

    def degrade(self, now: float) -> None:
        self.enter("Degraded", now)
        self.stuck = "Degraded"
        if self.nodes:
            self.unhealthy_node = self.nodes[0].node_id

    def recover(self, now: float) -> None:
        self.enter("Ready", now)
        self.stuck = None
        self.unhealthy_node = None
        for node in self.nodes:
            if node.running_at is None:
                node.running_at = now

    def begin_delete(self, now: float, speed: float) -> None:
        if self.gone_at is not None:
            return
        self.enter("Deleting", now)
        self.stuck = None
        self.gone_at = now + (0.0 if speed == 0 else DELETE_SECONDS / speed)

    def add_nodes(
        self, count: int, now: float, ready: float | None, ids: Prng, *, reason: str | None
    ) -> None:
        taken = {n.node_id for n in self.nodes + self.deleted_nodes}
        for _ in range(count):
            node_id = new_id("n", taken, ids)
            taken.add(node_id)
            instance_id = f"i-{ids.hex(12)}"
            ip = f"10.{ids.next_u64() % 250}.{ids.next_u64() % 250}.2"
            self.nodes.append(GpuNode(node_id, instance_id, now, ready, ip))
            if reason:
                self.events.append(NodeEvent("GPU node added", node_id, reason, format_time(now)))

    def resize(self, num_gpus: int, now: float, speed: float, ids: Prng, *, walks: bool) -> None:
        """Set num_gpus: add or retire nodes; `walks` goes back through the scaling phases."""
        if num_gpus == self.fields.num_gpus:
            return
        self.fields.num_gpus = num_gpus
        ready: float | None = now
        if walks and not self.stuck:
            scaling = walk(now, SCALE_WALK, speed)
            self.schedule = self.passed(now) + scaling
            ready = scaling[1].at
        elif self.stuck:
            ready = None
        want = num_gpus // 8
        if want > len(self.nodes):
            self.add_nodes(want - len(self.nodes), now, ready, ids, reason="TogetherScaledUp")
        while len(self.nodes) > want:
            node = self.nodes.pop()
            node.deleted_at = now
            self.deleted_nodes.append(node)
            self.events.append(
                NodeEvent("GPU node removed", node.node_id, "TogetherScaledDown", format_time(now))
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "fields": self.fields.to_json(),
            "created_at": self.created_at,
            "schedule": [[entry.status, entry.at] for entry in self.schedule],
            "gone_at": self.gone_at,
            "stuck": self.stuck,
            "unhealthy_node": self.unhealthy_node,
            "nodes": [n.to_json() for n in self.nodes],
            "deleted_nodes": [n.to_json() for n in self.deleted_nodes],
            "control_nodes": [n.to_json() for n in self.control_nodes],
            "events": [e.to_json() for e in self.events],
            "volume_ids": list(self.volume_ids),
            "owned_volume_ids": list(self.owned_volume_ids),
            "machine_cluster_id": self.machine_cluster_id,
            "kube_secret": self.kube_secret,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredCluster:
        return cls(
            cluster_id=data["cluster_id"],
            fields=ClusterFields.from_json(data["fields"]),
            created_at=data["created_at"],
            schedule=[PhaseEntry(status, at) for status, at in data["schedule"]],
            gone_at=data["gone_at"],
            stuck=data["stuck"],
            unhealthy_node=data["unhealthy_node"],
            nodes=[GpuNode.from_json(n) for n in data["nodes"]],
            deleted_nodes=[GpuNode.from_json(n) for n in data["deleted_nodes"]],
            control_nodes=[ControlNode.from_json(n) for n in data["control_nodes"]],
            events=[NodeEvent.from_json(e) for e in data["events"]],
            volume_ids=list(data["volume_ids"]),
            owned_volume_ids=list(data["owned_volume_ids"]),
            machine_cluster_id=data["machine_cluster_id"],
            kube_secret=data["kube_secret"],
        )


def new_id(prefix: str, taken: Container[str], ids: Prng) -> str:
    while True:
        candidate = f"{prefix}-{ids.hex(12)}"
        if candidate not in taken:
            return candidate
