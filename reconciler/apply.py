"""Executes a plan: ordering and parallelism, idempotent create, waiting, the report.

Shell module: it calls the API through client.py and takes its clock and sleep injected, so
tests drive it against the simulator with fake time. Each action runs in a worker thread;
waits for Ready / gone go through one shared poller that makes one list call per interval
for every resource waiting at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.errors import (
    ApiError,
    ConflictError,
    CreateOutcomeUnknown,
    NotFoundError,
    ReconcilerError,
)
from reconciler.live import DELETING, READY
from reconciler.model import (
    Action,
    ActionKind,
    ActionResult,
    ApplyReport,
    LiveState,
    Outcome,
    Plan,
    ResourceKind,
    thaw,
)
from reconciler.plan import action_rank
from reconciler.render import show_name

#: Statuses from which a cluster will not reach Ready by itself.
FAILED_STATUSES = frozenset({"Degraded"})
#: Provisioning statuses an update waits out before it is sent.
PROVISIONING_PREFIXES = ("Waiting", "Installing", "Running")


class ApiClient(Protocol):
    """The part of client.Client that apply uses (a Protocol keeps tests honest)."""

    def list_clusters(self, project_id: str | None = None) -> list[dict[str, Any]]: ...
    def create_cluster(
        self, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]: ...
    def update_cluster(self, cluster_id: str, body: Mapping[str, Any]) -> dict[str, Any]: ...
    def delete_cluster(self, cluster_id: str) -> dict[str, Any]: ...
    def list_volumes(self, project_id: str | None = None) -> list[dict[str, Any]]: ...
    def create_volume(
        self, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]: ...
    def update_volume(self, volume_id: str, size_tib: int) -> dict[str, Any]: ...
    def delete_volume(self, volume_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    parallelism: int = 10
    wait: bool = True
    timeout: float = 45 * 60.0  # per resource
    stall_limit: float = 30 * 60.0  # one phase for longer than this is a failure
    poll_initial: float = 5.0
    poll_factor: float = 1.5
    poll_max: float = 30.0
    appear_grace: float = 30.0  # a new cluster may take this long to show up in lists
    adopt_grace: float = 10.0  # after an unknown create outcome, before the one resend


def _what(action: Action) -> str:
    return f"{action.resource} {show_name(action.name)}"


class ActionFailed(Exception):
    """Internal: one action failed; the message goes into the report."""


class WaitAbandoned(Exception):
    """Internal: the call was made, but apply was interrupted before the resource settled."""


INTERRUPTED = "interrupted"


@dataclass
class _Target:
    cluster_id: str
    name: str
    want: str  # "ready" | "gone"
    started: float
    phase: str = ""
    phase_since: float = 0.0
    seen: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""


ProgressFn = Callable[[str], None]
PollFn = Callable[[list[tuple[str, str, float]]], None]


class Poller:
    """One list call per poll interval serves every resource that is waiting."""

    def __init__(
        self,
        client: ApiClient,
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

    def wait(self, cluster_id: str, name: str, want: str) -> None:
        """Block until the cluster is Ready (want="ready") or gone; ActionFailed otherwise."""
        now = self._clock()
        target = _Target(cluster_id, name, want, started=now, phase_since=now)
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

    def _poll(self, targets: list[_Target]) -> None:
        try:
            clusters = self._client.list_clusters(self._project_id)
            self.polls += 1
        except ApiError as exc:
            # A failed poll is not a failed resource: the next poll may work. Timeouts still
            # apply, so a dead API ends the wait with a clear message.
            listed: dict[str, dict[str, Any]] | None = None
            error = str(exc)
        else:
            listed = {str(c["cluster_id"]): c for c in clusters}
            error = ""
        now = self._clock()
        finished: list[_Target] = []
        for target in targets:
            self._judge(target, listed, now, error)
            if target.done.is_set():
                finished.append(target)
        with self._lock:
            for target in finished:
                if target in self._targets:
                    self._targets.remove(target)
            waiting = [(t.name, t.phase or "?", now - t.started) for t in self._targets]
        if self._on_poll is not None:
            self._on_poll(waiting)

    def _judge(
        self, target: _Target, listed: dict[str, dict[str, Any]] | None, now: float, error: str
    ) -> None:
        options = self._options
        if listed is not None:
            cluster = listed.get(target.cluster_id)
            if cluster is None:
                if target.want == "gone":
                    return self._finish(target)
                if target.seen or now - target.started > options.appear_grace:
                    last = f" (last phase {target.phase})" if target.phase else ""
                    return self._finish(target, f"disappeared while being created{last}")
            else:
                target.seen = True
                status = str(cluster.get("status"))
                if status != target.phase:
                    target.phase, target.phase_since = status, now
                if target.want == "ready" and status == READY:
                    return self._finish(target)
                if target.want == "ready" and status in FAILED_STATUSES:
                    return self._finish(target, f"turned {status} while waiting for Ready")
                if now - target.phase_since > options.stall_limit:
                    return self._finish(
                        target,
                        f"stuck in phase {status} for {now - target.phase_since:.0f} s "
                        f"(stall limit {options.stall_limit:.0f} s)",
                    )
        if now - target.started > options.timeout:
            goal = "Ready" if target.want == "ready" else "gone"
            last = f"; last phase {target.phase}" if target.phase else ""
            why = f"; last poll failed: {error}" if error else ""
            self._finish(
                target,
                f"timed out after {options.timeout:.0f} s waiting to be {goal}{last}{why}",
            )

    def _finish(self, target: _Target, error: str = "") -> None:
        target.error = error
        target.done.set()


class Applier:
    """Runs one plan: `run(plan, live)` → ApplyReport. `request_stop()` is the first Ctrl-C."""

    def __init__(
        self,
        client: ApiClient,
        *,
        options: ApplyOptions = ApplyOptions(),
        project_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        progress: ProgressFn | None = None,
        on_poll: PollFn | None = None,
        new_key: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._client = client
        self._options = options
        self._project_id = project_id
        self._clock = clock
        self._sleep = sleep
        self._progress = progress or (lambda _line: None)
        self._on_poll = on_poll
        self._new_key = new_key
        self._stop = threading.Event()
        self._volume_ids: dict[str, str] = {}
        self._lock = threading.Lock()
        self._poller: Poller | None = None

    def request_stop(self) -> None:
        """Start no new action; the in-flight ones finish."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(
        self,
        plan: Plan,
        live: LiveState,
        *,
        on_interrupt: Callable[[], None] | None = None,
        on_second_interrupt: Callable[[], None] | None = None,
    ) -> ApplyReport:
        """Execute every unblocked action; Ctrl-C once stops new ones, twice calls
        `on_second_interrupt` (which is expected to exit the process)."""
        actions = sorted(
            (a for a in plan.actions if a.kind is not ActionKind.BLOCKED), key=action_rank
        )
        self._volume_ids = {v.name: v.volume_id for v in live.volumes}
        self._deleting = {c.name: c.cluster_id for c in live.clusters if c.status == DELETING}
        poller = Poller(
            self._client, self._project_id, self._options, self._clock, self._sleep, self._on_poll
        )
        self._poller = poller
        pool = ThreadPoolExecutor(max_workers=max(1, self._options.parallelism))
        futures: dict[str, Future[ActionResult]] = {}
        for action in actions:
            deps = [futures[k] for k in self._dependencies(action, actions) if k in futures]
            futures[action.key] = pool.submit(self._run_one, action, deps)
        results: dict[str, ActionResult] = {}
        pending = list(futures.items())
        while pending:
            key, future = pending[0]
            try:
                results[key] = future.result(timeout=0.1)
                pending.pop(0)
            except FuturesTimeout:
                continue
            except KeyboardInterrupt:
                if self.stopping:
                    pool.shutdown(wait=False, cancel_futures=True)
                    if on_second_interrupt is not None:
                        on_second_interrupt()
                    raise
                self.request_stop()
                poller.close()  # waits end now; in-flight API calls finish
                if on_interrupt is not None:
                    on_interrupt()
        pool.shutdown(wait=True)
        poller.close()
        return ApplyReport(
            results=tuple(results[a.key] for a in actions), interrupted=self.stopping
        )

    @staticmethod
    def _dependencies(action: Action, actions: list[Action]) -> list[str]:
        """Keys of the actions that must succeed first (DESIGN §6 order, by reason)."""
        match action.resource, action.kind:
            case ResourceKind.CLUSTER, (ActionKind.CREATE | ActionKind.REPLACE) if action.volume:
                return [
                    a.key
                    for a in actions
                    if a.resource is ResourceKind.VOLUME
                    and a.name == action.volume
                    and a.kind in (ActionKind.CREATE, ActionKind.REPLACE)
                ]
            case ResourceKind.VOLUME, ActionKind.DELETE:
                return [
                    a.key
                    for a in actions
                    if a.resource is ResourceKind.CLUSTER
                    and a.kind in (ActionKind.DELETE, ActionKind.REPLACE)
                ]
            case _:
                return []

    # --- one action ---------------------------------------------------------------------------

    def _run_one(self, action: Action, deps: list[Future[ActionResult]]) -> ActionResult:
        for dep in deps:
            result = dep.result()
            if result.outcome is not Outcome.DONE:
                what = f"{result.action.resource} {result.action.name!r}"
                return ActionResult(action, Outcome.SKIPPED, f"depends on {what}, which failed")
        if self.stopping:
            return ActionResult(action, Outcome.SKIPPED, "not started: apply was interrupted")
        started = self._clock()
        try:
            resource_id, status = self._execute(action)
        except WaitAbandoned:
            return ActionResult(
                action,
                Outcome.DONE,
                f"{action.kind} sent; not waited for (interrupted)",
                action.resource_id,
                None,
                self._clock() - started,
            )
        except ActionFailed as exc:
            self._progress(f"{_what(action)}: failed: {exc}")
            return ActionResult(
                action, Outcome.FAILED, str(exc), action.resource_id, None, self._clock() - started
            )
        except ReconcilerError as exc:
            self._progress(f"{_what(action)}: failed: {exc}")
            return ActionResult(
                action, Outcome.FAILED, str(exc), action.resource_id, None, self._clock() - started
            )
        elapsed = self._clock() - started
        done = {"create": "created", "update": "updated", "replace": "replaced"}.get(
            str(action.kind), "destroyed"
        )
        settled = f", {status}" if status else ""
        self._progress(f"{_what(action)}: {done} after {elapsed:.0f}s{settled}")
        return ActionResult(action, Outcome.DONE, "", resource_id, status, elapsed)

    def _execute(self, action: Action) -> tuple[str | None, str | None]:
        match action.resource, action.kind:
            case ResourceKind.CLUSTER, ActionKind.CREATE:
                return self._create_cluster(action)
            case ResourceKind.CLUSTER, ActionKind.UPDATE:
                return self._update_cluster(action)
            case ResourceKind.CLUSTER, ActionKind.DELETE:
                return self._delete_cluster(action)
            case ResourceKind.CLUSTER, ActionKind.REPLACE:
                self._delete_cluster(action, always_wait=True)
                return self._create_cluster(action)
            case ResourceKind.VOLUME, ActionKind.CREATE:
                return self._create_volume(action)
            case ResourceKind.VOLUME, ActionKind.UPDATE:
                size = int(action.body["size_tib"])
                found = self._client.update_volume(str(action.resource_id), size)
                return str(action.resource_id), str(found.get("status", ""))
            case ResourceKind.VOLUME, ActionKind.DELETE:
                with contextlib.suppress(NotFoundError):  # already gone: the goal is reached
                    self._client.delete_volume(str(action.resource_id))
                return action.resource_id, None
            case ResourceKind.VOLUME, ActionKind.REPLACE:
                with contextlib.suppress(NotFoundError):
                    self._client.delete_volume(str(action.resource_id))
                return self._create_volume(action)
            case _:
                raise ActionFailed(f"cannot {action.kind} a {action.resource}")

    def _wait(self, cluster_id: str, name: str, want: str) -> None:
        assert self._poller is not None
        self._progress(
            f"cluster {show_name(name)}: waiting until {'Ready' if want == 'ready' else 'gone'}"
        )
        self._poller.wait(cluster_id, name, want)

    def _create_body(self, action: Action) -> dict[str, Any]:
        body: dict[str, Any] = thaw(action.body)
        if action.volume:
            with self._lock:
                volume_id = self._volume_ids.get(action.volume)
            if volume_id is None:
                raise ActionFailed(f"volume {action.volume!r} does not exist")
            body["volume_id"] = volume_id
        return body

    def _create_cluster(self, action: Action) -> tuple[str | None, str | None]:
        body = self._create_body(action)
        if action.kind is ActionKind.CREATE and action.name in self._deleting:
            self._wait(self._deleting[action.name], action.name, "gone")
        key = self._new_key()
        self._progress(f"cluster {show_name(action.name)}: creating")
        try:
            created = self._client.create_cluster(body, idempotency_key=key)
        except CreateOutcomeUnknown as exc:
            created = self._recover_create(action, body, key, exc)
        except ConflictError as exc:
            found = self._find_cluster(action.name)
            also = (
                f"; a cluster named {action.name!r} now exists (id {found['cluster_id']})"
                if found
                else ""
            )
            raise ActionFailed(f"{exc}{also}; run plan again") from None
        cluster_id = str(created["cluster_id"])
        if self._options.wait:
            self._wait(cluster_id, action.name, "ready")
            return cluster_id, READY
        return cluster_id, str(created.get("status", ""))

    def _find_cluster(self, name: str) -> dict[str, Any] | None:
        for cluster in self._client.list_clusters(self._project_id):
            if cluster.get("cluster_name") == name and cluster.get("status") != DELETING:
                return cluster
        return None

    def _recover_create(
        self, action: Action, body: dict[str, Any], key: str, exc: CreateOutcomeUnknown
    ) -> dict[str, Any]:
        """The create may or may not have happened: adopt what appeared, else resend once."""
        self._progress(
            f"cluster {show_name(action.name)}: create outcome unknown ({exc}); checking"
        )
        found = self._find_cluster(action.name)
        if found is None:
            self._sleep(self._options.adopt_grace)
            found = self._find_cluster(action.name)
        if found is not None:
            self._progress(f"cluster {show_name(action.name)}: adopted {found['cluster_id']}")
            return found
        try:
            return self._client.create_cluster(body, idempotency_key=key)
        except CreateOutcomeUnknown as again:
            found = self._find_cluster(action.name)
            if found is not None:
                return found
            raise ActionFailed(
                f"create outcome unknown twice ({again}); no cluster named {action.name!r} "
                "appeared; run plan again"
            ) from None

    def _update_cluster(self, action: Action) -> tuple[str | None, str | None]:
        cluster_id = str(action.resource_id)
        if action.status and action.status.startswith(PROVISIONING_PREFIXES):
            self._wait(cluster_id, action.name, "ready")
        self._progress(f"cluster {show_name(action.name)}: updating")
        try:
            updated = self._client.update_cluster(cluster_id, thaw(action.body))
        except NotFoundError:
            raise ActionFailed(
                f"cluster {cluster_id} no longer exists (404): it was deleted outside "
                "reconciler; run plan again (it is never re-created implicitly)"
            ) from None
        if self._options.wait:
            self._wait(cluster_id, action.name, "ready")
            return cluster_id, READY
        return cluster_id, str(updated.get("status", ""))

    def _delete_cluster(
        self, action: Action, always_wait: bool = False
    ) -> tuple[str | None, str | None]:
        cluster_id = str(action.resource_id)
        self._progress(f"cluster {show_name(action.name)}: deleting")
        try:
            self._client.delete_cluster(cluster_id)
        except NotFoundError:
            return cluster_id, None  # already gone
        if self._options.wait or always_wait:
            self._wait(cluster_id, action.name, "gone")
        return cluster_id, None

    def _create_volume(self, action: Action) -> tuple[str | None, str | None]:
        body = thaw(action.body)
        key = self._new_key()
        self._progress(f"volume {show_name(action.name)}: creating")
        try:
            created = self._client.create_volume(body, idempotency_key=key)
        except CreateOutcomeUnknown:
            found = next(
                (
                    v
                    for v in self._client.list_volumes(self._project_id)
                    if v.get("volume_name") == action.name
                ),
                None,
            )
            created = (
                found
                if found is not None
                else self._client.create_volume(body, idempotency_key=key)
            )
        volume_id = str(created["volume_id"])
        with self._lock:
            self._volume_ids[action.name] = volume_id
        return volume_id, str(created.get("status", ""))
