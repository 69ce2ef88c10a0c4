"""`plan` and `drift` check a large spec in a forked child while the parent reads the live
lists (cli/forked.py, issue 11): the child's answer is the parent's own check, and whatever
goes wrong in it leaves the check to the parent, with its messages and exit codes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import forked
from reconciler.cli.forked import ForkedCheck, can_fork, use_child
from reconciler.cli.session import check_desired
from reconciler.errors import SpecError
from reconciler.simulator.http import SimServer
from reconciler.spec import CheckedSpec, check_spec
from tests.conftest import SPEC_HEADER
from tests.integration.helpers import LEGACY as LEGACY_SPEC
from tests.integration.helpers import reconciler_command, run_cli, write_spec

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")

DATA = Path(__file__).parent.parent / "data"
LEGACY = LEGACY_SPEC.replace("prices: prices.yaml\n", "")  # no prices file to read


def many_clusters(count: int) -> bytes:
    items = "".join(f"  - cluster_name: c-{i:05d}\n    num_gpus: 8\n" for i in range(count))
    return (SPEC_HEADER + items).encode()


def good_specs() -> Iterator[list[tuple[str, bytes]]]:
    yield [("legacy.yaml", LEGACY.encode())]
    yield [("many.yaml", many_clusters(3_000))]
    for path in sorted((DATA / "good").glob("*.yaml")):  # anchors, every field, legacy names
        yield [(str(path), path.read_bytes())]
    split = sorted((DATA / "good" / "split").glob("*.yaml"))  # several files, one spec
    yield [(str(p), p.read_bytes()) for p in split]


GOOD = [p.stem for p in sorted((DATA / "good").glob("*.yaml"))]
GOOD_IDS = ["inline-legacy", "many", *GOOD, "split"]


def reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("files", list(good_specs()), ids=GOOD_IDS)
def test_the_child_s_check_is_this_process_s_own(files: list[tuple[str, bytes]]) -> None:
    check = ForkedCheck(files)
    pid = check._pid
    got = check.result()
    assert isinstance(got, CheckedSpec)
    assert pid is not None and reaped(pid)
    here = check_spec(files)
    assert (got.project_id, got.prices, got.warnings, got.digest) == (
        here.project_id,
        here.prices,
        here.warnings,
        here.digest,
    )
    assert got.build() == here.build()


NESTED = (
    SPEC_HEADER.replace(
        "clusters:\n",
        "  num_gpus: 8\n  add_ons:\n    - add_on_type: headlamp\n      name: dash\nclusters:\n",
    )
    + "  - cluster_name: inherits\n"
    + "  - cluster_name: own\n"
    + "    add_ons:\n"
    + "      - add_on_type: headlamp\n"
    + "        name: metrics\n"
    + "  - cluster_name: plain\n"
    + "    add_ons: []\n"
)


def test_the_child_keeps_the_marks_the_build_reads() -> None:
    """The child sends an item's marks only when it nests add-ons: every resource, add-ons
    inherited from defaults and declared in the item, keeps the Location the build here gives."""
    files = [("spec.yaml", NESTED.encode())]
    got = ForkedCheck(files).result()
    assert isinstance(got, CheckedSpec)
    items = got.files[0].node[2]["clusters"][2]
    assert [len(mark[2]) for mark in items] == [0, 2, 2]  # its marks only where it nests
    built, here = got.build(), check_spec(files).build()
    assert built == here
    located = {(d.parent, d.name): (d.location.line, d.location.column) for d in built.resources}
    assert located[("inherits", "dash")] == (10, 7)  # the defaults' item
    assert located[("own", "metrics")] == (16, 9)
    assert located[(None, "plain")] == (18, 5)


def test_the_legacy_warning_comes_from_the_child() -> None:
    got = ForkedCheck([("legacy.yaml", LEGACY.encode())]).result()
    assert got is not None and any("driver_version: deprecated" in w for w in got.warnings)


#: Each shipped bad spec alone; the two that are bad only together (a name in both), together.
BAD = [[p] for p in sorted((DATA / "bad").glob("*.yaml")) if "duplicate-name-" not in p.name]
BAD.append(sorted((DATA / "bad").glob("duplicate-name-?.yaml")))


@pytest.mark.parametrize("paths", BAD, ids=[p[0].stem for p in BAD])
def test_an_invalid_spec_is_checked_again_here_with_its_own_errors(paths: list[Path]) -> None:
    """Every shipped bad spec (YAML errors, bombs, bad UTF-8, schema and rule problems): no
    answer from the child, and the command's own errors, word for word."""
    files = [(str(path), path.read_bytes()) for path in paths]
    assert ForkedCheck(files).result() is None
    with pytest.raises(SpecError) as here:
        check_spec(files)
    with pytest.raises(SpecError) as through_the_child:
        check_desired(files, ForkedCheck(files))
    assert through_the_child.value.problems == here.value.problems


def _raise(files: Any) -> Any:
    raise RuntimeError("boom")


def _unmarshallable(files: Any) -> Any:
    return ("digest", [object()], [])


def _exit_3(files: Any) -> Any:
    os._exit(3)


def _killed(files: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("failure", [_raise, _unmarshallable, _exit_3, _killed])
def test_a_child_that_fails_leaves_the_check_here(
    failure: Callable[[Any], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error, a value marshal cannot carry, an exit, a kill: None, the child reaped, and
    `check_desired` checks the spec itself."""
    monkeypatch.setattr(forked, "_payload", failure)
    files = [("legacy.yaml", LEGACY.encode())]
    check = ForkedCheck(files)
    pid = check._pid
    assert check.result() is None
    assert pid is not None and reaped(pid)
    assert check_desired(files, ForkedCheck(files)).build() == check_spec(files).build()


def test_a_large_answer_is_read_whole_and_once() -> None:
    """20,000 clusters: a 4 MB answer, all of it read; asked again, there is none."""
    files = [("many.yaml", many_clusters(20_000))]
    check = ForkedCheck(files)
    got = check.result()
    assert got is not None and len(got.build().resources) == 20_000
    assert check.result() is None


def test_a_command_that_ends_first_stops_and_reaps_the_child() -> None:
    """At exit (an error or Ctrl-C before the command asked for the check) the child is
    killed and reaped; asked afterwards, there is no answer."""
    check = ForkedCheck([("many.yaml", many_clusters(20_000))])
    pid = check._pid
    check._abandon()  # what atexit runs
    assert pid is not None and reaped(pid)
    assert check.result() is None


def test_a_process_that_ignores_sigchld_still_gets_the_answer() -> None:
    """Started with SIGCHLD ignored (a supervisor's habit, inherited through exec), the
    child is reaped by the kernel: waiting for it finds nothing, which is no error."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        got = ForkedCheck([("legacy.yaml", LEGACY.encode())]).result()
    finally:
        signal.signal(signal.SIGCHLD, previous)
    assert got is not None and got.project_id == "proj-sim"


def test_the_setting_chooses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    small, large = [("a.yaml", b"x" * 100)], [("a.yaml", b"x" * forked.AUTO_MIN_BYTES)]
    assert not use_child(small, {})
    assert use_child(large, {})
    assert use_child(large, {forked.SETTING: "auto"})
    assert use_child(small, {forked.SETTING: "on"})
    assert not use_child(large, {forked.SETTING: "off"})
    assert use_child(large, {forked.SETTING: " ON "})  # as written, in any case
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    assert not use_child(small, {forked.SETTING: "on"})


def test_a_setting_that_is_not_one_is_a_one_line_error(
    tmp_path: Path, sim_http_server: SimServer, sim_server: str
) -> None:
    """Not auto, on or off: exit 1 with one line naming the variable and what it takes,
    before any call; and never a guess (it would silently change how the spec is checked)."""
    spec = write_spec(tmp_path, LEGACY)
    env = {"TOGETHER_API_KEY": "sim-token", "TOGETHER_BASE_URL": sim_server}
    env[forked.SETTING] = "sometimes\x1b"
    result = run_cli(["plan", "-f", spec], env=env)
    assert result.code == 1, result.all
    assert result.err == (
        "Error: RECONCILER_CHECK_PROCESS='sometimes\\x1b' is not a setting; use auto, on or off\n"
    )
    assert result.out == ""
    assert sim_http_server.state.request_log == []


@pytest.mark.parametrize("refused", ["memfd_create", "pipe", "fork"])
def test_a_system_that_refuses_leaves_the_check_here(
    refused: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sandbox refusing memfd_create, no file descriptors left, fork failing: no child,
    nothing left open, and the command checks the spec itself."""

    def refuse(*args: Any) -> Any:
        raise OSError(24, "Too many open files")

    before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(forked, "use_child", lambda files, environ: True)
    monkeypatch.setattr(os, refused, refuse)
    assert forked.start([("legacy.yaml", LEGACY.encode())], {}) is None
    assert set(os.listdir("/proc/self/fd")) <= before


def test_never_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to run the child on: it would only add its answer's round trip."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not can_fork()


def test_never_beside_another_thread() -> None:
    """A fork copies only the calling thread: a lock another one holds would never be let go
    in the child."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        thread.join()


def test_plan_takes_the_child_s_check(
    tmp_path: Path, sim_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan` forks when told (here despite the test's server thread) and plans from it."""
    answers: list[CheckedSpec | None] = []
    original = ForkedCheck.result

    def spy(self: ForkedCheck) -> CheckedSpec | None:
        answers.append(original(self))
        return answers[-1]

    monkeypatch.setattr(forked, "use_child", lambda files, environ: True)
    monkeypatch.setattr(ForkedCheck, "result", spy)
    spec = write_spec(tmp_path, LEGACY)
    env = {"TOGETHER_API_KEY": "sim-token", "TOGETHER_BASE_URL": sim_server}
    result = run_cli(["plan", "-f", spec], env=env)
    assert result.code == 0, result.all
    assert '+ cluster "train-a"' in result.out and "driver_version: deprecated" in result.err
    assert len(answers) == 1 and isinstance(answers[0], CheckedSpec)


def _plan(spec: str, url: str, setting: str) -> tuple[int, str, str]:
    env = dict(os.environ, NO_COLOR="1", TOGETHER_API_KEY="sim-token", TOGETHER_BASE_URL=url)
    env[forked.SETTING] = setting
    done = subprocess.run(
        [*reconciler_command(), "plan", "-f", spec],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("text", [LEGACY, LEGACY.replace("num_gpus: 8", "num_gpus: 7")])
def test_a_fresh_plan_says_the_same_with_and_without_the_child(
    text: str, tmp_path: Path, sim_http_server: SimServer, sim_server: str
) -> None:
    """The console script, a fresh process (one thread: it forks): a valid spec with its
    warning, an invalid one with its error and exit code, word for word either way."""
    spec = write_spec(tmp_path, text)
    with_child, without = _plan(spec, sim_server, "on"), _plan(spec, sim_server, "off")
    assert with_child == without
    assert with_child[0] == (0 if text == LEGACY else 1)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_ctrl_c_while_the_child_checks_leaves_no_process(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while the child checks a
    large spec and the API has not answered: exit 130, and no process of the group left."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are made, never answered
    spec = tmp_path / "clusters.yaml"
    spec.write_bytes(many_clusters(20_000))
    env = dict(os.environ, NO_COLOR="1", TOGETHER_API_KEY="sim-token")
    env.update(TOGETHER_BASE_URL=f"http://127.0.0.1:{silent.getsockname()[1]}")
    env[forked.SETTING] = "on"
    process = subprocess.Popen(
        [*reconciler_command(), "plan", "-f", str(spec)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 10
        while not _children(process.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        children = _children(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        silent.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert children, "the child was never seen"
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    assert b"Traceback" not in err
