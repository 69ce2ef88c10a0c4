"""The simulator's shells: loopback HTTP server, httpx transport, state file, `sim serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.cli import main
from reconciler.errors import ReconcilerError
from reconciler.simulator.http import SimServer, make_server
from reconciler.simulator.state import Faults, SimState
from reconciler.simulator.transport import (
    SimTransport,
    load_state,
    open_sim,
    save_state,
    with_latency,
)
from reconciler.simulator.wire import SimResponse, format_time
from tests.conftest import SIM_TOKEN, FakeClock

CLUSTERS = "/v1/compute/clusters"
AUTH = {"Authorization": f"Bearer {SIM_TOKEN}"}
BODY: dict[str, Any] = {
    "cluster_name": "train-a",
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "num_gpus": 8,
    "billing_type": "ON_DEMAND",
    "nvidia_version_id": "nv-usc8-12.6-560-u2204",
}


def socket_client(base_url: str, *, read_timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers=AUTH, timeout=httpx.Timeout(read_timeout, connect=2.0)
    )


# --- over a socket ---------------------------------------------------------------------------


def test_server_answers_over_loopback(sim_server: str, sim_state: SimState) -> None:
    """The served simulator speaks HTTP/1.1 JSON on 127.0.0.1 with the state's rules."""
    assert sim_server.startswith("http://127.0.0.1:")
    with socket_client(sim_server) as client:
        created = client.post(CLUSTERS, json=BODY)
        assert created.status_code == 200
        assert created.headers["content-type"] == "application/json"
        listed = client.get(CLUSTERS, params={"projectId": "proj-sim"}).json()["clusters"]
        assert [c["cluster_id"] for c in listed] == [created.json()["cluster_id"]]
        assert client.get(f"{CLUSTERS}/storage/volumes").json() == {"volumes": []}
        assert client.get(CLUSTERS, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert sim_state.count("POST", CLUSTERS) == 1


def test_server_drop_commits_then_closes_without_answer(
    sim_server: str, sim_state: SimState
) -> None:
    """A "drop" fault creates the cluster, then closes the connection with no response."""
    sim_state.faults = Faults({"drop": 1.0})
    with socket_client(sim_server) as client, pytest.raises(httpx.RemoteProtocolError):
        client.post(CLUSTERS, json=BODY)
    assert len(sim_state.clusters_named("train-a")) == 1


def test_server_stall_outlasts_the_read_timeout(sim_server: str, sim_state: SimState) -> None:
    """A "stall" fault commits, then answers only after the client's read timeout."""
    sim_state.faults = Faults({"stall": 1.0})
    with socket_client(sim_server, read_timeout=0.1) as client, pytest.raises(httpx.ReadTimeout):
        client.post(CLUSTERS, json=BODY)
    assert len(sim_state.clusters_named("train-a")) == 1


def test_server_429_carries_retry_after(sim_server: str, sim_state: SimState) -> None:
    """A 429 fault answers with Retry-After over the wire."""
    sim_state.faults = Faults({"429": 1.0}, retry_after=3)
    with socket_client(sim_server) as client:
        response = client.post(CLUSTERS, json=BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_server_latency_delays_answers(sim_server: str, sim_state: SimState) -> None:
    """The latency fault delays every answer by about that many milliseconds."""
    sim_state.faults = Faults(latency_ms=60)
    with socket_client(sim_server) as client:
        started = time.monotonic()
        client.get("/v1/compute/regions")
    assert time.monotonic() - started >= 0.05


def test_server_serialises_concurrent_creates(sim_server: str, sim_state: SimState) -> None:
    """Parallel creates from many threads each make exactly one cluster."""
    ids: list[str] = []

    def worker(index: int) -> None:
        with socket_client(sim_server) as client:
            response = client.post(CLUSTERS, json={**BODY, "cluster_name": f"c-{index}"})
            ids.append(response.json()["cluster_id"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 12
    assert len(sim_state.clusters) == 12


def test_server_sends_cached_cluster_texts_as_json_dumps_writes_them(
    sim_state: SimState, sim_http_server: SimServer
) -> None:
    """With the view cache on (as `sim serve` turns it), the lists over the socket, joined
    from the settled clusters' cached texts, are the bytes json.dumps writes of the views."""
    sim_state.cache_views()
    with socket_client(sim_http_server.url) as client:
        for name in ("a", "b"):
            body = {**BODY, "cluster_name": name, "project_id": f"proj-{name}"}
            assert client.post(CLUSTERS, json=body).status_code == 200
        queries: list[dict[str, str]] = [{}, {}, {"projectId": "proj-b"}, {"project_id": "x"}]
        answers = [client.get(CLUSTERS, params=query).content for query in queries]
    assert len(sim_state.view_cache.texts or {}) == 2
    views = [sim_state.cluster_view(c) for c in sim_state.clusters.values()]
    lists = [views, views, views[1:], []]
    assert answers == [json.dumps({"clusters": listed}).encode() for listed in lists]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_server_refuses_non_loopback_hosts(sim_state: SimState, host: str) -> None:
    """make_server binds loopback only; anything else is refused before listening."""
    with pytest.raises(ValueError, match="loopback only"):
        make_server(sim_state, host, 0)


def test_server_persists_state_across_restart(tmp_path: Path, fake_clock: FakeClock) -> None:
    """With a state file, a restarted server still has the clusters created before."""
    state_file = str(tmp_path / "sim" / "state.json")
    ids = []
    for _ in range(2):
        state = load_state(state_file, clock=fake_clock, speed=0)
        server = make_server(state, "127.0.0.1", 0, state_file=state_file)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            with socket_client(server.url) as client:
                client.post(CLUSTERS, json=BODY)
                ids.append([c["cluster_id"] for c in client.get(CLUSTERS).json()["clusters"]])
        finally:
            server.shutdown()
            server.server_close()
            thread.join()
    assert len(ids[0]) == 1
    assert len(ids[1]) == 2
    assert ids[1][0] == ids[0][0]


# --- in-process transport --------------------------------------------------------------------


def test_transport_drop_raises_after_commit(sim_client: httpx.Client, sim_state: SimState) -> None:
    """In-process "drop": httpx sees a disconnect; the cluster exists."""
    sim_state.faults = Faults({"drop": 1.0})
    with pytest.raises(httpx.RemoteProtocolError):
        sim_client.post(CLUSTERS, json=BODY)
    assert len(sim_state.clusters_named("train-a")) == 1


def test_transport_stall_waits_the_read_timeout_then_times_out(
    sim_state: SimState, fake_clock: FakeClock
) -> None:
    """In-process "stall": the injected sleep passes the read timeout, then ReadTimeout."""
    sim_state.faults = Faults({"stall": 1.0})
    transport = SimTransport(sim_state, sleep=fake_clock.sleep)
    with (
        httpx.Client(transport=transport, base_url="http://sim", headers=AUTH, timeout=7) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(CLUSTERS, json=BODY)
    assert fake_clock.sleeps == [7.0]
    assert len(sim_state.clusters) == 1


def test_transport_latency_uses_the_injected_sleep(
    sim_client: httpx.Client, sim_state: SimState, fake_clock: FakeClock
) -> None:
    """Latency is slept through the injected sleep (fake in tests), on every request: half
    before the request takes effect, the rest of it (less the simulator's own work) after."""
    sim_state.faults = Faults(latency_ms=250)
    started = fake_clock()
    created = sim_client.post(CLUSTERS, json=BODY).json()
    sim_client.get("/v1/compute/regions")
    assert created["created_at"] == format_time(started + 0.125)  # it took effect half-way
    assert fake_clock.sleeps[0::2] == [0.125, 0.125]
    assert all(0.1 < rest <= 0.125 for rest in fake_clock.sleeps[1::2])
    assert len(fake_clock.sleeps) == 4


@pytest.mark.parametrize(("work", "after"), [(0.0, True), (0.02, True), (0.07, False)])
def test_latency_takes_the_simulator_s_work_into_its_second_half(
    sim_state: SimState, work: float, after: bool
) -> None:
    """An answer leaves the latency (100 ms) after its request came: the second half is
    slept less the simulator's work; work longer than that half delays the answer, and
    nothing is slept after it."""
    sim_state.faults = Faults(latency_ms=100)
    slept: list[float] = []

    def commit() -> SimResponse:
        time.sleep(work)
        return SimResponse(200, b"{}", {})

    assert with_latency(sim_state, slept.append, commit).status == 200
    assert slept[0] == 0.05 and len(slept) == (2 if after else 1)
    if after:
        assert 0 < slept[1] <= 0.05 - work


def test_transport_saves_after_each_mutating_request(tmp_path: Path, fake_clock: FakeClock) -> None:
    """state_file is rewritten atomically after every POST/PUT/DELETE, not after reads."""
    state_file = tmp_path / "state.json"
    state = SimState(clock=fake_clock, speed=0)
    transport = SimTransport(state, state_file=str(state_file))
    with httpx.Client(transport=transport, base_url="http://sim", headers=AUTH) as client:
        client.get(CLUSTERS)
        assert not state_file.exists()
        cluster = client.post(CLUSTERS, json=BODY).json()
    saved = json.loads(state_file.read_text())
    assert list(saved["clusters"]) == [cluster["cluster_id"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # no temp files left


def test_open_sim_creates_directories_and_reloads(tmp_path: Path) -> None:
    """open_sim makes the parent directories and picks up an existing state file."""
    state_file = str(tmp_path / "a" / "b" / "sim.json")
    first = open_sim(state_file, speed=0)
    with httpx.Client(transport=first, base_url="http://sim", headers=AUTH) as client:
        created = client.post(CLUSTERS, json=BODY).json()
    second = open_sim(state_file, speed=0)
    assert [c["cluster_id"] for c in second.state.clusters_named("train-a")] == [
        created["cluster_id"]
    ]


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    """An unreadable state file is a ReconcilerError naming the file, not a traceback."""
    state_file = tmp_path / "sim.json"
    state_file.write_text("{broken")
    with pytest.raises(ReconcilerError, match="cannot read the simulator state"):
        open_sim(str(state_file), speed=0)


def test_save_state_replaces_atomically(tmp_path: Path, fake_clock: FakeClock) -> None:
    """save_state overwrites an existing file in one rename."""
    state_file = tmp_path / "sim.json"
    state_file.write_text("old")
    save_state(SimState(clock=fake_clock), str(state_file))
    assert json.loads(state_file.read_text())["format"] == "reconciler-sim"


# --- the command line ------------------------------------------------------------------------


def test_cli_sim_serve_refuses_a_public_host(capsys: pytest.CaptureFixture[str]) -> None:
    """`sim serve --host 0.0.0.0` is a usage error (exit 64); nothing listens."""
    with pytest.raises(SystemExit) as exited:
        main(["sim", "serve", "--host", "0.0.0.0", "--port", "0"])
    assert exited.value.code == 64
    assert "loopback only" in capsys.readouterr().err


def test_cli_sim_serve_refuses_bad_fault_specs(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --fault is a usage error naming the option."""
    with pytest.raises(SystemExit) as exited:
        main(["sim", "serve", "--port", "0", "--fault", "500:2"])
    assert exited.value.code == 64
    assert "--fault" in capsys.readouterr().err


def test_cli_sim_serve_runs_until_interrupted(tmp_path: Path) -> None:
    """`reconciler sim serve` prints its URL, serves, saves state and stops on Ctrl-C."""
    state_file = tmp_path / "sim.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from reconciler.cli import main; main()",
            "sim",
            "serve",
            "--port",
            "0",
            "--speed",
            "0",
            "--state",
            str(state_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in first_line
        url = first_line.split("listening on ")[1].split()[0]
        with socket_client(url) as client:
            assert client.post(CLUSTERS, json=BODY).status_code == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Simulator stopped." in out
    assert len(json.loads(state_file.read_text())["clusters"]) == 1


def test_a_state_file_that_cannot_be_written_answers_500_saying_so(tmp_path: Path) -> None:
    """The simulator's state file cannot be written (here: the path is a directory): the
    change answers 500 naming the file, not a traceback and a dropped connection."""
    blocked = tmp_path / "state-is-a-directory"
    blocked.mkdir()
    state = SimState(clock=time.time, token="sim-token", speed=0)
    transport = SimTransport(state, state_file=str(blocked))
    with httpx.Client(base_url="http://sim", transport=transport) as client:
        answer = client.post(CLUSTERS, json=BODY, headers={"Authorization": "Bearer sim-token"})
    assert answer.status_code == 500
    message = answer.json()["error"]["message"]
    assert message.startswith(f"the simulator could not save its state file {blocked}")
