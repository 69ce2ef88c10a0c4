"""Ctrl-C while apply hands out its first actions (`Schedule.start`, issue 11's run): taken as
the first Ctrl-C, never a KeyboardInterrupt out of `run`. Raised there, between a worker
thread's start and its registration in concurrent.futures, it once left a worker that the
interpreter's exit waited for forever (a `reconciler apply` that never exited)."""

from __future__ import annotations

import signal
import threading

import pytest

from reconciler.apply.schedule import Schedule, held_interrupts
from reconciler.client import Client
from reconciler.model import Outcome
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import FakeClock
from tests.integration.helpers import desired, make_applier, make_spec, plan_against, sim_api


@pytest.fixture
def api(sim_transport: SimTransport, fake_clock: FakeClock) -> Client:
    return sim_api(sim_transport, fake_clock)


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("reconciler-apply")]


def test_ctrl_c_while_the_first_actions_start_is_the_first_interrupt(
    api: Client, sim_state: SimState, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT after the first of two actions was handed out: each is sent or skipped (none
    half made), `on_interrupt` is told once, the report comes back interrupted, and no
    worker is left behind."""
    plan, live = plan_against(api, make_spec(desired("a"), desired("b")))
    handed_out = Schedule._start

    def start_then_interrupt(schedule: Schedule, key: str) -> None:
        handed_out(schedule, key)
        if key == plan.actions[0].key:
            signal.raise_signal(signal.SIGINT)  # its handler runs now, in this main thread

    monkeypatch.setattr(Schedule, "_start", start_then_interrupt)
    told: list[str] = []
    try:
        report = make_applier(api, fake_clock).run(
            plan, live, on_interrupt=lambda: told.append("!")
        )
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped Applier.run while the first actions were handed out")
    assert report.interrupted and told == ["!"]
    outcomes = [r.outcome for r in report.results]
    # Sent (its wait then cut short, or already over), or never started: none half made.
    assert set(outcomes) <= {Outcome.DONE, Outcome.SENT, Outcome.SKIPPED}
    assert len(sim_state.clusters) == len(outcomes) - outcomes.count(Outcome.SKIPPED)
    assert not [t for t in _workers() if t.is_alive()]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_ctrl_c_is_held_only_where_it_would_raise() -> None:
    """Ignored (a background job) or handled by the caller, or in another thread: untouched."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with held_interrupts() as came:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
        assert came == []
    finally:
        signal.signal(signal.SIGINT, previous)
    seen: list[object] = []

    def other_thread() -> None:
        with held_interrupts() as came:
            seen.append(came)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen == [[]]
    with held_interrupts() as came:
        signal.raise_signal(signal.SIGINT)
    assert came == [signal.SIGINT]
