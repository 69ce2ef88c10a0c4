"""The command's process: the collector's thresholds while it runs, and how it ends."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator

#: Cyclic GC thresholds while a command runs (CPython's default is 700, 10, 10). A plan of
#: 10,000 clusters allocates millions of acyclic dicts and lists (the API's JSON, the model);
#: at the default their collections rescan them again and again, a third of the plan's time.
GC_THRESHOLDS = (50_000, 20, 20)


@contextlib.contextmanager
def tuned_gc() -> Iterator[None]:
    """GC_THRESHOLDS for the command; then the previous ones, and what read_live froze thawed
    (tests call `main` in-process)."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def leave(code: object) -> None:
    """The program's exit, once its output is written. CPython's own exit frees every object
    one by one after a last garbage collection: 12-20 ms after a 10,000-cluster plan (40 ms
    more before the collection skipped what was left, gc.freeze). Here the exit handlers run
    (atexit: they are then cleared), stdout and stderr are flushed, and os._exit ends the
    process with the code. The usual exit, with the collection skipped, when another thread
    still runs (the interpreter would wait for it), the code is not a number, or a flush
    fails (a closed pipe: reported as it always was)."""
    gc.freeze()
    if not isinstance(code, int) or threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


#: What a command holds until the process ends, when it runs as the program (`run_as_program`):
#: it ends with os._exit (`leave`), and its frames unwinding on the way there would otherwise
#: free the spec, the live state and the plan object by object: 15 ms after a plan of 10,000
#: clusters, 0.11 s after 50,000, for nothing. In-process callers (tests) keep nothing.
_kept: list[object] = []
_as_program = False


def run_as_program() -> None:
    """`main` runs as the program: `keep` keeps from now on."""
    global _as_program
    _as_program = True


def keep(*objects: object) -> None:
    """Hold `objects` until the process ends (see `_kept`); nothing in-process."""
    if _as_program:
        _kept.extend(objects)
