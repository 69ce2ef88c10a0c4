"""Files the commands read and write: spec files in, plan files in and out, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence

from reconciler.errors import ConfigError, PlanFileError, SpecError
from reconciler.model import Plan
from reconciler.plan import plan_from_dict, plan_to_dict

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 1024 * 1024  # the same limit spec.py enforces, checked before reading


def read_spec_files(paths: Sequence[str]) -> list[tuple[str, bytes]]:
    """Expand files and directories into (display path, bytes), sorted; the I/O half of specs.

    A directory contributes its *.yaml/*.yml files and those of its subdirectories, sorted
    by path, leaving out hidden files and hidden directories (`.github/`, `.reconciler/`);
    files keep the order given. Every unreadable path is reported at once.
    """
    candidates: list[str] = []
    problems: list[str] = []
    for raw in paths:
        if os.path.isdir(raw):
            found = spec_files_under(raw)
            if not found:
                problems.append(
                    f"{raw}: no *.yaml or *.yml files in this directory or below it; "
                    "pass a spec file or a directory that holds spec files"
                )
            candidates += found
        elif os.path.exists(raw):
            candidates.append(raw)
        else:
            problems.append(f"{raw}: no such file or directory; check the -f path")
    files: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for path in candidates:
        real = os.path.realpath(path)
        if real in seen:  # the same file named twice is read once
            continue
        seen.add(real)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                # Never read an oversized file; read() is capped too, for pipes and devices.
                data = b"" if size > MAX_SPEC_BYTES else handle.read(MAX_SPEC_BYTES + 1)
                size = max(size, len(data))
        except OSError as exc:
            problems.append(f"{path}: cannot read it ({exc.strerror or exc}); check permissions")
            continue
        if size > MAX_SPEC_BYTES:
            problems.append(
                f"{path}:1:1: the file is larger than 1 MiB ({size} bytes); "
                "split it into several files in a directory"
            )
            continue
        files.append((path, data))
    if problems:
        raise SpecError(problems)
    return files


def spec_files_under(directory: str) -> list[str]:
    """Every *.yaml/*.yml file below `directory` (not hidden, not in a hidden directory),
    sorted by path components, so `a/z.yaml` comes before `b.yaml` the same way everywhere."""
    found: list[tuple[tuple[str, ...], str]] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = os.path.join(root, name)
            if name.endswith(SPEC_SUFFIXES) and not name.startswith(".") and os.path.isfile(path):
                parts = os.path.relpath(path, directory).split(os.sep)
                found.append((tuple(parts), os.path.normpath(path)))
    return [path for _, path in sorted(found)]


def write_plan_file(path: str, plan: Plan) -> None:
    write_file_atomically(path, json.dumps(plan_to_dict(plan), indent=2, sort_keys=True) + "\n")


def write_file_atomically(path: str, text: str) -> None:
    """Write to a temp file, then rename: a crash never leaves half a file behind."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_plan_file(path: str) -> Plan:
    try:
        with open(path, "rb") as handle:
            data = handle.read(16 * 1024 * 1024 + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    try:
        return plan_from_dict(json.loads(data), source=path)
    except (ValueError, UnicodeDecodeError):
        raise PlanFileError(f"{path}: not a reconciler plan (not JSON)") from None
