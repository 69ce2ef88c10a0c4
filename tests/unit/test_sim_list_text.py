"""`sim serve` writes its cluster list from each settled cluster's cached JSON text
(reconciler/simulator/view_cache.py): the bytes are the ones json.dumps of the whole answer
gives without the cache, whatever the mix of clusters, the project filter or the fault."""

from __future__ import annotations

import json
from typing import Any

from reconciler.simulator.state import SimState
from reconciler.simulator.wire import SimRequest, SimResponse
from tests.conftest import FakeClock
from tests.unit.test_sim_state import AUTH, BASE, CLUSTERS, VOLUME, VOLUMES
from tests.unit.test_sim_view_cache import Twins

PROJECT_QUERIES: list[dict[str, str]] = [
    {},
    {"projectId": "proj-a"},
    {"project_id": "proj-a"},
    {"project_id": "proj-sim", "projectId": "proj-a"},
    {"project_id": "nope"},
]
SCHEDULED: dict[str, Any] = {
    "billing_type": "SCHEDULED_CAPACITY",
    "reservation_start_time": "2027-02-01T00:00:00Z",  # two weeks after the clock's start
    "reservation_end_time": "2027-02-03T00:00:00Z",
}


def answer(state: SimState, method: str, path: str, body: Any = None, **query: str) -> SimResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    return state.handle(SimRequest(method, path, query, AUTH, raw))


def same(twins: Twins, method: str, path: str, body: Any = None, **query: str) -> SimResponse:
    """The same request to both twins; the whole answers (status, body, headers, fault)."""
    cached, plain = (answer(s, method, path, body, **query) for s in (twins.cached, twins.plain))
    assert cached == plain, (method, path, query)
    return cached


def same_lists(twins: Twins) -> dict[str, Any]:
    """Every project filter, twice (the second from the cache); the unfiltered list's JSON."""
    for query in PROJECT_QUERIES * 2:
        body = same(twins, "GET", CLUSTERS, **query).body
        assert json.dumps(json.loads(body)).encode() == body  # json.dumps's own writing
    listed: dict[str, Any] = json.loads(same(twins, "GET", CLUSTERS).body)
    return listed


def cached_names(twins: Twins, listed: dict[str, Any]) -> set[str]:
    texts = twins.cached.view_cache.texts or {}
    return {c["cluster_name"] for c in listed["clusters"] if c["cluster_id"] in texts}


def a_mixed_fleet() -> tuple[Twins, dict[str, str]]:
    """Settled clusters with add-ons and volumes (one shared, one inline), one with a
    remediation, one still walking, one scheduled for later; names → ids."""
    twins = Twins()
    volume = same(twins, "POST", VOLUMES, {**VOLUME, "volume_name": "dé", "project_id": "proj-a"})
    add_ons = [
        {"add_on_type": "headlamp", "name": "hé☃"},
        {"add_on_type": "dashboard", "name": "off", "config": {"dashboard": {"enabled": False}}},
    ]
    bodies: list[dict[str, Any]] = [
        {"cluster_name": "shared", "project_id": "proj-a", "volume_id": volume.json()["volume_id"]},
        {"cluster_name": "tr☃", "add_ons": add_ons},
        {"cluster_name": "inline", "shared_volume": {**VOLUME, "volume_name": "own"}},
        {"cluster_name": "slurm", "cluster_type": "SLURM", "slurm_shm_size_gib": 64},
        {"cluster_name": "mended", "project_id": "proj-a", "num_gpus": 16},
        {"cluster_name": "later", **SCHEDULED},
    ]
    ids = {b["cluster_name"]: same(twins, "POST", CLUSTERS, {**BASE, **b}).json() for b in bodies}
    twins.advance(300)  # all settled but `later`
    node = ids["mended"]["gpu_worker_nodes"][1]["instance_id"]
    path = f"{CLUSTERS}/{ids['mended']['cluster_id']}/instances/{node}/remediations"
    same(twins, "POST", path, {"mode": "REMEDIATION_MODE_REBOOT_VM"})
    ids["walking"] = same(twins, "POST", CLUSTERS, {**BASE, "cluster_name": "walking"}).json()
    return twins, {name: view["cluster_id"] for name, view in ids.items()}


def test_the_cached_list_is_byte_for_byte_the_plain_one() -> None:
    twins, ids = a_mixed_fleet()
    listed = same_lists(twins)
    assert len(listed["clusters"]) == 7
    settled = {"shared", "tr☃", "inline", "slurm"}  # not `mended`, `walking` nor `later`
    assert cached_names(twins, listed) == settled
    twins.advance(5)  # `walking` settles as the clock moves on, over cached lists
    for _ in range(20):
        twins.advance(7)
        listed = same_lists(twins)
    assert cached_names(twins, listed) == settled | {"walking"}
    for cluster_id in ids.values():  # one cluster's GET takes the same text
        same(twins, "GET", f"{CLUSTERS}/{cluster_id}")
    # A request that may change anything empties the cache; the lists stay the plain ones.
    addon = f"{CLUSTERS}/{ids['tr☃']}/addons/off"
    same(twins, "PUT", addon, {"config": {"dashboard": {"enabled": True}}})
    assert twins.cached.view_cache.texts == {}
    listed = same_lists(twins)
    assert [a["name"] for a in listed["clusters"][1]["add_ons"]] == ["hé☃", "off"]
    same(twins, "PUT", f"{CLUSTERS}/{ids['slurm']}", {"num_gpus": 16})
    same(twins, "DELETE", f"{CLUSTERS}/{ids['inline']}")
    assert twins.cached.view_cache.texts == {}
    # A deleting cluster's view no longer moves (until it is gone): kept too.
    assert cached_names(twins, same_lists(twins)) == (settled | {"walking"}) - {"slurm"}
    for _ in range(40):  # `slurm` walks back to Ready, `inline` and its volume go
        twins.advance(7)
        listed = same_lists(twins)
    assert "inline" not in {c["cluster_name"] for c in listed["clusters"]}
    assert cached_names(twins, listed) == (settled | {"walking"}) - {"inline"}
    same(twins, "GET", VOLUMES)


def test_a_faulted_list_is_answered_alike() -> None:
    """Queued faults on the list: a status answer, and the committed drop and stall (whose
    body is written, then dropped or stalled by the shell) carry the same bytes."""
    twins, _ids = a_mixed_fleet()
    same_lists(twins)
    for kind in ("drop", "stall", "500", "429", "drop"):
        for state in (twins.cached, twins.plain):
            state.queue_fault(kind, method="GET", route=CLUSTERS)
        response = same(twins, "GET", CLUSTERS, projectId="proj-a")
        assert response.fault == (kind if not kind.isdigit() else None)
    assert len(json.loads(same(twins, "GET", CLUSTERS).body)["clusters"]) == 7


def test_an_empty_list_is_the_plain_one() -> None:
    twins = Twins()
    assert same(twins, "GET", CLUSTERS).body == b'{"clusters": []}'
    same(twins, "POST", CLUSTERS, BASE)
    twins.advance(300)
    same_lists(twins)
    assert twins.cached.view_cache.texts  # filled, and a filter that matches none
    assert same(twins, "GET", CLUSTERS, projectId="nope").body == b'{"clusters": []}'


def test_the_in_process_simulator_writes_the_whole_answer() -> None:
    """Without `cache_views` nothing is kept and the list is the dict, written whole."""
    state = SimState(clock=FakeClock(), token="t", speed=0)
    state.add_cluster()
    state.begin("GET")
    assert state.view_cache.texts is None and not state.view_cache.on
