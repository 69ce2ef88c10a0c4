"""Waiting outside the worker pool (issue 11): workers only send the calls, the one poller
settles every wait, and dependants start when what they depend on has settled. Fake time."""

from __future__ import annotations

import time
from collections.abc import Callable

from msgspec import structs

from reconciler.apply import Applier, Progress, Step
from reconciler.apply.poller import Waiting
from reconciler.model import Desired, Ensure, Outcome, frozen_map
from reconciler.simulator.state import ROUTE_CLUSTERS, SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import FakeClock
from tests.integration.helpers import FAST, desired, make_spec, plan_against, sim_api


def until(condition: Callable[[], bool]) -> None:
    """Real time, bounded: let the worker threads catch up before fake time moves on (the
    real API answers every call within the first poll interval)."""
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)


def wave(n: int, parallelism: int) -> tuple[int, int, list[int], float]:
    """Apply n creates at speed 1 on fake time: (poll intervals, list calls made while
    waiting, how many were waiting after each poll, fake seconds from start to the end)."""
    clock = FakeClock()
    state = SimState(clock=clock, token="sim-token", speed=1.0)
    api = sim_api(SimTransport(state, sleep=clock.sleep), clock)
    plan, live = plan_against(api, make_spec(*(desired(f"w{i:02d}") for i in range(n))))
    lists_before = state.count("GET", ROUTE_CLUSTERS)
    waiting: list[Step] = []
    after_polls: list[int] = []

    def on_event(event: Progress) -> None:
        if event.step is Step.WAITING:
            waiting.append(event.step)

    def sleep(seconds: float) -> None:
        until(lambda: len(waiting) == n)
        clock.sleep(seconds)

    def on_poll(still: list[Waiting]) -> None:
        after_polls.append(len(still))

    options = structs.replace(FAST, parallelism=parallelism)
    applier = Applier(
        api, options=options, clock=clock, sleep=sleep, progress=on_event, on_poll=on_poll
    )
    started = clock()
    report = applier.run(plan, live)
    assert report.count(Outcome.DONE) == n and not report.has_failures
    assert state.count("POST", ROUTE_CLUSTERS) == n
    # Less the one list after the creates that checks no name is held twice.
    lists = state.count("GET", ROUTE_CLUSTERS) - lists_before - 1
    return len(clock.sleeps), lists, after_polls, clock() - started


def test_twenty_creates_at_parallelism_two_wait_in_one_wave() -> None:
    """20 creates with 2 workers: all 20 are sent and wait at once, and the apply takes the
    poll intervals (and the list calls) one cluster takes, not ten waves of them."""
    one_polls, one_lists, _, one_wall = wave(1, parallelism=2)
    polls, lists, after_polls, wall = wave(20, parallelism=2)
    assert one_polls > 10
    assert polls == one_polls and lists == one_lists == polls
    assert wall == one_wall
    assert max(after_polls) == 20, "the poller saw all twenty waiting at once"
    assert after_polls[-1] == 0


def test_interrupt_at_parallelism_one_reports_every_sent_create(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """With one worker, five creates are all sent before any is Ready; the first Ctrl-C then
    reports each as "not waited for", none skipped (the worker never sat on a wait)."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    plan, live = plan_against(api, make_spec(*(desired(f"c{i}") for i in range(5))))
    waits: list[str] = []

    def on_event(event: Progress) -> None:
        if event.step is Step.WAITING:
            waits.append(event.name)
            if len(waits) == 5:
                applier.interrupt()

    def sleep(seconds: float) -> None:
        until(lambda: len(waits) == 5)
        fake_clock.sleep(seconds)

    options = structs.replace(FAST, parallelism=1)
    applier = Applier(api, options=options, clock=fake_clock, sleep=sleep, progress=on_event)
    report = applier.run(plan, live)
    assert report.interrupted
    assert [r.outcome for r in report.results] == [Outcome.SENT] * 5
    assert {r.message for r in report.results} == {"create sent; not waited for (interrupted)"}
    assert len(sim_state.clusters) == 5


def test_volume_delete_is_sent_once_its_cluster_is_gone(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """A volume delete depends on the delete of the cluster mounting it: it starts when that
    delete has settled (the cluster gone), not when its call was answered."""
    sim_state.speed = 1.0
    api = sim_api(SimTransport(sim_state, sleep=fake_clock.sleep), fake_clock)
    volume = sim_state.add_volume(volume_name="data", size_tib=1)
    sim_state.add_cluster(cluster_name="train", volume_id=volume["volume_id"])
    gone = Desired(kind="volume", name="data", fields=frozen_map({}), ensure=Ensure.ABSENT)
    spec = make_spec(desired("train", ensure=Ensure.ABSENT), volumes=[gone])
    plan, live = plan_against(api, spec)
    seen: list[tuple[str, Step, int]] = []

    def on_event(event: Progress) -> None:
        seen.append((event.resource, event.step, len(sim_state.clusters_named("train"))))

    applier = Applier(
        api, options=FAST, clock=fake_clock, sleep=fake_clock.sleep, progress=on_event
    )
    report = applier.run(plan, live)
    assert [r.outcome for r in report.results] == [Outcome.DONE, Outcome.DONE]
    assert ("volume", Step.DELETING, 0) in seen
    assert seen.index(("cluster", Step.WAITING, 1)) < seen.index(("volume", Step.DELETING, 0))
    assert not sim_state.volumes and not sim_state.clusters_named("train")
