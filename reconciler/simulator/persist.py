"""The state file: load a saved simulator at start, save it atomically after every change.

The document itself is `SimState.to_json` / `SimState.from_json` (pure); this module does
the file I/O, for both shells (http.py and transport.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable

from reconciler.errors import ReconcilerError
from reconciler.simulator.faults import Faults
from reconciler.simulator.state import SimState
from reconciler.simulator.wire import DEFAULT_TOKEN, MUTATING, SimResponse, error_body


def save_state(state: SimState, path: str) -> None:
    """Write the state to `path` atomically: a temp file in the same directory, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".sim-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state.to_json(), handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_after(
    state: SimState, path: str | None, method: str, response: SimResponse
) -> SimResponse:
    """Save after a change; a state file that cannot be written turns the answer into a 500
    saying so (the change holds in memory only), never a traceback and a dropped connection."""
    if path is None or method.upper() not in MUTATING:
        return response
    try:
        save_state(state, path)
    except OSError as exc:
        message = (
            f"the simulator could not save its state file {path} ({exc.strerror or exc}); "
            "the change holds until the simulator stops"
        )
        body = error_body(500, message, code="state_not_saved")
        return SimResponse(500, body, {"Content-Type": "application/json"})
    return response


def load_state(
    path: str | None,
    *,
    clock: Callable[[], float] = time.time,
    speed: float | None = None,
    token: str | None = None,
    seed: int = 0,
    faults: Faults | None = None,
) -> SimState:
    """The state saved in `path` if it exists (options given here override it), else a new one."""
    if path is not None and os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            return SimState.from_json(data, clock=clock, token=token, speed=speed, faults=faults)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReconcilerError(
                f"{path}: cannot read the simulator state ({exc}); remove the file to start over"
            ) from exc
    return SimState(
        clock=clock,
        token=token if token is not None else DEFAULT_TOKEN,
        speed=speed if speed is not None else 1.0,
        seed=seed,
        faults=faults,
    )
