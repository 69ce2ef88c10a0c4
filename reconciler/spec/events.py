"""The parser's events → one file's plain values plus a mirror tree of marks, for `reader`. Pure.

Refuses what is not plain data (tags, alias bombs, deep nesting, collections as keys, several
documents) and reports duplicate keys and YAML 1.1 surprises. Runs once per event of a
10,000-cluster spec (80,000 events): the common case, a plain key or value in a mapping, is
handled without a further call, and the collection being read lives in attributes.
"""

from __future__ import annotations

from typing import Any

import yaml
from msgspec import Struct

from reconciler.spec.scalars import (
    SCALAR_TAGS,
    STR_TAG,
    YAML_TAG,
    construct,
    resolve_plain,
    shorten_tag,
    tag_message,
)

MAX_DEPTH = 32
#: Nodes that aliases may add by re-using anchored values (a billion-laughs guard).
MAX_ALIAS_NODES = 100_000

#: A JSON path inside one document: ("clusters", 2, "num_gpus").
Path = tuple[str | int, ...]

# --- the mirror tree of marks ------------------------------------------------------------------
# A node is a tuple, for speed: scalar (line, col, text, is_plain); mapping (line, col,
# {key: node}, {key: (line, col) of the key}); sequence (line, col, [node, ...]).
Node = tuple[Any, ...]

#: What a file reads to: (value, node, surprises as (path, message), problems as (line, col,
#: message)).
Result = tuple[Any, Node, list[tuple[Path, str]], list[tuple[int, int, str]]]


class Fatal(Exception):
    """Stops reading one file: (line, col, message)."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


class _Skip(Struct, frozen=True):
    """Pending value of a duplicate key: read, then dropped."""

    name: str


_MERGE_KEY = _Skip("<<")  # pending value of `<<`: merged at the end of its mapping


class _Sequence:
    """The `key` of a sequence being read: its values are appended."""


_SEQ = _Sequence()


def format_path(path: Path) -> str:
    """("clusters", 2, "num_gpus") → "clusters[2].num_gpus"."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


class Events:
    """Builds one file's values and marks from the parser's events, one handler per event type.

    The collection being read is `items` (a dict or a list), its nodes `nodes`, a mapping's
    key marks `keys` (None for a sequence) and `key`: a mapping's pending key (None while it
    expects a key, or a `_Skip`), `_SEQ` for a sequence. Each open collection's parent is saved
    on `stack` as (items, nodes, keys, key, line, col, anchor, total at start); below the
    document's root is a list that receives it. `total` counts the nodes read (a collection's
    size, for the alias guard, is `total` at its end minus `total` at its start).
    """

    __slots__ = (
        "alias_nodes",
        "anchors",
        "cache",
        "documents",
        "items",
        "key",
        "keys",
        "merges",
        "nodes",
        "problems",
        "stack",
        "surprises",
        "total",
    )

    def __init__(self, cache: dict[str, tuple[Any, str | None]]) -> None:
        self.cache = cache  # plain scalars' values and surprises, shared between files
        self.stack: list[tuple[Any, ...]] = []
        self.items: Any = []
        self.nodes: Any = []
        self.keys: dict[str, tuple[int, int]] | None = None
        self.key: Any = _SEQ
        self.merges: dict[int, list[tuple[Any, Node]]] = {}  # pending `<<` values, by depth
        self.total = self.alias_nodes = self.documents = 0
        self.anchors: dict[str, tuple[Any, Node, int]] = {}
        self.surprises: list[tuple[Path, str]] = []
        self.problems: list[tuple[int, int, str]] = []

    def run(self, loader: Any) -> Result:
        get_event, on_scalar, start, on_end = (
            loader.get_event,
            self.on_scalar,
            self.start,
            self.on_end,
        )
        scalar, mapping, sequence = (
            yaml.ScalarEvent,
            yaml.MappingStartEvent,
            yaml.SequenceStartEvent,
        )
        ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        alias, document, stream_end = yaml.AliasEvent, yaml.DocumentStartEvent, yaml.StreamEndEvent
        while True:
            event = get_event()
            kind = event.__class__
            if kind is scalar:
                on_scalar(event)
            elif kind is mapping:
                start(True, event)
            elif kind in ends:
                on_end()
            elif kind is sequence:
                start(False, event)
            elif kind is alias:
                self.on_alias(event)
            elif kind is document:
                self.on_document_start(event)
            elif kind is stream_end:
                break
        roots, nodes = self.items, self.nodes
        if not roots or roots[-1] is None:
            raise Fatal(1, 1, "the file is empty; a spec needs version: 1 and clusters or volumes")
        return roots[-1], nodes[-1], self.surprises, self.problems

    # --- one handler per event type ------------------------------------------------------------

    def on_scalar(self, event: Any) -> None:
        mark = event.start_mark
        line, col, text = mark.line + 1, mark.column + 1, event.value
        self.total += 1
        key = self.key
        if event.tag is not None or event.anchor is not None:
            self.scalar(event, line, col, text)
        elif key is None:  # a key
            if text in self.items or text == "<<":
                self.add_key((line, col, text, bool(event.implicit[0])), line, col)
            else:
                self.keys[text] = (line, col)  # type: ignore[index]
                self.key = text
        elif event.implicit[0]:  # a plain value
            found = self.cache.get(text)
            if found is None:
                found = self.cache[text] = resolve_plain(text)
            if found[1] is not None:
                self.surprises.append((self.path(), found[1]))
            if key.__class__ is str:
                self.items[key] = found[0]
                self.nodes[key] = (line, col, text, True)
                self.key = None
            else:
                self.add(found[0], (line, col, text, True), line, col)
        elif key.__class__ is str:  # a quoted value
            self.items[key] = text
            self.nodes[key] = (line, col, text, False)
            self.key = None
        else:
            self.add(text, (line, col, text, False), line, col)

    def scalar(self, event: Any, line: int, col: int, text: str) -> None:
        """A scalar with a tag or an anchor."""
        tag = event.tag
        is_plain = bool(event.implicit[0]) and tag is None
        if self.key is None:
            if tag is not None and tag != "!" and tag not in SCALAR_TAGS:
                raise Fatal(line, col, tag_message(tag))
            value: Any = text
        elif tag is None or tag == "!":
            if is_plain:
                found = self.cache.get(text)
                if found is None:
                    found = self.cache[text] = resolve_plain(text)
                value = found[0]
                if found[1] is not None:
                    self.surprises.append((self.path(), found[1]))
            else:
                value = text
        else:
            value = _construct_tagged(tag, text, line, col)
        node = (line, col, text, is_plain)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, node, 1)
        self.add(value, node, line, col)

    def start(self, is_map: bool, event: Any) -> None:
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if self.key is None:
            raise Fatal(line, col, "mapping keys must be plain words, not collections")
        stack = self.stack
        if len(stack) >= MAX_DEPTH:
            raise Fatal(line, col, f"nesting is deeper than {MAX_DEPTH} levels; flatten the spec")
        tag, anchor = event.tag, event.anchor
        if tag is not None and tag != "!" and tag != YAML_TAG + ("map" if is_map else "seq"):
            raise Fatal(line, col, tag_message(tag))
        stack.append((self.items, self.nodes, self.keys, self.key, line, col, anchor, self.total))
        if is_map:
            self.items, self.nodes, self.keys, self.key = {}, {}, {}, None
        else:
            self.items, self.nodes, self.keys, self.key = [], [], None, _SEQ
        self.total += 1

    def on_end(self) -> None:
        items, nodes, keys, stack = self.items, self.nodes, self.keys, self.stack
        if self.merges and len(stack) in self.merges:
            for merged, merged_node in self.merges.pop(len(stack)):
                self.total += _merge_into(items, nodes, keys, merged, merged_node)  # type: ignore[arg-type]
        parent, parent_nodes, self.keys, key, line, col, anchor, begin = stack.pop()
        node: Node = (line, col, nodes, keys) if keys is not None else (line, col, nodes)
        if anchor is not None:
            self.anchors[anchor] = (items, node, self.total - begin)
        self.items, self.nodes = parent, parent_nodes
        if key is _SEQ:
            self.key = key
            parent.append(items)
            parent_nodes.append(node)
        elif key.__class__ is str:
            parent[key] = items
            parent_nodes[key] = node
            self.key = None
        else:
            self.key = key
            self.add(items, node, line, col)

    def on_alias(self, event: Any) -> None:
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        if event.anchor not in self.anchors:
            raise Fatal(line, col, f"alias *{event.anchor} refers to no anchor defined before it")
        value, node, size = self.anchors[event.anchor]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise Fatal(
                line,
                col,
                f"aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?); "
                "write the values out or use defaults",
            )
        self.total += size
        self.add(value, node, line, col)

    def on_document_start(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            mark = event.start_mark
            raise Fatal(
                mark.line + 1,
                mark.column + 1,
                "a second YAML document starts here; put one spec per file",
            )

    # --- building the tree ---------------------------------------------------------------------

    def add(self, value: Any, node: Node, line: int, col: int) -> None:
        """Puts a value (counted in `total` already) into the collection being read."""
        key = self.key
        if key is _SEQ:
            self.items.append(value)
            self.nodes.append(node)
        elif key is None:  # the value is a key
            self.add_key(node, line, col)
        elif key is _MERGE_KEY:
            self.key = None
            self.merges.setdefault(len(self.stack), []).append((value, node))
        elif isinstance(key, _Skip):
            self.key = None
        else:
            self.key = None
            self.items[key] = value
            self.nodes[key] = node

    def add_key(self, node: Node, line: int, col: int) -> None:
        name = node[2]
        if not isinstance(name, str):
            raise Fatal(line, col, "mapping keys must be plain words, not collections")
        if node[3] and name == "<<":
            self.key = _MERGE_KEY
        elif name in self.items:
            first = self.keys[name]  # type: ignore[index]
            where = format_path((*self.parents_path(), name))
            self.problems.append(
                (
                    line,
                    col,
                    f"{where}: duplicate key '{name}' (first at {first[0]}:{first[1]}); "
                    "YAML would silently keep only one — remove one of them",
                )
            )
            self.key = _Skip(name)
        else:
            self.key = name
            self.keys[name] = (line, col)  # type: ignore[index]

    def parents_path(self) -> Path:
        """The path of the collection being read."""
        return tuple(_step(saved[0], saved[3]) for saved in self.stack[1:])

    def path(self) -> Path:
        """The path of the value being read."""
        return (*self.parents_path(), _step(self.items, self.key)) if self.stack else ()


def _step(items: Any, key: Any) -> str | int:
    if key is _SEQ:
        return len(items)
    return key.name if isinstance(key, _Skip) else key


def _construct_tagged(tag: str, text: str, line: int, col: int) -> Any:
    if tag == STR_TAG:
        return text
    if tag not in SCALAR_TAGS:
        raise Fatal(line, col, tag_message(tag))
    try:
        return construct(tag, text)
    except (ValueError, IndexError, yaml.YAMLError):  # IndexError: `!!int` of nothing
        raise Fatal(line, col, f"{text!r} is not a valid {shorten_tag(tag)}") from None


def _merge_into(
    items: dict[str, Any],
    nodes: dict[str, Node],
    keys: dict[str, tuple[int, int]],
    merged: Any,
    node: Node,
) -> int:
    """`<<: *anchor` (or a list of them): copy keys the mapping does not set itself; how many."""
    sources = (
        list(zip(merged, node[2], strict=True)) if isinstance(merged, list) else [(merged, node)]
    )
    count = 0
    for source, source_node in sources:
        if not isinstance(source, dict):
            raise Fatal(node[0], node[1], "'<<' must merge a mapping or a list of mappings")
        for key, value in source.items():
            if key not in items:
                items[key] = value
                nodes[key] = source_node[2][key]
                keys[key] = source_node[3][key]
                count += 1
    return count
