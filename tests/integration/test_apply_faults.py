"""Apply under faults injected by the simulator: never a duplicate, failures reported (§7)."""

from __future__ import annotations

import pytest
from msgspec import structs

from reconciler.client import Client
from reconciler.model import ActionKind, Desired, Ensure, Outcome, Spec, frozen_map
from reconciler.plan import PlanOptions
from reconciler.render import render_report
from reconciler.simulator.state import ROUTE_CLUSTERS, ROUTE_VOLUMES, SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import FakeClock
from tests.integration.helpers import (
    FAST,
    RecordingTransport,
    apply_spec,
    desired,
    duplicate_names,
    make_applier,
    make_spec,
    mutations,
    on_waiting,
    plan_against,
    sim_api,
)


@pytest.fixture
def api(sim_transport: SimTransport, fake_clock: FakeClock) -> Client:
    return sim_api(sim_transport, fake_clock)


# Faults on the create (POST), in the order the simulator answers them; then how many POSTs
# the tool may send: 5xx is answered before committing (so: re-list, none, resend once with
# the same key); drop/stall commit first (so: re-list and adopt, no second POST); 429 is a
# refusal the client waits out.
CREATE_FAULTS = [
    (["500"], 2),
    (["502"], 2),
    (["503"], 2),
    (["504"], 2),
    (["429"], 2),
    (["drop"], 1),
    (["stall"], 1),
    (["503", "drop"], 2),
    (["429", "429", "429"], 4),
]


@pytest.mark.parametrize(
    ("faults", "posts"), CREATE_FAULTS, ids=["+".join(f) for f, _ in CREATE_FAULTS]
)
def test_create_faults_never_duplicate(
    faults: list[str], posts: int, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """5xx, 429, commit-then-drop and stall on a create: done, exactly one cluster, one key."""
    for kind in faults:
        sim_state.queue_fault(kind, method="POST", route=ROUTE_CLUSTERS)
    transport = RecordingTransport(sim_state, sleep=fake_clock.sleep)
    api = sim_api(transport, fake_clock)
    _, report = apply_spec(api, make_spec(desired("solo")), fake_clock)
    assert report.results[0].outcome is Outcome.DONE, report.results[0].message
    assert len(sim_state.clusters_named("solo")) == 1
    assert duplicate_names(sim_state) == {}
    keys = [key for method, _, key in transport.keys if method == "POST"]
    assert len(keys) == posts
    assert len(set(keys)) == 1 and keys[0], "a resend must reuse the same Idempotency-Key"
    assert not plan_against(api, make_spec(desired("solo")))[0].has_changes


#: One spec per kind, and the route its create is POSTed to.
ONE_OF_EACH_KIND = [
    (make_spec(desired("solo")), ROUTE_CLUSTERS, "solo"),
    (
        make_spec(
            volumes=[
                Desired(
                    kind="volume",
                    name="solo",
                    fields=frozen_map({"region": "us-central-8", "size_tib": 2}),
                )
            ]
        ),
        ROUTE_VOLUMES,
        "solo",
    ),
]


@pytest.mark.parametrize(
    ("spec", "route", "name"), ONE_OF_EACH_KIND, ids=[r for _, r, _ in ONE_OF_EACH_KIND]
)
def test_unknown_create_outcome_waits_the_grace_before_its_one_resend(
    spec: Spec, route: str, name: str, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Every kind: after a create whose outcome is unknown and nothing of that name listed,
    apply waits adopt_grace and lists again before it sends the create once more (DESIGN §7);
    the volume path used to resend at once."""
    sim_state.queue_fault("503", method="POST", route=route)
    events: list[tuple[str, float]] = []
    transport = RecordingTransport(
        sim_state,
        sleep=fake_clock.sleep,
        after=lambda method, path: (
            events.append((method, fake_clock.now)) if path == route else None
        ),
    )
    api = sim_api(transport, fake_clock)
    _, report = apply_spec(api, spec, fake_clock)
    assert report.results[0].outcome is Outcome.DONE, report.results[0].message
    first, second = [i for i, (method, _) in enumerate(events) if method == "POST"]
    between = events[first + 1 : second]
    # One list at once, one after the grace, then the resend: never a resend at once.
    assert [method for method, _ in between] == ["GET", "GET"]
    assert between[1][1] - between[0][1] >= FAST.adopt_grace
    assert events[second][1] >= between[1][1]
    keys = {key for method, path, key in transport.keys if method == "POST" and path == route}
    assert len(keys) == 1


def test_drop_on_every_create_of_many(sim_state: SimState, fake_clock: FakeClock) -> None:
    """Every create of ten commits and then loses its answer: ten clusters, none twice."""
    sim_state.queue_fault("drop", times=10, method="POST", route=ROUTE_CLUSTERS)
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    spec = make_spec(*(desired(f"d{i}") for i in range(10)))
    _, report = apply_spec(api, spec, fake_clock)
    assert report.count(Outcome.DONE) == 10
    assert sim_state.count("POST", ROUTE_CLUSTERS) == 10
    assert duplicate_names(sim_state) == {}
    assert len(sim_state.clusters) == 10


def test_random_fault_rates_never_duplicate(fake_clock: FakeClock) -> None:
    """Random 5xx and drop faults on every mutating request: zero duplicates, re-plan clean."""
    from reconciler.simulator.state import Faults

    state = SimState(
        clock=fake_clock,
        token="sim-token",
        speed=0,
        seed=7,
        faults=Faults(rates={"500": 0.15, "503": 0.1, "drop": 0.2}),
    )
    api = sim_api(SimTransport(state, sleep=fake_clock.sleep), fake_clock)
    spec = make_spec(*(desired(f"f{i}") for i in range(12)))
    for _ in range(3):  # a failed create is fixed by running again: the plan shows what is left
        _, report = apply_spec(api, spec, fake_clock)
        assert duplicate_names(state) == {}
        if not report.has_failures:
            break
    assert not plan_against(api, spec)[0].has_changes
    assert duplicate_names(state) == {}


def test_stuck_phase_fails_with_the_phase(sim_state: SimState, fake_clock: FakeClock) -> None:
    """A cluster that stays in one phase past the stall limit fails, naming that phase."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    hook = on_waiting(sim_state, lambda cid: sim_state.stick(cid, "InstallingDrivers"))
    # Longer than any normal phase at speed 1 (420 s), far shorter than the timeout.
    options = structs.replace(FAST, stall_limit=600.0, timeout=7200.0)
    _, report = apply_spec(
        api, make_spec(desired("stuck"), desired("fine")), fake_clock, options, progress=hook
    )
    results = {r.action.name: r for r in report.results}
    assert results["stuck"].outcome is Outcome.FAILED
    assert "InstallingDrivers" in results["stuck"].message
    assert "stall limit" in results["stuck"].message
    # The hook sticks every cluster it sees, so "fine" is stuck too: both fail, none hangs.
    assert results["fine"].outcome is Outcome.FAILED


def test_timeout_fails_with_the_last_phase(sim_state: SimState, fake_clock: FakeClock) -> None:
    """Past --timeout the wait ends with the last phase seen, even below the stall limit."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    hook = on_waiting(sim_state, lambda cid: sim_state.stick(cid, "WaitingForSubnet"))
    # WaitingForSubnet starts 600 s in (speed 1); the stall limit is out of reach.
    options = structs.replace(FAST, stall_limit=10_000.0, timeout=900.0)
    _, report = apply_spec(api, make_spec(desired("slow")), fake_clock, options, progress=hook)
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert "timed out" in result.message and "WaitingForSubnet" in result.message


def test_degraded_fails(sim_state: SimState, fake_clock: FakeClock) -> None:
    """A cluster turning Degraded while apply waits for Ready is a failure saying so."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    hook = on_waiting(sim_state, sim_state.degrade)
    _, report = apply_spec(api, make_spec(desired("sick")), fake_clock, progress=hook)
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert "Degraded" in result.message
    assert report.has_failures


def test_disappearing_while_created_fails(sim_state: SimState, fake_clock: FakeClock) -> None:
    """A cluster deleted by someone else while being created fails with its last phase."""
    sim_state.speed = 1.0
    waiting: list[str] = []

    def delete_after_first_poll(method: str, path: str) -> None:
        if method == "GET" and path == ROUTE_CLUSTERS and waiting:
            cluster = sim_state.clusters.get(waiting.pop())
            if cluster is not None:
                sim_state.speed = 0  # the out-of-band delete finishes at once
                sim_state.delete_cluster(cluster)

    transport = RecordingTransport(sim_state, sleep=fake_clock.sleep, after=delete_after_first_poll)
    api = sim_api(transport, fake_clock)
    plan, live = plan_against(api, make_spec(desired("ghost")))
    report = make_applier(api, fake_clock, progress=on_waiting(sim_state, waiting.append)).run(
        plan, live
    )
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert "disappeared" in result.message and "WaitingForControlPlaneNodes" in result.message
    assert sim_state.count("POST", ROUTE_CLUSTERS) == 1, "never re-created"
    assert sim_state.clusters_named("ghost") == []


def test_one_failed_create_among_three(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A create the API refuses fails alone; the others are done; the re-plan shows only it."""
    spec = make_spec(
        desired("ok-1"),
        # Valid for the schema, but the simulator's us-central-8 offers no 12.9/575 pair.
        desired("bad", cuda_version="12.9", nvidia_driver_version="575"),
        desired("ok-2"),
    )
    _, report = apply_spec(api, spec, fake_clock)
    outcomes = {r.action.name: r for r in report.results}
    assert outcomes["ok-1"].outcome is Outcome.DONE
    assert outcomes["ok-2"].outcome is Outcome.DONE
    assert outcomes["bad"].outcome is Outcome.FAILED
    assert "400" in outcomes["bad"].message
    again, _ = plan_against(api, spec)
    assert [(a.kind, a.name) for a in again.actions] == [(ActionKind.CREATE, "bad")]


def test_queued_422_on_one_create(api: Client, sim_state: SimState, fake_clock: FakeClock) -> None:
    """A 422 on a create is not retried and not resent: one failure, no cluster, one POST."""
    sim_state.queue_fault(422, method="POST", route=ROUTE_CLUSTERS)
    _, report = apply_spec(api, make_spec(desired("only")), fake_clock)
    assert report.results[0].outcome is Outcome.FAILED
    assert sim_state.count("POST", ROUTE_CLUSTERS) == 1
    assert sim_state.clusters_named("only") == []


def test_update_of_cluster_deleted_out_of_band(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """404 on an update target: failed, reported as drift, never re-created."""
    live_cluster = sim_state.add_cluster(cluster_name="u", num_gpus=8)
    plan, live = plan_against(api, make_spec(desired("u", num_gpus=16)))
    assert plan.actions[0].kind is ActionKind.UPDATE
    sim_state.delete_cluster(sim_state.clusters[live_cluster["cluster_id"]])  # speed 0: gone
    report = make_applier(api, fake_clock).run(plan, live)
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert "404" in result.message and "never re-created" in result.message
    assert sim_state.count("POST", ROUTE_CLUSTERS) == 0
    assert sim_state.clusters_named("u") == []


def test_delete_of_already_gone_cluster_is_done(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """404 on a delete target: the goal is reached, the action is done."""
    live_cluster = sim_state.add_cluster(cluster_name="gone")
    plan, live = plan_against(api, make_spec(desired("gone", ensure=Ensure.ABSENT)))
    sim_state.delete_cluster(sim_state.clusters[live_cluster["cluster_id"]])
    report = make_applier(api, fake_clock).run(plan, live)
    assert report.results[0].outcome is Outcome.DONE
    assert not report.has_failures


def test_update_retried_after_5xx(api: Client, sim_state: SimState, fake_clock: FakeClock) -> None:
    """PUT is idempotent: a 503 is retried and the update lands once."""
    sim_state.add_cluster(cluster_name="r", num_gpus=8)
    sim_state.queue_fault(503, method="PUT")
    _, report = apply_spec(api, make_spec(desired("r", num_gpus=16)), fake_clock)
    assert report.results[0].outcome is Outcome.DONE
    assert sim_state.clusters_named("r")[0]["num_gpus"] == 16
    assert [m for m, _ in mutations(sim_state)] == ["PUT", "PUT"]


def test_failed_poll_is_not_a_failed_resource(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A list call that fails while waiting (after retries) does not fail the resource."""
    sim_state.speed = 1.0
    plan, live = plan_against(api, make_spec(desired("p")))
    # Five 500s: the client's four retries are used up, so one whole poll fails.
    sim_state.queue_fault(500, times=5, method="GET", route=ROUTE_CLUSTERS)
    report = make_applier(api, fake_clock).run(plan, live)
    assert report.results[0].outcome is Outcome.DONE


@pytest.mark.parametrize("paused", ["Paused", "OnDemandComputePaused"])
def test_paused_cluster_fails_the_wait_at_once(
    paused: str, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A cluster that turns paused while apply waits for Ready fails at the next poll, saying
    why, instead of waiting out the timeout."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    hook = on_waiting(sim_state, lambda cid: sim_state.stick(cid, paused))
    start = fake_clock.now
    _, report = apply_spec(api, make_spec(desired("p")), fake_clock, progress=hook)
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert result.message.startswith(f"turned {paused} while waiting for Ready: ")
    assert fake_clock.now - start < FAST.stall_limit  # failed at once, not after a limit


def test_replace_whose_create_is_refused_says_deleted_not_recreated_first(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """The delete of a replace went through, then the API refused the create: the report's
    first line says the cluster was deleted and not recreated, with the create to resend."""
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    apply_spec(api, make_spec(desired("ok"), desired("moved")), fake_clock)
    sim_state.queue_fault(400, method="POST", route=ROUTE_CLUSTERS)
    spec = make_spec(desired("ok", num_gpus=16), desired("moved", gpu_type="H200_SXM"))
    _, report = apply_spec(
        api, spec, fake_clock, plan_options=PlanOptions(allow_replace=("moved",))
    )
    first = render_report(report).splitlines()[0]
    assert first.startswith('failed   cluster "moved"')
    assert "DELETED, NOT RECREATED: cluster 'moved' was deleted and its create was refused" in first
    assert '"gpu_type": "H200_SXM"' in first
    assert sim_state.clusters_named("moved") == []
