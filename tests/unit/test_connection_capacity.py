"""Connection capacity matches --parallelism (issue 11): the client's pool holds a connection
for every worker and the poller, and `sim serve` queues as many connects as apply can open."""

from __future__ import annotations

from reconciler.client.config import DEFAULT_PARALLELISM, connection_limits
from reconciler.simulator.http import SimServer


def test_pool_has_a_kept_alive_connection_per_worker_and_the_poller() -> None:
    """At every allowed --parallelism (1..100) the pool is at least parallelism + 1 (the
    poller), and every connection may stay open between calls."""
    for parallelism in (1, DEFAULT_PARALLELISM, 20, 50, 100):
        limits = connection_limits(parallelism)
        assert limits.max_connections is not None
        assert limits.max_connections >= parallelism + 1
        assert limits.max_keepalive_connections == limits.max_connections


def test_served_simulator_backlog_exceeds_the_highest_parallelism() -> None:
    """The listen backlog (socketserver's default is 5) holds 100 connects at once."""
    assert SimServer.request_queue_size >= 100 + 2


def test_plain_http_loads_no_ca_bundle_and_https_verifies() -> None:
    """Plain HTTP (loopback only) never does TLS: its context trusts no one and still checks
    certificates and host names (it fails closed should a proxy speak TLS); HTTPS uses httpx's
    default verification (the CA bundle)."""
    import ssl

    from reconciler.client.config import tls_verify

    assert tls_verify("https://api.together.xyz") is True
    for url in ("http://127.0.0.1:8080", "HTTP://[::1]:1"):
        context = tls_verify(url)
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats()["x509_ca"] == 0
