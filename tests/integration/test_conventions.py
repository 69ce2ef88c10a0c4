"""Command-line conventions (issue 13): NO_COLOR, global options after the command, Ctrl-C
at the prompt, and what an unreachable API looks like (refused, unresolvable, timed out)."""

from __future__ import annotations

import logging
import os
import pty
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.client import Client
from reconciler.client.loop import RequestLoop
from reconciler.errors import ApiTransportError
from reconciler.kinds import get
from tests.conftest import SPEC_HEADER
from tests.integration.helpers import (
    PROMPT,
    reconciler_command,
    run_cli,
    seed_sim_file,
    sim_args,
    write_spec,
)

SPEC = (
    SPEC_HEADER
    + """\
  - cluster_name: new-one
    num_gpus: 8
"""
)


@pytest.fixture
def spec_file(tmp_path: Path) -> str:
    return write_spec(tmp_path, SPEC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run_on_terminal(
    argv: list[str], env: dict[str, str], on_prompt: Callable[[subprocess.Popen[bytes]], None]
) -> tuple[int, bytes]:
    """Run the CLI on a pseudo-terminal; call on_prompt(process) when the prompt shows."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*reconciler_command(), *argv], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen, prompted, deadline = b"", False, time.monotonic() + 20
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if select.select([leader], [], [], 0.1)[0]:
                try:
                    seen += os.read(leader, 4096)
                except OSError:
                    break
            if PROMPT in seen and not prompted:
                prompted = True
                on_prompt(process)
        code = process.wait(timeout=10)
        while select.select([leader], [], [], 0.1)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(leader)
    return code, seen


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOGETHER_", "NO_COLOR"))}
    return {**env, "COLUMNS": "100", **extra}


# --- NO_COLOR --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_color", "coloured"),
    [(None, True), ("", True), ("1", False), ("0", False)],
    ids=["unset", "empty", "one", "zero-is-still-set"],
)
def test_no_color_counts_only_when_non_empty(
    tmp_path: Path, spec_file: str, no_color: str | None, coloured: bool
) -> None:
    """On a terminal the plan is coloured unless NO_COLOR is set to a non-empty value."""
    extra = {} if no_color is None else {"NO_COLOR": no_color}
    argv = [*sim_args(tmp_path / "sim.json"), "plan", "-f", spec_file]
    code, screen = run_on_terminal(argv, terminal_env(**extra), lambda p: None)
    assert code == 0, screen
    assert (b"\x1b[" in screen) is coloured, screen


# --- global options after the command --------------------------------------------------------


@pytest.mark.parametrize(
    "placement",
    [
        ["{sim}", "--sim-speed", "0", "plan", "-f", "{spec}"],
        ["plan", "-f", "{spec}", "{sim}", "--sim-speed", "0"],
        ["plan", "{sim}", "-f", "{spec}", "--sim-speed=0", "--no-color", "--debug"],
        ["--no-color", "plan", "--sim-speed", "0", "{sim}", "-f", "{spec}", "--project-id", "p"],
    ],
    ids=["before", "after", "mixed-with-equals", "both-sides"],
)
def test_global_options_before_or_after_the_command(
    tmp_path: Path, spec_file: str, placement: list[str]
) -> None:
    """`reconciler plan --sim …` works as `reconciler --sim plan …` does."""
    sim = f"--sim={tmp_path / 'sim.json'}"
    argv = [w.format(sim=sim, spec=spec_file) for w in placement]
    result = run_cli(argv)
    assert result.code == 0, result.all
    assert 'cluster "new-one" will be created' in result.out


def test_bare_sim_after_the_command_is_the_flag(
    tmp_path: Path, spec_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the command a bare `--sim` takes no value: the state is the default file."""
    monkeypatch.chdir(tmp_path)
    result = run_cli(["apply", "--sim", "-f", spec_file, "--sim-speed", "0", "--auto-approve"])
    assert result.code == 0, result.all
    assert (tmp_path / ".reconciler" / "sim.json").exists()


def test_a_command_option_of_the_same_name_stays_the_commands(tmp_path: Path) -> None:
    """export has its own --project-id: after `export` it is export's (scopes the export)."""
    state = tmp_path / "sim.json"
    seed_sim_file(state, [{"cluster_name": "a", "num_gpus": 8, "project_id": "p1"}])
    result = run_cli(["export", *sim_args(state), "--project-id", "p1"])
    assert result.code == 0, result.all
    assert "project_id: p1" in result.out


def test_an_unknown_option_after_the_command_is_still_a_usage_error(spec_file: str) -> None:
    """Only the global options move; anything else is the command's to refuse (exit 64)."""
    result = run_cli(["plan", "-f", spec_file, "--no-such-option"])
    assert result.code == 64
    assert "No such option '--no-such-option'" in result.err


# --- Ctrl-C at the prompt --------------------------------------------------------------------


def test_ctrl_c_at_the_approval_prompt_exits_130(tmp_path: Path, spec_file: str) -> None:
    """SIGINT while apply waits for 'yes': exit 130, nothing changed."""
    state = tmp_path / "sim.json"
    seed_sim_file(state, [])
    before = state.read_bytes()
    argv = [*sim_args(state), "apply", "-f", spec_file]

    def interrupt(process: subprocess.Popen[bytes]) -> None:
        # A signal that lands between the prompt's text and readline's wait for input is
        # only seen at the next keypress (CPython's readline): give the prompt time to wait.
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)

    code, screen = run_on_terminal(argv, terminal_env(NO_COLOR="1"), interrupt)
    assert code == 130, screen
    assert b"nothing was changed" in screen
    assert state.read_bytes() == before


# --- an API that does not answer ------------------------------------------------------------


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without the real backoff sleeps (the attempts are what is tested)."""
    monkeypatch.setattr(RequestLoop, "_pause", lambda self, delay: None)


@pytest.mark.usefixtures("no_backoff")
def test_refused_loopback_names_the_url_hints_sim_serve_and_notices_one_retry(
    spec_file: str,
) -> None:
    """Nothing on a loopback port: one retry notice, then refused + URL + the sim serve hint."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli(["plan", "-f", spec_file, "--base-url", url], env={"TOGETHER_API_KEY": "k"})
    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == 2, result.err
    notice, error = lines
    assert notice.endswith("retrying up to 4 times (later retries are not reported)")
    assert f"no answer from {url}:" in notice and "connection refused" in notice
    assert error.startswith("Error: GET /v1/compute/")
    assert f"no answer from {url} after 5 attempts" in error
    assert "connection refused" in error
    assert "is `reconciler sim serve` running on that port?" in error


def failing_transport(
    exc: type[httpx.TransportError], text: str, cause: BaseException | None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(text, request=request) from cause

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("base_url", "exc", "text", "cause", "words", "hint"),
    [
        (
            "https://api.example.invalid",
            httpx.ConnectError,
            "[Errno -2] Name or service not known",
            socket.gaierror(-2, "Name or service not known"),
            "the host name does not resolve",
            "check --base-url (or TOGETHER_BASE_URL) and the network",
        ),
        (
            "https://api.example.invalid",
            httpx.ConnectError,
            "[Errno 111] Connection refused",
            ConnectionRefusedError(111, "Connection refused"),
            "connection refused",
            "check --base-url",
        ),
        (
            "http://localhost:8765",
            httpx.ConnectTimeout,
            "timed out",
            None,
            "timed out connecting",
            "reconciler sim serve",
        ),
    ],
    ids=["unresolvable", "refused", "timed-out-loopback"],
)
def test_connection_failures_say_what_happened(
    base_url: str,
    exc: type[httpx.TransportError],
    text: str,
    cause: BaseException | None,
    words: str,
    hint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refused, unresolvable and timed out are told apart; the URL never has a query string."""
    transport = failing_transport(exc, text, cause)
    sleeps: list[float] = []
    with (
        caplog.at_level(logging.WARNING, logger="reconciler.client"),
        Client(base_url, "key-123456789", transport=transport, sleep=sleeps.append) as client,
        pytest.raises(ApiTransportError) as info,
    ):
        client.list_resources(get("cluster").api, "proj-1")
    message = str(info.value)
    assert f"no answer from {base_url} after 5 attempts" in message
    assert words in message and hint in message
    assert "?" not in message.split(" after ")[0]  # no query string (projectId) in the URL
    notices = [r.getMessage() for r in caplog.records if r.name == "reconciler.client"]
    assert len([n for n in notices if "retrying" in n]) == 1
    assert len(sleeps) == 4


def test_a_retried_error_status_is_noticed_once_per_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """503 twice, then an answer: one notice naming the status, however many retries follow."""
    answers = iter([503, 503, 200, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return (
            httpx.Response(status, json={"clusters": []})
            if status == 200
            else httpx.Response(status)
        )

    sleeps: list[float] = []
    transport = httpx.MockTransport(handler)
    with (
        caplog.at_level(logging.WARNING, logger="reconciler.client"),
        Client(
            "https://api.example", "key-123456789", transport=transport, sleep=sleeps.append
        ) as client,
    ):
        assert client.list_resources(get("cluster").api) == []
        assert client.list_resources(get("cluster").api) == []
    notices = [r.getMessage() for r in caplog.records if r.name == "reconciler.client"]
    assert notices == [
        "GET /v1/compute/clusters: 503 Service Unavailable; retrying up to 4 times "
        "(later retries are not reported)"
    ]
    assert len(sleeps) == 3
