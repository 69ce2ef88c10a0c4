"""Shared fixtures: a fake clock and the simulator in-process (transport) and on a socket.

Other test modules import these names; keep them stable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from reconciler.simulator.http import SimServer, make_server
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport

SIM_TOKEN = "sim-token"

#: A spec up to `clusters:`, with the defaults every test cluster shares (those of
#: tests/integration/helpers.py's BASE_FIELDS).
SPEC_HEADER = """\
version: 1
defaults:
  region: us-central-8
  gpu_type: H100_SXM
  cuda_version: "12.6"
  nvidia_driver_version: "560"
  billing_type: ON_DEMAND
clusters:
"""


def spec_header(top: str) -> str:
    """SPEC_HEADER with top-level lines (`project_id: p\n`) after `version: 1`."""
    return SPEC_HEADER.replace("version: 1\n", f"version: 1\n{top}", 1)


START_TIME = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class FakeClock:
    """A callable clock that moves only when told; `sleep` advances it instead of sleeping."""

    def __init__(self, start: float = START_TIME) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh fake clock at START_TIME."""
    return FakeClock()


@pytest.fixture
def sim_state(fake_clock: FakeClock) -> SimState:
    """An empty simulator on the fake clock, speed 0 (instant), token SIM_TOKEN."""
    return SimState(clock=fake_clock, token=SIM_TOKEN, speed=0)


@pytest.fixture
def sim_transport(sim_state: SimState, fake_clock: FakeClock) -> SimTransport:
    """The simulator as an httpx transport (no socket); sleeps advance the fake clock."""
    return SimTransport(sim_state, sleep=fake_clock.sleep)


@pytest.fixture
def sim_client(sim_transport: SimTransport) -> Iterator[httpx.Client]:
    """A plain httpx client on the in-process simulator, authenticated, base http://sim."""
    with httpx.Client(
        transport=sim_transport,
        base_url="http://sim",
        headers={"Authorization": f"Bearer {SIM_TOKEN}"},
    ) as client:
        yield client


@pytest.fixture
def sim_http_server(sim_state: SimState) -> Iterator[SimServer]:
    """The simulator on a real socket (127.0.0.1, ephemeral port), served from a thread."""
    server = make_server(sim_state, "127.0.0.1", 0, stall_seconds=0.5)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sim_server(sim_http_server: SimServer) -> str:
    """The base URL (host root, as the SDK takes it) of a served simulator on 127.0.0.1."""
    return sim_http_server.url
