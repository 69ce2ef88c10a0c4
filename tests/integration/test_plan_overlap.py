"""`plan` starts its list calls as soon as the spec files are read, and parses, checks and
builds the spec while a thread waits for the answers (issue 11): the spec's warnings still
show, an invalid spec still exits 1 with its errors and makes no other call
(test_plan_apply_cli), and an API failure during the list calls is the usual one-line error,
raised in the command's thread."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.listing import Listing, read_live
from reconciler.client import Client
from reconciler.model import LiveState
from reconciler.plan import prepare_live
from reconciler.plan.cost import billing
from reconciler.simulator.http import SimServer
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport
from reconciler.spec import check_spec, load_spec
from tests.conftest import SIM_TOKEN, spec_header
from tests.integration.helpers import LEGACY, run_cli, write_spec

SIM_BASE = "http://sim"


def test_a_checked_spec_knows_its_project_and_prices_before_it_is_built(tmp_path: Path) -> None:
    data = LEGACY.encode()
    checked = check_spec([("spec.yaml", data)])
    assert checked.project_id == "proj-sim"
    assert checked.prices is not None and checked.prices.path == "prices.yaml"
    assert str(checked.prices.location) == "spec.yaml:3:9"
    assert checked.build() == load_spec([("spec.yaml", data)])
    with pytest.raises(RuntimeError, match="built once"):
        checked.build()


def test_plan_shows_the_warnings_and_the_plan(tmp_path: Path, sim_server: str) -> None:
    """Over a real socket: the spec built during the list calls gives the plan and warns of
    the older field name, on stderr."""
    spec = write_spec(tmp_path, LEGACY.replace("prices: prices.yaml\n", ""))
    env = {"TOGETHER_API_KEY": "sim-token", "TOGETHER_BASE_URL": sim_server}
    result = run_cli(["plan", "-f", spec], env=env)
    assert result.code == 0, result.all
    assert '+ cluster "train-a"' in result.out
    assert "warning: " in result.err and "driver_version: deprecated" in result.err


def test_a_failed_list_call_is_the_usual_error(
    tmp_path: Path, sim_http_server: SimServer, sim_server: str
) -> None:
    """The wrong key: the list calls' 401 (both calls go out at once, over two connections),
    as one line and exit 1, never a traceback, and the spec's warning was still shown."""
    spec = write_spec(tmp_path, LEGACY.replace("prices: prices.yaml\n", ""))
    env = {"TOGETHER_API_KEY": "not-the-token", "TOGETHER_BASE_URL": sim_server}
    result = run_cli(["plan", "-f", spec], env=env)
    assert result.code == 1, result.all
    assert "401" in result.err and "Traceback" not in result.all
    assert "driver_version: deprecated" in result.err
    assert sum("401" in line for line in result.err.splitlines()) == 1, result.err
    calls = sorted((r.method, r.path, r.status) for r in sim_http_server.state.request_log)
    assert calls == [
        ("GET", "/v1/compute/clusters", 401),
        ("GET", "/v1/compute/clusters/storage/volumes", 401),
    ]


def test_the_warnings_come_before_a_missing_key_error(tmp_path: Path) -> None:
    """The spec is checked, and its warnings shown, before the client needs a key."""
    spec = write_spec(tmp_path, LEGACY.replace("prices: prices.yaml\n", ""))
    result = run_cli(["plan", "-f", spec], env={"TOGETHER_BASE_URL": "http://127.0.0.1:9"})
    assert result.code == 1, result.all
    warning = result.err.index("driver_version: deprecated")
    assert warning < result.err.index("no API key")


def test_the_live_lists_are_read_and_parsed_with_the_collector_paused(
    sim_state: SimState, sim_transport: SimTransport
) -> None:
    """Reading the lists and parsing them set off no collection (the answers are let go
    before it is back on: at 50,000 clusters the first one after took 0.6 s); it is on after."""
    for i in range(2_000):
        sim_state.add_cluster(cluster_name=f"c-{i}")
    started: list[int] = []

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    previous = gc.get_threshold()
    gc.set_threshold(1_000, 10, 10)
    gc.callbacks.append(record)
    try:
        with Client(SIM_BASE, SIM_TOKEN, transport=sim_transport) as client:
            live = read_live(client, None)
        frozen = gc.get_freeze_count()
    finally:
        gc.callbacks.remove(record)
        gc.set_threshold(*previous)
        gc.unfreeze()
    assert len(live.of_kind("cluster")) == 2_000
    assert len(started) <= 1, started
    assert gc.isenabled()
    # What is alive then (the live state) is frozen out of later collections.
    assert frozen >= 2_000


def test_a_command_in_process_leaves_nothing_frozen(tmp_path: Path, sim_server: str) -> None:
    """`tuned_gc` thaws what read_live froze: a caller in-process (tests) keeps its collector."""
    spec = write_spec(tmp_path, LEGACY.replace("prices: prices.yaml\n", ""))
    env = {"TOGETHER_API_KEY": "sim-token", "TOGETHER_BASE_URL": sim_server}
    assert run_cli(["plan", "-f", spec], env=env).code == 0
    assert gc.get_freeze_count() == 0


PROJECT_SPEC = spec_header("{project}\n") + "  - cluster_name: train-a\n    num_gpus: 8\n"


@pytest.mark.parametrize("line", ["project_id: proj-a", "project_id: !!str proj-a"])
def test_the_lists_are_of_the_checked_spec_s_project(
    line: str, tmp_path: Path, sim_http_server: SimServer, sim_server: str
) -> None:
    """The list calls start before the spec is parsed, on the project its lines name; where
    they do not name it plainly (a tag), the calls are made again for the checked project.
    Live has train-a only in another project: the plan creates it in proj-a."""
    sim_http_server.state.add_cluster(cluster_name="train-a", project_id="proj-b")
    spec = write_spec(tmp_path, PROJECT_SPEC.format(project=line))
    env = {"TOGETHER_API_KEY": SIM_TOKEN, "TOGETHER_BASE_URL": sim_server}
    result = run_cli(["plan", "-f", spec], env=env)
    assert result.code == 0, result.all
    assert '+ cluster "train-a"' in result.out
    assert "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete." in result.out


class SilentServer:
    """A loopback server that takes requests and never answers until released."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.release = threading.Event()
        self.answered = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.socket.settimeout(30)
        with contextlib.suppress(OSError):
            connection, _ = self.socket.accept()
            with connection:
                self.release.wait(30)
                self.answered = True

    def close(self) -> None:
        self.release.set()
        self.thread.join(timeout=30)
        self.socket.close()


def test_an_invalid_spec_does_not_wait_for_the_list_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spec's errors end the command (exit 1) while the API has not answered yet; the
    started list call is dropped: when its connection fails later, it is not retried and
    nothing is said."""
    server = SilentServer()
    try:
        bad = PROJECT_SPEC.format(project="").replace("num_gpus: 8", "num_gpus: 12")
        env = {"TOGETHER_API_KEY": SIM_TOKEN, "TOGETHER_BASE_URL": server.url}
        result = run_cli(["plan", "-f", write_spec(tmp_path, bad)], env=env)
        assert not server.answered
    finally:
        server.close()
    for thread in threading.enumerate():
        if thread.name == "reconciler-list":
            thread.join(timeout=30)
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []
    assert result.code == 1, result.all
    assert "num_gpus" in result.err and "Traceback" not in result.all
    assert result.err.splitlines()[1:] == ["Error: 1 problem(s) in the spec."], result.err


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_an_invalid_spec_without_a_key_is_told_about_the_spec(command: str, tmp_path: Path) -> None:
    """No key and an invalid spec: the spec's problems (exit 1), not the missing key; no call
    could be made. With a valid spec, the missing key is the error."""
    bad = PROJECT_SPEC.format(project="").replace("num_gpus: 8", "num_gpus: 12")
    env = {"TOGETHER_BASE_URL": "http://127.0.0.1:9"}
    result = run_cli([command, "-f", write_spec(tmp_path, bad, name="bad.yaml")], env=env)
    assert result.code == 1, result.all
    assert "num_gpus" in result.err and "no API key" not in result.err
    good = write_spec(tmp_path, PROJECT_SPEC.format(project=""), name="good.yaml")
    result = run_cli([command, "-f", good], env=env)
    assert result.code == 1 and "no API key" in result.err, result.all


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_with_the_in_process_simulator_the_spec_is_checked_first(
    command: str, tmp_path: Path
) -> None:
    """`--sim` answers in the same process, so there is no wait to fill: an invalid spec
    opens no simulator, and its state directory is not created."""
    state = tmp_path / "not-yet" / "sim.json"
    bad = PROJECT_SPEC.format(project="").replace("num_gpus: 8", "num_gpus: 12")
    spec = write_spec(tmp_path, bad)
    result = run_cli(["--sim", str(state), command, "-f", spec])
    assert result.code == 1 and "num_gpus" in result.err, result.all
    assert not state.parent.exists()
    good = write_spec(tmp_path, PROJECT_SPEC.format(project=""), name="good.yaml")
    result = run_cli(["--sim", str(state), "--sim-speed", "0", command, "-f", good])
    assert result.code == (0 if command == "plan" else 2), result.all
    assert '+ cluster "train-a"' in result.out


def test_the_list_calls_are_in_flight_at_once(
    tmp_path: Path, sim_http_server: SimServer, sim_server: str
) -> None:
    """Each kind's list call goes out at once, on its own connection: the server holds each
    request until both have arrived (one after the other, the first would wait in vain and
    the plan fail)."""
    both_arrived = threading.Barrier(2, timeout=5)
    seen: list[float] = []
    alone: list[int] = []

    def hold(seconds: float) -> None:
        seen.append(seconds)
        if len(seen) <= 2:  # the two list calls; then the catalogue's, after them
            try:
                both_arrived.wait()
            except threading.BrokenBarrierError:
                alone.append(len(seen))

    sim_http_server.sleep = hold
    sim_http_server.state.faults = dataclasses.replace(sim_http_server.state.faults, latency_ms=1)
    spec = write_spec(tmp_path, LEGACY.replace("prices: prices.yaml\n", ""))
    env = {"TOGETHER_API_KEY": SIM_TOKEN, "TOGETHER_BASE_URL": sim_server}
    result = run_cli(["plan", "-f", spec], env=env)
    assert result.code == 0, result.all
    assert '+ cluster "train-a"' in result.out
    assert alone == []
    paths = sorted(r.path for r in sim_http_server.state.request_log if r.method == "GET")
    assert paths[:2] == ["/v1/compute/clusters", "/v1/compute/clusters/storage/volumes"]


class _Interrupted(Client):
    """A client whose volumes' list call is interrupted (Ctrl-C in the calling thread) while
    its clusters' call is still waiting for its answer."""

    def __init__(self, base_url: str, held: threading.Event) -> None:
        super().__init__(base_url, SIM_TOKEN)
        self.held = held
        self.clusters_listed = threading.Event()

    def list_converted(self, api: Any, project_id: Any, convert: Any, reads: Any = None) -> Any:
        if api.collection.endswith("/volumes"):
            raise KeyboardInterrupt
        self.held.wait(timeout=30)
        try:
            return super().list_converted(api, project_id, convert, reads)
        finally:  # answered: its connection can be closed with the client
            self.clusters_listed.set()


def test_ctrl_c_during_the_list_calls_ends_them_at_once(sim_server: str) -> None:
    """Ctrl-C in the thread that lists (apply's and destroy's main thread) is raised at once,
    not after the other kinds' calls have been answered."""
    held = threading.Event()
    client = _Interrupted(sim_server, held)
    try:
        with pytest.raises(KeyboardInterrupt):
            read_live(client, None)
        assert not client.clusters_listed.is_set()
    finally:
        held.set()
        client.clusters_listed.wait(timeout=30)
        client.close()


def test_the_listing_thread_prepares_the_plan_s_live_side(
    sim_http_server: SimServer, sim_server: str
) -> None:
    """`Listing.then`: what the plan works out from the live state alone runs in the listing's
    thread once the state is read (while the command's thread waits for the spec), so that
    `build_plan` finds it done; set too late, nothing runs there and the plan does it."""
    for i in range(3):
        sim_http_server.state.add_cluster(cluster_name=f"c-{i}")
    ran: list[tuple[str, int]] = []
    hold = threading.Event()

    def prepare(live: LiveState) -> None:
        ran.append((threading.current_thread().name, len(live.of_kind("cluster"))))
        prepare_live(live)

    sim_http_server.sleep = lambda _seconds: hold.wait(5)  # the answer waits for `then`
    sim_http_server.state.faults = dataclasses.replace(sim_http_server.state.faults, latency_ms=1)
    with Client(sim_server, SIM_TOKEN) as client:
        listing = Listing(client, None)
        listing.then(prepare)
        hold.set()
        live = listing.result()
    assert ran == [("reconciler-list", 3)]
    assert billing(live) is billing(live)  # worked out once, there
    assert len(billing(live)[0]) == 3
