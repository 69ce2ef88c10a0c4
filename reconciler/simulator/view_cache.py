"""`sim serve` keeps each settled cluster's JSON text between requests (`Store.cache_views`).

A cluster is *settled* once time alone no longer changes its view: no phase, node or volume
still to come (`settled_at`) and no remediation (a remediation's view moves with the clock).
Only `sim serve` turns the cache on: its state changes only through requests, so a request
that may change anything (not a GET) empties the cache once it is answered, and nothing is read
from the cache while it runs. One kind is spared: a cluster create that mounts no volume adds
a cluster and changes no other cluster's view (a view reads only its own cluster, its volumes
and its remediations), so the texts kept stay true, and the new cluster's text, written for
the POST's answer, is kept too when the cluster is settled (`created_answer`). Apply's check
for duplicates lists every cluster right after its creates: without this the simulator wrote
each new cluster's view again for that list (0.06 s for 1,000 clusters, inside its lock).
The in-process simulator (`--sim`, tests) never caches: its tests' hooks change the state
behind a cache's back.

What is kept is the text, not the view: a 10,000-cluster list answer is then one join of
cached texts, where it was json.dumps of 10,000 views (0.3-0.45 s even with the views kept).
Each cluster's text is written by the encoder that writes every answer (`to_json`), and the
list joins them with json.dumps's own separators, so the bytes are the ones json.dumps of the
whole answer gives (tests/unit/test_sim_list_text.py compares them). A cluster not settled is
written for each request, as before. The join is one `b"".join` over the texts and their
separators: 0.034 s for 10,000 texts (40 MB), 0.07-0.09 s joined first and then framed.

Measured on the 2-core machine (shared, noisy), 10,000 settled clusters, curl against a warm
`sim serve`, three rounds alternating with the previous version (which kept each settled
cluster's view dict and wrote the JSON per request): the list answer took 0.06-0.09 s (up to
0.2 s in a busy moment), its first byte after 0.04-0.06 s (up to 0.12 s), instead of
0.48-0.85 s and 0.45-0.81 s; in-process, `handle` of the list took 0.04-0.05 s instead of
0.77-1.36 s. The first list, which writes and keeps every text, took 0.79-1.26 s (1.16-1.75 s
before). Memory is lower than with the views: `sim serve` holding 10,000 clusters stays at
~155 MB resident once they are cached (~210 MB with the views; ~110 MB before the first
list), its peak ~193 MB (290-330 MB).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from reconciler.simulator.cluster_views import cluster_view, settled_at
from reconciler.simulator.clusters import StoredCluster

if TYPE_CHECKING:
    from reconciler.simulator.store import Store

# How every answer is written (`SimState.json_response`): json.dumps's defaults (", " and
# ": ", ASCII only) without the cycle check (an answer is a tree built for it).
ENCODER = json.JSONEncoder(check_circular=False)
# json.dumps({"clusters": [a, b]}) is these around a's and b's own texts.
LIST_HEAD, LIST_SEPARATOR, LIST_TAIL = b'{"clusters": [', b", ", b"]}"


def to_json(payload: Any) -> bytes:
    """The answer's body: `payload` as json.dumps writes it, UTF-8 (ASCII, in fact)."""
    return ENCODER.encode(payload).encode()


class ViewCache:
    """cluster id → (the cluster, its view's JSON text), for the settled clusters."""

    def __init__(self) -> None:
        self.texts: dict[str, tuple[StoredCluster, bytes]] | None = None  # None: off
        self.reading = False  # a GET is answered: what it writes may be kept
        self.spared = False  # the request running only added a cluster (`created_answer`)

    @property
    def on(self) -> bool:
        """Turned on (`sim serve`) and answering a GET: texts are read from and kept here."""
        return self.reading and self.texts is not None

    def turn_on(self) -> None:
        self.texts = {}

    def begin(self, method: str) -> None:
        """Before each request: only a GET reads the cache."""
        self.reading = method == "GET"
        self.spared = False

    def end(self) -> None:
        """After each request: anything but a GET may have changed anything, so the cache is
        emptied, unless the request said it only added a cluster."""
        if not self.reading and not self.spared and self.texts:
            self.texts.clear()

    def forget(self, cluster_id: str) -> None:
        if self.texts:
            self.texts.pop(cluster_id, None)


def cluster_text(store: Store, cluster: StoredCluster) -> bytes:
    """The cluster's view as JSON text: from the cache if kept there, else written now (and
    kept, with the cache on, when the cluster is settled)."""
    cache = store.view_cache
    texts = cache.texts if cache.reading else None
    if texts is not None:
        hit = texts.get(cluster.cluster_id)
        if hit is not None and hit[0] is cluster:
            return hit[1]
    return _written(store, cluster, texts)


def _written(
    store: Store, cluster: StoredCluster, texts: dict[str, tuple[StoredCluster, bytes]] | None
) -> bytes:
    """The cluster's view written now; kept in `texts` (if given) when it is settled."""
    latest = store.latest_remediations(cluster.cluster_id) if store.remediations else {}
    now = store.clock()
    text = to_json(cluster_view(cluster, now, store.volumes, latest))
    if texts is not None and not latest and now >= settled_at(cluster, store.volumes):
        texts[cluster.cluster_id] = (cluster, text)
    return text


def created_answer(store: Store, cluster: StoredCluster) -> dict[str, Any] | bytes:
    """POST of a cluster, once created: its view. With the cache on and no volume mounted,
    the create changed no other cluster's view: the cache is spared, and the answer's text is
    kept (when settled) for the lists that follow."""
    cache = store.view_cache
    if cache.texts is None or cluster.volume_ids:
        return store.cluster_view(cluster)
    cache.spared = True
    return _written(store, cluster, cache.texts)


def cluster_answer(store: Store, cluster: StoredCluster) -> dict[str, Any] | bytes:
    """GET of one cluster: its view, or its JSON text with the cache on."""
    return cluster_text(store, cluster) if store.view_cache.on else store.cluster_view(cluster)


def cluster_list(store: Store, project: str | None) -> dict[str, Any] | bytes:
    """GET of the cluster list (of `project`, if given): `{"clusters": [views]}`, or with the
    cache on its JSON text, joined from each cluster's text."""
    clusters = [
        c for c in store.clusters.values() if project is None or c.fields.project_id == project
    ]
    if not store.view_cache.on:
        return {"clusters": [store.cluster_view(c) for c in clusters]}
    parts = [LIST_HEAD]
    for cluster in clusters:
        parts += (cluster_text(store, cluster), LIST_SEPARATOR)
    if clusters:
        parts.pop()  # the last separator
    parts.append(LIST_TAIL)
    return b"".join(parts)
