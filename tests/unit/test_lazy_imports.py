"""Commands load only what they use: `--help`, `validate` and `schema` import no deepdiff,
httpx or simulator; the summaries `--help` lists match the commands' own help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from reconciler.cli import LAZY_COMMANDS, cli

EXAMPLE = Path(__file__).parents[2] / "examples" / "clusters.yaml"
PROBE = """
import json, sys
from reconciler.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
modules = [m for m, module in sys.modules.items() if module is not None]  # None: blocked
loaded = sorted({m.split(".")[0] for m in modules} | {
    m for m in modules if m.startswith(("reconciler.simulator", "reconciler.client"))
})
print(json.dumps(loaded), file=sys.stderr)
"""
HEAVY = {"deepdiff", "httpx", "pydantic", "reconciler.simulator", "reconciler.client"}


def loaded_by(*args: str) -> set[str]:
    """The top-level modules (and simulator/client modules) a fresh process imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=False,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [("--help",), ("validate", "-f", str(EXAMPLE)), ("schema",), ("--version",)],
    ids=["--help", "validate", "schema", "--version"],
)
def test_light_commands_import_no_deepdiff_httpx_or_simulator(args: tuple[str, ...]) -> None:
    """`--help`, `validate`, `schema` and `--version` import none of the heavy modules."""
    loaded = loaded_by(*args)
    assert not {m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY}


def test_help_imports_no_command_module() -> None:
    """`reconciler --help` lists the commands without importing them (nor YAML, JSON Schema)."""
    loaded = loaded_by("--help")
    assert not loaded & {"yaml", "jsonschema", "rich"}


@pytest.mark.parametrize("width", [60, 80, 100])
@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_listed_summary_is_the_commands_own(name: str, width: int) -> None:
    """The summary kept for `--help` gives the same line as the loaded command's docstring."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name == name
    kept = click.Command(name, help=LAZY_COMMANDS[name][2])
    assert kept.get_short_help_str(width) == command.get_short_help_str(width)


def test_plan_imports_neither_rich_nor_pygments_and_httpx_still_works(tmp_path: Path) -> None:
    """httpx's own command-line client (which loads rich and pygments) is kept out of a plan:
    the client works (the plan talks to the simulator) and neither module is loaded."""
    loaded = loaded_by("--sim", str(tmp_path / "sim.json"), "plan", "-f", str(EXAMPLE))
    assert "httpx" in loaded and "reconciler.client" in loaded
    assert not loaded & {"rich", "pygments"}


def test_plan_sends_its_list_calls_before_it_imports_the_planning_code() -> None:
    """`plan` and `drift` (cli/planning.py) start their list calls with only the client, the
    model and the kinds loaded: the schema, planning, rendering and apply code are imported
    while the API answers (issue 11)."""
    probe = (
        "import sys, json\nimport reconciler.cli.planning\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    later = {"jsonschema", "yaml", "deepdiff", "reconciler.schema", "reconciler.spec"}
    later |= {"reconciler.plan", "reconciler.render", "reconciler.apply", "reconciler.diff"}
    later |= {"reconciler.cli.session", "reconciler.cli.execution", "reconciler.cli.commands"}
    assert not loaded & later
    assert {"reconciler.cli.listing", "reconciler.live", "reconciler.model"} <= loaded


def _run_probe(*args: str) -> subprocess.CompletedProcess[str]:
    """`main` in a fresh interpreter, as the program or in-process: an exit handler reports,
    `os._exit` says when it ends the process, a `thread` argument starts a thread that is
    still running at the end."""
    probe = (
        "import atexit, os, sys, threading, time\n"
        "from reconciler.cli import main\n"
        "real_exit = os._exit\n"
        "def fast_exit(code):\n"
        "    os.write(2, f'os._exit {code}\\n'.encode())\n"
        "    real_exit(code)\n"
        "os._exit = fast_exit\n"
        "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    os.write(2, b'thread done\\n')\n"
        "if sys.argv[1] == 'thread':\n"
        "    threading.Thread(target=late).start()\n"
        "if sys.argv[1] == 'in-process':\n"
        "    try:\n"
        "        main(sys.argv[2:])\n"
        "    except SystemExit as exc:\n"
        "        print('in-process exit', exc.code, file=sys.stderr)\n"
        "else:\n"
        "    sys.argv = ['reconciler', *sys.argv[2:]]\n"
        "    main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("args", "code"), [(("--help",), 0), (("plan", "--nope"), 64)])
def test_the_program_ends_with_os_exit_after_its_output_and_exit_handlers(
    args: tuple[str, ...], code: int
) -> None:
    """As the program, `main` ends the process with os._exit (process.leave: no teardown),
    after the exit handlers ran and everything it printed was written; the code is kept."""
    done = _run_probe("program", *args)
    assert done.returncode == code, done.stderr
    assert done.stderr.endswith(f"exit handler ran\nos._exit {code}\n"), done.stderr
    if code == 0:
        usual = _run_probe("in-process", *args).stdout
        assert done.stdout.split("\n", 1)[1] == usual.split("\n", 1)[1]  # after Usage: -c
        assert "Commands:" in done.stdout
    else:
        assert done.stderr.startswith("Error: No such option '--nope'")


def test_in_process_callers_and_a_running_thread_get_the_usual_exit() -> None:
    """Called with arguments (tests), `main` raises SystemExit; with another thread still
    running, the program exits as usual: the interpreter waits for the thread."""
    in_process = _run_probe("in-process", "--version")
    assert in_process.returncode == 0
    assert "in-process exit 0" in in_process.stderr and "os._exit" not in in_process.stderr
    threaded = _run_probe("thread", "--version")
    assert threaded.returncode == 0, threaded.stderr
    assert "thread done" in threaded.stderr and "os._exit" not in threaded.stderr


def test_only_the_program_keeps_what_a_command_holds() -> None:
    """`process.keep` holds objects until the process ends (os._exit frees nothing) once
    `main` runs as the program; in-process callers keep nothing (a test suite would grow)."""
    probe = (
        "import atexit, sys\n"
        "from reconciler.cli import main, process\n"
        "atexit.register(lambda: (process.keep('held'), print('kept', process._kept)))\n"
        "if sys.argv[1] == 'in-process':\n"
        "    try:\n"
        "        main(['--version'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "else:\n"
        "    sys.argv = ['reconciler', '--version']\n"
        "    main()\n"
    )
    kept = {}
    for how in ("in-process", "program"):
        done = subprocess.run(
            [sys.executable, "-c", probe, how], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        kept[how] = done.stdout.strip().splitlines()[-1]
    assert kept == {"in-process": "kept []", "program": "kept ['held']"}
