"""A whole answer must arrive within the call's deadline: a trickling server cannot hold a
call (and so a plan, or apply's waiting) open forever."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.client import Client
from reconciler.errors import ApiTransportError, CreateOutcomeUnknown
from reconciler.kinds.cluster import API as CLUSTERS
from tests.conftest import FakeClock


class Trickle(httpx.SyncByteStream):
    """A body that sends one byte every `every` seconds of the fake clock."""

    def __init__(self, clock: FakeClock, every: float, size: int = 40) -> None:
        self.clock, self.every, self.size = clock, every, size

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.size):
            self.clock.advance(self.every)
            yield b" "


def trickling_client(clock: FakeClock) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Trickle(clock, every=20.0))

    return Client(
        "https://api.example",
        "token",
        transport=httpx.MockTransport(handler),
        sleep=clock.sleep,
        jitter=lambda: 1.0,
        clock=clock,
        deadline=120.0,
    )


def test_a_trickling_list_is_a_timeout_retried_then_an_error() -> None:
    """A byte every 20 s: each attempt gives up after 120 s, is retried like a timeout, and the
    error says why; the whole call ends in bounded (fake) time."""
    clock = FakeClock()
    start = clock.now
    with pytest.raises(ApiTransportError, match="no complete answer within 120 s"):
        trickling_client(clock).list_resources(CLUSTERS)
    assert clock.now - start < 5 * 200 + 120  # five attempts of ~140 s, plus the back-off


def test_a_trickling_create_is_an_unknown_outcome_never_resent() -> None:
    """The same on a create: its outcome is unknown (it may have committed); never re-sent."""
    clock = FakeClock()
    with pytest.raises(CreateOutcomeUnknown):
        trickling_client(clock).create_resource(CLUSTERS, {"cluster_name": "a"})
