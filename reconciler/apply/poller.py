"""One poller for every resource apply waits on: one list call per kind per poll interval.

Shell module (it calls the API and takes its clock and sleep injected). Workers hand it a
target and block; the poller settles each target as ready, gone, failed or timed out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.errors import ApiError
from reconciler.kinds import Endpoints, Kind

INTERRUPTED = "interrupted"


class Lister(Protocol):
    def list_resources(
        self, api: Endpoints, project_id: str | None = None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class ApplyOptions:
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


@dataclass
class _Target:
    kind: Kind
    resource_id: str
    name: str
    want: str  # "ready" | "gone"
    started: float
    phase: str = ""
    phase_since: float = 0.0
    seen: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""


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

    def wait(self, kind: Kind, resource_id: str, name: str, want: str) -> None:
        """Block until the resource is ready (want="ready") or gone; ActionFailed otherwise."""
        now = self._clock()
        target = _Target(kind, resource_id, name, want, started=now, phase_since=now)
        with self._lock:
            if self._closed:
                raise WaitAbandoned()
            self._targets.append(target)
            self._lock.notify_all()
        target.done.wait()
        if target.error == INTERRUPTED:
            raise WaitAbandoned()
        if target.error:
            raise ActionFailed(target.error)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for target in self._targets:
                target.error = target.error or INTERRUPTED
                target.done.set()
            self._targets.clear()
            self._lock.notify_all()
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
            self._judge(target, listed, now, error)
            if target.done.is_set():
                finished.append(target)
        with self._lock:
            for target in finished:
                if target in self._targets:
                    self._targets.remove(target)
            waiting = [
                (t.kind.name, t.name, t.phase or "?", now - t.started) for t in self._targets
            ]
        if self._on_poll is not None:
            self._on_poll(waiting)

    def _judge(
        self, target: _Target, listed: dict[str, dict[str, Any]] | None, now: float, error: str
    ) -> None:
        if listed is not None and self._judge_listed(target, listed.get(target.resource_id), now):
            return
        options = self._options
        if now - target.started > options.timeout:
            goal = self._goal(target)
            last = f"; last phase {target.phase}" if target.phase else ""
            why = f"; last poll failed: {error}" if error else ""
            self._finish(
                target,
                f"timed out after {options.timeout:.0f} s waiting to be {goal}{last}{why}",
            )

    def _judge_listed(self, target: _Target, found: dict[str, Any] | None, now: float) -> bool:
        """Settle `target` from its list entry (None: not listed); True when settled."""
        options, statuses = self._options, target.kind.statuses
        if found is None:
            if target.want == "gone":
                return self._finish(target)
            if target.seen or now - target.started > options.appear_grace:
                last = f" (last phase {target.phase})" if target.phase else ""
                return self._finish(target, f"disappeared while being created{last}")
            return False
        target.seen = True
        status = str(found.get("status"))
        if status != target.phase:
            target.phase, target.phase_since = status, now
        if target.want == "ready" and status == statuses.ready:
            return self._finish(target)
        if target.want == "ready" and status in statuses.failed:
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
        return str(target.kind.statuses.ready) if target.want == "ready" else "gone"

    @staticmethod
    def _finish(target: _Target, error: str = "") -> bool:
        target.error = error
        target.done.set()
        return True


DEFAULT_OPTIONS = ApplyOptions()
