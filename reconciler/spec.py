"""YAML text → `Spec` (desired resources), with file:line:column for every problem. Pure.

YAML is read from the C parser's event stream into plain values plus a mirror tree of line
marks, so every problem (schema ones included) points at the node that caused it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.errors import SpecError
from reconciler.model import (
    DesiredCluster,
    DesiredVolume,
    Ensure,
    Lifecycle,
    Location,
    Prune,
    Spec,
    freeze,
)
from reconciler.schema import (
    CLUSTER_TOOL_KEYS,
    LEGACY_DRIVER_VERSIONS,
    VOLUME_TOOL_KEYS,
    Issue,
    Path,
    check_documents,
    merge_cluster,
    translate_legacy,
)

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
#: Nodes that aliases may add by re-using anchored values (a billion-laughs guard).
MAX_ALIAS_NODES = 100_000

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE, _VALUE, _TIMESTAMP = (
    _YAML_TAG + t for t in ("str", "int", "float", "bool", "null", "merge", "value", "timestamp")
)
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})
_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
#: YAML 1.1 implicit types of plain scalars, without timestamps (they stay text as written).
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, rx) for tag, rx in rules if tag != _TIMESTAMP]
    for first, rules in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


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
class _File:
    """One successfully read file."""

    path: str
    order: int  # position among the files given
    value: Any
    node: Node
    surprises: list[tuple[Path, str]]  # YAML 1.1 reinterpretations: (path, message)
    problems: list[tuple[int, int, str]]  # non-fatal: (line, col, message)


def _shorten_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG) :] if tag.startswith(_YAML_TAG) else tag


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


class _Reader:
    """Builds values and marks from the parser's events, refusing what is not plain data."""

    def __init__(self) -> None:
        self.plain_cache: dict[str, tuple[Any, str | None]] = {}

    def read(
        self, text: str
    ) -> tuple[Any, Node, list[tuple[Path, str]], list[tuple[int, int, str]]]:
        loader = _Loader(text)
        try:
            return self._events(loader)
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

    def _events(  # noqa: C901 (split by the resource-kinds redesign)
        self, loader: Any
    ) -> tuple[Any, Node, list[tuple[Path, str]], list[tuple[int, int, str]]]:
        get_event = loader.get_event
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
        doc_start, stream_end = yaml.DocumentStartEvent, yaml.StreamEndEvent
        stack: list[_Frame] = []
        anchors: dict[str, tuple[Any, Node, int]] = {}
        surprises: list[tuple[Path, str]] = []
        problems: list[tuple[int, int, str]] = []
        root: tuple[Any, Node] | None = None
        alias_nodes = 0
        documents = 0
        resolve = self._resolve_plain

        def add(value: Any, node: Node, size: int, line: int, col: int) -> None:
            nonlocal root
            if not stack:
                root = (value, node)
                return
            top = stack[-1]
            top.size += size
            if not top.is_map:
                top.value.append(value)
                top.nodes.append(node)
                return
            key = top.key
            if key is None:  # the value is a key; only scalars reach here
                if not isinstance(node[2], str):
                    raise _Fatal(line, col, "mapping keys must be plain words, not collections")
                if node[3] and node[2] == "<<":
                    top.key = _MERGE_KEY
                elif node[2] in top.value:
                    first = top.keys[node[2]]
                    where = format_path((*_path_of(stack[:-1]), node[2]))
                    problems.append(
                        (
                            line,
                            col,
                            f"{where}: duplicate key '{node[2]}' (first at {first[0]}:{first[1]}); "
                            "YAML would silently keep only one — remove one of them",
                        )
                    )
                    top.key = _Skip(node[2])
                else:
                    top.key = node[2]
                    top.keys[node[2]] = (line, col)
                return
            top.key = None
            if key is _MERGE_KEY:
                top.merges.append((value, node))
                return
            if isinstance(key, _Skip):
                return
            top.value[key] = value
            top.nodes[key] = node

        def start(is_map: bool, event: Any) -> None:
            mark = event.start_mark
            line, col = mark.line + 1, mark.column + 1
            if stack and stack[-1].is_map and stack[-1].key is None:
                raise _Fatal(line, col, "mapping keys must be plain words, not collections")
            if len(stack) >= MAX_DEPTH:
                raise _Fatal(
                    line, col, f"nesting is deeper than {MAX_DEPTH} levels; flatten the spec"
                )
            tag = event.tag
            if tag is not None and tag != "!" and tag != _YAML_TAG + ("map" if is_map else "seq"):
                raise _Fatal(line, col, _tag_message(tag))
            if is_map:
                stack.append(_Frame(True, {}, {}, line, col, event.anchor))
            else:
                stack.append(_Frame(False, [], [], line, col, event.anchor))

        def end() -> None:
            frame = stack.pop()
            if frame.is_map:
                for merged, merged_node in frame.merges:
                    _merge_into(frame, merged, merged_node)
                node: Node = (frame.line, frame.col, frame.nodes, frame.keys)
            else:
                node = (frame.line, frame.col, frame.nodes)
            if frame.anchor is not None:
                anchors[frame.anchor] = (frame.value, node, frame.size)
            add(frame.value, node, frame.size, frame.line, frame.col)

        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                mark = event.start_mark
                line, col = mark.line + 1, mark.column + 1
                text = event.value
                tag = event.tag
                is_plain = bool(event.implicit[0]) and tag is None
                if stack and stack[-1].is_map and stack[-1].key is None:
                    if tag is not None and tag != "!" and tag not in _SCALAR_TAGS:
                        raise _Fatal(line, col, _tag_message(tag))
                    value: Any = text
                elif tag is None or tag == "!":
                    if is_plain:
                        value, surprise = resolve(text)
                        if surprise is not None:
                            surprises.append((_path_of(stack), surprise))
                    else:
                        value = text
                else:
                    value = self._construct_tagged(tag, text, line, col)
                node = (line, col, text, is_plain)
                if event.anchor is not None:
                    anchors[event.anchor] = (value, node, 1)
                add(value, node, 1, line, col)
            elif kind is map_start:
                start(True, event)
            elif kind is map_end or kind is seq_end:
                end()
            elif kind is seq_start:
                start(False, event)
            elif kind is alias_event:
                mark = event.start_mark
                line, col = mark.line + 1, mark.column + 1
                if event.anchor not in anchors:
                    raise _Fatal(
                        line,
                        col,
                        f"alias *{event.anchor} refers to no anchor defined before it",
                    )
                value, node, size = anchors[event.anchor]
                alias_nodes += size
                if alias_nodes > MAX_ALIAS_NODES:
                    raise _Fatal(
                        line,
                        col,
                        f"aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?); "
                        "write the values out or use defaults",
                    )
                add(value, node, size, line, col)
            elif kind is doc_start:
                documents += 1
                if documents > 1:
                    mark = event.start_mark
                    raise _Fatal(
                        mark.line + 1,
                        mark.column + 1,
                        "a second YAML document starts here; put one spec per file",
                    )
            elif kind is stream_end:
                break
        if root is None or root[0] is None:
            raise _Fatal(1, 1, "the file is empty; a spec needs version: 1 and clusters or volumes")
        return root[0], root[1], surprises, problems

    def _resolve_plain(self, text: str) -> tuple[Any, str | None]:
        cached = self.plain_cache.get(text)
        if cached is None:
            cached = self.plain_cache[text] = _resolve_plain(text)
        return cached

    @staticmethod
    def _construct_tagged(tag: str, text: str, line: int, col: int) -> Any:
        if tag == _STR:
            return text
        if tag not in _SCALAR_TAGS:
            raise _Fatal(line, col, _tag_message(tag))
        try:
            return _construct(tag, text)
        except (ValueError, yaml.YAMLError):
            raise _Fatal(line, col, f"{text!r} is not a valid {_shorten_tag(tag)}") from None


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


def _construct(tag: str, text: str) -> Any:
    node = yaml.ScalarNode(tag, text)
    if tag == _INT:
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == _FLOAT:
        return _CONSTRUCTOR.construct_yaml_float(node)
    if tag == _BOOL:
        if text.lower() not in ("yes", "no", "true", "false", "on", "off"):
            raise ValueError(text)
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if tag == _NULL:
        return None
    return text


def _resolve_plain(text: str) -> tuple[Any, str | None]:
    """A plain scalar's YAML 1.1 value, and a warning when 1.1 reads it surprisingly."""
    for tag, pattern in _RESOLVERS.get(text[:1], ()):
        if not pattern.match(text):
            continue
        if tag in (_MERGE, _VALUE):
            return text, None
        value = _construct(tag, text)
        if tag == _INT and _OCTAL.fullmatch(text):
            return value, (
                f"{text} is read as the octal number {value} by YAML 1.1; "
                f'write {int(text.replace("_", ""))} or quote it ("{text}") if it is text'
            )
        if tag in (_INT, _FLOAT) and ":" in text:
            return value, (
                f"{text} is read as the base-60 number {value} by YAML 1.1; "
                f'quote it ("{text}") if it is text'
            )
        return value, None
    return text, None


def _tag_message(tag: str) -> str:
    return f"the tag {_shorten_tag(tag)} is not allowed; specs are plain YAML data, remove it"


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


def _read_file(
    order: int, path: str, data: bytes, reader: _Reader
) -> tuple[_File | None, list[str]]:
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
    return _File(path, order, value, node, surprises, problems), []


def _locate(node: Node, path: Path, at_key: bool) -> tuple[Node, bool]:
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


def _value_at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _type_hint(value: Any, expected: tuple[str, ...], node: Node) -> str:
    """What to write instead, knowing how the value was written in YAML."""
    text, is_plain = (
        (node[2], node[3]) if isinstance(node[2], str) and len(node) == 4 else ("", False)
    )
    numeric = {"integer", "number"} & set(expected)
    if value is None and len(expected) == 1 and expected[0] in ("object", "array"):
        return "; it is empty: add entries or remove the key"
    if value is None:
        return "; write a value or remove the key"
    if "string" in expected and is_plain:
        what = "a boolean" if isinstance(value, bool) else "a number"
        return f'; YAML reads {text} as {what}: quote it: "{text}"'
    if numeric and isinstance(value, bool):
        return f"; YAML reads {text or value} as a boolean: write a number"
    if numeric and isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d+)?", value.strip()):
        return f"; remove the quotes: {value.strip()}"
    if "integer" in expected and isinstance(value, float) and value.is_integer():
        return f"; write {int(value)} (a whole number, no decimal point)"
    if "boolean" in expected and isinstance(value, str):
        if value.lower() in ("true", "false", "yes", "no", "on", "off"):
            return "; remove the quotes and write true or false"
        return "; write true or false"
    return ""


def _format_issue(files: Sequence[_File], issue: Issue) -> tuple[int, int, int, str]:
    file = files[issue.doc]
    node, complete = _locate(file.node, issue.path, issue.at_key)
    message = issue.message
    if issue.see is not None:
        other = files[issue.see[0]]
        see_node, _ = _locate(other.node, issue.see[1], False)
        message = message.replace("{see}", f"{other.path}:{see_node[0]}:{see_node[1]}")
    if issue.expected and complete:
        message += _type_hint(_value_at(file.value, issue.path), issue.expected, node)
    label = format_path(issue.path)
    text = (
        f"{file.path}:{node[0]}:{node[1]}: {label}: {message}"
        if label
        else (f"{file.path}:{node[0]}:{node[1]}: {message}")
    )
    return file.order, node[0], node[1], text


# --- the Spec ------------------------------------------------------------------------------------


def load_spec(files: Sequence[tuple[str, bytes]]) -> Spec:
    """Parse and validate spec files given as (display path, bytes); raise SpecError."""
    if not files:
        raise SpecError(["no spec files given; pass -f FILE or a directory of *.yaml files"])
    digest = hashlib.sha256()
    reader = _Reader()
    read: list[_File] = []
    problems: list[tuple[int, int, int, str]] = []
    failed = False
    for order, (path, data) in enumerate(files):
        encoded = path.encode("utf-8", "surrogateescape")
        digest.update(b"%d:%s\0%d:" % (len(encoded), encoded, len(data)))
        digest.update(data)
        file, fatal = _read_file(order, path, data, reader)
        failed = failed or bool(fatal)
        problems += [(order, 0, 0, p) for p in fatal]
        if file is not None:
            read.append(file)
            problems += [
                (order, ln, col, f"{path}:{ln}:{col}: {m}") for ln, col, m in file.problems
            ]
    documents = [f.value for f in read]
    issues = check_documents(documents)
    flagged = {(i.doc, i.path) for i in issues}
    for doc, file in enumerate(read):
        for where, surprise in file.surprises:
            if (doc, where) not in flagged:
                issues.append(Issue(doc, where, surprise))
    problems += [_format_issue(read, issue) for issue in issues]
    if not failed and not problems and not any(_declared(d) for d in documents):
        first = files[0][0]
        problems.append(
            (
                0,
                1,
                1,
                f"{first}:1:1: the spec declares no clusters and no volumes; an empty spec never "
                "means 'delete everything' — declare resources, or use ensure: absent to delete",
            )
        )
    if problems:
        # File order, then position; problems at one node keep the order they were found in.
        ordered = sorted(problems, key=lambda p: p[:3])
        raise SpecError(list(dict.fromkeys(_escape(text) for *_key, text in ordered)))
    return _build_spec(read, digest.hexdigest())


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(text: str) -> str:
    """One problem is one line: control characters from the spec are shown escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _declared(document: Any) -> bool:
    return isinstance(document, dict) and any(
        isinstance(document.get(k), list) and document[k] for k in ("clusters", "volumes")
    )


def _lifecycle(raw: Mapping[str, Any] | None) -> Lifecycle:
    raw = raw or {}
    return Lifecycle(
        prevent_destroy=bool(raw.get("prevent_destroy", False)),
        ignore_changes=tuple(raw.get("ignore_changes", ())),
        replace_on_change=bool(raw.get("replace_on_change", False)),
    )


def _legacy_warnings(file: _File, path: Path, raw: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    for key in ("driver_version", "auto_scaled", "gpu_node_failover_enabled"):
        if key not in raw:
            continue
        node, _ = _locate(file.node, (*path, key), True)
        where = f"{file.path}:{node[0]}:{node[1]}: {format_path((*path, key))}"
        if key == "driver_version":
            cuda, driver = LEGACY_DRIVER_VERSIONS[raw[key]]
            warnings.append(
                f'{where}: deprecated; read as cuda_version "{cuda}" + nvidia_driver_version '
                f'"{driver}" — write those instead'
            )
        elif key == "auto_scaled":
            warnings.append(f"{where}: deprecated; read as auto_scale — rename it")
        else:
            warnings.append(f"{where}: removed from the API; ignored and never sent — remove it")
    return warnings


def _build_spec(files: Sequence[_File], digest: str) -> Spec:
    """Valid documents → the frozen Spec (defaults merged, legacy names translated)."""
    clusters: list[DesiredCluster] = []
    volumes: list[DesiredVolume] = []
    warnings: list[str] = []
    project_id: str | None = None
    prune = Prune()
    for file in files:
        document: Mapping[str, Any] = file.value
        project_id = document.get("project_id", project_id)
        if "prune" in document:
            raw_prune = document["prune"]
            prune = Prune(bool(raw_prune.get("enabled", False)), raw_prune.get("name_prefix"))
        defaults: Mapping[str, Any] = document.get("defaults", {})
        warnings += _legacy_warnings(file, ("defaults",), defaults)
        for index, item in enumerate(document.get("volumes", ())):
            node, _ = _locate(file.node, ("volumes", index), False)
            volumes.append(
                DesiredVolume(
                    name=item["volume_name"],
                    fields=freeze({k: v for k, v in item.items() if k not in VOLUME_TOOL_KEYS}),
                    ensure=Ensure(item.get("ensure", "present")),
                    lifecycle=_lifecycle(item.get("lifecycle")),
                    location=Location(file.path, node[0], node[1]),
                )
            )
        for index, item in enumerate(document.get("clusters", ())):
            node, _ = _locate(file.node, ("clusters", index), False)
            warnings += _legacy_warnings(file, ("clusters", index), item)
            ensure = Ensure(item.get("ensure", "present"))
            merged = (
                merge_cluster(defaults, item)
                if ensure is Ensure.PRESENT
                else translate_legacy(item)
            )
            clusters.append(
                DesiredCluster(
                    name=item["cluster_name"],
                    fields=freeze({k: v for k, v in merged.items() if k not in CLUSTER_TOOL_KEYS}),
                    ensure=ensure,
                    lifecycle=_lifecycle(item.get("lifecycle")),
                    volume=merged.get("volume"),
                    location=Location(file.path, node[0], node[1]),
                )
            )
    return Spec(
        clusters=tuple(clusters),
        volumes=tuple(volumes),
        project_id=project_id,
        prune=prune,
        warnings=tuple(_escape(w) for w in warnings),
        digest=digest,
    )
