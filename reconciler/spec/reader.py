"""Safe YAML reading with positions: bytes → plain values plus a mirror tree of marks. Pure.

Knows nothing of reconciler: it refuses what is not plain data (tags, bombs, deep nesting,
duplicate keys, several documents) and reports every problem as (line, col, message). The
parser's events are turned into values and marks by `events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.spec.events import MAX_ALIAS_NODES as MAX_ALIAS_NODES
from reconciler.spec.events import MAX_DEPTH as MAX_DEPTH
from reconciler.spec.events import Events, Fatal, Result
from reconciler.spec.events import Node as Node
from reconciler.spec.events import Path as Path
from reconciler.spec.events import format_path as format_path

MAX_FILE_BYTES = 1024 * 1024

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(slots=True)
class File:
    """One successfully read file."""

    path: str
    order: int  # position among the files given
    value: Any
    node: Node
    surprises: list[tuple[Path, str]]  # YAML 1.1 reinterpretations: (path, message)
    problems: list[tuple[int, int, str]]  # non-fatal: (line, col, message)


class Reader:
    """Reads files one after another, sharing a cache of plain-scalar values between them."""

    def __init__(self) -> None:
        self.plain_cache: dict[str, tuple[Any, str | None]] = {}

    def read(self, text: str) -> Result:
        loader = _Loader(text)
        try:
            return Events(self.plain_cache).run(loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise Fatal(line, col, _syntax_message(exc, text, mark)) from None
        except yaml.YAMLError as exc:
            position = getattr(exc, "position", 0) or 0
            line = text.count("\n", 0, position) + 1
            col = position - (text.rfind("\n", 0, position) + 1) + 1
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise Fatal(line, col, f"invalid YAML: {first_line}; remove it") from None
        finally:
            loader.dispose()


def _syntax_message(exc: yaml.MarkedYAMLError, text: str, mark: Any) -> str:
    problem = (exc.problem or str(exc)).strip()
    context = f" ({exc.context.strip()})" if exc.context and exc.context != problem else ""
    message = f"invalid YAML: {problem}{context}"
    at = mark.index if mark is not None else -1
    line_text = text[text.rfind("\n", 0, max(at, 0)) + 1 : text.find("\n", max(at, 0))]
    if "\t" in problem or (0 <= at < len(text) and text[at] == "\t") or "\t" in line_text:
        message += "; indent with spaces, not tabs"
    else:
        message += "; check the indentation and quoting around here"
    return message


# --- reading files -------------------------------------------------------------------------------


def read_file(order: int, path: str, data: bytes, reader: Reader) -> tuple[File | None, list[str]]:
    """One file's bytes → a `File`, or the one fatal problem as a `path:line:col: ...` line."""
    if len(data) > MAX_FILE_BYTES:
        size = len(data) / MAX_FILE_BYTES
        return None, [
            f"{path}:1:1: the file is {size:.1f} MiB; spec files are limited to 1 MiB — "
            "split it into several files in a directory"
        ]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        return None, [
            f"{path}:{line}:{col}: the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
            "save it as UTF-8"
        ]
    try:
        value, node, surprises, problems = reader.read(text)
    except Fatal as fatal:
        return None, [f"{path}:{fatal.line}:{fatal.col}: {fatal.message}"]
    return File(path, order, value, node, surprises, problems), []


def locate(node: Node, path: Path, at_key: bool) -> tuple[Node, bool]:
    """The node at `path` (or the deepest one that exists) and whether all of it exists."""
    for index, step in enumerate(path):
        children = node[2]
        if isinstance(children, dict) and step in children:
            if at_key and index == len(path) - 1:
                line, col = node[3][step]
                return (line, col, str(step), True), True
            node = children[step]
        elif isinstance(children, list) and isinstance(step, int) and 0 <= step < len(children):
            node = children[step]
        else:
            return node, False
    return node, True
