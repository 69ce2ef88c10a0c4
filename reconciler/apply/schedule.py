"""Runs one apply's actions: their calls in a pool of workers, their waits with the one poller,
each action once the actions it depends on have finished.

Shell module. An action is a flow: a generator that makes its calls and yields a `Wait`
between them (a create yields "wait until Ready" after its POST). A worker runs a flow until
it yields; the wait goes to the poller and the worker is free for the next action's calls.
When the poller settles the wait, a worker resumes the flow, with `ActionFailed` or
`WaitAbandoned` thrown in where the wait did not reach its goal. So N creates at parallelism
P are all sent within a few round trips and wait in one wave, not in ceil(N/P) waves.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from reconciler.apply.poller import INTERRUPTED, ActionFailed, Poller, Wait, WaitAbandoned
from reconciler.model import Action, ActionResult

#: An action's steps: calls, and the waits between them; it returns the action's result.
Flow = Generator[Wait, None, ActionResult]
#: Makes an action's flow, given the results of the actions it depends on (in their order).
BeginFn = Callable[[Action, list[ActionResult]], Flow]


class Schedule:
    """Starts each action when its dependencies have finished; `finished` once all have."""

    def __init__(
        self,
        actions: Sequence[Action],
        needs: Mapping[str, Sequence[str]],
        begin: BeginFn,
        poller: Poller,
        parallelism: int,
    ) -> None:
        self._actions = {action.key: action for action in actions}
        self._order = [action.key for action in actions]
        self._needs = {key: list(needs.get(key, ())) for key in self._order}
        self._missing = {key: set(deps) for key, deps in self._needs.items()}
        self._dependants: dict[str, list[str]] = {key: [] for key in self._order}
        for key, deps in self._needs.items():
            for dep in deps:
                self._dependants[dep].append(key)
        self._begin = begin
        self._poller = poller
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, parallelism), thread_name_prefix="reconciler-apply"
        )
        self._lock = threading.Lock()
        self._flows: dict[str, Flow] = {}
        self._results: dict[str, ActionResult] = {}
        self._finished = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> bool:
        """Start every action that depends on nothing, in the given (rank) order, with Ctrl-C
        held back meanwhile; True when one came (to be taken as the first). A KeyboardInterrupt
        raised here (between a worker thread's start and its registration in
        concurrent.futures) left a worker that the interpreter's exit waits for and never wakes:
        the process hung at exit, once in a dozen runs of a test that presses Ctrl-C early."""
        with held_interrupts() as came:
            if not self._order:
                self._finished.set()
            for key in [key for key in self._order if not self._needs[key]]:
                self._start(key)
        return bool(came)

    def wait(self, timeout: float) -> bool:
        """True once every action has its result (or a flow raised what it should not)."""
        return self._finished.wait(timeout)

    def results(self) -> dict[str, ActionResult]:
        """Every action's result, by key; re-raises an unexpected error of a flow."""
        if self._error is not None:
            raise self._error
        with self._lock:
            return dict(self._results)

    def shutdown(self, *, wait: bool) -> None:
        """wait=True: after the last result. wait=False (the second Ctrl-C): drop the queue."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _start(self, key: str) -> None:
        with self._lock:
            deps = [self._results[dep] for dep in self._needs[key]]
            self._flows[key] = self._begin(self._actions[key], deps)
        self._submit(key, None)

    def _submit(self, key: str, thrown: Exception | None) -> None:
        # RuntimeError: the pool was shut down (the second Ctrl-C): the process is exiting.
        with contextlib.suppress(RuntimeError):
            self._pool.submit(self._step, key, thrown)

    def _step(self, key: str, thrown: Exception | None) -> None:
        """Run a flow until its next wait (handed to the poller) or its end."""
        flow = self._flows[key]
        try:
            wait = flow.throw(thrown) if thrown is not None else next(flow)
        except StopIteration as stop:
            self._finish(key, stop.value)
            return
        except BaseException as exc:  # a bug, not an API failure: run() re-raises it
            self._error = exc
            self._finished.set()
            return
        self._poller.watch(wait, lambda error: self._settled(key, error))

    def _settled(self, key: str, error: str) -> None:
        """The poller settled the flow's wait: resume the flow in a worker."""
        if not error:
            self._submit(key, None)
        elif error == INTERRUPTED:
            self._submit(key, WaitAbandoned())
        else:
            self._submit(key, ActionFailed(error))

    def _finish(self, key: str, result: ActionResult) -> None:
        ready = []
        with self._lock:
            self._results[key] = result
            del self._flows[key]
            for dependant in self._dependants[key]:
                self._missing[dependant].discard(key)
                if not self._missing[dependant]:
                    ready.append(dependant)
            done = len(self._results) == len(self._order)
        for dependant in ready:
            self._start(dependant)
        if done:
            self._finished.set()


@contextlib.contextmanager
def held_interrupts() -> Iterator[list[int]]:
    """Ctrl-C held back: each SIGINT meanwhile is noted in the list yielded, not raised. Only
    in the main thread, and only where Ctrl-C raises KeyboardInterrupt (not where a caller
    ignores or handles SIGINT itself): elsewhere nothing changes."""
    came: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield came
        return
    signal.signal(signal.SIGINT, lambda number, _frame: came.append(number))
    try:
        yield came
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
