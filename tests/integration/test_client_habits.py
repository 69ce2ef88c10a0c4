"""The official SDK's client habits: TOGETHER_CUSTOM_HEADERS, x-should-retry, Retry-After-Ms,
and the User-Agent (REFERENCE §1, §10).

The real client runs against the simulator's transport (with a wrapper that adds the answer
headers the simulator does not send) and against hand-written httpx.MockTransport handlers.
Nothing sleeps for real: clients get a recording `sleep`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from reconciler import __version__
from reconciler.client import Client
from reconciler.client.headers import custom_headers, retry_delay, should_retry
from reconciler.errors import (
    ApiStatusError,
    AuthError,
    ConfigError,
    CreateOutcomeUnknown,
    RateLimitError,
)
from reconciler.kinds.cluster import API as CLUSTER_API
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import SIM_TOKEN, FakeClock
from tests.integration.helpers import run_cli, seed_sim_file, sim_args

SIM_BASE = "http://sim.local"
CLUSTERS = "/v1/compute/clusters"
NEW_CLUSTER = {
    "cluster_name": "train-a",
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "num_gpus": 8,
    "billing_type": "ON_DEMAND",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
}
SECRET_VALUE = "gw-secret-CANARY-51c0"
ENV = "TOGETHER_CUSTOM_HEADERS"


class Sleeps(list[float]):
    """A fake `sleep` that records every delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class HeaderTransport(SimTransport):
    """The simulator's transport, keeping every request's headers and adding `extra` answer
    headers to each error answer (the simulator itself sends no x-should-retry)."""

    def __init__(
        self, state: SimState, clock: FakeClock, extra: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(state, sleep=clock.sleep)
        self.extra = dict(extra or {})
        self.seen: list[httpx.Headers] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.headers)
        response = super().handle_request(request)
        if response.status_code >= 400:
            response.headers.update(self.extra)
        return response


def sim_client(
    state: SimState, clock: FakeClock, extra: Mapping[str, str] | None = None, **env: str
) -> tuple[Client, HeaderTransport, Sleeps]:
    transport = HeaderTransport(state, clock, extra)
    sleeps = Sleeps()
    client = Client(
        SIM_BASE, SIM_TOKEN, transport=transport, sleep=sleeps, jitter=lambda: 1.0, env=env
    )
    return client, transport, sleeps


def mock_client(
    answers: list[httpx.Response], ok: object = None
) -> tuple[Client, list[httpx.Request], Sleeps]:
    """A client whose transport gives `answers` in turn, then 200 with `ok`."""
    queue = list(answers)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if queue else httpx.Response(200, json=ok)

    sleeps = Sleeps()
    client = Client(
        "https://api.example.test",
        SIM_TOKEN,
        transport=httpx.MockTransport(handler),
        sleep=sleeps,
        jitter=lambda: 1.0,
        env={},
    )
    return client, seen, sleeps


# --- User-Agent ----------------------------------------------------------------------------------


def test_user_agent_names_the_tool_and_its_version(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Every request says `User-Agent: reconciler/<version>`, the package's own version."""
    client, transport, _ = sim_client(sim_state, fake_clock)
    client.list_resources(CLUSTER_API)
    assert transport.seen[0]["user-agent"] == f"reconciler/{__version__}"


# --- TOGETHER_CUSTOM_HEADERS ---------------------------------------------------------------------


def test_custom_headers_reach_the_wire(sim_state: SimState, fake_clock: FakeClock) -> None:
    """Each `Name: value` line is sent on every request; blank lines and CRLF are fine."""
    lines = f"X-Gateway-Auth: {SECRET_VALUE}\r\n\n  X-Trace: a: b c  \n"
    client, transport, _ = sim_client(sim_state, fake_clock, **{ENV: lines})
    client.list_resources(CLUSTER_API)
    client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert len(transport.seen) == 2
    for headers in transport.seen:
        assert headers["x-gateway-auth"] == SECRET_VALUE
        assert headers["x-trace"] == "a: b c"
        assert headers["authorization"] == f"Bearer {SIM_TOKEN}"


def test_custom_headers_default_to_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without `env`, the client reads TOGETHER_CUSTOM_HEADERS from os.environ, as the SDK."""
    monkeypatch.setenv(ENV, "X-Team: infra")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"clusters": []})

    with Client("https://api.example.test", SIM_TOKEN, transport=httpx.MockTransport(handler)) as c:
        c.list_resources(CLUSTER_API)
    assert seen[0].headers["x-team"] == "infra"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"X-Gateway-Auth {SECRET_VALUE}", "line 1: expected 'Name: value'"),
        (f"X-Ok: 1\nBad Name: {SECRET_VALUE}", "line 2: expected 'Name: value'"),
        (f": {SECRET_VALUE}", "line 1: expected 'Name: value'"),
        (f"Authorization: Bearer {SECRET_VALUE}", "line 1: Authorization cannot be set here"),
        (f"authorization: {SECRET_VALUE}", "authorization cannot be set here (the API key"),
        (f"User-Agent: {SECRET_VALUE}", "User-Agent cannot be set here"),
        (f"Idempotency-Key: {SECRET_VALUE}", "Idempotency-Key cannot be set here"),
        (f"X-A: 1\n\nx-a: {SECRET_VALUE}", "line 3: x-a is given twice"),
        (f"X-A: {SECRET_VALUE}\x1b", "line 1: the value of X-A has control or non-ASCII"),
        (f"X-A: {SECRET_VALUE}é", "line 1: the value of X-A has control or non-ASCII"),
    ],
    ids=[
        "no-colon",
        "space-in-name",
        "empty-name",
        "authorization",
        "authorization-lower",
        "user-agent",
        "idempotency-key",
        "twice",
        "control-char",
        "non-ascii",
    ],
)
def test_invalid_custom_headers_are_a_config_error(text: str, message: str) -> None:
    """A bad line is a ConfigError naming the variable and the line, never the value."""
    with pytest.raises(ConfigError, match=r"^TOGETHER_CUSTOM_HEADERS ") as info:
        custom_headers({ENV: text})
    assert message in str(info.value)
    assert SECRET_VALUE not in str(info.value)


def test_invalid_custom_headers_fail_the_client_before_any_request() -> None:
    """The Client refuses to start: no request goes out with a half-read header set."""
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(200))
    with pytest.raises(ConfigError, match="line 1: Authorization cannot be set here"):
        Client(SIM_BASE, SIM_TOKEN, transport=transport, env={ENV: "Authorization: x"})
    assert sent == []


def test_cli_bad_custom_headers_is_one_line_exit_1(tmp_path: Path) -> None:
    """The CLI prints one `Error:` line naming the variable and line; no traceback, no value."""
    state = tmp_path / "sim.json"
    seed_sim_file(state)
    result = run_cli(
        [*sim_args(state), "regions"], env={ENV: f"X-Ok: 1\nAuthorization: {SECRET_VALUE}"}
    )
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        "Error: TOGETHER_CUSTOM_HEADERS line 2: Authorization cannot be set here "
        "(the API key goes only in TOGETHER_API_KEY or --api-key-file)\n"
    )


def test_cli_unusable_proxy_is_one_line_exit_1_before_any_request() -> None:
    """A SOCKS proxy (the client speaks to http(s) proxies only) stops the command before a
    request, in one `Error:` line naming the variable, never its value (it holds a password)."""
    proxies: dict[str, str | None] = {
        name: None
        for base in ("https_proxy", "http_proxy", "all_proxy", "no_proxy")
        for name in (base, base.upper())
    }
    proxies["ALL_PROXY"] = f"socks5://ops:{SECRET_VALUE}@proxy.corp:1080"
    env = {"TOGETHER_API_KEY": SIM_TOKEN, "TOGETHER_BASE_URL": "https://api.together.xyz"}
    result = run_cli(["regions"], env={**proxies, **env})
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        "Error: ALL_PROXY: not an http:// or https:// proxy URL (the only kinds the client "
        "supports); fix it, or name the API host in NO_PROXY\n"
    )


def test_cli_sends_custom_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`reconciler regions` with TOGETHER_CUSTOM_HEADERS set sends them to the API."""
    import reconciler.simulator.transport as transport_module

    seen: list[httpx.Headers] = []
    real_handle = transport_module.SimTransport.handle_request

    def recording(self: SimTransport, request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return real_handle(self, request)

    monkeypatch.setattr(transport_module.SimTransport, "handle_request", recording)
    state = tmp_path / "sim.json"
    seed_sim_file(state)
    result = run_cli([*sim_args(state), "regions"], env={ENV: "X-Team: infra"})
    assert result.code == 0, result.all
    assert seen and all(h["x-team"] == "infra" for h in seen)


# --- x-should-retry ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 409, 422], ids=str)
def test_should_retry_true_retries_a_non_retryable_status(
    sim_state: SimState, fake_clock: FakeClock, status: int
) -> None:
    """GET: `x-should-retry: true` on a 4xx the tool would not retry makes it retry."""
    client, _, sleeps = sim_client(sim_state, fake_clock, {"x-should-retry": "true"})
    sim_state.queue_fault(status, times=2, method="GET")
    assert client.list_resources(CLUSTER_API) == []
    assert sim_state.count("GET", CLUSTERS) == 3
    assert sleeps == [1.0, 2.0]


def test_should_retry_true_still_gives_up_after_the_retry_budget(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """The header never makes the loop endless: 5 attempts, then the status's error."""
    client, _, _ = sim_client(sim_state, fake_clock, {"x-should-retry": "TRUE"})
    sim_state.queue_fault(401, times=10, method="GET")
    with pytest.raises(AuthError, match="gave up after 5 attempts"):
        client.list_resources(CLUSTER_API)
    assert sim_state.count("GET", CLUSTERS) == 5


@pytest.mark.parametrize("status", [429, 500, 503], ids=str)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_should_retry_false_stops_retrying(
    sim_state: SimState, fake_clock: FakeClock, status: int, method: str
) -> None:
    """`x-should-retry: false` on a status the tool would retry: one attempt, and it says why."""
    cluster_id = sim_state.add_cluster()["cluster_id"]
    client, _, sleeps = sim_client(sim_state, fake_clock, {"x-should-retry": "false"})
    sim_state.queue_fault(status, times=3, method=method)
    calls: dict[str, Callable[[], object]] = {
        "GET": lambda: client.get_resource(CLUSTER_API, cluster_id),
        "PUT": lambda: client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16}),
        "DELETE": lambda: client.delete_resource(CLUSTER_API, cluster_id),
    }
    expected = RateLimitError if status == 429 else ApiStatusError
    with pytest.raises(expected, match=r"not retried: the API answered x-should-retry: false"):
        calls[method]()
    assert len(sim_state.request_log) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 409, 422], ids=str)
def test_should_retry_true_never_resends_a_create(
    sim_state: SimState, fake_clock: FakeClock, status: int
) -> None:
    """POST: the header cannot make a refused create be sent again (DESIGN §7)."""
    client, _, sleeps = sim_client(sim_state, fake_clock, {"x-should-retry": "true"})
    sim_state.queue_fault(status, times=3, method="POST")
    with pytest.raises(ApiStatusError) as info:
        client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert info.value.status == status
    assert sim_state.count("POST", CLUSTERS) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [500, 503], ids=str)
def test_should_retry_true_on_a_create_5xx_is_still_outcome_unknown(
    sim_state: SimState, fake_clock: FakeClock, status: int
) -> None:
    """POST 5xx with `x-should-retry: true`: not re-sent blindly; the caller re-lists."""
    client, _, _ = sim_client(sim_state, fake_clock, {"x-should-retry": "true"})
    sim_state.queue_fault(status, method="POST")
    with pytest.raises(CreateOutcomeUnknown):
        client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert sim_state.count("POST", CLUSTERS) == 1


def test_should_retry_false_stops_a_create_429(sim_state: SimState, fake_clock: FakeClock) -> None:
    """POST 429 is normally retried (refused, so not done); `false` stops that too."""
    client, _, sleeps = sim_client(sim_state, fake_clock, {"x-should-retry": "false"})
    sim_state.queue_fault(429, method="POST")
    with pytest.raises(RateLimitError, match="x-should-retry: false"):
        client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert sim_state.count("POST", CLUSTERS) == 1
    assert sleeps == []


def test_create_429_without_advice_is_still_retried(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Unchanged: a 429 on a create is retried after Retry-After, then the create is done."""
    client, _, sleeps = sim_client(sim_state, fake_clock, {"x-should-retry": "maybe"})
    sim_state.queue_fault(429, method="POST")
    assert client.create_resource(CLUSTER_API, NEW_CLUSTER)["cluster_name"] == "train-a"
    assert sim_state.count("POST", CLUSTERS) == 2
    assert sleeps == [1.0]


# --- Retry-After-Ms ------------------------------------------------------------------------------


def test_retry_after_ms_wins_over_retry_after(sim_state: SimState, fake_clock: FakeClock) -> None:
    """The simulator's 429 says `Retry-After: 1`; `Retry-After-Ms: 250` is read first."""
    client, _, sleeps = sim_client(sim_state, fake_clock, {"retry-after-ms": "250"})
    sim_state.queue_fault(429, times=2, method="GET")
    assert client.list_resources(CLUSTER_API) == []
    assert sleeps == [0.25, 0.25]


@pytest.mark.parametrize(
    ("headers", "sleep"),
    [
        ({"Retry-After-Ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "0"}, None),
        ({"Retry-After-Ms": "-5"}, None),
        ({"Retry-After-Ms": "soon", "Retry-After": "3"}, 3.0),
        ({"Retry-After-Ms": "nan", "Retry-After": "3"}, 3.0),
        ({"Retry-After-Ms": "inf"}, 1.0),
    ],
    ids=["ms", "zero", "negative", "unusable-then-seconds", "nan", "inf-backoff"],
)
def test_retry_after_ms_values(headers: dict[str, str], sleep: float | None) -> None:
    """Milliseconds are seconds/1000; an unusable value falls back to Retry-After, then backoff."""
    client, seen, sleeps = mock_client([httpx.Response(503, headers=headers)], {"clusters": []})
    assert client.list_resources(CLUSTER_API) == []
    assert len(seen) == 2
    assert sleeps == ([] if sleep is None else [sleep])


def test_retry_after_ms_over_the_cap_fails_at_once() -> None:
    """The 60 s cap applies to milliseconds too: 90,000 ms is refused with the wait named."""
    client, seen, sleeps = mock_client([httpx.Response(429, headers={"Retry-After-Ms": "90000"})])
    with pytest.raises(RateLimitError, match=r"the API asked to wait 90 s .* over the 60 s limit"):
        client.list_resources(CLUSTER_API)
    assert len(seen) == 1
    assert sleeps == []


def test_header_readers_on_their_own() -> None:
    """should_retry reads only true/false; retry_delay prefers milliseconds."""
    assert should_retry(httpx.Headers({"X-Should-Retry": " True "})) is True
    assert should_retry(httpx.Headers({"x-should-retry": "false"})) is False
    assert should_retry(httpx.Headers({"x-should-retry": "1"})) is None
    assert should_retry(httpx.Headers()) is None
    assert retry_delay(httpx.Headers({"retry-after-ms": "10", "retry-after": "5"})) == 0.01
    assert retry_delay(httpx.Headers({"retry-after": "5"})) == 5.0
    assert retry_delay(httpx.Headers()) is None


@pytest.fixture(autouse=True)
def _no_custom_headers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The developer's own TOGETHER_CUSTOM_HEADERS never leaks into these tests."""
    monkeypatch.delenv(ENV, raising=False)
    yield
