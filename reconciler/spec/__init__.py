"""YAML text → `Spec` (desired resources), with file:line:column for every problem. Pure.

`reader` reads YAML into plain values plus a mirror tree of line marks, so every problem
(schema ones included) points at the node that caused it; `rules` checks the documents (with
`reconciler.schema`); `build` turns the valid ones into model values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import SpecError
from reconciler.kinds import TOP_LEVEL
from reconciler.kinds.base import SpecWarnings
from reconciler.model import Spec
from reconciler.schema import Issue
from reconciler.spec.build import build_spec, spec_settings
from reconciler.spec.prices import check_prices_file, is_prices_document
from reconciler.spec.reader import File, Node, Path, Reader, format_path, locate, read_file
from reconciler.spec.rules import MergedItems, check_documents

__all__ = ["CheckedSpec", "check_spec", "format_path", "load_spec"]


def load_spec(files: Sequence[tuple[str, bytes]]) -> Spec:
    """Parse and validate spec files given as (display path, bytes); raise SpecError."""
    return check_spec(files).build()


class CheckedSpec:
    """Spec files read and checked, not yet built into a `Spec`: what the plan needs before
    its first API call (the project, the prices file) is known, and the build (a tenth of a
    second for 10,000 clusters) can run while the API answers. `build` once: it lets go of the
    files' trees, which would otherwise stay alive through the list answer (15 MiB)."""

    def __init__(
        self,
        files: Sequence[File],
        digest: str,
        merged: MergedItems,
        warnings: list[str] | None = None,
    ) -> None:
        """`warnings`: the files' warnings when they were worked out already (else here)."""
        self._files: Sequence[File] | None = files
        self._merged: MergedItems | None = merged
        self.digest = digest
        self.project_id, self.prices = spec_settings(files)
        if warnings is None:
            warnings = [_escape(w) for w in _legacy_warnings(files)]
        self.warnings = warnings

    @property
    def files(self) -> Sequence[File]:
        """The files as read (until `build`)."""
        if self._files is None:
            raise RuntimeError("a checked spec is built once")
        return self._files

    def build(self) -> Spec:
        if self._files is None or self._merged is None:
            raise RuntimeError("a checked spec is built once")
        files, merged = self._files, self._merged
        self._files = self._merged = None
        return build_spec(files, self.digest, self.warnings, merged)


def check_spec(files: Sequence[tuple[str, bytes]]) -> CheckedSpec:
    """Parse and validate spec files given as (display path, bytes); raise SpecError."""
    if not files:
        raise SpecError(["no spec files given; pass -f FILE or a directory of *.yaml files"])
    digest = hashlib.sha256()
    reader = Reader()
    read: list[File] = []
    problems: list[tuple[int, int, int, str]] = []
    failed = False
    for order, (path, data) in enumerate(files):
        encoded = path.encode("utf-8", "surrogateescape")
        digest.update(b"%d:%s\0%d:" % (len(encoded), encoded, len(data)))
        digest.update(data)
        file, fatal = read_file(order, path, data, reader)
        failed = failed or bool(fatal)
        problems += [(order, 0, 0, p) for p in fatal]
        if file is not None and is_prices_document(file.value):
            # A prices file next to the specs (`-f specs/`): checked as one, not a spec.
            problems += [(order, ln, col, text) for ln, col, text in check_prices_file(file)]
        elif file is not None:
            read.append(file)
            problems += [
                (order, ln, col, f"{path}:{ln}:{col}: {m}") for ln, col, m in file.problems
            ]
    documents = [f.value for f in read]
    merged = MergedItems()
    issues = check_documents(documents, merged)
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
    return CheckedSpec(read, digest.hexdigest(), merged)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(text: str) -> str:
    """One problem is one line: control characters from the spec are shown escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _declared(document: Any) -> bool:
    return isinstance(document, dict) and any(
        isinstance(document.get(k.plural), list) and document[k.plural] for k in TOP_LEVEL
    )


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


def _format_issue(files: Sequence[File], issue: Issue) -> tuple[int, int, int, str]:
    file = files[issue.doc]
    node, complete = locate(file.node, issue.path, issue.at_key)
    message = issue.message
    if issue.see is not None:
        other = files[issue.see[0]]
        see_node, _ = locate(other.node, issue.see[1], False)
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


def _legacy_warnings(files: Sequence[File]) -> list[str]:
    """Older field names, in file order: each file's defaults first, then its items."""
    warnings: list[str] = []
    for file in files:
        document: Mapping[str, Any] = file.value
        for kind in TOP_LEVEL:
            check = kind.hooks.spec_warnings
            if check is None:
                continue
            warnings += _warnings_at(check, file, ("defaults",), document.get("defaults", {}))
            for index, item in enumerate(document.get(kind.plural, ())):
                warnings += _warnings_at(check, file, (kind.plural, index), item)
    return warnings


def _warnings_at(check: SpecWarnings, file: File, path: Path, raw: Mapping[str, Any]) -> list[str]:
    warnings: list[str] = []
    for key, message in check(raw):
        node, _ = locate(file.node, (*path, key), True)
        warnings.append(f"{file.path}:{node[0]}:{node[1]}: {format_path((*path, key))}: {message}")
    return warnings
