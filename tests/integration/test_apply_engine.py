"""The Applier against the simulator: real Client, real transport, fake time (DESIGN §6, §7)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from msgspec import structs

from reconciler.apply import Applier, ApplyOptions
from reconciler.apply.events import Progress, Step
from reconciler.client import Client
from reconciler.model import ActionKind, Desired, Ensure, Lifecycle, Outcome, frozen_map
from reconciler.plan import PlanOptions
from reconciler.simulator.state import ROUTE_CLUSTERS, ROUTE_VOLUMES, SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import FakeClock
from tests.integration.helpers import (
    BASE_FIELDS,
    FAST,
    apply_spec,
    desired,
    duplicate_names,
    list_calls,
    make_applier,
    make_spec,
    mutations,
    plan_against,
    sim_api,
)


@pytest.fixture
def api(sim_transport: SimTransport, fake_clock: FakeClock) -> Client:
    return sim_api(sim_transport, fake_clock)


def test_create_update_delete_then_plan_is_empty(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Every action kind runs to done, the report names them, and the re-plan is empty."""
    grow = sim_state.add_cluster(cluster_name="grow", num_gpus=8)
    old = sim_state.add_cluster(cluster_name="old")
    spec = make_spec(
        desired("new", num_gpus=16),
        desired("grow", num_gpus=24),
        desired("old", ensure=Ensure.ABSENT),
    )
    plan, report = apply_spec(api, spec, fake_clock)
    assert [(a.kind, a.name) for a in plan.actions] == [
        (ActionKind.CREATE, "new"),
        (ActionKind.UPDATE, "grow"),
        (ActionKind.DELETE, "old"),
    ]
    assert [(r.action.name, r.outcome) for r in report.results] == [
        ("new", Outcome.DONE),
        ("grow", Outcome.DONE),
        ("old", Outcome.DONE),
    ]
    assert not report.has_failures and not report.interrupted
    assert sim_state.clusters_named("grow")[0]["num_gpus"] == 24
    assert sim_state.clusters_named("grow")[0]["cluster_id"] == grow["cluster_id"]
    assert sim_state.clusters_named("old") == []
    assert old["cluster_id"] not in sim_state.clusters
    assert [c["num_gpus"] for c in sim_state.clusters_named("new")] == [16]
    again, _ = plan_against(api, spec)
    assert not again.has_changes, again.actions


def test_update_sends_only_changed_fields(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """An in-place update is one PUT with the changed fields; no create, no delete."""
    live = sim_state.add_cluster(cluster_name="a", num_gpus=8)
    plan, report = apply_spec(api, make_spec(desired("a", num_gpus=16)), fake_clock)
    assert dict(plan.actions[0].body) == {"num_gpus": 16}
    assert mutations(sim_state) == [("PUT", f"{ROUTE_CLUSTERS}/{live['cluster_id']}")]
    assert report.results[0].outcome is Outcome.DONE


def test_volume_created_first_and_referenced_by_id(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A cluster naming a spec volume is created after it, with the new volume's id."""
    volume = Desired(
        kind="volume", name="data", fields=frozen_map({"region": "us-central-8", "size_tib": 2})
    )
    spec = make_spec(desired("a", volume="data"), volumes=[volume])
    _, report = apply_spec(api, spec, fake_clock)
    assert [r.outcome for r in report.results] == [Outcome.DONE, Outcome.DONE]
    posts = [p for m, p in mutations(sim_state) if m == "POST"]
    assert posts == [ROUTE_VOLUMES, ROUTE_CLUSTERS]
    (cluster,) = sim_state.clusters_named("a")
    (volume_id,) = sim_state.volumes
    assert [v["volume_id"] for v in cluster["volumes"]] == [volume_id]
    again, _ = plan_against(api, spec)
    assert not again.has_changes


def test_failed_volume_skips_its_cluster(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A dependant of a failed action is skipped, saying which action failed."""
    sim_state.queue_fault(400, method="POST", route=ROUTE_VOLUMES)
    volume = Desired(
        kind="volume", name="data", fields=frozen_map({"region": "us-central-8", "size_tib": 2})
    )
    _, report = apply_spec(
        api, make_spec(desired("a", volume="data"), desired("b"), volumes=[volume]), fake_clock
    )
    outcomes = {r.action.name: (r.outcome, r.message) for r in report.results}
    assert outcomes["data"][0] is Outcome.FAILED
    assert outcomes["a"][0] is Outcome.SKIPPED
    assert "volume 'data'" in outcomes["a"][1]
    assert outcomes["b"][0] is Outcome.DONE
    assert sim_state.clusters_named("a") == []


def test_replace_deletes_then_creates_one_cluster(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Replace (allowed) frees the name first: exactly one cluster with the new type."""
    old = sim_state.add_cluster(cluster_name="r", gpu_type="H100_SXM")
    spec = make_spec(desired("r", gpu_type="H200_SXM", lifecycle=Lifecycle(replace_on_change=True)))
    plan, report = apply_spec(api, spec, fake_clock)
    assert plan.actions[0].kind is ActionKind.REPLACE
    assert report.results[0].outcome is Outcome.DONE
    (now,) = sim_state.clusters_named("r")
    assert now["gpu_type"] == "H200_SXM" and now["cluster_id"] != old["cluster_id"]
    methods = [m for m, _ in mutations(sim_state)]
    assert methods == ["DELETE", "POST"]


def test_create_waits_for_a_deleting_namesake(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A live cluster in Deleting counts as gone; its create waits until it has gone."""
    sim_state.speed = 1.0
    dying = sim_state.add_cluster(cluster_name="d")
    sim_state.delete_cluster(sim_state.clusters[dying["cluster_id"]])
    plan, report = apply_spec(api, make_spec(desired("d")), fake_clock)
    assert plan.actions[0].kind is ActionKind.CREATE
    assert report.results[0].outcome is Outcome.DONE
    assert duplicate_names(sim_state) == {}
    assert [c["status"] for c in sim_state.clusters_named("d")] == ["Ready"]


def test_request_stop_before_run_skips_everything(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Ctrl-C before anything started: every action skipped, no API call that changes state."""
    sim_state.add_cluster(cluster_name="b", num_gpus=8)
    spec = make_spec(desired("a"), desired("b", num_gpus=16))
    plan, live = plan_against(api, spec)
    applier = make_applier(api, fake_clock)
    applier.request_stop()
    report = applier.run(plan, live)
    assert report.interrupted
    assert [r.outcome for r in report.results] == [Outcome.SKIPPED, Outcome.SKIPPED]
    assert all("interrupted" in r.message for r in report.results)
    assert mutations(sim_state) == []


def test_no_wait_sends_and_does_not_poll(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """wait=False: the creates are sent, and no poll is made: one list call in all, after the
    creates, that checks no name is now held twice."""
    sim_state.speed = 1.0
    spec = make_spec(desired("a"), desired("b"))
    plan, live = plan_against(api, spec)
    before = list_calls(sim_state)
    options = structs.replace(FAST, wait=False)
    report = make_applier(api, fake_clock, options).run(plan, live)
    assert [r.outcome for r in report.results] == [Outcome.DONE, Outcome.DONE]
    assert list_calls(sim_state) == (before[0] + 1, before[1])
    assert {r.status for r in report.results} == {"WaitingForControlPlaneNodes"}


def test_parallelism_one_still_converges(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """--parallelism 1 runs actions one at a time and reaches the same end state."""
    spec = make_spec(*(desired(f"p{i}") for i in range(4)))
    _, report = apply_spec(api, spec, fake_clock, structs.replace(FAST, parallelism=1))
    assert report.count(Outcome.DONE) == 4
    assert not plan_against(api, spec)[0].has_changes


# --- API economy while waiting (DESIGN §7, §10) ------------------------------------------------


def _apply_creates(n: int) -> tuple[int, int]:
    """(list calls made while applying n creates at speed 1, poller sleeps) on fake time."""
    clock = FakeClock()
    state = SimState(clock=clock, token="sim-token", speed=1.0)
    api = sim_api(SimTransport(state, sleep=clock.sleep), clock)
    spec = make_spec(*(desired(f"w{i:02d}") for i in range(n)))
    plan, live = plan_against(api, spec)
    before = list_calls(state)[0]

    def poller_sleep(seconds: float) -> None:
        # Fake time moves only once every create has been answered, as it would in real time
        # (creates take milliseconds, polls seconds); otherwise the count depends on threads.
        deadline = time.monotonic() + 10
        while state.count("POST", ROUTE_CLUSTERS) < n and time.monotonic() < deadline:
            time.sleep(0.001)
        clock.sleep(seconds)

    options = structs.replace(FAST, parallelism=max(n, 1))
    applier = Applier(api, options=options, clock=clock, sleep=poller_sleep)
    report = applier.run(plan, live)
    assert report.count(Outcome.DONE) == n
    # Less the one list after the creates that checks no name is held twice.
    return list_calls(state)[0] - before - 1, len(clock.sleeps)


def test_waiting_makes_one_list_call_per_poll_interval() -> None:
    """However many clusters wait, each poll interval costs exactly one list call."""
    single_calls, single_sleeps = _apply_creates(1)
    many_calls, many_sleeps = _apply_creates(20)
    # Every sleep of the poller is followed by exactly one list call, and nothing else lists.
    assert single_calls == single_sleeps > 10
    assert many_calls == many_sleeps
    # Twenty clusters waiting at once cost what one costs: one shared list per interval.
    assert many_calls == single_calls


def test_poll_interval_grows_to_the_cap(fake_clock: FakeClock, sim_state: SimState) -> None:
    """Poll every 5 s, growing x1.5 up to 30 s (DESIGN §7)."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    _, report = apply_spec(api, make_spec(desired("slow")), fake_clock)
    assert report.results[0].outcome is Outcome.DONE
    assert fake_clock.sleeps[:6] == [5.0, 7.5, 11.25, 16.875, 25.3125, 30.0]
    assert set(fake_clock.sleeps[5:]) == {30.0}


def test_plan_options_target_limits_apply(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """--target: only the named resource is planned and applied."""
    spec = make_spec(desired("a"), desired("b"))
    plan, report = apply_spec(api, spec, fake_clock, plan_options=PlanOptions(targets=("b",)))
    assert [a.name for a in plan.actions] == ["b"]
    assert sim_state.clusters_named("a") == []
    assert len(sim_state.clusters_named("b")) == 1
    assert report.count(Outcome.DONE) == 1


def test_apply_options_defaults_match_design() -> None:
    """Parallelism 10, 45 min timeout, poll 5 s x1.5 up to 30 s (DESIGN §7)."""
    options = ApplyOptions()
    assert (options.parallelism, options.timeout) == (10, 45 * 60.0)
    assert (options.poll_initial, options.poll_factor, options.poll_max) == (5.0, 1.5, 30.0)


def test_scheduled_cluster_is_not_waited_for(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A SCHEDULED_CAPACITY cluster whose reservation starts next week: apply returns once the
    API accepted it, saying when it starts, and polls nothing."""
    start = datetime.fromtimestamp(fake_clock.now + 7 * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = datetime.fromtimestamp(fake_clock.now + 37 * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec = make_spec(
        desired(
            "later",
            billing_type="SCHEDULED_CAPACITY",
            reservation_start_time=start,
            reservation_end_time=end,
        )
    )
    events: list[Progress] = []
    _, report = apply_spec(api, spec, fake_clock, progress=events.append)
    (result,) = report.results
    assert result.outcome is Outcome.DONE
    assert result.message == f"scheduled, starts {start}"
    # The plan's list and the one after the creates (no name held twice); no poll.
    assert sim_state.count("GET", ROUTE_CLUSTERS) == 2
    assert [e.step for e in events] == [Step.CREATING, Step.SCHEDULED, Step.DONE]


def test_a_name_created_twice_at_once_fails_the_apply(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Another apply created the same name meanwhile (a second cluster appears right after
    ours): the action fails naming both ids, and the report is not "complete"."""
    spec = make_spec(desired("twin"))
    plan, live = plan_against(api, spec)

    def race(event: Progress) -> None:
        if event.step is Step.CREATING and not sim_state.clusters_named("twin"):
            sim_state.add_cluster(cluster_name="twin", **BASE_FIELDS)

    report = make_applier(api, fake_clock, progress=race).run(plan, live)
    (result,) = report.results
    assert result.outcome is Outcome.FAILED
    assert "2 live clusters are now named 'twin'" in result.message
    assert report.has_failures


def test_a_namesake_going_away_is_not_a_name_held_twice(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A cluster of the same name that is being deleted (listed with status Deleting, as the
    check reads only name, id and status) does not fail the apply."""
    spec = make_spec(desired("twin"))
    plan, live = plan_against(api, spec)

    def race(event: Progress) -> None:
        if event.step is Step.CREATING and not sim_state.clusters_named("twin"):
            going = sim_state.add_cluster(cluster_name="twin", **BASE_FIELDS)
            sim_state.stick(going["cluster_id"], "Deleting")

    report = make_applier(api, fake_clock, progress=race).run(plan, live)
    assert [r.outcome for r in report.results] == [Outcome.DONE]
    assert len(sim_state.clusters_named("twin")) == 2  # ours, and the one going away


def test_idempotency_keys_are_derived_not_random() -> None:
    """The key of a create is the same in every run and pipeline for the same project, kind,
    name and body, and differs when any of them differs."""
    from reconciler.apply import idempotency_key
    from reconciler.model import Action

    action = Action(kind=ActionKind.CREATE, resource="cluster", name="a")
    body = {"cluster_name": "a", "num_gpus": 8}
    key = idempotency_key("p", action, body)
    assert key == idempotency_key("p", action, dict(reversed(body.items())))
    assert key.startswith("reconciler-") and len(key) == len("reconciler-") + 40
    others = {
        idempotency_key("q", action, body),
        idempotency_key("p", Action(kind=ActionKind.CREATE, resource="volume", name="a"), body),
        idempotency_key("p", action, {**body, "num_gpus": 16}),
    }
    assert key not in others and len(others) == 3


def test_a_failing_progress_display_never_stops_apply(
    api: Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A display that fails on every line (a full disk under a redirected stdout): the
    creates still happen and the report still says so."""

    def broken(_event: Progress) -> None:
        raise OSError(28, "No space left on device")

    spec = make_spec(desired("a"), desired("b"))
    plan, live = plan_against(api, spec)
    applier = make_applier(api, fake_clock, progress=broken)
    report = applier.run(plan, live)
    assert [r.outcome for r in report.results] == [Outcome.DONE, Outcome.DONE]
    assert applier.progress_failures > 0
    assert len(sim_state.clusters_named("a")) == len(sim_state.clusters_named("b")) == 1
