"""The lock around plan → apply: two applies of one project never run at once.

Shell module. By default a lock file per (API base URL, project) in the user's cache directory,
held with flock: two terminals or two checkouts on one machine. With `--lock postgresql://…`
(env RECONCILER_LOCK) a PostgreSQL session advisory lock: runners on different machines. A
held lock is waited for up to `--lock-timeout`, saying who holds it, then the command stops
with exit 1 before it has read or changed anything.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator

from msgspec import Struct

from reconciler.errors import ConfigError

POLL = 1.0  # seconds between tries while the lock is held elsewhere


class LockSpec(Struct, frozen=True):
    """What to lock and how long to wait: `url` None is the lock file."""

    url: str | None
    base_url: str
    project_id: str | None
    timeout: float


def lock_name(base_url: str, project_id: str | None) -> str:
    """One name per API and project: the same in every checkout, pipeline and machine."""
    text = f"{base_url.rstrip('/')}\0{project_id or ''}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def holder_text() -> str:
    """Who holds a lock: shown to whoever waits for it (no secrets: pid, host, command)."""
    since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv[:3]))
    return f"pid {os.getpid()} on {socket.gethostname()} ({command}) since {since}"


@contextlib.contextmanager
def held(
    spec: LockSpec,
    say: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the lock for the duration of the block."""
    if spec.url is None:
        with _file_lock(spec, say, clock, sleep):
            yield
    elif spec.url.startswith(("postgresql://", "postgres://")):
        from reconciler.cli.pglock import advisory_lock

        with advisory_lock(spec, say, clock, sleep):
            yield
    else:
        raise ConfigError(
            f"--lock {redacted_url(spec.url)}: not a lock URL; use postgresql://… "
            "(or leave it out for the lock file on this machine)"
        )


def redacted_url(url: str) -> str:
    """A lock URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def lock_directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "reconciler", "locks")


@contextlib.contextmanager
def _file_lock(
    spec: LockSpec,
    say: Callable[[str], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Iterator[None]:
    directory = lock_directory()
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(
            os.path.join(directory, lock_name(spec.base_url, spec.project_id) + ".lock"),
            os.O_RDWR | os.O_CREAT,
            0o600,
        )
    except OSError as exc:
        raise ConfigError(f"cannot create the lock file in {directory}: {exc.strerror}") from None
    try:
        wait_for(lambda: _try_flock(fd), lambda: _read_holder(fd), spec, say, clock, sleep)
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder_text().encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing releases the flock


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "another process"
    except OSError:
        return "another process"


def wait_for(
    attempt: Callable[[], bool],
    holder: Callable[[], str],
    spec: LockSpec,
    say: Callable[[str], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Try until `attempt` succeeds or the timeout passes; say once who is waited for."""
    give_up = clock() + spec.timeout
    told = False
    while not attempt():
        if clock() >= give_up:
            raise ConfigError(
                f"the lock of this project is still held by {holder()} after "
                f"{spec.timeout:.0f} s (--lock-timeout); another apply is running: let it "
                "finish, then run this again"
            )
        if not told:
            say(f"Waiting for the lock of this project, held by {holder()}...")
            told = True
        sleep(POLL)
