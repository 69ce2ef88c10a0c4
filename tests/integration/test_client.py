"""The API client: retries, Retry-After, create safety, strict answers, error mapping, secrecy.

Everything the simulator can produce runs against it: in-process through its httpx transport
(faults drawn at rate 1 or queued with `queue_fault`), and once over a loopback socket for
fidelity. Hand-written httpx.MockTransport handlers cover only what the simulator cannot
answer: HTML, invalid JSON, oversize bodies, wrong shapes, other error-body shapes, Retry-After
as an HTTP date, and transport failures other than "drop" and "stall" (TLS, connect, read,
write). Nothing sleeps for real: clients get a recording `sleep`, the transport the fake clock.
"""

from __future__ import annotations

import email.utils
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import Settings, make_client
from reconciler.client import (
    MAX_BODY_BYTES,
    MAX_LIST_BODY_BYTES,
    Client,
    RetryPolicy,
    check_base_url,
    resolve_api_key,
)
from reconciler.client.config import MAX_KEPT_URLS
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
from reconciler.kinds import Endpoints
from reconciler.kinds.cluster import API as CLUSTER_API
from reconciler.kinds.volume import API as VOLUME_API
from reconciler.simulator.state import FAULT_KINDS, Faults, SimState
from reconciler.simulator.transport import SimTransport

TOKEN = "canary-token-7b1d2e9f"
BASE = "https://api.example.test"
SIM_BASE = "http://sim.local"
CLUSTERS = "/v1/compute/clusters"
CLUSTER = "/v1/compute/clusters/{id}"
VOLUMES = "/v1/compute/clusters/storage/volumes"
NEW_CLUSTER = {
    "cluster_name": "train-a",
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "num_gpus": 8,
    "billing_type": "ON_DEMAND",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
}
NEW_VOLUME = {"volume_name": "team-data", "size_tib": 1, "region": "us-central-8"}

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass(frozen=True, slots=True)
class KindCase:
    """One resource kind as these tests drive it through the client's generic methods."""

    api: Endpoints
    new: dict[str, Any]  # a valid create body
    change: dict[str, Any]  # an in-place update the simulator accepts
    put_route: str  # where that update goes ({id} filled in for the call counter)
    deleted: Callable[[str], dict[str, Any]]  # the delete answer, given the id


KIND_CASES = [
    KindCase(CLUSTER_API, NEW_CLUSTER, {"num_gpus": 16}, CLUSTER, lambda i: {"cluster_id": i}),
    KindCase(VOLUME_API, NEW_VOLUME, {"size_tib": 3}, VOLUMES, lambda i: {"success": True}),
]
KIND_IDS = ["cluster", "volume"]


class Sleeps(list[float]):
    """A fake `sleep` that records every delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sim(sim_state: SimState) -> SimState:
    """The shared simulator, accepting only the planted canary token."""
    sim_state.token = TOKEN
    return sim_state


@pytest.fixture
def sleeps() -> Sleeps:
    """The client's recorded backoff sleeps."""
    return Sleeps()


@pytest.fixture
def client(sim: SimState, sim_transport: SimTransport, sleeps: Sleeps) -> Iterator[Client]:
    """A client on the in-process simulator; jitter 1 makes the backoff exact."""
    with Client(SIM_BASE, TOKEN, transport=sim_transport, sleep=sleeps, jitter=lambda: 1.0) as c:
        yield c


def cluster(
    cluster_id: str = "c-1", name: str = "train-a", status: str = "Ready"
) -> dict[str, Any]:
    """A minimal valid cluster object, for hand-written answers."""
    return {"cluster_id": cluster_id, "cluster_name": name, "status": status, "num_gpus": 8}


def mock_client(handler: Handler, **kwargs: Any) -> tuple[Client, Sleeps]:
    """A client over a hand-written transport, with recorded sleeps and jitter 1."""
    recorded = Sleeps()
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
        seen = seen.__cause__ or seen.__context__


def every_call(
    client: Client, cluster_id: str = "c-1", volume_id: str = "v-1"
) -> dict[str, Callable[[], object]]:
    """One invocation of every public API method, by name."""
    return {
        "list_clusters": lambda: client.list_resources(CLUSTER_API),
        "list_clusters_project": lambda: client.list_resources(CLUSTER_API, project_id="p-1"),
        "get_cluster": lambda: client.get_resource(CLUSTER_API, cluster_id),
        "create_cluster": lambda: client.create_resource(
            CLUSTER_API, NEW_CLUSTER, idempotency_key="k-1"
        ),
        "update_cluster": lambda: client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16}),
        "delete_cluster": lambda: client.delete_resource(CLUSTER_API, cluster_id),
        "list_regions": lambda: client.list_regions(),
        "list_volumes": lambda: client.list_resources(VOLUME_API),
        "get_volume": lambda: client.get_resource(VOLUME_API, volume_id),
        "create_volume": lambda: client.create_resource(VOLUME_API, NEW_VOLUME),
        "update_volume": lambda: client.update_resource(VOLUME_API, volume_id, {"size_tib": 2}),
        "delete_volume": lambda: client.delete_resource(VOLUME_API, volume_id),
    }


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


# --- the simulator: the happy path, and the API's own errors -------------------------------------


@pytest.mark.parametrize("case", KIND_CASES, ids=KIND_IDS)
def test_lifecycle_against_the_simulator(client: Client, sim: SimState, case: KindCase) -> None:
    """Every generic method works on the simulator's real answers, which pass strict
    validation, for every kind."""
    api = case.api
    created = client.create_resource(api, case.new, idempotency_key="k-1")
    resource_id = created[api.id_key]
    assert [r[api.id_key] for r in client.list_resources(api)] == [resource_id]
    assert client.list_resources(api, project_id="no-such-project") == []
    assert client.get_resource(api, resource_id)[api.name_key] == case.new[api.name_key]
    ((field, value),) = case.change.items()
    assert client.update_resource(api, resource_id, case.change)[field] == value
    assert {r["name"] for r in client.list_regions()} >= {"us-central-8"}
    assert client.delete_resource(api, resource_id) == case.deleted(resource_id)
    assert sim.count("PUT", case.put_route) == 1
    assert client.calls[f"PUT {case.put_route.format(id=resource_id)}"] == 1
    assert sum(client.calls.values()) == len(sim.request_log)


def test_validation_error_carries_the_api_message(client: Client, sleeps: Sleeps) -> None:
    """A 400 from the API names method, path, status and the API's words; never retried."""
    cluster_id = client.create_resource(CLUSTER_API, NEW_CLUSTER)["cluster_id"]
    with pytest.raises(ApiStatusError) as info:
        client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 9})
    assert str(info.value).startswith(
        f"PUT /v1/compute/clusters/{cluster_id}: 400 Bad Request: num_gpus must be a multiple of 8"
    )
    assert (info.value.method, info.value.status) == ("PUT", 400)
    assert info.value.api_message is not None and "multiple of 8" in info.value.api_message
    assert client.calls[f"PUT /v1/compute/clusters/{cluster_id}"] == 1
    assert sleeps == []


def test_unknown_id_is_not_found(client: Client) -> None:
    """A 404 maps to NotFoundError, once."""
    with pytest.raises(NotFoundError, match="404 Not Found"):
        client.get_resource(CLUSTER_API, "c-missing")
    assert client.calls["GET /v1/compute/clusters/c-missing"] == 1


def test_wrong_token_is_an_auth_error(sim: SimState, sim_transport: SimTransport) -> None:
    """A 401 maps to AuthError, is not retried, and the wrong key is not in the message."""
    wrong = "canary-token-wrong-0000"
    client = Client(SIM_BASE, wrong, transport=sim_transport, sleep=Sleeps())
    with pytest.raises(AuthError, match="401 Unauthorized") as info:
        client.list_resources(CLUSTER_API)
    assert wrong not in str(info.value)
    assert sim.count("GET", CLUSTERS) == 1


def test_attached_volume_delete_is_a_conflict(client: Client) -> None:
    """The simulator's 409 (volume still attached) maps to ConflictError."""
    volume = client.create_resource(VOLUME_API, NEW_VOLUME)
    client.create_resource(CLUSTER_API, {**NEW_CLUSTER, "volume_id": volume["volume_id"]})
    with pytest.raises(ConflictError, match="attached"):
        client.delete_resource(VOLUME_API, volume["volume_id"])


# --- the simulator: retries and Retry-After ------------------------------------------------------

RETRYABLE = ["408", "429", "500", "502", "503", "504"]


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_fault_on_put_is_retried_four_times(
    client: Client, sim: SimState, sleeps: Sleeps, status: str
) -> None:
    """PUT: 408/429/5xx at rate 1 give exactly 5 attempts, then the error of that status."""
    cluster_id = client.create_resource(CLUSTER_API, NEW_CLUSTER)["cluster_id"]
    sim.faults = Faults(rates={status: 1.0})
    expected = RateLimitError if status == "429" else ApiStatusError
    with pytest.raises(expected, match="gave up after 5 attempts") as info:
        client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16})
    assert info.value.status == int(status)
    assert sim.count("PUT", CLUSTER) == 5
    assert client.calls[f"PUT /v1/compute/clusters/{cluster_id}"] == 5
    # 429 carries the simulator's Retry-After: 1; the others back off 1, 2, 4, 8 s.
    assert sleeps == ([1.0] * 4 if status == "429" else [1.0, 2.0, 4.0, 8.0])


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_fault_on_get_then_success(client: Client, sim: SimState, status: str) -> None:
    """GET: two transient failures, then the answer; three attempts in all."""
    sim.queue_fault(status, times=2, method="GET")
    assert client.list_resources(CLUSTER_API) == []
    assert sim.count("GET", CLUSTERS) == 3


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
def test_non_retryable_status_fails_at_once(
    client: Client, sim: SimState, sleeps: Sleeps, status: int, cls: type[ApiError], method: str
) -> None:
    """4xx other than 408/429, and 501, are mapped by status and sent exactly once."""
    cluster_id = sim.add_cluster()["cluster_id"]
    sim.queue_fault(status, method=method)
    calls: dict[str, Callable[[], object]] = {
        "GET": lambda: client.get_resource(CLUSTER_API, cluster_id),
        "PUT": lambda: client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16}),
        "DELETE": lambda: client.delete_resource(CLUSTER_API, cluster_id),
        "POST": lambda: client.create_resource(CLUSTER_API, NEW_CLUSTER),
    }
    call = calls[method]
    with pytest.raises(cls) as info:
        call()
    assert type(info.value) is cls
    assert info.value.status == status
    assert info.value.api_message is not None and "simulated fault" in info.value.api_message
    assert len(sim.request_log) == 1
    assert sleeps == []


def test_retry_after_seconds_is_honoured(client: Client, sim: SimState, sleeps: Sleeps) -> None:
    """The 429's Retry-After (here 7 s) replaces the backoff delay."""
    sim.faults = Faults(retry_after=7)
    sim.queue_fault(429, times=2, method="GET")
    assert client.list_resources(VOLUME_API) == []
    assert sleeps == [7.0, 7.0]


@pytest.mark.parametrize("seconds", [61, 120, 3600], ids=str)
def test_long_retry_after_fails_at_once(
    client: Client, sim: SimState, sleeps: Sleeps, seconds: int
) -> None:
    """A Retry-After over 60 s is not waited out: one attempt, and the message says how long."""
    sim.faults = Faults(retry_after=seconds)
    sim.queue_fault(429, method="GET")
    with pytest.raises(RateLimitError, match=f"the API asked to wait {seconds} s") as info:
        client.list_resources(CLUSTER_API)
    assert info.value.status == 429
    assert sim.count("GET", CLUSTERS) == 1
    assert sleeps == []


def test_backoff_doubles_and_caps_at_30s(
    sim: SimState, sim_transport: SimTransport, sleeps: Sleeps
) -> None:
    """Delays are jitter × min(30, 1·2^n): 1, 2, 4, 8, 16, 30, 30 with more retries allowed."""
    sim.queue_fault(502, times=8, method="GET")
    policy = RetryPolicy(max_retries=7)
    with (
        Client(
            SIM_BASE, TOKEN, transport=sim_transport, retry=policy, sleep=sleeps, jitter=lambda: 1.0
        ) as client,
        pytest.raises(ApiStatusError, match="gave up after 8 attempts"),
    ):
        client.list_regions()
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_backoff_uses_full_jitter(
    sim: SimState, sim_transport: SimTransport, sleeps: Sleeps
) -> None:
    """Full jitter: the random fraction multiplies the whole ceiling."""
    sim.queue_fault(500, times=5, method="GET")
    with (
        Client(
            SIM_BASE, TOKEN, transport=sim_transport, sleep=sleeps, jitter=lambda: 0.25
        ) as client,
        pytest.raises(ApiStatusError),
    ):
        client.list_resources(CLUSTER_API)
    assert sleeps == [0.25, 0.5, 1.0, 2.0]


# --- the simulator: stall and drop ---------------------------------------------------------------


def test_stall_times_out_and_is_retried(client: Client, sim: SimState, fake_clock: Any) -> None:
    """A stalled PUT times out at the read timeout (60 s) and is retried, then reported."""
    cluster_id = client.create_resource(CLUSTER_API, NEW_CLUSTER)["cluster_id"]
    sim.faults = Faults(rates={"stall": 1.0})
    with pytest.raises(ApiTransportError, match="after 5 attempts: ReadTimeout") as info:
        client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16})
    assert fake_clock.sleeps == [60.0] * 5
    assert sim.count("PUT", CLUSTER) == 5
    assert_no_token(info.value)


def test_dropped_put_is_retried_until_answered(client: Client, sim: SimState) -> None:
    """A PUT whose answer was dropped is re-sent (it is idempotent) and succeeds."""
    cluster_id = client.create_resource(CLUSTER_API, NEW_CLUSTER)["cluster_id"]
    sim.queue_fault("drop", times=2, method="PUT")
    assert client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16})["num_gpus"] == 16
    assert sim.count("PUT", CLUSTER) == 3


def test_create_commit_then_drop_is_outcome_unknown(
    client: Client, sim: SimState, sleeps: Sleeps
) -> None:
    """The create committed and the answer was lost: one POST, one cluster, no re-send."""
    sim.faults = Faults(rates={"drop": 1.0})
    with pytest.raises(CreateOutcomeUnknown, match="list before sending it again") as info:
        client.create_resource(CLUSTER_API, NEW_CLUSTER, idempotency_key="k-1")
    assert sim.count("POST", CLUSTERS) == 1
    assert len(sim.clusters_named("train-a")) == 1
    assert sleeps == []
    assert_no_token(info.value)
    # What apply does when no cluster appeared: the same Idempotency-Key, never a duplicate.
    sim.faults = Faults()
    again = client.create_resource(CLUSTER_API, NEW_CLUSTER, idempotency_key="k-1")
    assert [c["cluster_id"] for c in sim.clusters_named("train-a")] == [again["cluster_id"]]


def test_create_stall_is_outcome_unknown(client: Client, sim: SimState) -> None:
    """A create whose answer never came in time is not re-sent."""
    sim.faults = Faults(rates={"stall": 1.0})
    with pytest.raises(CreateOutcomeUnknown, match="ReadTimeout"):
        client.create_resource(VOLUME_API, NEW_VOLUME)
    assert sim.count("POST", VOLUMES) == 1


@pytest.mark.parametrize("status", ["408", "500", "502", "503", "504"])
def test_5xx_on_create_is_outcome_unknown(
    client: Client, sim: SimState, sleeps: Sleeps, status: str
) -> None:
    """A create answered 5xx (or 408) may have committed: one attempt, CreateOutcomeUnknown."""
    sim.faults = Faults(rates={status: 1.0})
    with pytest.raises(CreateOutcomeUnknown) as info:
        client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert info.value.status == int(status)
    assert info.value.api_message is not None and "simulated fault" in info.value.api_message
    assert sim.count("POST", CLUSTERS) == 1
    assert sleeps == []


def test_429_on_create_is_retried(client: Client, sim: SimState, sleeps: Sleeps) -> None:
    """A 429 means the create was refused, not done: it is retried after Retry-After."""
    sim.queue_fault(429, times=2, method="POST")
    created = client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert sim.count("POST", CLUSTERS) == 3
    assert [c["cluster_id"] for c in sim.clusters_named("train-a")] == [created["cluster_id"]]
    assert sleeps == [1.0, 1.0]


def test_409_on_create_is_a_conflict_not_retried(client: Client, sim: SimState) -> None:
    """A 409 on create is reported as ConflictError after one attempt."""
    sim.queue_fault(409, method="POST")
    with pytest.raises(ConflictError):
        client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert sim.count("POST", CLUSTERS) == 1


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_every_method_under_every_fault_raises_only_our_errors(
    client: Client, sim: SimState, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Under each fault on every request, every method raises a ReconcilerError, token-free."""
    caplog.set_level(logging.DEBUG)
    cluster_id = sim.add_cluster()["cluster_id"]
    volume_id = sim.add_volume()["volume_id"]
    sim.queue_fault(fault, times=10**6)
    for name, call in every_call(client, cluster_id, volume_id).items():
        with pytest.raises(ReconcilerError) as info:
            call()
        assert not isinstance(info.value, httpx.HTTPError), name
        assert_no_token(info.value)
    assert TOKEN not in caplog.text


# --- over a real loopback socket -----------------------------------------------------------------


def test_lifecycle_over_a_socket(sim: SimState, sim_server: str) -> None:
    """The client speaks real HTTP/1.1 to the served simulator: create, read, update, delete."""
    with Client(sim_server, TOKEN, sleep=Sleeps()) as client:
        created = client.create_resource(CLUSTER_API, NEW_CLUSTER, idempotency_key="k-1")
        assert client.list_resources(CLUSTER_API)[0]["cluster_id"] == created["cluster_id"]
        assert (
            client.update_resource(CLUSTER_API, created["cluster_id"], {"num_gpus": 16})["num_gpus"]
            == 16
        )
        assert client.delete_resource(CLUSTER_API, created["cluster_id"]) == {
            "cluster_id": created["cluster_id"]
        }
        with pytest.raises(NotFoundError):
            client.get_resource(VOLUME_API, "vol-missing")
    assert sim.count("POST", CLUSTERS) == 1


def test_socket_drop_and_stall(sim: SimState, sim_server: str) -> None:
    """A real dropped connection and a real read timeout: retried for PUT, unknown for POST."""
    timeout = httpx.Timeout(0.1, connect=1.0)
    with Client(sim_server, TOKEN, sleep=Sleeps(), timeout=timeout) as client:
        cluster_id = sim.add_cluster()["cluster_id"]
        sim.queue_fault("stall", method="PUT")
        sim.queue_fault("drop", method="PUT")
        assert client.update_resource(CLUSTER_API, cluster_id, {"num_gpus": 16})["num_gpus"] == 16
        assert sim.count("PUT", CLUSTER) == 3
        sim.queue_fault("drop", method="POST")
        with pytest.raises(CreateOutcomeUnknown):
            client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert len(sim.clusters_named("train-a")) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    """Nothing listening on a loopback port: connect errors, retried, then ApiTransportError."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    with Client(f"http://127.0.0.1:{port}", TOKEN, sleep=sleeps) as client:
        with pytest.raises(ApiTransportError, match="after 5 attempts: ConnectError"):
            client.list_resources(CLUSTER_API)
        # Nothing was sent, so even a create may be retried.
        with pytest.raises(ApiTransportError, match="after 5 attempts"):
            client.create_resource(CLUSTER_API, NEW_CLUSTER)
    assert len(sleeps) == 8


# --- what the simulator cannot answer (hand-written transports) ----------------------------------


def test_request_headers_and_body() -> None:
    """Bearer auth, JSON body, User-Agent and the Idempotency-Key reach the wire."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=cluster())

    client, _ = mock_client(handler)
    client.create_resource(
        CLUSTER_API, {"cluster_name": "train-a", "num_gpus": 8}, idempotency_key="k-1"
    )
    (request,) = seen
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("reconciler/")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "k-1"
    assert json.loads(request.content) == {"cluster_name": "train-a", "num_gpus": 8}


def recording_client() -> tuple[Client, list[str]]:
    """A client whose every request is written down as "METHOD raw-path?query"; a list call
    answers an empty list, anything else one cluster."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.raw_path.decode()}")
        if request.url.path == CLUSTERS:
            return httpx.Response(200, json={"clusters": []})
        return httpx.Response(200, json=cluster())

    client, _ = mock_client(handler)
    return client, seen


def test_ids_are_one_escaped_segment_and_project_is_a_query() -> None:
    """An id cannot escape its path segment; projectId goes in the query string."""
    client, seen = recording_client()
    client.list_resources(CLUSTER_API, project_id="p 1")
    client.get_resource(CLUSTER_API, "a/../b")
    assert seen == [
        "GET /v1/compute/clusters?projectId=p+1",
        "GET /v1/compute/clusters/a%2F..%2Fb",
    ]


def test_each_call_has_its_own_query_and_path_whatever_is_kept() -> None:
    """The parsed URL of a path is kept for the next call (`config.kept_url`): a call's query
    never sticks to it, and past the kept ones every path is still its own."""
    client, seen = recording_client()
    for project in ("p 1", None, "q"):
        client.list_resources(CLUSTER_API, project_id=project)
    ids = [f"c-{i}" for i in range(MAX_KEPT_URLS + 10)]
    for resource_id in ids * 2:
        client.get_resource(CLUSTER_API, resource_id)
    assert seen[:3] == [
        "GET /v1/compute/clusters?projectId=p+1",
        "GET /v1/compute/clusters",
        "GET /v1/compute/clusters?projectId=q",
    ]
    assert seen[3:] == [f"GET {CLUSTERS}/{i}" for i in ids * 2]
    assert len(client._urls) == MAX_KEPT_URLS


@pytest.mark.parametrize(
    ("api", "path", "content"),
    [
        (CLUSTER_API, "/v1/compute/clusters/x-1", b'{"size_tib": 2}'),
        (VOLUME_API, VOLUMES, b'{"volume_id": "x-1", "size_tib": 2}'),
    ],
    ids=KIND_IDS,
)
def test_update_puts_the_id_where_the_kind_wants_it(
    api: Endpoints, path: str, content: bytes
) -> None:
    """PUT {collection}/{id} with the body as given; volumes: PUT {collection}, id in the body."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={api.id_key: "x-1", api.name_key: "n", "status": "Ready"})

    client, _ = mock_client(handler)
    client.update_resource(api, "x-1", {"size_tib": 2})
    (request,) = seen
    assert (request.method, request.url.raw_path.decode(), request.content) == (
        "PUT",
        path,
        content,
    )
    assert client.calls == {f"PUT {path}": 1}


@pytest.mark.parametrize("call", ["get", "update", "delete"])
@pytest.mark.parametrize("api", [CLUSTER_API, VOLUME_API], ids=KIND_IDS)
def test_empty_id_is_a_caller_bug(api: Endpoints, call: str) -> None:
    """An empty id never becomes a request to the collection path (nor into a volume's body)."""
    client, _ = mock_client(lambda request: httpx.Response(500))
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: client.get_resource(api, ""),
        "update": lambda: client.update_resource(api, "", {"size_tib": 2}),
        "delete": lambda: client.delete_resource(api, ""),
    }
    with pytest.raises(ValueError):
        calls[call]()
    assert sum(client.calls.values()) == 0


def test_repr_hides_the_token() -> None:
    """The client's repr names the base URL only."""
    client, _ = mock_client(lambda request: httpx.Response(200))
    assert TOKEN not in repr(client)
    assert BASE in repr(client)


def test_html_answer_is_refused() -> None:
    """An HTML page (a proxy's login or error page) is refused naming the endpoint."""
    page = b"<!DOCTYPE html><html><body>Sign in</body></html>"
    client, _ = mock_client(lambda request: httpx.Response(200, content=page))
    with pytest.raises(ApiResponseError) as info:
        client.list_resources(CLUSTER_API)
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
        client.list_resources(CLUSTER_API)


def shape_case_id(value: object) -> str:
    """Test ids: the call, the kind's list key and the expected fragment; payloads unnamed."""
    if isinstance(value, Endpoints):
        return value.list_key
    return value if isinstance(value, str) else ""


@pytest.mark.parametrize(
    ("call", "api", "payload", "fragment"),
    [
        ("list", CLUSTER_API, {}, "no 'clusters' key"),
        ("list", CLUSTER_API, {"clusters": None}, "'clusters': null"),
        ("list", CLUSTER_API, {"clusters": {"c-1": {}}}, "'clusters': an object"),
        ("list", CLUSTER_API, {"clusters": ["c-1"]}, "expected a JSON object, got a string"),
        ("list", CLUSTER_API, {"clusters": [{"cluster_id": "c-1", "cluster_name": "a"}]}, "status"),
        ("list", CLUSTER_API, {"clusters": [{**cluster(), "cluster_id": 7}]}, "cluster_id"),
        ("get", CLUSTER_API, [cluster()], "expected a JSON object, got an array"),
        ("get", CLUSTER_API, {"cluster_name": "a", "status": "Ready"}, "cluster 'a' lacks"),
        ("list", VOLUME_API, {"volumes": [{"volume_id": "v-1"}]}, "volume_name"),
        ("get", VOLUME_API, {"volume_name": "d"}, "volume_id"),
        ("regions", None, {"regions": [{"supported_instance_types": []}]}, "name"),
        ("regions", None, {"region": []}, "no 'regions' key"),
        ("delete", CLUSTER_API, {"cluster_id": 5}, "not a string"),
        ("delete", VOLUME_API, {"success": "yes"}, "not a boolean"),
    ],
    ids=shape_case_id,
)
def test_wrong_shapes_are_refused(
    call: str, api: Endpoints | None, payload: Any, fragment: str
) -> None:
    """Missing keys, wrong types and missing required fields are refused, no partial data."""
    client, _ = mock_client(lambda request: httpx.Response(200, json=payload))
    with pytest.raises(ApiResponseError, match=fragment):
        if api is None:
            client.list_regions()
        elif call == "list":
            client.list_resources(api)
        else:
            method: Callable[[Endpoints, str], object] = getattr(client, f"{call}_resource")
            method(api, "x-1")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"<html>Gateway</html>", "HTML, not JSON"),
        (b'{"cluster_name": "train-a"}', "lacks the string field"),
        (b"{", "invalid JSON"),
    ],
    ids=["html", "missing-fields", "invalid-json"],
)
def test_unusable_answer_to_create_is_outcome_unknown(content: bytes, fragment: str) -> None:
    """A 2xx create answer that cannot be used means it probably happened: outcome unknown."""
    client, _ = mock_client(lambda request: httpx.Response(200, content=content))
    with pytest.raises(CreateOutcomeUnknown, match=f"{fragment}.*list before sending it again"):
        client.create_resource(CLUSTER_API, {"cluster_name": "train-a"})
    assert client.calls["POST /v1/compute/clusters"] == 1


def test_volume_delete_answered_false_is_an_error() -> None:
    """`{"success": false}` is a failed delete, not a silent success."""
    client, _ = mock_client(lambda request: httpx.Response(200, json={"success": False}))
    with pytest.raises(ApiError, match="success=false"):
        client.delete_resource(VOLUME_API, "v-1")


def test_unknown_status_passes_through() -> None:
    """A status the docs do not list is returned as-is, not rejected and not mapped."""
    body = {"clusters": [cluster(status="Hibernating")]}
    client, _ = mock_client(lambda request: httpx.Response(200, json=body))
    assert client.list_resources(CLUSTER_API)[0]["status"] == "Hibernating"


@pytest.mark.parametrize(
    ("call", "limit"),
    [
        (lambda c: c.get_resource(CLUSTER_API, "c-1"), MAX_BODY_BYTES),
        (lambda c: c.list_resources(CLUSTER_API), MAX_LIST_BODY_BYTES),
        (lambda c: c.list_resources(VOLUME_API), MAX_LIST_BODY_BYTES),
    ],
    ids=["object-16MiB", "cluster-list-256MiB", "volume-list-256MiB"],
)
def test_oversize_declared_length_is_refused_unread(
    call: Callable[[Client], object], limit: int
) -> None:
    """A Content-Length over the limit (16 MiB, lists 256 MiB) is refused before a byte of
    the body is read."""
    pulled: list[int] = []

    def body() -> Iterator[bytes]:
        pulled.append(1)
        yield b"{}"

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(limit + 1)}
        return httpx.Response(200, headers=headers, content=body())

    client, _ = mock_client(handler)
    with pytest.raises(ApiResponseError, match=f"over the {limit} byte limit"):
        call(client)
    assert pulled == []


def test_list_answer_over_16_mib_is_accepted() -> None:
    """A cluster list may exceed 16 MiB (about 4,000 clusters): lists have their own limit."""
    big = {"cluster_id": "c-1", "cluster_name": "a", "status": "Ready", "pad": "x" * (17 << 20)}
    content = json.dumps({"clusters": [big]}).encode()
    client, _ = mock_client(lambda request: httpx.Response(200, content=content))
    assert [c["cluster_id"] for c in client.list_resources(CLUSTER_API)] == ["c-1"]


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
        client.get_resource(CLUSTER_API, "c-1")
    assert len(pulled) == 17


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            json.dumps({"code": 3, "message": "num_gpus must be a multiple of 8"}),
            "num_gpus must be a multiple of 8",
        ),
        ("num_gpus must be a multiple of 8\n", "num_gpus must be a multiple of 8"),
        ("bad\x1b[31mred\x00", r"bad\x1b[31mred\x00"),
        ("x" * 1000, "x" * 299 + "…"),
        ("<html><body>oops</body></html>", "(an HTML page instead of a JSON error)"),
    ],
    ids=["grpc-gateway", "plain-text", "control-chars", "long", "html"],
)
def test_api_message_extraction(content: str, expected: str) -> None:
    """The API's message comes from the grpc-gateway shape or text; escaped and bounded."""
    client, _ = mock_client(lambda request: httpx.Response(400, text=content))
    with pytest.raises(ApiStatusError) as info:
        client.update_resource(CLUSTER_API, "c-1", {"num_gpus": 9})
    assert str(info.value) == f"PUT /v1/compute/clusters/c-1: 400 Bad Request: {expected}"
    assert (info.value.method, info.value.path) == ("PUT", "/v1/compute/clusters/c-1")


def test_token_echoed_by_the_api_is_redacted() -> None:
    """An error body that quotes the token never carries it into the exception."""
    body = {"error": {"message": f"invalid api key {TOKEN}"}}
    client, _ = mock_client(lambda request: httpx.Response(401, json=body))
    with pytest.raises(AuthError) as info:
        client.list_resources(CLUSTER_API)
    assert_no_token(info.value)
    assert "invalid api key ***" in str(info.value)


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
    assert client.get_resource(CLUSTER_API, "c-1")["cluster_id"] == "c-1"
    assert len(sleeps) == 1
    assert 27 <= sleeps[0] <= 30


def test_retry_after_http_date_too_far_fails_at_once() -> None:
    """An HTTP-date Retry-After an hour away fails at once, saying how long."""
    when = email.utils.formatdate(time.time() + 3600, usegmt=True)
    handler = answer_then_ok([httpx.Response(429, headers={"Retry-After": when})], {})
    client, sleeps = mock_client(handler)
    with pytest.raises(RateLimitError, match=r"the API asked to wait 3\d\d\d s"):
        client.list_resources(CLUSTER_API)
    assert sleeps == []


def test_unparseable_retry_after_falls_back_to_backoff() -> None:
    """A Retry-After that is neither seconds nor a date uses the normal backoff."""
    handler = answer_then_ok([httpx.Response(503, headers={"Retry-After": "soon"})], cluster())
    client, sleeps = mock_client(handler)
    client.get_resource(CLUSTER_API, "c-1")
    assert sleeps == [1.0]


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
    assert client.list_resources(CLUSTER_API) == []
    assert client.calls["GET /v1/compute/clusters"] == 3
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize("exc_type", SENT_FAILURES, ids=lambda t: t.__name__)
def test_transport_error_after_sending_create_is_outcome_unknown(
    exc_type: type[httpx.RequestError],
) -> None:
    """A create that may have reached the server is never re-sent: CreateOutcomeUnknown."""
    client, sleeps = mock_client(raising(exc_type, after=1, ok=cluster()))
    with pytest.raises(CreateOutcomeUnknown, match="list before sending it again"):
        client.create_resource(CLUSTER_API, {"cluster_name": "a"})
    assert client.calls["POST /v1/compute/clusters"] == 1
    assert sleeps == []


@pytest.mark.parametrize("exc_type", UNSENT_FAILURES, ids=lambda t: t.__name__)
def test_unsent_create_is_retried(exc_type: type[httpx.RequestError]) -> None:
    """A create that never left (connect failure) is safe to send again."""
    client, _ = mock_client(raising(exc_type, after=1, ok=cluster()))
    assert client.create_resource(CLUSTER_API, {"cluster_name": "train-a"})["cluster_id"] == "c-1"
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
        client.list_resources(CLUSTER_API)
    assert client.calls["GET /v1/compute/clusters"] == 1
    assert sleeps == []


def test_no_httpx_error_escapes_and_logs_hide_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """Every httpx failure the simulator cannot cause, on every method, is a ReconcilerError."""
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
        for call in every_call(client).values():
            with pytest.raises(ReconcilerError) as info:
                call()
            assert_no_token(info.value)
    assert TOKEN not in caplog.text


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
        assert client.list_resources(CLUSTER_API) == []
        assert client.list_regions()
        volume = client.create_resource(
            VOLUME_API, {"volume_name": "d", "size_tib": 1, "region": "us-central-8"}
        )
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


def test_only_the_client_and_the_simulator_shells_import_httpx() -> None:
    """httpx stays behind the client (and the simulator's transport/server) — DESIGN §2."""
    import ast

    package = Path(__file__).resolve().parents[2] / "reconciler"
    allowed = {"simulator/transport.py", "simulator/http.py"}
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "httpx" for name in names):
                importers.add(path.relative_to(package).as_posix())
    assert "client/loop.py" in importers
    assert {name for name in importers if not name.startswith("client/")} <= allowed


def test_a_list_answer_is_parsed_with_the_cyclic_collector_paused() -> None:
    """Building a list answer's objects sets off no garbage collection (JSON has no cycles;
    at 50,000 clusters the collections tripled the parse), and the collector is on after."""
    import gc

    body = json.dumps({"clusters": [cluster(f"c-{i}", f"n-{i}") for i in range(20_000)]})
    client, _ = mock_client(lambda request: httpx.Response(200, content=body.encode()))
    started: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    previous = gc.get_threshold()
    gc.set_threshold(1_000, 10, 10)  # 20,000 new objects: ~20 collections if not paused
    gc.callbacks.append(record)
    try:
        found = client.list_resources(CLUSTER_API)
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*previous)
    assert len(found) == 20_000
    assert len(started) <= 2, started  # the request's own few objects may set off one
    assert gc.isenabled()


def test_a_list_answer_s_bytes_are_gone_before_its_objects_are_built() -> None:
    """The peak of a large plan was an answer held three times: bytes, text and objects. The
    client drops the bytes before building the objects: the call's peak stays well below the
    three together (measured with tracemalloc on a 5 MB answer)."""
    import tracemalloc

    items = [{**cluster(f"c-{i}", f"n-{i}"), "note": "x" * 150} for i in range(20_000)]
    body = json.dumps({"clusters": items}).encode()
    client, _ = mock_client(lambda request: httpx.Response(200, content=body))
    tracemalloc.start()
    try:
        found = client.list_resources(CLUSTER_API)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        objects_before = tracemalloc.get_traced_memory()[0]
        del found
        objects = objects_before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    text = len(body)  # ASCII: one byte a character
    assert objects > text  # the objects outweigh the text
    # Held together, the three would peak at their sum; without the bytes, near text + objects.
    assert peak < text + objects + len(body) // 2, (peak, len(body), objects)


def test_an_add_on_lacking_a_field_is_named_as_an_add_on() -> None:
    """An add-on's id key is its `name`: the message still calls it an add-on."""
    from reconciler import kinds

    payload = {"add_ons": [{"name": "dash"}]}
    client, _ = mock_client(lambda request: httpx.Response(200, json=payload))
    with pytest.raises(ApiResponseError) as info:
        client.list_resources(kinds.get("add-on").api, parent_id="c-1")
    assert str(info.value) == (
        "GET /v1/compute/clusters/c-1/addons: add-on 'dash' lacks the string field(s) add_on_type"
    )
