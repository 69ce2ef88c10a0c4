"""One poller for every resource apply waits on: one list call per kind per poll interval.

Shell module (it calls the API and takes its clock and sleep injected). Workers hand it a
target and go on with other actions (`watch` does not block); the poller settles each target
as ready, gone, failed or timed out and tells its `on_settled` callback, from its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from msgspec import Struct

from reconciler.errors import ApiError
from reconciler.kinds import Endpoints, Kind

INTERRUPTED = "interrupted"


class Lister(Protocol):
    def list_resources(
        self, api: Endpoints, project_id: str | None = None
    ) -> list[dict[str, Any]]: ...


class ApplyOptions(Struct, frozen=True):
    parallelism: int = 10
    wait: bool = True
    timeout: float = 45 * 60.0  # per resource
    stall_limit: float = 30 * 60.0  # one phase for longer than this is a failure
    poll_initial: float = 5.0
    poll_factor: float = 1.5
    poll_max: float = 30.0
    appear_grace: float = 30.0  # a new resource may take this long to show up in lists
    adopt_grace: float = 10.0  # after an unknown create outcome, before the one resend


class ActionFailed(Exception):
    """Internal: one action failed; the message goes into the report."""


class WaitAbandoned(Exception):
    """Internal: the call was made, but apply was interrupted before the resource settled."""


#: Told once when a target settles: "" (reached), INTERRUPTED, or what went wrong.
SettledFn = Callable[[str], None]


class Wait(Struct, frozen=True):
    """What an action waits for between its calls: one resource to be ready or gone."""

    kind: Kind
    resource_id: str
    name: str
    want: str  # "ready" | "gone"


@dataclass
class _Target:
    wait: Wait
    on_settled: SettledFn
    started: float
    phase: str = ""
    phase_since: float = 0.0
    seen: bool = False
    settled: bool = False

    @property
    def kind(self) -> Kind:
        return self.wait.kind


#: What is still waiting after a poll: (kind, name, phase or "?", seconds waited).
Waiting = tuple[str, str, str, float]
PollFn = Callable[[list[Waiting]], None]


class Poller:
    """One list call per kind and poll interval serves every resource that is waiting."""

    def __init__(
        self,
        client: Lister,
        project_id: str | None,
        options: ApplyOptions,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        on_poll: PollFn | None = None,
    ) -> None:
        self._client = client
        self._project_id = project_id
        self._options = options
        self._clock = clock
        self._sleep = sleep
        self._on_poll = on_poll
        self._targets: list[_Target] = []
        self._lock = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="reconciler-poller", daemon=True)
        self._thread.start()
        self.polls = 0

    def watch(self, wait: Wait, on_settled: SettledFn) -> None:
        """Settle `wait` at a coming poll; `on_settled` is told once, from the poller's thread
        (at once, from this one, if the poller is closed: INTERRUPTED)."""
        now = self._clock()
        target = _Target(wait, on_settled, started=now, phase_since=now)
        with self._lock:
            closed = self._closed
            if not closed:
                self._targets.append(target)
                self._lock.notify_all()
        if closed:
            self._settle(target, INTERRUPTED)

    def close(self) -> None:
        """End every wait (INTERRUPTED) and the thread; later watches end at once."""
        with self._lock:
            self._closed = True
            targets = list(self._targets)
            self._targets.clear()
            self._lock.notify_all()
        for target in targets:
            self._settle(target, INTERRUPTED)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = self._options.poll_initial
        while True:
            with self._lock:
                while not self._targets and not self._closed:
                    interval = self._options.poll_initial
                    self._lock.wait()
                if self._closed:
                    return
            self._sleep(interval)
            interval = min(interval * self._options.poll_factor, self._options.poll_max)
            with self._lock:
                if self._closed:
                    return
                targets = list(self._targets)
            if targets:
                self._poll(targets)

    def _list(self, kind: Kind) -> tuple[dict[str, dict[str, Any]] | None, str]:
        try:
            listed = self._client.list_resources(kind.api, self._project_id)
            self.polls += 1
        except ApiError as exc:
            # A failed poll is not a failed resource: the next poll may work. Timeouts still
            # apply, so a dead API ends the wait with a clear message.
            return None, str(exc)
        return {str(r[kind.api.id_key]): r for r in listed}, ""

    def _poll(self, targets: list[_Target]) -> None:
        answers = {}
        for kind in {id(t.kind): t.kind for t in targets}.values():
            answers[kind.name] = self._list(kind)
        now = self._clock()
        finished: list[_Target] = []
        for target in targets:
            listed, error = answers[target.kind.name]
            if self._judge(target, listed, now, error):
                finished.append(target)
        with self._lock:
            for target in finished:
                if target in self._targets:
                    self._targets.remove(target)
            waiting = [
                (t.kind.name, t.wait.name, t.phase or "?", now - t.started) for t in self._targets
            ]
        if self._on_poll is not None:
            self._on_poll(waiting)

    def _judge(
        self, target: _Target, listed: dict[str, dict[str, Any]] | None, now: float, error: str
    ) -> bool:
        """Settle `target` from this poll's answer; True when it is settled."""
        found = listed.get(target.wait.resource_id) if listed is not None else None
        if listed is not None and self._judge_listed(target, found, now):
            return True
        options = self._options
        if now - target.started > options.timeout:
            goal = self._goal(target)
            last = f"; last phase {target.phase}" if target.phase else ""
            why = f"; last poll failed: {error}" if error else ""
            return self._finish(
                target,
                f"timed out after {options.timeout:.0f} s waiting to be {goal}{last}{why}",
            )
        return False

    def _judge_listed(self, target: _Target, found: dict[str, Any] | None, now: float) -> bool:
        """Settle `target` from its list entry (None: not listed); True when settled."""
        options, statuses = self._options, target.kind.statuses
        if found is None:
            if target.wait.want == "gone":
                return self._finish(target)
            if target.seen or now - target.started > options.appear_grace:
                last = f" (last phase {target.phase})" if target.phase else ""
                return self._finish(target, f"disappeared while being created{last}")
            return False
        target.seen = True
        status = str(found.get("status"))
        if status != target.phase:
            target.phase, target.phase_since = status, now
        if target.wait.want == "ready" and status == statuses.ready:
            return self._finish(target)
        if target.wait.want == "ready" and status in statuses.failed:
            why = statuses.explanations.get(status)
            return self._finish(
                target,
                f"turned {status} while waiting for {statuses.ready}" + (f": {why}" if why else ""),
            )
        if now - target.phase_since > options.stall_limit:
            return self._finish(
                target,
                f"stuck in phase {status} for {now - target.phase_since:.0f} s "
                f"(stall limit {options.stall_limit:.0f} s)",
            )
        return False

    @staticmethod
    def _goal(target: _Target) -> str:
        return str(target.kind.statuses.ready) if target.wait.want == "ready" else "gone"

    def _finish(self, target: _Target, error: str = "") -> bool:
        self._settle(target, error)
        return True

    def _settle(self, target: _Target, error: str) -> None:
        """Tell the target's callback once, whoever settles it first (a poll or `close`)."""
        with self._lock:
            if target.settled:
                return
            target.settled = True
        target.on_settled(error)


DEFAULT_OPTIONS = ApplyOptions()
