"""The stored resources and their operations: create, update, delete, sweep and views.

`Store` keeps clusters and volumes with the clock, the speed and the id generator; `SimState`
(state.py) adds the API around it: auth, routing, faults, idempotency and the request log.
The test hooks that act on resources directly (`add_cluster`, `stick`, ...) live here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from reconciler.simulator.cluster_requests import (
    apply_cluster_update,
    check_cluster_create,
    check_cluster_update,
    cluster_fields,
)
from reconciler.simulator.cluster_views import cluster_view
from reconciler.simulator.clusters import (
    CREATE_WALK,
    PAUSED_STATUSES,
    SCHEDULED,
    STATUSES,
    ControlNode,
    PhaseEntry,
    StoredCluster,
    new_id,
    walk,
)
from reconciler.simulator.index import Index
from reconciler.simulator.prng import Prng
from reconciler.simulator.remediations import (
    SYSTEM_USER,
    StoredRemediation,
    remediation_view,
)
from reconciler.simulator.shapes import CLUSTER_CREATE, VOLUME_CREATE, check_shape
from reconciler.simulator.view_cache import ViewCache
from reconciler.simulator.volumes import (
    VOLUME_PROVISION_SECONDS,
    StoredVolume,
    check_volume_body,
    new_volume,
    volume_view,
)
from reconciler.simulator.wire import DEFAULT_PROJECT, ApiFailure

T = TypeVar("T")


def _found(record: T | None, noun: str, record_id: str, api: bool, missing: str) -> T:
    """`record`, or the API's 404 (`api`) or a KeyError for a test hook naming a wrong id."""
    if record is None:
        if api:
            raise ApiFailure(404, f"{noun} {record_id} not found", code="not_found")
        raise KeyError(f"no {missing} {record_id}")
    return record


class Store:
    """Clusters and volumes over the injected clock, at `speed` (0 = instant)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        speed: float,
        seed: int,
        scheduled_waits: bool = True,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be zero (instant) or positive")
        self.clock = clock
        self.speed = speed
        # A SCHEDULED_CAPACITY cluster waits for its reservation_start_time (as the real API
        # does). Off by default until the tool stops waiting for Ready on such a cluster
        # (issue 9, item 4): with it on, apply of a scheduled cluster times out.
        self.scheduled_waits = scheduled_waits
        self.ids = Prng(seed)
        self.clusters: dict[str, StoredCluster] = {}
        self.volumes: dict[str, StoredVolume] = {}
        self.remediations: dict[str, StoredRemediation] = {}
        self.index = Index()
        self.view_cache = ViewCache()  # off until `cache_views`

    # --- test hooks: act on resources directly (no auth, faults or log) -----------------

    def clusters_named(self, name: str) -> list[dict[str, Any]]:
        """Live clusters (not gone) with this name, as the API shows them."""
        self.sweep()
        return [self.cluster_view(self.clusters[cid]) for cid in self.index.named(name)]

    def oob_update(self, cluster_id: str, **fields: Any) -> dict[str, Any]:
        """Change a cluster behind the tool's back (as a console user would); returns it."""
        cluster = self.live_cluster(cluster_id)
        now = self.clock()
        for key, value in fields.items():
            if key == "num_gpus":
                cluster.resize(int(value), now, self.speed, self.ids, walks=True)
            elif key == "num_preemptible_gpus":
                cluster.fields.desired_preemptible_gpus = value
            elif key == "status":
                self.stick(cluster_id, str(value))
            elif key == "cluster_name":
                old_name = cluster.fields.cluster_name
                cluster.fields.set(key, value)
                self.index.rename(cluster, old_name)
            else:
                cluster.fields.set(key, value)
        return self.cluster_view(cluster)

    def stick(self, cluster_id: str, status: str) -> None:
        """Put the cluster in `status` now (unless it is there) and keep it there forever."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.live_cluster(cluster_id).stick(status, self.clock())

    def degrade(self, cluster_id: str) -> None:
        """Turn the cluster `Degraded` now (one GPU node reports NotReady)."""
        self.live_cluster(cluster_id).degrade(self.clock())

    def recover(self, cluster_id: str) -> None:
        """Undo `stick`/`degrade`/`pause`: the cluster becomes Ready now."""
        self.live_cluster(cluster_id).recover(self.clock())

    def pause(self, cluster_id: str, status: str = "Paused") -> None:
        """Pause the cluster now and keep it paused until `recover`: `Paused`, or
        `OnDemandComputePaused` (an on-demand cluster whose credits ran out)."""
        if status not in PAUSED_STATUSES:
            raise ValueError(f"pause: status must be one of {', '.join(PAUSED_STATUSES)}")
        self.stick(cluster_id, status)

    def request_remediation(
        self,
        cluster_id: str,
        instance_id: str | None = None,
        *,
        mode: str = "REMEDIATION_MODE_HOST_AWARE",
        reason: str = "GPU XID 79: fallen off the bus",
    ) -> dict[str, Any]:
        """The system raises a remediation of one GPU node (default: the first) that waits
        in `PENDING_APPROVAL` for approve/reject/cancel; returns it as the API shows it."""
        cluster = self.live_cluster(cluster_id)
        index, node = next(
            (i, n) for i, n in enumerate(cluster.nodes) if instance_id in (None, n.instance_id)
        )
        remediation = self.new_remediation(
            cluster_id,
            node.instance_id,
            f"{cluster.fields.cluster_name}-gpu-{index}",
            {"mode": mode, "reason": reason},
            trigger="REMEDIATION_TRIGGER_AUTOMATED",
            requested_by=SYSTEM_USER,
        )
        return remediation_view(remediation, self.clock())

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
            self.degrade(cluster.cluster_id)
        elif status != "Ready":
            self.stick(cluster.cluster_id, status)
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

    # --- remediations ------------------------------------------------------------------------

    def new_remediation(
        self,
        cluster_id: str,
        instance_id: str,
        instance_name: str,
        body: dict[str, Any],
        *,
        trigger: str,
        requested_by: str,
        remediation_id: str | None = None,
    ) -> StoredRemediation:
        """Store a new remediation awaiting approval (the caller queues an API-made one)."""
        remediation = StoredRemediation(
            id=remediation_id or new_id("rem", self.remediations, self.ids),
            cluster_id=cluster_id,
            instance_id=instance_id,
            instance_name=instance_name,
            mode=body["mode"],
            trigger=trigger,
            created_at=self.clock(),
            requested_by=requested_by,
            reason=body.get("reason"),
        )
        self.remediations[remediation.id] = remediation
        self.index.add_remediation(remediation)
        return remediation

    def latest_remediations(self, cluster_id: str) -> dict[str, dict[str, Any]]:
        """instance id → the view of its newest remediation (a node's `latest_remediation`)."""
        now, latest = self.clock(), {}
        own = [self.remediations[rid] for rid in self.index.remediations_of(cluster_id)]
        for remediation in sorted(own, key=lambda r: r.created_at):  # stable
            latest[remediation.instance_id] = remediation_view(remediation, now)
        return latest

    # --- clusters ----------------------------------------------------------------------------

    def live_cluster(self, cluster_id: str, *, api: bool = False) -> StoredCluster:
        self.sweep()
        return _found(self.clusters.get(cluster_id), "cluster", cluster_id, api, "live cluster")

    def create_cluster(self, body: dict[str, Any], *, instant: bool = False) -> StoredCluster:
        """Validate a create body, then add the cluster (and its inline shared volume)."""
        check_shape(body, CLUSTER_CREATE, "")
        create = check_cluster_create(body, self.volumes, self.clusters)
        now = self.clock()
        volume_ids, owned = list(create.volume_ids), []
        if "shared_volume" in body:
            shared = dict(body["shared_volume"])
            shared.setdefault("project_id", create.project)
            volume = self.create_volume(shared, instant=instant)
            volume_ids.append(volume.volume_id)
            if not shared.get("is_lifecycle_independent", False):
                owned.append(volume.volume_id)
        cluster_id = new_id("c", self.clusters, self.ids)
        phases = list(CREATE_WALK)
        if volume_ids:
            phases.insert(3, "WaitingForSharedVolume")
        # A scheduled cluster waits for its start on this clock, at any speed.
        waits = self.scheduled_waits and body["billing_type"] == "SCHEDULED_CAPACITY"
        waits = waits and not instant
        begin = max(now, create.start) if waits and create.start is not None else now
        walked = walk(begin, phases, self.speed, instant=instant)
        schedule = [PhaseEntry(SCHEDULED, now), *walked] if begin > now else walked
        fields = cluster_fields(create)
        machine_cluster_id = f"mc-{self.ids.hex(10)}"  # drawn before the secret, as saved
        kube_secret = self.ids.hex(16) + self.ids.hex(16)
        cluster = StoredCluster(
            cluster_id=cluster_id,
            fields=fields,
            created_at=now,
            schedule=schedule,
            gone_at=None,
            stuck=None,
            unhealthy_node=None,
            nodes=[],
            deleted_nodes=[],
            control_nodes=[],
            events=[],
            volume_ids=volume_ids,
            owned_volume_ids=owned,
            machine_cluster_id=machine_cluster_id,
            kube_secret=kube_secret,
        )
        control_ready = next(e.at for e in schedule if e.status == "WaitingForDataPlaneNodes")
        for _ in range(3 if fields.cluster_type == "KUBERNETES" else 1):
            cluster.control_nodes.append(
                ControlNode(new_id("cp", (), self.ids), begin, control_ready)
            )
        data_ready = walked[2].at  # the end of WaitingForDataPlaneNodes
        cluster.add_nodes(fields.num_gpus // 8, begin, data_ready, self.ids, reason=None)
        self.clusters[cluster_id] = cluster
        self.index.add_cluster(cluster)
        return cluster

    def update_cluster(self, cluster: StoredCluster, body: dict[str, Any]) -> None:
        now = self.clock()
        num_gpus, end = check_cluster_update(cluster, body, cluster.status_at(now))
        apply_cluster_update(cluster.fields, body, end)
        cluster.resize(num_gpus, now, self.speed, self.ids, walks=True)

    def delete_cluster(self, cluster: StoredCluster) -> None:
        if cluster.gone_at is None:
            cluster.begin_delete(self.clock(), self.speed)
            self.index.deleting(cluster)

    def status_at(self, cluster: StoredCluster, now: float) -> str:
        return cluster.status_at(now)

    def sweep(self) -> None:
        """Forget clusters whose deletion finished, with the volumes they own."""
        # The index's heap of deletion ends: O(what ended), not a scan of every cluster.
        now = self.clock()
        for cluster_id in self.index.ended(now):
            cluster = self.clusters.pop(cluster_id, None)
            if cluster is None:  # forgotten behind the store's back (a test hook)
                continue
            self.view_cache.forget(cluster_id)
            for remediation_id in self.index.forget_cluster(cluster):
                del self.remediations[remediation_id]
            for volume_id in cluster.owned_volume_ids:
                if not self.attached_clusters(volume_id):
                    self.volumes.pop(volume_id, None)

    def cluster_view(self, cluster: StoredCluster) -> dict[str, Any]:
        """The cluster as the API returns it: every field of the SDK's `Cluster` model."""
        latest = self.latest_remediations(cluster.cluster_id) if self.remediations else {}
        return cluster_view(cluster, self.clock(), self.volumes, latest)

    def cache_views(self) -> None:
        """Keep each settled cluster's JSON text (no phase, node or volume still to come, no
        remediation) from one request to the next, until a request that may change anything is
        answered (view_cache.py, with the figures): `sim serve`, whose state only requests
        change (a test hook changes it behind the cache's back)."""
        self.view_cache.turn_on()

    def begin(self, method: str) -> None:
        """Before each request: deletions that finished are forgotten; the view cache is read
        only while a GET is answered."""
        self.sweep()
        self.view_cache.begin(method)

    def end(self) -> None:
        """After each request: one that may have changed anything (not a GET, and not a create
        that only added a cluster) empties the view cache (view_cache.py)."""
        self.view_cache.end()

    # --- volumes ---------------------------------------------------------------------------

    def live_volume(self, volume_id: str, *, api: bool = False) -> StoredVolume:
        self.sweep()
        return _found(self.volumes.get(volume_id), "volume", volume_id, api, "volume")

    def create_volume(self, body: dict[str, Any], *, instant: bool = False) -> StoredVolume:
        check_shape(body, VOLUME_CREATE, "")
        check_volume_body(body, "", self.clusters)
        provision = 0.0 if instant or self.speed == 0 else VOLUME_PROVISION_SECONDS / self.speed
        volume_id = new_id("vol", self.volumes, self.ids)
        volume = new_volume(volume_id, body, DEFAULT_PROJECT, self.clock(), provision)
        self.volumes[volume_id] = volume
        return volume

    def attached_clusters(self, volume_id: str) -> list[str]:
        """The clusters (live or deleting) that mount the volume, oldest first."""
        return self.index.attached_clusters(volume_id)

    def delete_volume(self, volume: StoredVolume) -> None:
        users = self.attached_clusters(volume.volume_id)
        if users:
            raise ApiFailure(
                409,
                f"volume {volume.volume_id} is attached to cluster(s) {', '.join(users)}; "
                "delete them first",
                param="volume_id",
                code="volume_attached",
            )
        del self.volumes[volume.volume_id]

    def volume_view(self, volume: StoredVolume, attached: bool | None = None) -> dict[str, Any]:
        """The volume as the API returns it, plus the undocumented `region`."""
        if attached is None:
            attached = self.index.is_attached(volume.volume_id)
        return volume_view(volume, self.clock(), attached)
