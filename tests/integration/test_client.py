"""The API client: retries, Retry-After, create safety, strict answers, error mapping, secrecy.

Everything the simulator can produce runs against it (in-process transport, and once over a
loopback socket); hand-written httpx.MockTransport handlers cover only what the simulator
cannot answer (HTML, invalid JSON, oversize bodies, odd Retry-After values, TLS failures).
Backoff never sleeps for real: every client gets a recording `sleep`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import Settings, make_client
from reconciler.client import (
    MAX_BODY_BYTES,
    Client,
    RetryPolicy,
    check_base_url,
    resolve_api_key,
)
from reconciler.errors import (
    ApiError,
    ApiResponseError,
    ApiStatusError,
    ApiTransportError,
    AuthError,
    ConfigError,
    ConflictError,
    CreateOutcomeUnknown,
    NotFoundError,
    RateLimitError,
    ReconcilerError,
)

TOKEN = "canary-token-7b1d2e9f"
BASE = "https://api.example.test"
CLUSTERS = "/v1/compute/clusters"
VOLUMES = "/v1/compute/clusters/storage/volumes"

Handler = Callable[[httpx.Request], httpx.Response]


class Sleeps(list[float]):
    """A fake `sleep` that records every delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def cluster(
    cluster_id: str = "c-1", name: str = "train-a", status: str = "Ready"
) -> dict[str, Any]:
    """A minimal valid cluster object."""
    return {"cluster_id": cluster_id, "cluster_name": name, "status": status, "num_gpus": 8}


def mock_client(
    handler: Handler, sleeps: Sleeps | None = None, **kwargs: Any
) -> tuple[Client, Sleeps]:
    """A client over a hand-written transport, with recorded sleeps and jitter 1."""
    recorded = sleeps if sleeps is not None else Sleeps()
    client = Client(
        BASE,
        TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=recorded,
        jitter=lambda: 1.0,
        **kwargs,
    )
    return client, recorded


def assert_no_token(exc: BaseException) -> None:
    """Neither the text nor the repr of an error (or its causes) shows the planted token."""
    seen: BaseException | None = exc
    while seen is not None:
        assert TOKEN not in str(seen)
        assert TOKEN not in repr(seen)
        assert all(TOKEN not in repr(arg) for arg in seen.args)
        seen = seen.__cause__


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.together.ai", "https://api.together.ai"),
        ("https://api.together.ai/", "https://api.together.ai"),
        ("  https://proxy.corp/together/  ", "https://proxy.corp/together"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://127.5.6.7:80/", "http://127.5.6.7:80"),
        ("http://localhost:8765", "http://localhost:8765"),
        ("http://[::1]:8765", "http://[::1]:8765"),
    ],
    ids=["https", "trailing-slash", "path-prefix", "loopback-v4", "loopback-8", "localhost", "v6"],
)
def test_check_base_url_accepts(url: str, expected: str) -> None:
    """https anywhere and http on loopback are accepted, normalised without a trailing slash."""
    assert check_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.together.ai", "http:// would send the API key in clear text"),
        ("http://10.0.0.5:8765", "loopback host"),
        ("http://localhost.evil.com", "loopback host"),
        ("https://api.together.ai/v1", "give the host root"),
        ("https://api.together.ai/v1/", "give the host root"),
        ("ftp://api.together.ai", "expected https://HOST"),
        ("api.together.ai", "expected https://HOST"),
        ("https://user:pw@api.together.ai", "credentials in the URL"),
        ("https://api.together.ai?x=1", "no query"),
        ("https://api.together.ai:99999", "not a valid URL"),
    ],
    ids=[
        "http",
        "http-private",
        "localhost-suffix",
        "v1",
        "v1-slash",
        "ftp",
        "no-scheme",
        "userinfo",
        "query",
        "bad-port",
    ],
)
def test_check_base_url_refuses(url: str, fragment: str) -> None:
    """Non-loopback http, a /v1 suffix and other malformed URLs are refused with a hint."""
    with pytest.raises(ConfigError, match=fragment.replace("?", r"\?")):
        check_base_url(url)


def test_v1_hint_names_the_host_root() -> None:
    """The /v1 refusal suggests the URL to use instead."""
    with pytest.raises(ConfigError, match=r"'https://api\.together\.ai'"):
        check_base_url("https://api.together.ai/v1")


def test_client_refuses_plain_http_to_remote_host() -> None:
    """A real-network client refuses a non-loopback http:// base before any request."""
    with pytest.raises(ConfigError):
        Client("http://api.together.ai", TOKEN)


def test_api_key_from_env_is_stripped() -> None:
    """TOGETHER_API_KEY is used, surrounding whitespace removed."""
    assert resolve_api_key({"TOGETHER_API_KEY": f"  {TOKEN}\n"}, None) == TOKEN


def test_missing_api_key_says_how_to_set_it() -> None:
    """No env var and no file: the error names both ways to give a key."""
    with pytest.raises(ConfigError, match=r"TOGETHER_API_KEY.*--api-key-file"):
        resolve_api_key({}, None)


def test_api_key_file_mode_600_is_read(tmp_path: Path) -> None:
    """A key file only its owner can read is used, and wins over the environment."""
    path = tmp_path / "key"
    path.write_text(f"{TOKEN}\n")
    path.chmod(0o600)
    assert resolve_api_key({"TOGETHER_API_KEY": "other"}, str(path)) == TOKEN


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_api_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    """A key file readable or writable by group/others is refused with the chmod to run."""
    path = tmp_path / "key"
    path.write_text(TOKEN)
    path.chmod(mode)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        resolve_api_key({}, str(path))
    assert_no_token(info.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("", "empty"), ("two words", "spaces"), ("tok\x1ben", "control")],
    ids=["empty", "space", "control"],
)
def test_api_key_file_with_bad_content_is_refused(
    tmp_path: Path, content: str, fragment: str
) -> None:
    """An empty key or one that cannot be a header value is refused."""
    path = tmp_path / "key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=fragment):
        resolve_api_key({}, str(path))


def test_missing_api_key_file_is_refused(tmp_path: Path) -> None:
    """A key file that does not exist gives a one-line error naming it."""
    with pytest.raises(ConfigError, match="cannot read it"):
        resolve_api_key({}, str(tmp_path / "nope"))


# --- requests as sent ----------------------------------------------------------------------------


def test_request_headers_and_body() -> None:
    """Bearer auth, JSON body, User-Agent and the Idempotency-Key reach the wire."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=cluster())

    client, _ = mock_client(handler)
    client.create_cluster({"cluster_name": "train-a", "num_gpus": 8}, idempotency_key="k-1")
    (request,) = seen
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("reconciler/")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "k-1"
    assert json.loads(request.content) == {"cluster_name": "train-a", "num_gpus": 8}


def test_paths_and_queries() -> None:
    """Each method uses its documented path; ids are one escaped segment; projectId query."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.raw_path.decode()}")
        path = request.url.path
        if path.endswith("/regions"):
            return httpx.Response(200, json={"regions": [{"name": "us-central-8"}]})
        if path == VOLUMES and request.method == "GET":
            return httpx.Response(200, json={"volumes": []})
        if path.startswith(VOLUMES) and request.method == "DELETE":
            return httpx.Response(200, json={"success": True})
        if path.startswith(VOLUMES):
            return httpx.Response(200, json={"volume_id": "v-1", "volume_name": "d"})
        if path == CLUSTERS and request.method == "GET":
            return httpx.Response(200, json={"clusters": [cluster()]})
        if request.method == "DELETE":
            return httpx.Response(200, json={"cluster_id": "c-1"})
        return httpx.Response(200, json=cluster())

    client, _ = mock_client(handler)
    client.list_clusters(project_id="p 1")
    client.get_cluster("a/../b")
    client.update_cluster("c-1", {"num_gpus": 16})
    client.delete_cluster("c-1")
    client.list_regions()
    client.list_volumes()
    client.get_volume("v-1")
    client.update_volume("v-1", 12)
    client.delete_volume("v-1")
    assert seen == [
        "GET /v1/compute/clusters?projectId=p+1",
        "GET /v1/compute/clusters/a%2F..%2Fb",
        "PUT /v1/compute/clusters/c-1",
        "DELETE /v1/compute/clusters/c-1",
        "GET /v1/compute/regions",
        "GET /v1/compute/clusters/storage/volumes",
        "GET /v1/compute/clusters/storage/volumes/v-1",
        "PUT /v1/compute/clusters/storage/volumes",
        "DELETE /v1/compute/clusters/storage/volumes/v-1",
    ]
    assert client.calls["PUT /v1/compute/clusters/c-1"] == 1


def test_empty_id_is_a_caller_bug() -> None:
    """An empty id never becomes a request to the collection path."""
    client, _ = mock_client(lambda request: httpx.Response(500))
    with pytest.raises(ValueError):
        client.delete_cluster("")
    assert sum(client.calls.values()) == 0


def test_repr_hides_the_token() -> None:
    """The client's repr names the base URL only."""
    client, _ = mock_client(lambda request: httpx.Response(200))
    assert TOKEN not in repr(client)
    assert BASE in repr(client)


# --- answers the simulator cannot give ------------------------------------------------------------


def test_html_answer_is_refused() -> None:
    """An HTML page (a proxy's login or error page) is refused naming the endpoint."""
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    client, _ = mock_client(lambda request: httpx.Response(200, content=page))
    with pytest.raises(ApiResponseError) as info:
        client.list_clusters()
    assert (
        str(info.value) == "GET /v1/compute/clusters: the API answered HTML, not JSON (status 200)"
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"clusters": [', "invalid JSON"),
        (b"", "empty body"),
        (b'{"clusters": [NaN]}', "invalid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ],
    ids=["truncated", "empty", "nan", "binary", "deep"],
)
def test_invalid_json_is_refused(body: bytes, fragment: str) -> None:
    """A 200 whose body is not JSON is an ApiResponseError naming the endpoint."""
    client, _ = mock_client(lambda request: httpx.Response(200, content=body))
    with pytest.raises(ApiResponseError, match=f"^GET /v1/compute/clusters: .*{fragment}"):
        client.list_clusters()


@pytest.mark.parametrize(
    ("call", "payload", "fragment"),
    [
        ("list_clusters", {}, "no 'clusters' key"),
        ("list_clusters", {"clusters": None}, "'clusters': null"),
        ("list_clusters", {"clusters": {"c-1": {}}}, "'clusters': an object"),
        ("list_clusters", {"clusters": ["c-1"]}, "expected a JSON object, got a string"),
        ("list_clusters", {"clusters": [{"cluster_id": "c-1", "cluster_name": "a"}]}, "status"),
        ("list_clusters", {"clusters": [{**cluster(), "cluster_id": 7}]}, "cluster_id"),
        ("get_cluster", [cluster()], "expected a JSON object, got an array"),
        ("get_cluster", {"cluster_name": "a", "status": "Ready"}, "cluster 'a' lacks"),
        ("list_volumes", {"volumes": [{"volume_id": "v-1"}]}, "volume_name"),
        ("get_volume", {"volume_name": "d"}, "volume_id"),
        ("list_regions", {"regions": [{"supported_instance_types": []}]}, "name"),
        ("list_regions", {"region": []}, "no 'regions' key"),
        ("delete_cluster", {"cluster_id": 5}, "not a string"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_wrong_shapes_are_refused(call: str, payload: Any, fragment: str) -> None:
    """Missing keys, wrong types and missing required fields are refused, no partial data."""
    client, _ = mock_client(lambda request: httpx.Response(200, json=payload))
    method: Callable[..., Any] = getattr(client, call)
    with pytest.raises(ApiResponseError, match=fragment):
        method("x-1") if call.startswith(("get", "delete")) else method()


def test_unknown_status_passes_through() -> None:
    """A status the docs do not list is returned as-is, not rejected and not mapped."""
    body = {"clusters": [cluster(status="Hibernating")]}
    client, _ = mock_client(lambda request: httpx.Response(200, json=body))
    assert client.list_clusters()[0]["status"] == "Hibernating"


def test_oversize_declared_length_is_refused_unread() -> None:
    """A Content-Length over 16 MiB is refused before a byte of the body is read."""
    pulled: list[int] = []

    def body() -> Iterator[bytes]:
        pulled.append(1)
        yield b"{}"

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(MAX_BODY_BYTES + 1)}
        return httpx.Response(200, headers=headers, content=body())

    client, _ = mock_client(handler)
    with pytest.raises(ApiResponseError, match="over the 16777216 byte limit"):
        client.list_clusters()
    assert pulled == []


def test_oversize_streamed_body_stops_at_the_limit() -> None:
    """With no Content-Length, reading stops just past 16 MiB instead of reading it all."""
    chunk = b" " * (1024 * 1024)
    pulled: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:
            pulled.append(1)
            yield chunk

    client, _ = mock_client(lambda request: httpx.Response(200, content=endless()))
    with pytest.raises(ApiResponseError, match="over the 16777216 byte limit"):
        client.list_clusters()
    assert len(pulled) == 17


# --- error statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ApiStatusError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, ConflictError),
        (410, ApiStatusError),
        (422, ApiStatusError),
        (501, ApiStatusError),
    ],
    ids=str,
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
def test_non_retryable_statuses_fail_at_once(status: int, cls: type[ApiError], method: str) -> None:
    """4xx other than 408/429, and 501, are mapped by status and never retried."""
    answer = {"error": {"message": "nope", "type": "x", "param": None, "code": None}}
    client, sleeps = mock_client(lambda request: httpx.Response(status, json=answer))
    calls: dict[str, Callable[[], object]] = {
        "GET": lambda: client.get_cluster("c-1"),
        "PUT": lambda: client.update_cluster("c-1", {"num_gpus": 8}),
        "DELETE": lambda: client.delete_cluster("c-1"),
        "POST": lambda: client.create_cluster({"cluster_name": "a"}),
    }
    call = calls[method]
    with pytest.raises(cls) as info:
        call()
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.api_message == "nope"
    assert sum(client.calls.values()) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            json.dumps({"error": {"message": "num_gpus must be a multiple of 8"}}),
            "num_gpus must be a multiple of 8",
        ),
        (
            json.dumps({"code": 3, "message": "num_gpus must be a multiple of 8"}),
            "num_gpus must be a multiple of 8",
        ),
        ("num_gpus must be a multiple of 8\n", "num_gpus must be a multiple of 8"),
        ("bad\x1b[31mred\x00", r"bad\x1b[31mred\x00"),
        ("x" * 1000, "x" * 299 + "…"),
        ("<html><body>oops</body></html>", "(an HTML page instead of a JSON error)"),
    ],
    ids=["error-object", "grpc-gateway", "plain-text", "control-chars", "long", "html"],
)
def test_api_message_extraction(content: str, expected: str) -> None:
    """The API's message comes from either JSON error shape or text; escaped and bounded."""
    client, _ = mock_client(lambda request: httpx.Response(400, text=content))
    with pytest.raises(ApiStatusError) as info:
        client.update_cluster("c-1", {"num_gpus": 9})
    assert str(info.value) == f"PUT /v1/compute/clusters/c-1: 400 Bad Request: {expected}"
    assert info.value.method == "PUT"
    assert info.value.path == "/v1/compute/clusters/c-1"


def test_token_echoed_by_the_api_is_redacted() -> None:
    """An error body that quotes the token never carries it into the exception."""
    body = {"error": {"message": f"invalid api key {TOKEN}"}}
    client, _ = mock_client(lambda request: httpx.Response(401, json=body))
    with pytest.raises(AuthError) as info:
        client.list_clusters()
    assert_no_token(info.value)
    assert "invalid api key ***" in str(info.value)


# --- Retry-After and backoff ---------------------------------------------------------------------


def answer_then_ok(first: list[httpx.Response], ok: dict[str, Any]) -> Handler:
    """A handler that gives the listed answers in turn, then 200 with `ok`."""
    queue = list(first)

    def handler(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if queue else httpx.Response(200, json=ok)

    return handler


def test_retry_after_http_date_is_honoured() -> None:
    """Retry-After as an HTTP date waits until that moment."""
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    handler = answer_then_ok([httpx.Response(503, headers={"Retry-After": when})], cluster())
    client, sleeps = mock_client(handler)
    assert client.get_cluster("c-1")["cluster_id"] == "c-1"
    assert len(sleeps) == 1
    assert 27 <= sleeps[0] <= 30


def test_retry_after_seconds_on_get_is_honoured() -> None:
    """Retry-After in seconds replaces the backoff delay."""
    handler = answer_then_ok(
        [httpx.Response(429, headers={"Retry-After": "7"})] * 2, {"clusters": []}
    )
    client, sleeps = mock_client(handler)
    assert client.list_clusters() == []
    assert sleeps == [7.0, 7.0]


@pytest.mark.parametrize(
    "value",
    ["120", "61", email.utils.formatdate(time.time() + 3600, usegmt=True)],
    ids=["120s", "61s", "date-in-an-hour"],
)
def test_long_retry_after_fails_at_once(value: str) -> None:
    """A Retry-After over 60 s is not waited out: it fails at once saying how long."""
    handler = answer_then_ok([httpx.Response(429, headers={"Retry-After": value})], {})
    client, sleeps = mock_client(handler)
    with pytest.raises(RateLimitError, match=r"the API asked to wait \d+ s") as info:
        client.list_clusters()
    assert sleeps == []
    assert client.calls["GET /v1/compute/clusters"] == 1
    assert info.value.status == 429


def test_unparseable_retry_after_falls_back_to_backoff() -> None:
    """A Retry-After that is neither seconds nor a date uses the normal backoff."""
    handler = answer_then_ok([httpx.Response(503, headers={"Retry-After": "soon"})], cluster())
    client, sleeps = mock_client(handler)
    client.get_cluster("c-1")
    assert sleeps == [1.0]


def test_backoff_doubles_with_full_jitter_and_caps() -> None:
    """Delays are jitter × min(30, 1·2^n); with jitter 1 that is 1, 2, 4, … capped at 30."""
    client, sleeps = mock_client(
        lambda request: httpx.Response(502), retry=RetryPolicy(max_retries=7)
    )
    with pytest.raises(ApiStatusError, match="gave up after 8 attempts"):
        client.list_clusters()
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_backoff_jitter_scales_the_delay() -> None:
    """Full jitter: the injected random fraction multiplies the ceiling."""
    sleeps = Sleeps()
    client = Client(
        BASE,
        TOKEN,
        transport=httpx.MockTransport(lambda request: httpx.Response(500)),
        sleep=sleeps,
        jitter=lambda: 0.25,
    )
    with pytest.raises(ApiStatusError):
        client.get_cluster("c-1")
    assert sleeps == [0.25, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504], ids=str)
def test_retryable_status_on_get_is_retried_four_times(status: int) -> None:
    """GET: 408, 429 and 5xx (not 501) are retried up to 4 times, then fail by status."""
    client, sleeps = mock_client(lambda request: httpx.Response(status))
    with pytest.raises(ApiStatusError) as info:
        client.list_clusters()
    assert info.value.status == status
    assert client.calls["GET /v1/compute/clusters"] == 5
    assert len(sleeps) == 4


# --- transport failures --------------------------------------------------------------------------

SENT_FAILURES = [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError]
UNSENT_FAILURES = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]


def raising(exc_type: type[httpx.RequestError], after: int = 10**9, ok: Any = None) -> Handler:
    """A handler that raises `exc_type` for the first `after` requests, then answers `ok`."""
    count = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        count[0] += 1
        if count[0] <= after:
            raise exc_type(f"simulated {exc_type.__name__}", request=request)
        return httpx.Response(200, json=ok)

    return handler


@pytest.mark.parametrize("exc_type", SENT_FAILURES + UNSENT_FAILURES, ids=lambda t: t.__name__)
def test_transport_errors_on_get_are_retried(exc_type: type[httpx.RequestError]) -> None:
    """Idempotent calls survive transient transport failures by retrying."""
    client, sleeps = mock_client(raising(exc_type, after=2, ok={"clusters": []}))
    assert client.list_clusters() == []
    assert client.calls["GET /v1/compute/clusters"] == 3
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("exc_type", SENT_FAILURES, ids=lambda t: t.__name__)
def test_transport_error_after_sending_create_is_outcome_unknown(
    exc_type: type[httpx.RequestError],
) -> None:
    """A create that may have reached the server is never re-sent: CreateOutcomeUnknown."""
    client, sleeps = mock_client(raising(exc_type, after=1, ok=cluster()))
    with pytest.raises(CreateOutcomeUnknown, match="list before sending it again"):
        client.create_cluster({"cluster_name": "a"})
    assert client.calls["POST /v1/compute/clusters"] == 1
    assert sleeps == []


@pytest.mark.parametrize("exc_type", UNSENT_FAILURES, ids=lambda t: t.__name__)
def test_unsent_create_is_retried(exc_type: type[httpx.RequestError]) -> None:
    """A create that never left (connect failure) is safe to send again."""
    client, _ = mock_client(raising(exc_type, after=1, ok=cluster()))
    assert client.create_cluster({"cluster_name": "train-a"})["cluster_id"] == "c-1"
    assert client.calls["POST /v1/compute/clusters"] == 2


def test_tls_failure_is_not_retried() -> None:
    """A certificate failure is reported at once, naming TLS, never retried."""

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]", request=request) from exc

    client, sleeps = mock_client(handler)
    with pytest.raises(ApiTransportError, match="TLS error"):
        client.list_clusters()
    assert client.calls["GET /v1/compute/clusters"] == 1
    assert sleeps == []


def test_transport_errors_exhausted_name_the_failure() -> None:
    """After 5 failed attempts the error says so and names the kind of failure."""
    client, _ = mock_client(raising(httpx.ReadTimeout))
    with pytest.raises(ApiTransportError, match="after 5 attempts: ReadTimeout") as info:
        client.update_volume("v-1", 3)
    assert_no_token(info.value)


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504], ids=str)
def test_5xx_on_create_is_outcome_unknown(status: int) -> None:
    """A create answered 5xx (or 408) may have committed: one attempt, CreateOutcomeUnknown."""
    body = {"error": {"message": "upstream failed"}}
    client, sleeps = mock_client(lambda request: httpx.Response(status, json=body))
    with pytest.raises(CreateOutcomeUnknown) as info:
        client.create_volume({"volume_name": "d", "size_tib": 1, "region": "r"})
    assert info.value.status == status
    assert info.value.api_message == "upstream failed"
    assert client.calls["POST /v1/compute/clusters/storage/volumes"] == 1
    assert sleeps == []


def test_no_httpx_error_escapes_and_logs_hide_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """Every httpx failure, on every method, comes out as a ReconcilerError; logs hide the key."""
    caplog.set_level(logging.DEBUG)
    failures: list[type[httpx.RequestError]] = [
        *SENT_FAILURES,
        *UNSENT_FAILURES,
        httpx.UnsupportedProtocol,
        httpx.LocalProtocolError,
        httpx.ProxyError,
        httpx.CloseError,
        httpx.WriteTimeout,
        httpx.DecodingError,
        httpx.TooManyRedirects,
    ]
    for exc_type in failures:
        client, _ = mock_client(raising(exc_type))
        for call in every_call(client):
            with pytest.raises(ReconcilerError) as info:
                call()
            assert_no_token(info.value)
    assert TOKEN not in caplog.text


def every_call(client: Client) -> list[Callable[[], object]]:
    """One invocation of every public API method."""
    return [
        lambda: client.list_clusters(),
        lambda: client.list_clusters(project_id="p-1"),
        lambda: client.get_cluster("c-1"),
        lambda: client.create_cluster({"cluster_name": "a"}, idempotency_key="k"),
        lambda: client.update_cluster("c-1", {"num_gpus": 16}),
        lambda: client.delete_cluster("c-1"),
        lambda: client.list_regions(),
        lambda: client.list_volumes(),
        lambda: client.get_volume("v-1"),
        lambda: client.create_volume({"volume_name": "d"}),
        lambda: client.update_volume("v-1", 2),
        lambda: client.delete_volume("v-1"),
    ]


# --- wiring from the command line ----------------------------------------------------------------


def settings(**overrides: Any) -> Settings:
    """CLI settings with no options given, except `overrides`."""
    values: dict[str, Any] = {
        "base_url": None,
        "api_key_file": None,
        "project_id": None,
        "sim": None,
        "sim_speed": None,
        "color": False,
        "debug": False,
    }
    values.update(overrides)
    return Settings(**values)


def test_make_client_sim_runs_in_process(tmp_path: Path) -> None:
    """--sim wires the in-process simulator with its own token; state lands in the file."""
    state_file = tmp_path / "sim.json"
    with make_client(settings(sim=str(state_file), sim_speed=0.0)) as client:
        assert client.list_clusters() == []
        assert client.list_regions()
        volume = client.create_volume({"volume_name": "d", "size_tib": 1, "region": "us-central-8"})
    assert volume["volume_name"] == "d"
    assert state_file.exists()


def test_make_client_real_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --sim and without a key the wiring fails with the how-to message."""
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="TOGETHER_API_KEY"):
        make_client(settings())


def test_make_client_real_checks_the_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The base URL rule applies before any request; a good URL and key build a client."""
    monkeypatch.setenv("TOGETHER_API_KEY", TOKEN)
    with pytest.raises(ConfigError, match="host root"):
        make_client(settings(base_url="https://api.together.ai/v1"))
    with make_client(settings()) as client:
        assert client.base_url == "https://api.together.ai"
        assert sum(client.calls.values()) == 0
