"""Connection capacity matches --parallelism (issue 11): every thread that calls (apply's
workers, its poller, plan's list thread) has its own pool with one kept-alive connection, so
no call queues for a connection and none queues behind another thread's; `sim serve` queues
as many connects as apply can open."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest

from reconciler.client import Client
from reconciler.client.config import THREAD_LIMITS, RetryPolicy, env_proxy, tls_verify
from reconciler.errors import ApiTransportError, ConfigError
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


def test_a_call_under_way_when_the_client_closes_leaves_no_connection_open(
    counted: CountedServer,
) -> None:
    """close() between a call's closed-check and its request: the pool it closed was empty,
    and the call opens its connection after; that connection is closed when the call ends,
    not left open until the collector finds it."""
    client = Client(counted.server.url, SIM_TOKEN)
    reached, closed = threading.Event(), threading.Event()
    pools: list[httpx.HTTPTransport] = []

    def call() -> None:
        pool = client._http
        assert isinstance(pool, httpx.HTTPTransport)
        send = pool.handle_request

        def held(request: httpx.Request) -> httpx.Response:
            reached.set()
            closed.wait(timeout=30)
            return send(request)

        pool.handle_request = held  # type: ignore[method-assign]
        pools.append(pool)
        client.list_resources(CLUSTERS)

    worker = threading.Thread(target=call)
    worker.start()
    assert reached.wait(timeout=30)
    client.close()
    closed.set()
    worker.join(timeout=30)
    assert counted.accepted == 1  # the call was made, on a connection opened after close()
    assert [pool._pool.connections for pool in pools] == [[]]


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


# --- proxies: the environment's, as httpx's Client read them -------------------------------------

HTTPS_BASE = "https://api.together.xyz"


@pytest.mark.parametrize(
    ("base", "no_proxy", "direct"),
    [
        ("http://[::1]:8080", "[::1]:8080", True),
        ("http://[::1]:8080", "::1", True),
        ("http://[::1]:8080", "[::1]:9", False),
        ("http://localhost:8080", "localhost", True),
    ],
)
def test_no_proxy_names_loopback_hosts_too(base: str, no_proxy: str, direct: bool) -> None:
    proxy = env_proxy(base, {"HTTP_PROXY": "http://p:1", "NO_PROXY": no_proxy})
    assert (proxy is None) is direct


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://proxy.corp:3128"),
        ({"https_proxy": "proxy.corp:3128"}, "http://proxy.corp:3128"),
        (
            {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"},
            "http://lower:1",
        ),
        ({"HTTP_PROXY": "http://plain:1"}, None),  # the scheme's variable, or all_proxy
        ({"ALL_PROXY": "https://every:1"}, "https://every:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "together.xyz"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.example"}, "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "x.org, .Together.XYZ"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.together.xyz:443"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.together.xyz:8443"}, "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "ether.xyz"}, "http://p:1"),
    ],
)
def test_the_proxy_comes_from_the_environment(env: dict[str, str], expected: str | None) -> None:
    proxy = env_proxy(HTTPS_BASE, env)
    assert (None if proxy is None else str(proxy.url).rstrip("/")) == expected


@pytest.mark.parametrize(
    "value", ["socks5://user:s3cret-pw@proxy:1080", "http://s3cret:no-port", "http://:8080"]
)
def test_an_unusable_proxy_is_a_config_error_that_hides_its_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Client(HTTPS_BASE, SIM_TOKEN, env={"ALL_PROXY": value})
    assert str(caught.value).startswith("ALL_PROXY: not an http:// or https:// proxy URL")
    assert value not in str(caught.value) and "s3cret" not in str(caught.value)


def test_requests_go_through_the_proxy_unless_no_proxy_names_the_host(
    counted: CountedServer,
) -> None:
    """The simulator stands in for the proxy: it answers a request in absolute form for the
    host behind it (where nothing listens). With NO_PROXY naming that host, the client
    connects there directly and is refused."""
    behind = "http://127.0.0.1:9"
    with Client(behind, SIM_TOKEN, env={"http_proxy": counted.server.url}) as client:
        assert client.list_resources(CLUSTERS) == []
    assert counted.accepted == 1
    env = {"http_proxy": counted.server.url, "NO_PROXY": "127.0.0.1"}
    fast = RetryPolicy(max_retries=0)
    refused = re.escape("no answer from http://127.0.0.1:9")
    with (
        Client(behind, SIM_TOKEN, env=env, retry=fast) as client,
        pytest.raises(ApiTransportError, match=refused),
    ):
        client.list_resources(CLUSTERS)
    assert counted.accepted == 1


def test_every_request_says_what_httpx_s_client_said_and_carries_no_cookie() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"clusters": []}, headers={"Set-Cookie": "a=b"})

    with Client("http://sim", SIM_TOKEN, transport=httpx.MockTransport(answer)) as client:
        client.list_resources(CLUSTERS)
        client.list_resources(CLUSTERS)
    headers = seen[-1].headers
    assert headers["Accept"] == "application/json"
    assert headers["Accept-Encoding"] == "gzip, deflate"
    assert headers["Connection"] == "keep-alive"
    assert headers["User-Agent"].startswith("reconciler/")
    assert headers["Authorization"] == f"Bearer {SIM_TOKEN}"
    assert headers["Host"] == "sim"
    assert "Cookie" not in headers


def test_a_custom_header_replaces_a_default_whatever_its_case() -> None:
    """TOGETHER_CUSTOM_HEADERS may replace the defaults httpx's Client sent (not the key, the
    User-Agent or Accept, see test_client_habits): one header of that name goes out."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"clusters": []})

    env = {"TOGETHER_CUSTOM_HEADERS": "accept-encoding: identity\nX-Team: infra"}
    transport = httpx.MockTransport(answer)
    with Client("http://sim", SIM_TOKEN, transport=transport, env=env) as client:
        client.list_resources(CLUSTERS)
    (request,) = seen
    assert request.headers.get_list("Accept-Encoding") == ["identity"]
    assert request.headers["X-Team"] == "infra"
