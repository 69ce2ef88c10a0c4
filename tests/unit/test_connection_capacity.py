"""Connection capacity matches --parallelism (issue 11): every thread that calls (apply's
workers, its poller, plan's list thread) has its own pool with one kept-alive connection, so
no call queues for a connection and none queues behind another thread's; `sim serve` queues
as many connects as apply can open."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator

import pytest

from reconciler.client import Client
from reconciler.client.config import THREAD_LIMITS, tls_verify
from reconciler.errors import ApiTransportError
from reconciler.kinds import get as kind_of
from reconciler.simulator.http import SimServer, make_server
from reconciler.simulator.state import SimState
from tests.conftest import SIM_TOKEN

CLUSTERS = kind_of("cluster").api


def test_a_thread_s_pool_keeps_its_connection_alive() -> None:
    assert THREAD_LIMITS.max_keepalive_connections == 1
    assert THREAD_LIMITS.max_connections is not None and THREAD_LIMITS.max_connections >= 1


def test_served_simulator_backlog_exceeds_the_highest_parallelism() -> None:
    """The listen backlog (socketserver's default is 5) holds 100 connects at once."""
    assert SimServer.request_queue_size >= 100 + 2


class CountedServer:
    """The simulator on 127.0.0.1, counting the connections it accepts."""

    def __init__(self, state: SimState) -> None:
        self.server = make_server(state, "127.0.0.1", 0)
        self.accepted = 0
        accept = self.server.get_request

        def counted() -> tuple[object, object]:
            connection = accept()
            self.accepted += 1
            return connection

        self.server.get_request = counted  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def counted(sim_state: SimState) -> Iterator[CountedServer]:
    server = CountedServer(sim_state)
    yield server
    server.close()


def test_each_thread_keeps_one_connection_for_all_its_calls(counted: CountedServer) -> None:
    """Eight threads, five calls each, at once: eight connections, each reused."""
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def calls(client: Client) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(5):
                client.list_resources(CLUSTERS)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    with Client(counted.server.url, SIM_TOKEN) as client:
        threads = [threading.Thread(target=calls, args=(client,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        assert client.calls[f"GET {CLUSTERS.collection}"] == 40
    assert counted.accepted == 8


def test_closing_the_client_closes_every_thread_s_pool(counted: CountedServer) -> None:
    """close() from one thread ends the pools of all; a later call from any thread makes no
    request and says the client is closed."""
    client = Client(counted.server.url, SIM_TOKEN)
    worker = threading.Thread(target=client.list_resources, args=(CLUSTERS,))
    worker.start()
    worker.join(timeout=30)
    client.list_resources(CLUSTERS)
    client.close()
    with pytest.raises(ApiTransportError, match="the client is closed"):
        client.list_resources(CLUSTERS)
    assert counted.accepted == 2


def test_plain_http_loads_no_ca_bundle_and_https_verifies() -> None:
    """Plain HTTP (loopback only) never does TLS: its context trusts no one and still checks
    certificates and host names (it fails closed should a proxy speak TLS); HTTPS uses httpx's
    default verification (the CA bundle), one context for every thread's pool."""
    https = tls_verify("https://api.together.xyz")
    assert https.verify_mode is ssl.CERT_REQUIRED and https.check_hostname
    assert https.cert_store_stats()["x509_ca"] > 0
    for url in ("http://127.0.0.1:8080", "HTTP://[::1]:1"):
        context = tls_verify(url)
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats()["x509_ca"] == 0


def test_a_thread_s_first_call_after_close_opens_no_pool() -> None:
    """A thread that reaches for its pool once the client is closed (close() ran between its
    closed-check and its first call) gets the closed error, and no pool is left open."""
    client = Client("http://127.0.0.1:9", SIM_TOKEN)
    client.close()
    errors: list[BaseException] = []

    def first_call() -> None:
        try:
            client._http  # noqa: B018 - the property makes this thread's pool
        except ApiTransportError as exc:
            errors.append(exc)

    thread = threading.Thread(target=first_call)
    thread.start()
    thread.join(timeout=30)
    assert [str(e) for e in errors] == ["the client is closed"]
    assert client._pools == []
