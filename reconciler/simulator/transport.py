"""The simulator as an httpx transport: `--sim` runs every command in-process, no socket.

Also home of the state-file I/O shared with http.py: load at start, save atomically after
every mutating request.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable

import httpx

from reconciler.errors import ReconcilerError
from reconciler.simulator.state import MUTATING, Faults, SimRequest, SimResponse, SimState

DEFAULT_STALL_SECONDS = 65.0


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
        token=token if token is not None else "sim-token",
        speed=speed if speed is not None else 1.0,
        seed=seed,
        faults=faults,
    )


def to_sim_request(request: httpx.Request) -> SimRequest:
    return SimRequest(
        method=request.method,
        path=request.url.path,
        query=dict(request.url.params),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.read(),
    )


class SimTransport(httpx.BaseTransport):
    """Answers httpx requests from a `SimState`; thread-safe; optionally persisted."""

    def __init__(
        self,
        state: SimState,
        *,
        state_file: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.state = state
        self.state_file = state_file
        self.sleep = sleep
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sim_request = to_sim_request(request)
        if self.state.faults.latency_ms:
            self.sleep(self.state.faults.latency_ms / 1000)
        with self.lock:
            response = self.state.handle(sim_request)
            if self.state_file is not None and sim_request.method.upper() in MUTATING:
                save_state(self.state, self.state_file)
        return self.to_httpx(response, request)

    def to_httpx(self, response: SimResponse, request: httpx.Request) -> httpx.Response:
        if response.fault == "drop":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if response.fault == "stall":
            timeouts = request.extensions.get("timeout", {})
            read_timeout = timeouts.get("read") or DEFAULT_STALL_SECONDS
            self.sleep(float(read_timeout))
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        return httpx.Response(
            response.status,
            headers=dict(response.headers),
            content=response.body,
            request=request,
        )


def open_sim(state_file: str | None, *, speed: float, token: str = "sim-token") -> SimTransport:
    """The in-process simulator behind `--sim`: state loaded from / saved to `state_file`."""
    if state_file is not None:
        os.makedirs(os.path.dirname(os.path.abspath(state_file)), exist_ok=True)
    state = load_state(state_file, clock=time.time, speed=speed, token=token)
    return SimTransport(state, state_file=state_file)
