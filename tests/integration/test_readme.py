"""The README's examples are run, so the README cannot drift from the tool (issue 13).

Every fenced block of README.md with a line `$ reconciler ...` is a transcript: each `$ `
line is a command, the lines up to the next `$ ` line are its output (stdout and stderr as a
terminal shows them). The blocks run in README order, in one temporary directory, as a new
user would after `make demo` at the top of a clone, with these rules:

- The directory holds a copy of `examples/`, `specs/` (the broken specs of the validate
  example, from tests/data/readme/specs), and `.venv/bin/python` (this Python).
- `reconciler` is the real CLI with `--sim-speed 0` added (the simulator is instant, so a
  cluster is already Ready where a person at demo speed may still see it provisioning);
  `NO_COLOR=1`, `COLUMNS=100`, no TOGETHER_* variables.
- Only commands that start with `reconciler` or `.venv/bin/python` run (`git ...` does not).
- A command whose comment says `type yes` gets `--auto-approve` (there is no terminal).
- Generated ids are compared as shapes: `c-` or `vol-` and hex digits match any such id.
- An output line `…` stands for any number of lines (progress, a plan shown before).
- Edits that the prose between blocks asks for (PROSE_EDITS) are made before the next block.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ELLIPSIS = "…"
GENERATED_ID = re.compile(r"\b(c|vol)-[0-9a-f]{4,}\b")


def give_notebook_dev_more_gpus(workdir: Path) -> None:
    """`num_gpus: 8` → `16` for notebook-dev in clusters.yaml, as the README asks."""
    path = workdir / "clusters.yaml"
    text = path.read_text()
    start = text.index("cluster_name: notebook-dev")
    end = text.find("- cluster_name:", start)
    end = len(text) if end < 0 else end
    path.write_text(
        text[:start] + text[start:end].replace("num_gpus: 8", "num_gpus: 16") + text[end:]
    )


PROSE_EDITS: dict[str, Callable[[Path], None]] = {
    "Give `notebook-dev` more GPUs": give_notebook_dev_more_gpus,
}


@dataclass(frozen=True)
class Example:
    command: str
    expected: tuple[str, ...]
    line: int  # where the command is in README.md


@dataclass(frozen=True)
class Block:
    prose_before: str
    examples: tuple[Example, ...]


def command_lines(lines: list[str], start: int) -> tuple[str, int]:
    """The command starting at lines[start] ("$ ..."), continued while a quote is open."""
    command, i = lines[start][2:], start + 1
    while True:
        try:
            shlex.split(command, comments=True)
            return command, i
        except ValueError:
            command += "\n" + lines[i]
            i += 1


def transcripts(text: str) -> Iterator[Block]:
    """The README's transcript blocks, each with the prose that comes before it."""
    parts = re.split(r"^```[a-z]*\n", text, flags=re.M)
    for index in range(1, len(parts), 2):
        block = parts[index].split("\n")
        if not any(line.startswith("$ reconciler") for line in block):
            continue
        offset = text[: text.index(parts[index])].count("\n") + 1
        examples, i = [], 0
        while i < len(block):
            if not block[i].startswith("$ "):
                i += 1
                continue
            at = i
            command, i = command_lines(block, i)
            start = i
            while i < len(block) and not block[i].startswith("$ "):
                i += 1
            output = tuple(line.rstrip() for line in block[start:i] if line.strip())
            examples.append(Example(command, output, offset + at))
        yield Block(parts[index - 1], tuple(examples))


def matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Line by line after normalising ids; `…` matches any run of lines."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == ELLIPSIS:
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and normal(head) == normal(actual[0]) and matches(rest, actual[1:])


def normal(line: str) -> str:
    return GENERATED_ID.sub(lambda m: f"{m.group(1)}-ID", line.rstrip())


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "tests" / "data" / "readme" / "specs", tmp_path / "specs")
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    # A wrapper, not a symlink: a venv's python finds its packages from its own path.
    (venv_bin / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv_bin / "python").chmod(0o755)
    shim = tmp_path / "bin" / "reconciler"
    shim.parent.mkdir()
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f'exec "{sys.executable}" -c "from reconciler.cli import main; main()" '
        '--sim-speed 0 "$@"\n'
    )
    shim.chmod(0o755)
    return tmp_path


def run(command: str, workdir: Path) -> list[str]:
    if "type yes" in command:
        code, _, comment = command.partition("#")
        command = f"{code.rstrip()} --auto-approve  #{comment}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOGETHER_", "NO_COLOR"))}
    env.update(NO_COLOR="1", COLUMNS="100", PATH=f"{workdir / 'bin'}{os.pathsep}{env['PATH']}")
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    return [line.rstrip() for line in done.stdout.splitlines() if line.strip()]


def test_the_readme_has_transcripts_to_check() -> None:
    """The README keeps its examples (an empty list would make the next test pass vacuously)."""
    examples = [e for b in transcripts(README.read_text()) for e in b.examples]
    assert len(examples) >= 10
    assert sum(e.command.startswith("reconciler") for e in examples) >= 8


def test_every_readme_example_prints_what_the_readme_shows(workdir: Path) -> None:
    """Each `$ reconciler ...` line of the README, run in order, prints its block."""
    for block in transcripts(README.read_text()):
        for sentence, edit in PROSE_EDITS.items():
            if sentence in block.prose_before:
                edit(workdir)
        for example in block.examples:
            first = shlex.split(example.command, comments=True)[0]
            if first not in ("reconciler", ".venv/bin/python"):
                continue
            actual = run(example.command, workdir)
            assert matches(example.expected, actual), (
                f"README.md:{example.line}: $ {example.command}\n--- README shows:\n"
                + "\n".join(example.expected)
                + "\n--- the tool prints:\n"
                + "\n".join(actual)
            )
