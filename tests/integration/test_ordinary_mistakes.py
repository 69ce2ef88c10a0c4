"""Ordinary mistakes get one line with the place and exit 1: never a traceback, never an
"internal error … report it", never a command that hangs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.helpers import run_cli, sim_args

SPEC = """\
version: 1
clusters:
  - cluster_name: a
    region: us-central-8
    gpu_type: H100_SXM
    cuda_version: "12.6"
    nvidia_driver_version: "560"
    billing_type: ON_DEMAND
    num_gpus: 8
"""


@pytest.fixture
def spec(tmp_path: Path) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return str(path)


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "internal error" not in err and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("command", ["plan", "export"])
def test_writing_into_a_missing_directory(command: str, tmp_path: Path, spec: str) -> None:
    """plan --out / export -o into a directory that does not exist."""
    target = str(tmp_path / "nodir" / "out")
    args = ["plan", "-f", spec, "--out", target] if command == "plan" else ["export", "-o", target]
    result = run_cli([*sim_args(tmp_path / "sim.json"), *args])
    assert result.code == 1
    assert one_line_error(result.err).endswith("nodir does not exist; create it first")


def test_a_fifo_as_spec_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A named pipe given as a spec: refused at once (reading it would block forever)."""
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    result = run_cli(["validate", "-f", str(fifo)])
    assert result.code == 1
    assert f"{fifo}: not a regular file" in result.err


def test_a_fifo_as_key_file_is_refused_not_waited_on(tmp_path: Path, spec: str) -> None:
    """A named pipe given as --api-key-file: refused at once."""
    fifo = tmp_path / "key"
    os.mkfifo(fifo)
    result = run_cli(["--api-key-file", str(fifo), "plan", "-f", spec])
    assert result.code == 1
    assert one_line_error(result.err) == f"Error: --api-key-file {fifo}: not a regular file"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"format_version": 1, "actions": ' + "[" * 200_000 + "]" * 200_000 + "}",
            "nested too deep",
        ),
        ('{"format_version": 1, "actions": "x"}', "damaged plan"),
        ("not json", "not JSON"),
    ],
    ids=["nested-200000-deep", "damaged", "not-json"],
)
def test_a_bad_saved_plan(content: str, message: str, tmp_path: Path, spec: str) -> None:
    """A saved plan that is not one we wrote: one line, exit 1."""
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    result = run_cli([*sim_args(tmp_path / "sim.json"), "apply", str(plan), "-f", spec])
    assert result.code == 1
    assert message in one_line_error(result.err)


def test_infinity_never_reaches_a_json_plan(tmp_path: Path, spec: str) -> None:
    """JSON plans are strict JSON (no NaN or Infinity), whatever a value holds."""
    result = run_cli([*sim_args(tmp_path / "sim.json"), "plan", "-f", spec, "--format", "json"])
    assert result.code == 0
    json.loads(result.out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_a_number_too_large_for_json_from_the_api_is_refused() -> None:
    """1e999 in an answer would become Infinity in a JSON plan: the answer is refused."""
    import httpx

    from reconciler.client import Client
    from reconciler.errors import ApiResponseError
    from reconciler.kinds.cluster import API

    def handler(request: httpx.Request) -> httpx.Response:
        body = b'{"clusters": [{"cluster_id": "c", "cluster_name": "a", "status": "Ready", '
        return httpx.Response(200, content=body + b'"num_gpus": 1e999}]}')

    client = Client("https://api.example", "t", transport=httpx.MockTransport(handler))
    with pytest.raises(ApiResponseError, match="too large a number"):
        client.list_resources(API)


def test_sim_serve_on_a_port_in_use_is_one_line() -> None:
    """`sim serve --port N` where something listens already: one line, exit 1."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["sim", "serve", "--port", str(port)])
    assert result.code == 1
    assert one_line_error(result.err).startswith(f"Error: sim serve on 127.0.0.1:{port}: ")


def test_a_base_url_query_is_never_echoed(tmp_path: Path, spec: str) -> None:
    """A base URL with a query (it may hold a token) is refused without showing the query."""
    key = tmp_path / "key"
    key.write_text("k")
    key.chmod(0o600)
    url = "http://127.0.0.1:9/?token=SECRET-CANARY"
    result = run_cli(["--base-url", url, "--api-key-file", str(key), "plan", "-f", spec])
    assert result.code == 1
    assert "SECRET-CANARY" not in result.all
    assert "no query or fragment allowed" in one_line_error(result.err)
