"""`sim serve` keeps settled clusters' JSON text between requests (`Store.cache_views`, issue 11):
every answer stays the one the simulator gives without the cache, at every step of a
cluster's life (create, phases over time, scaling, a remediation, volumes, deletion)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.simulator.http import serve
from reconciler.simulator.state import SimState
from tests.conftest import SIM_TOKEN, FakeClock
from tests.unit.test_sim_state import BASE, CLUSTERS, VOLUME, VOLUMES, call


class Twins:
    """The same requests, at the same instants, to a simulator with the view cache and to one
    without: each answer must be the same, byte for byte."""

    def __init__(self) -> None:
        self.clocks = (FakeClock(), FakeClock())
        self.cached, self.plain = (
            SimState(clock=c, token=SIM_TOKEN, speed=10.0) for c in self.clocks
        )
        self.cached.cache_views()

    def advance(self, seconds: float) -> None:
        for clock in self.clocks:
            clock.advance(seconds)

    def same(self, method: str, path: str, body: Any = None) -> Any:
        cached, plain = (call(s, method, path, body) for s in (self.cached, self.plain))
        assert (cached.status, cached.body) == (plain.status, plain.body), (method, path)
        return cached.json()

    def lists(self) -> list[dict[str, Any]]:
        clusters: list[dict[str, Any]] = self.same("GET", CLUSTERS)["clusters"]
        for cluster in clusters:
            self.same("GET", f"{CLUSTERS}/{cluster['cluster_id']}")
        self.same("GET", VOLUMES)
        return clusters

    def watch(self, seconds: float, step: float = 7.0) -> list[dict[str, Any]]:
        """Lists every `step` seconds for `seconds`; the last list."""
        clusters = self.lists()
        for _ in range(int(seconds / step)):
            self.advance(step)
            clusters = self.lists()
        return clusters


def _status(clusters: list[dict[str, Any]]) -> Callable[[str], str]:
    by_name = {c["cluster_name"]: c["status"] for c in clusters}
    return by_name.__getitem__


def test_the_view_cache_never_changes_an_answer() -> None:
    twins = Twins()
    volume = twins.same("POST", VOLUMES, VOLUME)
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "a"})
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "b", "volume_id": volume["volume_id"]})
    status = _status(twins.watch(210))
    assert (status("a"), status("b")) == ("Ready", "Ready")
    assert set(twins.cached.view_cache.texts or {}) == {c["cluster_id"] for c in twins.lists()}
    a, b = sorted(twins.lists(), key=lambda c: str(c["cluster_name"]))
    twins.same("PUT", f"{CLUSTERS}/{a['cluster_id']}", {"num_gpus": 16})
    assert not twins.cached.view_cache.texts  # a request that may change anything empties it
    assert _status(twins.lists())("a") != "Ready"  # scaling walks back through its phases
    assert _status(twins.watch(210))("a") == "Ready"
    node = b["gpu_worker_nodes"][0]["instance_id"]
    remediations = f"{CLUSTERS}/{b['cluster_id']}/instances/{node}/remediations"
    twins.same("POST", remediations, {"mode": "REMEDIATION_MODE_REBOOT_VM"})
    twins.watch(70)
    assert b["cluster_id"] not in (twins.cached.view_cache.texts or {})  # a remediation: never kept
    twins.same("DELETE", f"{CLUSTERS}/{a['cluster_id']}")
    assert _status(twins.watch(30))("b") == "Ready"
    assert [c["cluster_name"] for c in twins.lists()] == ["b"]
    assert set(twins.cached.view_cache.texts or {}) == set()  # `b` has its remediation


def test_only_sim_serve_turns_the_cache_on(sim_state: SimState) -> None:
    """The in-process simulator (and tests' hooks behind its back) never caches; `serve` does,
    before it listens."""
    assert sim_state.view_cache.texts is None
    state = SimState(clock=FakeClock(), token=SIM_TOKEN, speed=0)
    serve(state, port=0, on_ready=_interrupt)
    assert state.view_cache.texts == {}


def _interrupt(_url: str) -> None:
    raise KeyboardInterrupt
