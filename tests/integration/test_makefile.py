"""The Makefile finds a Python >= 3.11 by itself (issue 13): the first of python3.14 …
python3.11, python3 that runs and is new enough, or PYTHON= when given. `make -n` only
prints what it would run, so nothing is installed here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def fake_python(directory: Path, name: str, new_enough: bool) -> None:
    """A stand-in that answers the Makefile's version check (exit 0: >= 3.11)."""
    path = directory / name
    path.write_text(f"#!/bin/sh\nexit {0 if new_enough else 1}\n")
    path.chmod(0o755)


def dry_run(tmp_path: Path, pythons: dict[str, bool], *args: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, new_enough in pythons.items():
        fake_python(bin_dir, name, new_enough)
    # Only the tools the Makefile's search uses, so the machine's own pythons stay hidden.
    for tool in ("cksum", "cut"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(MAKE), "-n", "-f", str(ROOT / "Makefile"), "VENV=" + str(tmp_path / "venv"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("pythons", "chosen"),
    [
        ({"python3.12": True}, "python3.12"),
        ({"python3.13": True, "python3.12": True}, "python3.13"),
        ({"python3.11": True, "python3": True}, "python3.11"),
        ({"python3": True}, "python3"),
        ({"python3.13": False, "python3": True}, "python3"),
    ],
    ids=["only-3.12", "newest-first", "3.11", "plain-python3", "a-broken-one-is-skipped"],
)
def test_the_first_python_that_is_new_enough_makes_the_venv(
    tmp_path: Path, pythons: dict[str, bool], chosen: str
) -> None:
    """`make demo` creates the venv with the first usable Python on PATH."""
    out = dry_run(tmp_path, pythons, "demo")
    assert f"{chosen} -m venv {tmp_path / 'venv'}" in out, out


def test_python_can_be_given(tmp_path: Path) -> None:
    """PYTHON=... wins over the search."""
    out = dry_run(tmp_path, {"python3.12": True}, "demo", "PYTHON=/opt/py/bin/python3")
    assert f"/opt/py/bin/python3 -m venv {tmp_path / 'venv'}" in out, out


def test_demo_installs_only_the_product_and_test_installs_the_extras(tmp_path: Path) -> None:
    """`make demo` installs `.` (no test extras) and says how to run reconciler after;
    `make test` installs `.[test]`."""
    demo = dry_run(tmp_path, {"python3.12": True}, "demo")
    assert "pip install --quiet -e .\n" in demo and "[test]" not in demo
    assert "source" in demo and "bin/activate" in demo and "bin/reconciler --help" in demo
    (tmp_path / "bin").rename(tmp_path / "bin-demo")
    test = dry_run(tmp_path, {"python3.12": True}, "test")
    assert "pip install --quiet -e '.[test]'" in test


def test_no_new_enough_python_is_one_clear_error(tmp_path: Path) -> None:
    """With no Python >= 3.11 the venv step stops with a message saying what to do."""
    out = dry_run(tmp_path, {"python3": False}, "demo")
    assert "no Python 3.11 or newer found" in out and "PYTHON=" in out
