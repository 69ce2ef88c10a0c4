"""The spec read and checked by a second process while this one waits for the API (issue 11).

A plan of 10,000 clusters is CPU-bound in one interpreter: reading the spec's YAML and
checking it (about a quarter of a second) and parsing the list answers take turns on the one
lock Python runs under, while the machine's second core idles. So, on Linux, `plan` and
`drift` fork before they send their list calls: the child reads and checks the spec files,
writes what it read (plain values, with `marshal`: read back in 20 ms at 10,000 clusters) to
an anonymous file in memory and exits; the parent meanwhile imports the planning code and
reads the answers, then builds the spec from the child's values.

The child only ever speeds up the valid case. Whatever goes wrong in it (a problem in the
spec, a value marshal cannot carry, the child killed), it says "do it yourself" or says
nothing, and the parent checks the files itself, exactly as without a child: every message
and exit code is the parent's own. The child writes nothing to stdout or stderr and leaves
with `os._exit` (no buffers flushed twice, no exit handlers run).

When: `RECONCILER_CHECK_PROCESS` is `auto` (the default: spec files of 64 KiB or more, about
900 clusters), `on` (any size) or `off`; any other value is a ConfigError. Measured against
`sim serve`, 12 alternating plans each, median with / without the child: 100 clusters
0.266 / 0.274 s (no gain: small specs keep the one process), 300 0.275 / 0.304 s, 1,000
0.322 / 0.370 s, 3,000 0.486 / 0.566 s. Never off Linux, with one core (nothing to run the
child on), or when this process already runs other threads (a fork copies only the calling
thread, and the child could wait forever on a lock another one held).
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import mmap
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconciler.acyclic import paused_gc
from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.spec import CheckedSpec

SETTING = "RECONCILER_CHECK_PROCESS"
AUTO_MIN_BYTES = 64 * 1024


def start(files: Sequence[tuple[str, bytes]], environ: Mapping[str, str]) -> ForkedCheck | None:
    """The child checking `files` when `use_child` says so and the system lets it start
    (a sandbox may refuse memfd_create, a busy system fork): else None, checked here."""
    if not use_child(files, environ):
        return None
    try:
        return ForkedCheck(files)
    except OSError:
        return None


def use_child(files: Sequence[tuple[str, bytes]], environ: Mapping[str, str]) -> bool:
    """Whether to check `files` in a forked child (see the module's docstring); ConfigError
    for a setting that is not auto, on or off."""
    raw = environ.get(SETTING, "")
    setting = raw.strip().lower() or "auto"
    if setting not in ("auto", "on", "off"):
        shown = repr(raw[:40])  # repr: a control character shows escaped
        raise ConfigError(f"{SETTING}={shown} is not a setting; use auto, on or off")
    if setting == "off" or not can_fork():
        return False
    return setting == "on" or sum(len(d) for _p, d in files) >= AUTO_MIN_BYTES


def can_fork() -> bool:
    """Linux, two cores or more for this process, and no thread but this one."""
    if not sys.platform.startswith("linux") or not hasattr(os, "memfd_create"):
        return False
    return len(os.sched_getaffinity(0)) > 1 and threading.active_count() == 1


class ForkedCheck:
    """The child checking `files`; `result` is the checked spec, or None: check it here.

    The child writes its answer to an anonymous file in memory (`memfd_create`), then one
    byte to a pipe, and exits; the parent waits for that byte (one wake-up, without the
    interpreter's lock) and reads the answer in place, while the child's exit tears down its
    memory. Through the pipe itself, each 64 KiB the child wrote woke the parent's waiting
    thread, which then queued up to 5 ms for the lock the list thread held: 2 MiB (every
    field's marks, as then) at 10,000 clusters arrived 0.06-0.1 s after the child had written
    it; waiting for the child's exit instead cost another 0.05-0.1 s."""

    def __init__(self, files: Sequence[tuple[str, bytes]]) -> None:
        self._answer = os.memfd_create("reconciler-check", os.MFD_CLOEXEC)
        try:
            self._done, done = os.pipe()
        except OSError:
            os.close(self._answer)
            raise
        try:
            pid = os.fork()
        except OSError:
            for fd in (self._answer, self._done, done):
                os.close(fd)
            raise
        if pid == 0:  # the child: never returns
            os.close(self._done)
            _child(files, self._answer, done)
        os.close(done)
        self._pid: int | None = pid
        atexit.register(self._abandon)  # the command ended before it asked (Ctrl-C, an error)

    def result(self) -> CheckedSpec | None:
        """Waits for the child; None when it could not check the spec (do it yourself)."""
        if self._pid is None:
            return None
        atexit.unregister(self._abandon)
        pid, self._pid = self._pid, None
        try:
            if os.read(self._done, 1) != DONE:  # nothing: it ended before its answer was whole
                return None
            size = os.fstat(self._answer).st_size
            # Plain values, no cycles: a pass of the collector over them would find nothing.
            with mmap.mmap(self._answer, size, access=mmap.ACCESS_READ) as answer, paused_gc():
                payload = marshal.loads(answer)
                return None if payload is None else _checked(payload)
        except (EOFError, ValueError, TypeError):
            return None
        finally:
            self._release(pid)

    def _abandon(self) -> None:
        """Stops the child and reaps it: no process outlives the command."""
        if self._pid is not None:
            pid, self._pid = self._pid, None
            self._release(pid, kill=True)

    def _release(self, pid: int, kill: bool = False) -> None:
        """Closes the answer's descriptors and reaps the child (killed first: `kill`)."""
        if kill:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for fd in (self._answer, self._done):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ChildProcessError):  # SIGCHLD ignored: reaped already
            os.waitpid(pid, 0)


DONE = b"."


def _child(files: Sequence[tuple[str, bytes]], answer: int, done: int) -> None:
    try:
        try:
            data = marshal.dumps(_payload(files))
        except BaseException:  # a problem in the spec, a value marshal cannot carry, Ctrl-C
            data = marshal.dumps(None)
        view = memoryview(data)
        while view:
            view = view[os.write(answer, view) :]
        os.write(done, DONE)
    finally:
        os._exit(0)


Payload = tuple[str, list[tuple[Any, ...]], list[str]]


def _payload(files: Sequence[tuple[str, bytes]]) -> Payload:
    from reconciler.spec import check_spec
    from reconciler.spec.build import marks_to_build

    checked = check_spec(files)
    read = [
        (f.path, f.order, f.value, marks_to_build(f.node, f.value), f.surprises, f.problems)
        for f in checked.files
    ]
    return checked.digest, read, checked.warnings


def _checked(payload: Payload) -> CheckedSpec:
    from reconciler.spec import CheckedSpec
    from reconciler.spec.reader import File
    from reconciler.spec.rules import MergedItems

    digest, files, warnings = payload
    return CheckedSpec([File(*f) for f in files], digest, MergedItems(), warnings)
