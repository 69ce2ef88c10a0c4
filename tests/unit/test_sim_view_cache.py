"""`sim serve` keeps settled clusters' JSON text between requests (`Store.cache_views`, issue 11):
every answer stays the one the simulator gives without the cache, at every step of a
cluster's life (create, phases over time, scaling, a remediation, volumes, deletion)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.simulator.http import serve
from reconciler.simulator.state import SimState
from tests.conftest import SIM_TOKEN, FakeClock
from tests.unit.test_sim_state import AUTH, BASE, CLUSTERS, VOLUME, VOLUMES, call


class Twins:
    """The same requests, at the same instants, to a simulator with the view cache and to one
    without: each answer must be the same, byte for byte."""

    def __init__(self, speed: float = 10.0) -> None:
        self.clocks = (FakeClock(), FakeClock())
        self.cached, self.plain = (
            SimState(clock=c, token=SIM_TOKEN, speed=speed) for c in self.clocks
        )
        self.cached.cache_views()

    def advance(self, seconds: float) -> None:
        for clock in self.clocks:
            clock.advance(seconds)

    def same(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        cached, plain = (
            call(s, method, path, body, headers=headers) for s in (self.cached, self.plain)
        )
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


def _kept() -> Callable[[Twins], set[str]]:
    return lambda twins: set(twins.cached.view_cache.texts or {})


def test_a_create_without_a_volume_keeps_the_cache_and_its_own_text() -> None:
    """At speed 0 a new cluster is settled at once: the POST's answer text is kept for the
    lists that follow (apply's check for duplicates), and the texts kept before stay."""
    twins, kept = Twins(speed=0), _kept()
    first = twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "a"})
    assert kept(twins) == {first["cluster_id"]}
    twins.lists()
    second = twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "b"})
    assert kept(twins) == {first["cluster_id"], second["cluster_id"]}
    key = {**AUTH, "idempotency-key": "k-1"}
    third = twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "c"}, key)
    assert third["cluster_name"] == "c" and kept(twins) == {
        first["cluster_id"],
        second["cluster_id"],
        third["cluster_id"],
    }
    assert twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "c"}, key) == third  # replayed
    assert kept(twins) == set()  # a replay is not a create: emptied, as any other request
    assert [c["cluster_name"] for c in twins.lists()] == ["a", "b", "c"]
    volume = twins.same("POST", VOLUMES, VOLUME)
    assert kept(twins) == set()
    twins.lists()
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "d", "volume_id": volume["volume_id"]})
    assert kept(twins) == set()  # mounting a volume may change what other clusters show
    twins.lists()
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "e", "num_gpus": 7})  # refused (400)
    assert kept(twins) == set()
    assert [c["cluster_name"] for c in twins.lists()] == ["a", "b", "c", "d"]


def test_a_walking_cluster_s_create_keeps_the_others_but_not_its_own_text() -> None:
    twins, kept = Twins(), _kept()
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "a"})
    settled = {c["cluster_id"] for c in twins.watch(210)}
    assert kept(twins) == settled
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "b"})
    assert kept(twins) == settled  # `b` walks through its phases: not kept yet
    assert _status(twins.lists())("b") != "Ready"
    assert _status(twins.watch(210))("b") == "Ready"
    assert len(kept(twins)) == 2


def test_a_failed_create_empties_the_cache() -> None:
    """A create answered with a fault status is not committed; the cache is emptied all the
    same (only a create that was made spares it), and every answer stays the plain one."""
    twins, kept = Twins(speed=0), _kept()
    twins.same("POST", CLUSTERS, {**BASE, "cluster_name": "a"})
    twins.lists()
    for state in (twins.cached, twins.plain):
        state.queue_fault("503", method="POST", route=CLUSTERS)
    cached, plain = (
        call(s, "POST", CLUSTERS, {**BASE, "cluster_name": "b"})
        for s in (twins.cached, twins.plain)
    )
    assert (cached.status, cached.body) == (plain.status, plain.body)
    assert cached.status == 503 and kept(twins) == set()
    assert [c["cluster_name"] for c in twins.lists()] == ["a"]


@pytest.mark.parametrize("seed", range(6))
def test_any_mix_of_requests_is_answered_as_without_the_cache(seed: int) -> None:
    """Creates with and without volumes, scaling, deletes, add-ons, lists and GETs, in a
    random order with the clock moving: every answer is the plain simulator's, byte for byte."""
    rng = random.Random(seed)
    twins = Twins(speed=rng.choice([0.0, 10.0]))
    volume = twins.same("POST", VOLUMES, VOLUME)["volume_id"]
    for step in range(60):
        listed = twins.same("GET", CLUSTERS)["clusters"]
        ids = [c["cluster_id"] for c in listed if c["status"] != "Deleting"]
        target = f"{CLUSTERS}/{rng.choice(ids)}" if ids else None
        match rng.randrange(6):
            case 0 | 1:
                mount = {"volume_id": volume} if rng.random() < 0.3 else {}
                twins.same("POST", CLUSTERS, {**BASE, "cluster_name": f"c{step}", **mount})
            case 2 if target:
                twins.same("PUT", target, {"num_gpus": rng.choice([8, 16])})
            case 3 if target:
                twins.same("DELETE", target)
            case 4 if target:
                twins.same("POST", f"{target}/addons", {"add_on_type": "headlamp", "name": "h"})
            case _:
                twins.advance(rng.choice([1.0, 7.0, 60.0]))
        twins.lists()
