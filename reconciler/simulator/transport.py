"""The simulator as an httpx transport: `--sim` runs every command in-process, no socket.

The state file is saved (persist.py) after every mutating request; `save_state` and
`load_state` stay importable from here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import httpx

from reconciler.simulator.persist import load_state, save_after, save_state
from reconciler.simulator.state import SimState
from reconciler.simulator.wire import DEFAULT_TOKEN, SimRequest, SimResponse

__all__ = [
    "DEFAULT_STALL_SECONDS",
    "SimTransport",
    "load_state",
    "open_sim",
    "save_state",
    "to_sim_request",
    "with_latency",
]

DEFAULT_STALL_SECONDS = 65.0


def with_latency(
    state: SimState, sleep: Callable[[float], None], commit: Callable[[], SimResponse]
) -> SimResponse:
    """`commit` (the request answered, under the shell's lock) with the simulated latency
    (`--latency MS`): the request takes effect half-way through MS, and its answer leaves MS
    after it came. The simulator's own work, and its wait for its lock behind requests that
    came at the same moment, falls inside the second half, as a real API's processing falls
    inside its latency; only work longer than that half delays the answer. (It used to sleep
    MS and then answer: every answer came MS plus the simulator's work and queue late, and
    the apply benchmark's parallel creates measured `sim serve`'s lock more than the tool.)"""
    half = state.faults.latency_ms / 2000
    if not half:
        return commit()
    sleep(half)
    begun = time.monotonic()
    response = commit()
    left = half - (time.monotonic() - begun)
    if left > 0:
        sleep(left)
    return response


def to_sim_request(request: httpx.Request) -> SimRequest:
    return SimRequest(
        method=request.method,
        # The raw (still percent-encoded) path: match_route decodes each segment itself.
        path=request.url.raw_path.decode("ascii").partition("?")[0],
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
        response = with_latency(self.state, self.sleep, lambda: self._commit(sim_request))
        return self.to_httpx(response, request)

    def _commit(self, request: SimRequest) -> SimResponse:
        with self.lock:
            response = self.state.handle(request)
            return save_after(self.state, self.state_file, request.method, response)

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


def open_sim(state_file: str | None, *, speed: float, token: str = DEFAULT_TOKEN) -> SimTransport:
    """The in-process simulator behind `--sim`: state loaded from / saved to `state_file`."""
    if state_file is not None:
        os.makedirs(os.path.dirname(os.path.abspath(state_file)), exist_ok=True)
    state = load_state(state_file, clock=time.time, speed=speed, token=token)
    return SimTransport(state, state_file=state_file)
