"""The lock around plan → apply: a second apply waits (saying for whom), then plans what is
left; it never runs at the same time. File lock always; PostgreSQL when a server is there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.lock import LockSpec, held, lock_name, redacted_url
from reconciler.errors import ConfigError
from tests.conftest import SPEC_HEADER, FakeClock
from tests.integration.helpers import load_sim_file, sim_args

POSTGRES = os.environ.get("RECONCILER_TEST_POSTGRES")
REQUIRED = os.environ.get("RECONCILER_REQUIRE_POSTGRES") == "1"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lock files go to a cache directory of this test only."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def spec_for(url: str | None, project: str = "p") -> LockSpec:
    return LockSpec(url, "https://api.example", project, timeout=30.0)


def check_second_waits_then_gives_up(url: str | None) -> None:
    clock = FakeClock()
    said: list[str] = []
    second = held(spec_for(url), said.append, clock=clock, sleep=clock.sleep)
    with held(spec_for(url), said.append), pytest.raises(ConfigError) as caught, second:
        pytest.fail("a held lock was taken twice")
    assert "still held by pid" in str(caught.value) and "after 30 s" in str(caught.value)
    assert len(said) == 1 and said[0].startswith("Waiting for the lock of this project, held by")
    with held(spec_for(url), said.append):  # released: free again at once
        pass


def test_file_lock_is_held_once_and_names_its_holder() -> None:
    """On one machine: the second holder waits, says for whom, and gives up at the timeout."""
    check_second_waits_then_gives_up(None)


def test_file_locks_of_other_projects_do_not_block() -> None:
    """The lock is per API and project: another project's apply runs at the same time."""
    with held(spec_for(None, "p"), print), held(spec_for(None, "q"), print):
        pass
    assert lock_name("https://api.example", "p") != lock_name("https://api.example", "q")


def test_postgres_advisory_lock_is_held_once_across_sessions() -> None:
    """Across machines: a session advisory lock on a real PostgreSQL server (started by .ci/run
    on 127.0.0.1); skipped without one unless CI requires it."""
    if not POSTGRES:
        if REQUIRED:
            pytest.fail("RECONCILER_REQUIRE_POSTGRES=1 but RECONCILER_TEST_POSTGRES is not set")
        pytest.skip("no PostgreSQL server: set RECONCILER_TEST_POSTGRES=postgresql://… to run")
    check_second_waits_then_gives_up(POSTGRES)


def test_a_lock_url_that_is_not_postgres_is_an_error() -> None:
    """Only postgresql:// URLs lock across machines; the password is never shown."""
    refused = pytest.raises(ConfigError, match=r"redis://u:\*\*\*@host: not a lock URL")
    with refused, held(spec_for("redis://u:secret@host"), print):
        pass
    assert redacted_url("postgresql://me:pw@db/x") == "postgresql://me:***@db/x"


SPEC = "".join(f"  - cluster_name: c{i}\n    num_gpus: 8\n" for i in range(6))


def test_two_applies_at_once_create_every_cluster_once(tmp_path: Path) -> None:
    """Two `apply --auto-approve` processes of one spec at once, from two directories, on one
    simulator state: one waits for the other's lock; every name exists exactly once."""
    spec_text = SPEC_HEADER + SPEC
    state = tmp_path / "sim.json"
    procs = []
    for n in (1, 2):
        checkout = tmp_path / f"checkout-{n}"
        checkout.mkdir()
        (checkout / "clusters.yaml").write_text(spec_text)
        cmd = [sys.executable, "-m", "reconciler", *sim_args(state), "apply", "--auto-approve"]
        env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
        procs.append(
            subprocess.Popen(
                cmd, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    names = sorted(c.fields.cluster_name for c in load_sim_file(state).clusters.values())
    assert names == [f"c{i}" for i in range(6)]
    assert any(b"Waiting for the lock" in err for _, err in outputs) or any(
        b"No changes" in out for out, _ in outputs
    )


def test_two_applies_against_a_served_api_without_idempotency_create_each_once(
    tmp_path: Path,
) -> None:
    """Two apply processes at once against `sim serve --ignore-idempotency-key` (as the real
    API, which documents no such header): the lock alone keeps every name to one cluster."""
    import signal

    serve = ["sim", "serve", "--port", "0", "--speed", "0", "--ignore-idempotency-key"]
    server = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *serve],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("listening on ")[1].split()[0]
        key = tmp_path / "key"
        key.write_text("sim-token")
        key.chmod(0o600)
        env = {**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
        spec = SPEC_HEADER + SPEC
        procs = []
        for n in (1, 2):
            checkout = tmp_path / f"checkout-{n}"
            checkout.mkdir()
            (checkout / "clusters.yaml").write_text(spec)
            argv = [sys.executable, "-m", "reconciler", "--base-url", url, "--api-key-file"]
            argv += [str(key), "apply", "--auto-approve", "--no-wait"]
            procs.append(
                subprocess.Popen(
                    argv, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
            )
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        import httpx

        listed = httpx.get(
            f"{url}/v1/compute/clusters", headers={"Authorization": "Bearer sim-token"}
        ).json()["clusters"]
        assert sorted(c["cluster_name"] for c in listed) == [f"c{i}" for i in range(6)]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
