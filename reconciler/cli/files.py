"""Files the commands read and write: spec files in, plan files in and out, atomic writes, and
private files (mode 600: kubeconfigs) written atomically under a kubectl-style lock."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Iterator, Sequence

from reconciler.errors import ConfigError, PlanFileError, SpecError
from reconciler.model import Plan

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 1024 * 1024  # the same limit spec.py enforces, checked before reading
MAX_PLAN_BYTES = 256 * 1024 * 1024  # one limit for writing and reading a saved plan


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
            data, size = _read_regular(path, MAX_SPEC_BYTES)
        except OSError as exc:
            problems.append(f"{path}: cannot read it ({exc.strerror or exc}); check permissions")
            continue
        except _NotRegular:
            problems.append(f"{path}: not a regular file (a pipe or a device?); pass a spec file")
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


class _NotRegular(Exception):
    """A path that is a FIFO, socket or device: reading it could block forever."""


def _read_regular(path: str, limit: int) -> tuple[bytes, int]:
    """(at most limit + 1 bytes, the file's size) of a regular file; opened without blocking,
    so a FIFO given by mistake is refused instead of waiting for a writer forever."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegular(path)
        # Never read an oversized file.
        data = b"" if info.st_size > limit else handle.read(limit + 1)
        return data, max(info.st_size, len(data))


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
    """The plan as JSON; refused when it is too large to be read back."""
    from reconciler.plan import plan_to_dict  # the planning code: not before `plan` needs it

    text = json.dumps(plan_to_dict(plan), indent=2, sort_keys=True) + "\n"
    if len(text.encode()) > MAX_PLAN_BYTES:
        raise ConfigError(
            f"{path}: the plan is over {MAX_PLAN_BYTES} bytes, more than a plan file may hold; "
            "plan a part of the spec at a time (--target)"
        )
    write_file_atomically(path, text)


def write_file_atomically(path: str, text: str) -> None:
    """Write to a temp file, then rename: a crash never leaves half a file behind. A missing
    directory, a full disk or a refused write is a one-line ConfigError, not a traceback."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ConfigError(f"{path}: the directory {directory} does not exist; create it first")
    try:
        import tempfile  # only when a file is written: not at every command's start

        fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=directory)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write there ({exc.strerror or exc})") from None
    _replace_with(fd, tmp, path, text)


def _replace_with(fd: int, tmp: str, path: str, text: str, mode: int | None = None) -> None:
    """Write `text` to the temp file `tmp` (open as `fd`), sync it, rename it over `path`;
    on any failure the temp file goes, and a refused write is a one-line ConfigError."""
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_plan_file(path: str) -> Plan:
    from reconciler.plan import plan_from_dict

    try:
        data, size = _read_regular(path, MAX_PLAN_BYTES)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the plan file ({exc.strerror})") from None
    except _NotRegular:
        raise ConfigError(f"{path}: not a regular file (a pipe or a device?)") from None
    if size > MAX_PLAN_BYTES:
        raise PlanFileError(f"{path}: larger than {MAX_PLAN_BYTES} bytes; not a plan we wrote")
    try:
        return plan_from_dict(json.loads(data), source=path)
    except (ValueError, UnicodeDecodeError):
        raise PlanFileError(f"{path}: not a reconciler plan (not JSON)") from None
    except RecursionError:
        raise PlanFileError(f"{path}: not a reconciler plan (nested too deep)") from None


# --- private files (kubeconfigs) ---------------------------------------------------------------


def private_target(path: str, *, make_dir: bool = False) -> str:
    """The file a private write goes to: `path` with symlinks followed (a linked kubeconfig stays
    linked), in a directory that must exist; with `make_dir`, a missing one is created 700."""
    expanded = os.path.expanduser(path)
    target = os.path.realpath(expanded)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        # Only a plain missing directory is created (~/.kube), never one a symlink points into.
        if not make_dir or os.path.lexists(directory) or os.path.islink(expanded):
            raise ConfigError(
                f"{path}: the directory {directory} does not exist; create it first "
                f"(mkdir -p {directory}) or choose another file"
            )
        try:
            os.mkdir(directory, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"{directory}: cannot create it ({exc.strerror})") from None
    if os.path.isdir(target):
        raise ConfigError(f"{path}: is a directory; give a file name")
    return target


def read_private_file(path: str, limit: int = 16 * 1024 * 1024) -> str | None:
    """A text file's content, or None when it does not exist (never its text in an error)."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ConfigError(f"{path}: not a regular file")
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    if len(data) > limit:
        raise ConfigError(f"{path}: larger than {limit} bytes; is it really a kubeconfig?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def write_private_file(target: str, text: str) -> None:
    """Write `text` to `target` (see `private_target`) atomically with mode 600: a temp file in
    the same directory, synced, then renamed over the old file, whose mode it does not keep."""
    import tempfile  # only when a file is written: not at every command's start

    fd, tmp = tempfile.mkstemp(prefix=".reconciler-", dir=os.path.dirname(target))
    _replace_with(fd, tmp, target, text, mode=0o600)


@contextlib.contextmanager
def file_lock(target: str) -> Iterator[None]:
    """Hold `target`.lock, the lock file kubectl (client-go) takes while it edits a kubeconfig."""
    lock = f"{target}.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise ConfigError(
                f"{lock} exists: kubectl or another reconciler is editing {target}; "
                "try again, or remove the lock file if nothing is"
            ) from None
        raise ConfigError(f"{lock}: cannot create the lock file ({exc.strerror})") from None
    os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
