"""Executes a plan: ordering and parallelism, idempotent create, waiting, the report.

Shell module (clock and sleep injected). Each action is a flow (a generator) whose calls run
in a worker and which yields a `Wait` for ready / gone; `schedule.py` hands those to the one
poller (`poller.py`), so a waiting action holds no worker. What differs between kinds is
asked of the kind (`reconciler.kinds`), never branched on here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

from reconciler import kinds
from reconciler.apply.events import Progress, ProgressFn, Step
from reconciler.apply.poller import (
    DEFAULT_OPTIONS,
    ActionFailed,
    ApplyOptions,
    Poller,
    PollFn,
    Wait,
    WaitAbandoned,
)
from reconciler.apply.schedule import Flow, Schedule
from reconciler.apply.steps import (
    ApiClient,
    Dependencies,
    check_duplicates,
    find_named,
    idempotency_key,
    not_recreated,
)
from reconciler.errors import ConflictError, CreateOutcomeUnknown, NotFoundError, ReconcilerError
from reconciler.kinds import Kind
from reconciler.model import (
    Action,
    ActionKind,
    ActionResult,
    ApplyReport,
    LiveState,
    Outcome,
    Plan,
    thaw,
)
from reconciler.plan import action_rank

__all__ = [
    "ApiClient",
    "Applier",
    "ApplyOptions",
    "Dependencies",
    "Progress",
    "ProgressFn",
    "Step",
    "idempotency_key",
]

#: The report's message for an action whose call was made but whose wait was cut short.
NOT_WAITED = "not waited for (interrupted)"

#: A create / update / delete path: its calls, the waits between them, then (id, status).
Steps = Generator[Wait, None, tuple[str | None, str | None]]


class Applier:
    """Runs one plan: `run(plan, live)` → ApplyReport. `request_stop()` is the first Ctrl-C."""

    def __init__(
        self,
        client: ApiClient,
        *,
        options: ApplyOptions = DEFAULT_OPTIONS,
        project_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        progress: ProgressFn | None = None,
        on_poll: PollFn | None = None,
        new_key: Callable[[Action, Mapping[str, Any]], str] | None = None,
    ) -> None:
        self._client = client
        self._options = options
        self._project_id = project_id
        self._clock, self._sleep, self._wall_clock = clock, sleep, wall_clock
        self.progress_failures = 0  # progress lines that could not be shown
        self._notes: dict[str, str] = {}  # action key → what the report says besides "done"
        self._progress = progress or (lambda _event: None)
        self._on_poll = on_poll
        self._new_key = new_key or (lambda action, body: idempotency_key(project_id, action, body))
        self._stop = threading.Event()
        self._ids: dict[tuple[str, str], str] = {}  # (kind, name) → id, for references
        self._deleting: dict[tuple[str, str], str] = {}  # (kind, name) → id still going away
        self._lock = threading.Lock()
        self._poller: Poller | None = None
        self._sent: dict[str, ActionKind] = {}  # action key → the last call made for it

    def request_stop(self) -> None:
        """Start no new action; the in-flight ones finish."""
        self._stop.set()

    def interrupt(self, tell: Callable[[], None] | None = None) -> None:
        """The first Ctrl-C: start no new action and end every wait now (the calls in flight
        finish); what was sent but not settled is reported "not waited for". Then `tell`."""
        self.request_stop()
        if self._poller is not None:
            self._poller.close()
        if tell is not None:
            tell()

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
        for resource in live.resources:
            if resource.parent is not None:
                continue  # nested resources are reached through their parent's id
            gone = resource.status == kinds.get(resource.kind).statuses.deleting
            (self._deleting if gone else self._ids)[(resource.kind, resource.name)] = resource.id
        poller = Poller(
            self._client, self._project_id, self._options, self._clock, self._sleep, self._on_poll
        )
        self._poller = poller
        earlier: set[str] = set()
        needs: dict[str, list[str]] = {}
        depends = Dependencies(actions)
        for action in actions:  # an action depends only on actions that rank before it
            needs[action.key] = [k for k in depends.of(action) if k in earlier]
            earlier.add(action.key)
        schedule = Schedule(actions, needs, self._flow, poller, self._options.parallelism)
        if schedule.start():  # Ctrl-C while the first actions were handed out
            self.interrupt(on_interrupt)
        while True:
            try:
                if schedule.wait(0.1):
                    break
            except KeyboardInterrupt:
                if self.stopping:
                    schedule.shutdown(wait=False)
                    if on_second_interrupt is not None:
                        on_second_interrupt()
                    raise
                self.interrupt(on_interrupt)
        schedule.shutdown(wait=True)
        poller.close()
        results = schedule.results()
        checked = check_duplicates(
            self._client, self._project_id, [results[a.key] for a in actions]
        )
        return ApplyReport(results=tuple(checked), interrupted=self.stopping)

    def _flow(self, action: Action, deps: list[ActionResult]) -> Flow:
        """One action from start to result; it yields wherever it waits for the poller."""
        for result in deps:
            if result.outcome is not Outcome.DONE:
                what = f"{result.action.resource} {result.action.name!r}"
                return ActionResult(action, Outcome.SKIPPED, f"depends on {what}, which failed")
        if self.stopping:
            return ActionResult(action, Outcome.SKIPPED, "not started: apply was interrupted")
        started = self._clock()
        try:
            resource_id, status = yield from self._execute(action)
        except WaitAbandoned:
            return self._abandoned(action, self._clock() - started)
        except (ActionFailed, ReconcilerError) as exc:
            self._tell(action, Step.FAILED, f"failed: {exc}")
            return ActionResult(
                action, Outcome.FAILED, str(exc), action.resource_id, None, self._clock() - started
            )
        elapsed = self._clock() - started
        done = {"create": "created", "update": "updated", "replace": "replaced"}.get(
            str(action.kind), "destroyed"
        )
        settled = f", {status}" if status else ""
        self._tell(action, Step.DONE, f"{done} after {elapsed:.0f}s{settled}", status or "")
        note = self._notes.get(action.key, "")
        return ActionResult(action, Outcome.DONE, note, resource_id, status, elapsed)

    def _execute(self, action: Action) -> Steps:
        kind = kinds.get(action.resource)
        match action.kind:
            case ActionKind.CREATE:
                return (yield from self._create(kind, action))
            case ActionKind.UPDATE:
                return (yield from self._update(kind, action))
            case ActionKind.DELETE:
                return (yield from self._delete(kind, action))
            case ActionKind.REPLACE:
                yield from self._delete(kind, action, always_wait=True)
                try:
                    return (yield from self._create(kind, action))
                except (ActionFailed, ReconcilerError) as exc:
                    raise ActionFailed(not_recreated(kind, action, exc)) from None
            case _:
                raise ActionFailed(f"cannot {action.kind} a {action.resource}")

    def _parent_id(self, kind: Kind, action: Action) -> str | None:
        """The id of the resource a nested kind's action belongs to (None for other kinds)."""
        if kind.parent is None:
            return None
        with self._lock:
            parent_id = self._ids.get((kind.parent.kind, action.parent or ""))
        if parent_id is None:
            raise ActionFailed(f"{kind.parent.kind} {action.parent!r} does not exist")
        return parent_id

    def _abandoned(self, action: Action, elapsed: float) -> ActionResult:
        """Ctrl-C cut a wait short. Nothing sent yet (a wait before the call): skipped. Else the
        call was made but its goal not reached: "not waited for", never "done" in the report."""
        with self._lock:
            sent = self._sent.get(action.key)
            resource_id = self._ids.get((action.resource, action.name), action.resource_id)
        if sent is None:
            return ActionResult(action, Outcome.SKIPPED, "not started: apply was interrupted")
        if action.kind is ActionKind.REPLACE and sent is ActionKind.DELETE:
            sent_text = "delete sent (the create was not)"
        else:
            sent_text = f"{sent} sent"
        message = f"{sent_text}; {NOT_WAITED}"
        self._tell(action, Step.NOT_WAITED, message)
        return ActionResult(action, Outcome.SENT, message, resource_id, None, elapsed)

    def _mark_sent(self, action: Action, call: ActionKind) -> None:
        with self._lock:
            self._sent[action.key] = call

    def _tell(self, action: Action, step: Step, text: str, status: str = "") -> None:
        """Report a step, best effort: a display that fails never stops apply (or its report)."""
        event = Progress(action.resource, action.name, str(action.kind), step, text, status)
        try:
            self._progress(event)
        except Exception:  # whatever the display raised (a full disk), the work goes on
            self.progress_failures += 1

    def _wait(
        self, kind: Kind, resource_id: str, action: Action, want: str
    ) -> Generator[Wait, None, None]:
        """Hand the wait to the poller (through the schedule); resumed once it is settled,
        with ActionFailed or WaitAbandoned raised here when it did not reach its goal."""
        goal = kind.statuses.ready if want == "ready" else "gone"
        self._tell(action, Step.WAITING, f"waiting until {goal}")
        yield Wait(kind, resource_id, action.name, want)

    def _create_body(self, kind: Kind, action: Action) -> dict[str, Any]:
        """The create body with every reference by name resolved to the id it has now."""
        body: dict[str, Any] = thaw(action.body)
        for ref in kind.refs:
            name = action.refs.get(ref.key)
            if name is None:
                continue
            with self._lock:
                resource_id = self._ids.get((ref.kind, name))
            if resource_id is None:
                raise ActionFailed(f"{ref.kind} {name!r} does not exist")
            body[ref.body_key] = resource_id
        return body

    def _create(self, kind: Kind, action: Action) -> Steps:
        body = self._create_body(kind, action)
        dying = self._deleting.get((kind.name, action.name))
        if action.kind is ActionKind.CREATE and dying is not None:
            yield from self._wait(kind, dying, action, "gone")
        key = self._new_key(action, body)
        parent_id = self._parent_id(kind, action)
        self._tell(action, Step.CREATING, "creating")
        try:
            created = self._client.create_resource(
                kind.api, body, idempotency_key=key, parent_id=parent_id
            )
        except CreateOutcomeUnknown as exc:
            created = self._recover_create(kind, action, body, key, exc)
        except ConflictError as exc:
            created = self._on_conflict(kind, action, body, parent_id, exc)
        resource_id = str(created[kind.api.id_key])
        self._mark_sent(action, ActionKind.CREATE)
        if kind.parent is None:
            with self._lock:
                self._ids[(kind.name, action.name)] = resource_id
        if kind.waits and self._options.wait:
            later = kind.hooks.settles_later
            scheduled = later(body, self._wall_clock()) if later is not None else None
            if scheduled is None:
                yield from self._wait(kind, resource_id, action, "ready")
                return resource_id, kind.statuses.ready
            self._notes[action.key] = scheduled
            self._tell(
                action, Step.SCHEDULED, f"{scheduled}; not waiting for {kind.statuses.ready}"
            )
        return resource_id, str(created.get("status", ""))

    def _on_conflict(
        self,
        kind: Kind,
        action: Action,
        body: dict[str, Any],
        parent_id: str | None,
        exc: ConflictError,
    ) -> dict[str, Any]:
        """A create refused because the name exists. A kind whose answers leave some of its
        resources out (a disabled add-on is not in its cluster's list) updates that one to
        what the create would have made; otherwise it is a failure naming what exists now."""
        update = kind.hooks.conflict_update
        if update is not None:
            self._tell(action, Step.UPDATING, "exists but was not listed; updating it instead")
            return self._client.update_resource(
                kind.api, str(body[kind.api.name_key]), update(body), parent_id=parent_id
            )
        found = self._find(kind, action)
        also = (
            f"; a {kind.name} named {action.name!r} now exists (id {found[kind.api.id_key]})"
            if found
            else ""
        )
        raise ActionFailed(f"{exc}{also}; run plan again") from None

    def _find(self, kind: Kind, action: Action) -> dict[str, Any] | None:
        parent_id = self._parent_id(kind, action)
        return find_named(self._client, self._project_id, kind, action.name, parent_id)

    def _recover_create(
        self,
        kind: Kind,
        action: Action,
        body: dict[str, Any],
        key: str,
        exc: CreateOutcomeUnknown,
    ) -> dict[str, Any]:
        """The create may or may not have happened: adopt what appeared, else resend once
        after the grace period (DESIGN §7), with the same idempotency key."""
        self._tell(action, Step.CHECKING, f"create outcome unknown ({exc}); checking")
        found = self._find(kind, action)
        if found is None:
            self._sleep(self._options.adopt_grace)
            found = self._find(kind, action)
        if found is not None:
            self._tell(action, Step.ADOPTED, f"adopted {found[kind.api.id_key]}")
            return found
        try:
            return self._client.create_resource(
                kind.api, body, idempotency_key=key, parent_id=self._parent_id(kind, action)
            )
        except CreateOutcomeUnknown as again:
            found = self._find(kind, action)
            if found is not None:
                return found
            raise ActionFailed(
                f"create outcome unknown twice ({again}); no {kind.name} named "
                f"{action.name!r} appeared; run plan again"
            ) from None

    def _update(self, kind: Kind, action: Action) -> Steps:
        resource_id = str(action.resource_id)
        provisioning = kind.statuses.provisioning_prefixes
        if kind.waits and action.status and action.status.startswith(provisioning):
            yield from self._wait(kind, resource_id, action, "ready")
        self._tell(action, Step.UPDATING, "updating")
        try:
            updated = self._client.update_resource(
                kind.api, resource_id, thaw(action.body), parent_id=self._parent_id(kind, action)
            )
        except NotFoundError:
            raise ActionFailed(
                f"{kind.name} {resource_id} no longer exists (404): it was deleted outside "
                "reconciler; run plan again (it is never re-created implicitly)"
            ) from None
        self._mark_sent(action, ActionKind.UPDATE)
        if kind.waits and self._options.wait:
            yield from self._wait(kind, resource_id, action, "ready")
            return resource_id, kind.statuses.ready
        return resource_id, str(updated.get("status", ""))

    def _delete(self, kind: Kind, action: Action, always_wait: bool = False) -> Steps:
        resource_id = str(action.resource_id)
        self._tell(action, Step.DELETING, "deleting")
        try:
            self._client.delete_resource(
                kind.api, resource_id, parent_id=self._parent_id(kind, action)
            )
        except NotFoundError:
            return resource_id, None  # already gone: the goal is reached
        self._mark_sent(action, ActionKind.DELETE)
        if kind.waits and (self._options.wait or always_wait):
            yield from self._wait(kind, resource_id, action, "gone")
        return resource_id, None
