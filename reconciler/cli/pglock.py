"""The lock across machines: a PostgreSQL session advisory lock (`--lock postgresql://…`).

Shell module; psycopg is an optional extra (`pip install 'reconciler[postgres]'`). The lock is
the session's: it is released when the block ends, and by the server if the process dies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.cli.lock import LockSpec, holder_text, lock_name, redacted_url, wait_for
from reconciler.errors import ConfigError

CONNECT_TIMEOUT = 10


def advisory_key(base_url: str, project_id: str | None) -> int:
    """The lock name as the signed 64-bit key pg_advisory_lock takes."""
    return int(lock_name(base_url, project_id)[:16], 16) - 2**63


@contextlib.contextmanager
def advisory_lock(
    spec: LockSpec,
    say: Callable[[str], None],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Iterator[None]:
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            "--lock postgresql://… needs psycopg: pip install 'reconciler[postgres]'"
        ) from None
    where = redacted_url(str(spec.url))
    try:
        connection = psycopg.connect(
            str(spec.url),
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=True,
            application_name=f"reconciler {holder_text()}"[:63],
        )
    except psycopg.Error as exc:
        raise ConfigError(f"--lock {where}: cannot connect ({_first_line(exc)})") from None
    key = advisory_key(spec.base_url, spec.project_id)
    try:
        wait_for(
            lambda: bool(_one(connection, "SELECT pg_try_advisory_lock(%s)", key)),
            lambda: _holder(connection, key),
            spec,
            say,
            clock,
            sleep,
        )
        yield
    except psycopg.Error as exc:
        raise ConfigError(f"--lock {where}: {_first_line(exc)}") from None
    finally:
        with contextlib.suppress(psycopg.Error):
            _one(connection, "SELECT pg_advisory_unlock(%s)", key)
        connection.close()


def _one(connection: Any, query: str, key: int) -> Any:
    row = connection.execute(query, (key,)).fetchone()
    return row[0] if row else None


def _holder(connection: Any, key: int) -> str:
    """The application name of the session holding the lock: who, where, since when."""
    query = (
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = %s"
    )
    try:
        name = _one(connection, query, key)
    except Exception:  # only a description; the wait goes on without it
        name = None
    return str(name).removeprefix("reconciler ") if name else "another session"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
