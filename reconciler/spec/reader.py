"""Safe YAML reading with positions: bytes → plain values plus a mirror tree of marks. Pure.

Knows nothing of reconciler: it refuses what is not plain data (tags, bombs, deep nesting,
duplicate keys, several documents) and reports every problem as (line, col, message).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.spec.scalars import (
    SCALAR_TAGS,
    STR_TAG,
    YAML_TAG,
    construct,
    resolve_plain,
    shorten_tag,
    tag_message,
)

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
#: Nodes that aliases may add by re-using anchored values (a billion-laughs guard).
MAX_ALIAS_NODES = 100_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: A JSON path inside one document: ("clusters", 2, "num_gpus").
Path = tuple[str | int, ...]

# --- the mirror tree of marks ------------------------------------------------------------------
# A node is a tuple, for speed: scalar (line, col, text, is_plain); mapping (line, col,
# {key: node}, {key: (line, col) of the key}); sequence (line, col, [node, ...]).
Node = tuple[Any, ...]


class _Fatal(Exception):
    """Stops reading one file: (line, col, message)."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


@dataclass(slots=True)
class _Frame:
    is_map: bool
    value: Any
    nodes: Any
    line: int
    col: int
    anchor: str | None
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)
    key: Any = None  # the pending key of a mapping (None: expecting a key)
    size: int = 1
    merges: list[tuple[Any, Node]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Skip:
    """Pending value of a duplicate key: read, then dropped."""

    name: str


_MERGE_KEY = _Skip("<<")  # pending value of `<<`: merged at the end of its mapping


@dataclass(slots=True)
class File:
    """One successfully read file."""

    path: str
    order: int  # position among the files given
    value: Any
    node: Node
    surprises: list[tuple[Path, str]]  # YAML 1.1 reinterpretations: (path, message)
    problems: list[tuple[int, int, str]]  # non-fatal: (line, col, message)


def _path_of(stack: list[_Frame]) -> Path:
    return tuple(
        (f.key.name if isinstance(f.key, _Skip) else f.key) if f.is_map else len(f.value)
        for f in stack
    )


def format_path(path: Path) -> str:
    """("clusters", 2, "num_gpus") → "clusters[2].num_gpus"."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


class Reader:
    """Reads files one after another, sharing a cache of plain-scalar values between them."""

    def __init__(self) -> None:
        self.plain_cache: dict[str, tuple[Any, str | None]] = {}

    def read(
        self, text: str
    ) -> tuple[Any, Node, list[tuple[Path, str]], list[tuple[int, int, str]]]:
        loader = _Loader(text)
        try:
            return _Events(self._resolve_plain).run(loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise _Fatal(line, col, _syntax_message(exc, text, mark)) from None
        except yaml.YAMLError as exc:
            position = getattr(exc, "position", 0) or 0
            line = text.count("\n", 0, position) + 1
            col = position - (text.rfind("\n", 0, position) + 1) + 1
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise _Fatal(line, col, f"invalid YAML: {first_line}; remove it") from None
        finally:
            loader.dispose()

    def _resolve_plain(self, text: str) -> tuple[Any, str | None]:
        cached = self.plain_cache.get(text)
        if cached is None:
            cached = self.plain_cache[text] = resolve_plain(text)
        return cached


class _Events:
    """Builds one file's values and marks from the parser's events, one handler per event type."""

    def __init__(self, resolve: Callable[[str], tuple[Any, str | None]]) -> None:
        self.resolve = resolve
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, Node, int]] = {}
        self.surprises: list[tuple[Path, str]] = []
        self.problems: list[tuple[int, int, str]] = []
        self.root: tuple[Any, Node] | None = None
        self.alias_nodes = 0
        self.documents = 0

    def run(
        self, loader: Any
    ) -> tuple[Any, Node, list[tuple[Path, str]], list[tuple[int, int, str]]]:
        handlers: dict[type, Callable[[Any], None]] = {
            yaml.ScalarEvent: self.on_scalar,
            yaml.MappingStartEvent: self.on_mapping_start,
            yaml.MappingEndEvent: self.on_end,
            yaml.SequenceStartEvent: self.on_sequence_start,
            yaml.SequenceEndEvent: self.on_end,
            yaml.AliasEvent: self.on_alias,
            yaml.DocumentStartEvent: self.on_document_start,
        }
        get_event, stream_end = loader.get_event, yaml.StreamEndEvent
        while True:
            event = get_event()
            kind = type(event)
            if kind is stream_end:
                break
            handler = handlers.get(kind)
            if handler is not None:
                handler(event)
        if self.root is None or self.root[0] is None:
            raise _Fatal(1, 1, "the file is empty; a spec needs version: 1 and clusters or volumes")
        return self.root[0], self.root[1], self.surprises, self.problems

    # --- one handler per event type ------------------------------------------------------------

    def on_scalar(self, event: Any) -> None:
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        text = event.value
        tag = event.tag
        is_plain = bool(event.implicit[0]) and tag is None
        stack = self.stack
        if stack and stack[-1].is_map and stack[-1].key is None:
            if tag is not None and tag != "!" and tag not in SCALAR_TAGS:
                raise _Fatal(line, col, tag_message(tag))
            value: Any = text
        elif tag is None or tag == "!":
            if is_plain:
                value, surprise = self.resolve(text)
                if surprise is not None:
                    self.surprises.append((_path_of(stack), surprise))
            else:
                value = text
        else:
            value = self._construct_tagged(tag, text, line, col)
        node = (line, col, text, is_plain)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, node, 1)
        self.add(value, node, 1, line, col)

    def on_mapping_start(self, event: Any) -> None:
        self.start(True, event)

    def on_sequence_start(self, event: Any) -> None:
        self.start(False, event)

    def on_end(self, _event: Any) -> None:
        frame = self.stack.pop()
        if frame.is_map:
            for merged, merged_node in frame.merges:
                _merge_into(frame, merged, merged_node)
            node: Node = (frame.line, frame.col, frame.nodes, frame.keys)
        else:
            node = (frame.line, frame.col, frame.nodes)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (frame.value, node, frame.size)
        self.add(frame.value, node, frame.size, frame.line, frame.col)

    def on_alias(self, event: Any) -> None:
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if event.anchor not in self.anchors:
            raise _Fatal(
                line,
                col,
                f"alias *{event.anchor} refers to no anchor defined before it",
            )
        value, node, size = self.anchors[event.anchor]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise _Fatal(
                line,
                col,
                f"aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?); "
                "write the values out or use defaults",
            )
        self.add(value, node, size, line, col)

    def on_document_start(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            mark = event.start_mark
            raise _Fatal(
                mark.line + 1,
                mark.column + 1,
                "a second YAML document starts here; put one spec per file",
            )

    # --- building the tree ---------------------------------------------------------------------

    def start(self, is_map: bool, event: Any) -> None:
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        stack = self.stack
        if stack and stack[-1].is_map and stack[-1].key is None:
            raise _Fatal(line, col, "mapping keys must be plain words, not collections")
        if len(stack) >= MAX_DEPTH:
            raise _Fatal(line, col, f"nesting is deeper than {MAX_DEPTH} levels; flatten the spec")
        tag = event.tag
        if tag is not None and tag != "!" and tag != YAML_TAG + ("map" if is_map else "seq"):
            raise _Fatal(line, col, tag_message(tag))
        if is_map:
            stack.append(_Frame(True, {}, {}, line, col, event.anchor))
        else:
            stack.append(_Frame(False, [], [], line, col, event.anchor))

    def add(self, value: Any, node: Node, size: int, line: int, col: int) -> None:
        stack = self.stack
        if not stack:
            self.root = (value, node)
            return
        top = stack[-1]
        top.size += size
        if not top.is_map:
            top.value.append(value)
            top.nodes.append(node)
            return
        key = top.key
        if key is None:  # the value is a key; only scalars reach here
            self.add_key(top, node, line, col)
            return
        top.key = None
        if key is _MERGE_KEY:
            top.merges.append((value, node))
            return
        if isinstance(key, _Skip):
            return
        top.value[key] = value
        top.nodes[key] = node

    def add_key(self, top: _Frame, node: Node, line: int, col: int) -> None:
        name = node[2]
        if not isinstance(name, str):
            raise _Fatal(line, col, "mapping keys must be plain words, not collections")
        if node[3] and name == "<<":
            top.key = _MERGE_KEY
        elif name in top.value:
            first = top.keys[name]
            where = format_path((*_path_of(self.stack[:-1]), name))
            self.problems.append(
                (
                    line,
                    col,
                    f"{where}: duplicate key '{name}' (first at {first[0]}:{first[1]}); "
                    "YAML would silently keep only one — remove one of them",
                )
            )
            top.key = _Skip(name)
        else:
            top.key = name
            top.keys[name] = (line, col)

    @staticmethod
    def _construct_tagged(tag: str, text: str, line: int, col: int) -> Any:
        if tag == STR_TAG:
            return text
        if tag not in SCALAR_TAGS:
            raise _Fatal(line, col, tag_message(tag))
        try:
            return construct(tag, text)
        except (ValueError, yaml.YAMLError):
            raise _Fatal(line, col, f"{text!r} is not a valid {shorten_tag(tag)}") from None


def _merge_into(frame: _Frame, merged: Any, node: Node) -> None:
    """`<<: *anchor` (or a list of them): copy keys the mapping does not set itself."""
    sources = (
        list(zip(merged, node[2], strict=True)) if isinstance(merged, list) else [(merged, node)]
    )
    for source, source_node in sources:
        if not isinstance(source, dict):
            raise _Fatal(node[0], node[1], "'<<' must merge a mapping or a list of mappings")
        for key, value in source.items():
            if key not in frame.value:
                frame.value[key] = value
                frame.nodes[key] = source_node[2][key]
                frame.keys[key] = source_node[3][key]
                frame.size += 1


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
    except _Fatal as fatal:
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
