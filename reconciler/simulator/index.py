"""The store's indexes, so that no request costs O(account): by name, by attached volume, the
remediations of each cluster, and the deletions in order of their end.

Each index answers what a scan of `Store.clusters` / `Store.remediations` answered, in the
same order (insertion order, which is the order of those dicts), so answers and the state
file stay identical. `Store` keeps them up to date at the few places it adds or forgets a
record; `rebuild` fills them from scratch after a state is loaded.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from reconciler.simulator.clusters import StoredCluster
from reconciler.simulator.remediations import StoredRemediation


class Index:
    """Secondary indexes over the clusters (by id in `Store.clusters`) and remediations."""

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self.names: dict[str, dict[str, None]] = {}  # cluster_name → cluster ids
        self.attached: dict[str, dict[str, None]] = {}  # volume id → cluster ids
        self.remediations: dict[str, dict[str, None]] = {}  # cluster id → remediation ids
        self.ends: list[tuple[float, str]] = []  # heap of (gone_at, cluster id)
        self.position: dict[str, int] = {}  # cluster id → its place in `Store.clusters`
        self.added = 0

    def rebuild(
        self, clusters: Iterable[StoredCluster], remediations: Iterable[StoredRemediation]
    ) -> None:
        self._clear()
        for cluster in clusters:
            self.add_cluster(cluster)
            if cluster.gone_at is not None:
                self.deleting(cluster)
        for remediation in remediations:
            self.add_remediation(remediation)

    # --- clusters --------------------------------------------------------------------------

    def add_cluster(self, cluster: StoredCluster) -> None:
        self.position[cluster.cluster_id] = self.added
        self.added += 1
        self.names.setdefault(cluster.fields.cluster_name, {})[cluster.cluster_id] = None
        for volume_id in cluster.volume_ids:
            self.attached.setdefault(volume_id, {})[cluster.cluster_id] = None

    def rename(self, cluster: StoredCluster, old_name: str) -> None:
        _discard(self.names, old_name, cluster.cluster_id)
        self.names.setdefault(cluster.fields.cluster_name, {})[cluster.cluster_id] = None

    def forget_cluster(self, cluster: StoredCluster) -> list[str]:
        """Drop the cluster; returns the ids of its remediations (for the caller to forget)."""
        _discard(self.names, cluster.fields.cluster_name, cluster.cluster_id)
        self.position.pop(cluster.cluster_id, None)
        for volume_id in cluster.volume_ids:
            _discard(self.attached, volume_id, cluster.cluster_id)
        return list(self.remediations.pop(cluster.cluster_id, {}))

    def named(self, name: str) -> list[str]:
        return list(self.names.get(name, {}))

    def attached_clusters(self, volume_id: str) -> list[str]:
        return list(self.attached.get(volume_id, {}))

    def is_attached(self, volume_id: str) -> bool:
        return bool(self.attached.get(volume_id))

    # --- deletions ---------------------------------------------------------------------------

    def deleting(self, cluster: StoredCluster) -> None:
        """Remember when the cluster's deletion ends (`gone_at`, set once)."""
        assert cluster.gone_at is not None
        heapq.heappush(self.ends, (cluster.gone_at, cluster.cluster_id))

    def ended(self, now: float) -> list[str]:
        """The ids whose deletion ended by `now`, in the order of `Store.clusters` (as a scan
        of it would find them: which owned volume goes first can depend on it)."""
        done = []
        while self.ends and self.ends[0][0] <= now:
            done.append(heapq.heappop(self.ends)[1])
        return sorted(done, key=lambda cluster_id: self.position.get(cluster_id, -1))

    # --- remediations --------------------------------------------------------------------------

    def add_remediation(self, remediation: StoredRemediation) -> None:
        self.remediations.setdefault(remediation.cluster_id, {})[remediation.id] = None

    def remediations_of(self, cluster_id: str) -> list[str]:
        """The cluster's remediation ids, oldest stored first (the order of the store's dict)."""
        return list(self.remediations.get(cluster_id, {}))


def _discard(index: dict[str, dict[str, None]], key: str, member: str) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(member, None)
        if not members:
            del index[key]
