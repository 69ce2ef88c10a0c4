"""The spec's JSON Schema, loaded once: validators, and their errors as `Issue`s. Pure.

Works on plain parsed documents (one per file) and returns `Issue`s addressed by document
index and JSON path; `reconciler.spec` turns those into `file:line:col` lines. The rules JSON
Schema cannot express, and `check_documents`, live in `reconciler.spec.rules`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from reconciler.frozen import ATOMIC_TYPES
from reconciler.kinds import TOP_LEVEL, FieldClass
from reconciler.kinds.cluster import KIND as CLUSTER
from reconciler.schema_check import Validator

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Path = tuple[str | int, ...]

_SCHEMA_FILE = "clusters.schema.json"
PRICES_SCHEMA_FILE = "prices.schema.json"
_MISSING = object()


class Issue(Struct, frozen=True):
    """One problem, addressed by document index and JSON path inside that document.

    `at_key`: point at the key rather than the value (unknown fields). `expected`: the JSON
    types a type error wanted (`reconciler.spec` adds YAML hints). `see`: another place the
    message refers to, substituted for `{see}` by the caller.
    """

    doc: int
    path: Path
    message: str
    at_key: bool = False
    expected: tuple[str, ...] = ()
    see: tuple[int, Path] | None = None


# --- the schema, loaded once -------------------------------------------------------------------


@cache
def schema_text() -> str:
    """The schema file's text, as shipped in the wheel."""
    return resources.files("reconciler.schemas").joinpath(_SCHEMA_FILE).read_text("utf-8")


@cache
def schema() -> Mapping[str, Any]:
    """The parsed schema (treat as read-only)."""
    result: dict[str, Any] = json.loads(schema_text())
    return result


@cache
def prices_validator() -> Validator:
    """The prices file's validator (`prices.schema.json`, shipped like the spec's schema)."""
    text = resources.files("reconciler.schemas").joinpath(PRICES_SCHEMA_FILE).read_text("utf-8")
    node = json.loads(text)
    return Validator(node, node)


@cache
def validators() -> dict[str, Validator]:
    """Validators built once: the document skeleton, one list item, the merged-cluster rules.

    Clusters and volumes are validated item by item (see `ItemChecker`) so identical items
    are checked once; the skeleton validator sees the lists with `items: true`.
    """
    root = dict(schema())
    props = dict(root["properties"])
    defs = root["$defs"]
    built: dict[str, Validator] = {}
    for kind in TOP_LEVEL:
        props[kind.plural] = {**props[kind.plural], "items": True}
        item = defs[kind.name]
        built[kind.name] = Validator(item, item)
        name = item["properties"][kind.api.name_key]
        built[kind.api.name_key] = Validator(name, name)
        if rules_key(kind.name) in defs:
            rules = defs[rules_key(kind.name)]
            built[rules_key(kind.name)] = Validator(rules, rules)
    root["properties"] = props
    built["document"] = Validator(root, root)
    return built


def rules_key(kind: str) -> str:
    """`$defs.clusterRules`: the rules a kind's items must meet once defaults are merged."""
    return f"{kind}Rules"


@cache
def _rule_condition_fields(kind: str) -> tuple[str, ...]:
    """Fields whose values (not only presence) a kind's merged-item rules look at."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    found.update(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema()["$defs"][rules_key(kind)])
    return tuple(sorted(found))


# --- JSON Schema errors → issues -----------------------------------------------------------------


def did_you_mean(word: object, choices: Sequence[str]) -> str:
    text = str(word)
    by_fold = {c.casefold(): c for c in choices}
    if text.casefold() in by_fold:
        return f"; did you mean '{by_fold[text.casefold()]}'?"
    close = difflib.get_close_matches(text, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _show(value: Any) -> str:
    """A value as the user would write it in YAML (strings quoted)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def describe_value(value: Any) -> str:
    """'the string "8"', 'the number 8.0', 'the boolean true', 'an empty value (null)'."""
    if value is None:
        return "an empty value (null)"
    if isinstance(value, bool):
        return f"the boolean {_show(value)}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    return _show(value)


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "object": "a mapping (key: value lines)",
    "array": "a list",
    "null": "null",
}


def _issues_from_error(error: ValidationError, doc: int, prefix: Path) -> Iterator[Issue]:
    path: Path = prefix + tuple(error.absolute_path)
    keyword = error.validator
    value = error.instance
    rule: Any = error.validator_value
    sub: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    custom = sub.get("errorMessage")
    if keyword == "additionalProperties" and isinstance(value, dict):
        known = list(sub.get("properties", {}))
        for key in value:
            if key not in known:
                hint = _misplaced_hint(key, path) or did_you_mean(key, known)
                message = f"unknown field '{key}'{hint or '; remove it'}"
                yield Issue(doc, (*path, key), message, at_key=True)
    elif keyword == "required" and isinstance(value, dict):
        # jsonschema yields one error per missing field; one line names them all (the
        # repeats format identically and are dropped by the caller).
        missing = [field for field in rule if field not in value]
        noun = "field" if len(missing) == 1 else "fields"
        names = ", ".join(f"'{field}'" for field in missing)
        why = f" ({custom})" if custom else ""
        yield Issue(doc, path, f"missing required {noun} {names}{why}")
    elif keyword == "type":
        expected = (rule,) if isinstance(rule, str) else tuple(rule)
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in expected)
        yield Issue(doc, path, f"{describe_value(value)} is not {names}", expected=expected)
    elif keyword == "enum":
        allowed = [str(a) for a in rule]
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
        if (
            isinstance(value, str)
            and value in CLUSTER.names(FieldClass.CREATE_ONLY)
            and "ignore_changes" in path
        ):
            hint = f"; {value} is sent only on create and never compared: nothing to ignore"
        message = f"{_show(value)} is not one of the allowed values: {', '.join(allowed)}{hint}"
        yield Issue(doc, path, message)
    elif keyword == "const":
        yield Issue(doc, path, f"must be {_show(rule)}, not {_show(value)}")
    elif keyword == "multipleOf":
        yield Issue(doc, path, f"{value!r} is not a multiple of {rule}")
    elif keyword == "minimum":
        yield Issue(doc, path, f"{value!r} is less than the minimum of {rule}")
    elif keyword == "minLength":
        yield Issue(doc, path, "must not be empty")
    elif keyword == "pattern":
        reason = sub.get("patternErrorMessage", f"must match {rule}")
        yield Issue(doc, path, f"{_show(value)} {reason}")
    elif keyword == "uniqueItems":
        yield Issue(doc, path, "lists the same entry twice; remove the duplicate")
    elif custom:
        yield Issue(doc, path, str(custom))
    else:
        yield Issue(doc, path, error.message)


def _misplaced_hint(key: object, path: Path) -> str:
    """Hints for keys that exist elsewhere in the spec (e.g. a cluster field at the top)."""
    fields = schema()["$defs"]["cluster"]["properties"]
    if path == () and key in fields:
        return f"; '{key}' is a cluster field: put it under defaults or on each cluster"
    if len(path) == 1 and path[0] == "defaults" and key in fields:
        return f"; '{key}' cannot be a default: set it on each cluster"
    return ""


def validate(validator: Any, instance: Any, doc: int, prefix: Path) -> list[Issue]:
    issues: dict[Issue, None] = {}  # ordered set: one `required` error per missing field
    for error in validator.iter_errors(instance):
        issues.update(dict.fromkeys(_issues_from_error(error, doc, prefix)))
    return list(issues)


def _freeze_key(value: Any) -> Any:
    """A hashable twin of a JSON value that keeps types apart (8, 8.0 and true differ)."""
    kind = type(value)
    if kind in ATOMIC_TYPES:  # most values: no isinstance checks, no recursion
        return (kind, value)
    if isinstance(value, dict):
        return ("{", tuple([(k, _freeze_key(v)) for k, v in value.items()]))
    if isinstance(value, list):
        return ("[", tuple([_freeze_key(v) for v in value]))
    return (kind, value)


class ItemChecker:
    """Validates list items, each distinct shape once: items differ mostly by their name.

    The name is checked on its own and replaced by a fixed valid one for the cached check;
    the item schema has no rule that ties the name to another field.
    """

    def __init__(self, kind: str, name_key: str) -> None:
        built = validators()
        self._item = built[kind]
        self._name = built[name_key]
        self._name_key = name_key
        self._name_ok = plain_string_check(schema()["$defs"][kind]["properties"][name_key])
        self._cache: dict[Any, list[Issue]] = {}

    def check(self, item: Any, doc: int, prefix: Path) -> list[Issue]:
        if not isinstance(item, dict):
            return validate(self._item, item, doc, prefix)
        name = item.get(self._name_key, _MISSING)
        probe = item if name is _MISSING else {**item, self._name_key: "x"}
        try:
            types = tuple(map(type, probe.values()))  # flat items: a key made in C
            flat = ATOMIC_TYPES.issuperset(types)
            key = ("flat", tuple(probe.items()), types) if flat else _freeze_key(probe)
            relative = self._cache.get(key)
        except TypeError:  # unhashable (NaN-free JSON never is, but be safe)
            key, relative = None, None
        if relative is None:
            relative = validate(self._item, probe, 0, ())
            if key is not None:
                self._cache[key] = relative
        issues = [Issue(doc, prefix + i.path, i.message, i.at_key, i.expected) for i in relative]
        if name is not _MISSING and not (self._name_ok is not None and self._name_ok(name)):
            issues += validate(self._name, name, doc, (*prefix, self._name_key))
        return issues


#: Keywords `plain_string_check` knows (the rest are annotations or this schema's messages).
_PLAIN_STRING_KEYWORDS = {"type", "minLength", "maxLength", "pattern"}
_ANNOTATIONS = {"description", "patternErrorMessage"}


def plain_string_check(node: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """For a schema that is a string with length bounds and a pattern, and nothing else: a
    test that a value passes it, as JSON Schema reads those keywords (`re.search`, lengths in
    code points); a name is checked 10× faster than by the validator, which still words what
    is wrong. None for any other schema."""
    if node.get("type") != "string" or not node.keys() <= _PLAIN_STRING_KEYWORDS | _ANNOTATIONS:
        return None
    low, high = node.get("minLength", 0), node.get("maxLength")
    pattern = re.compile(node["pattern"]) if "pattern" in node else None

    def passes(value: Any) -> bool:
        return (
            isinstance(value, str)
            and low <= len(value)
            and (high is None or len(value) <= high)
            and (pattern is None or pattern.search(value) is not None)
        )

    return passes


# --- the merged-cluster rules ------------------------------------------------------------------


class RulesChecker:
    """A kind's merged-item rules of the schema (`$defs.clusterRules`), each case once."""

    def __init__(self, kind: str) -> None:
        self._rules = validators()[rules_key(kind)]
        self._conditions = _rule_condition_fields(kind)
        self._cache: dict[Any, list[Issue]] = {}

    def check(self, merged: Mapping[str, Any], doc: int, prefix: Path) -> list[Issue]:
        # The rules look only at which keys exist and at a few values: cache on exactly that.
        try:
            values = tuple(map(merged.get, self._conditions))  # absent: in frozenset(merged)
            types = tuple(map(type, values))
            key = (
                (frozenset(merged), values, types)
                if ATOMIC_TYPES.issuperset(types)
                else (
                    frozenset(merged),
                    tuple(_freeze_key(merged.get(f, _MISSING)) for f in self._conditions),
                )
            )
            relative = self._cache.get(key)
        except TypeError:
            key, relative = None, None
        if relative is None:
            relative = validate(self._rules, dict(merged), 0, ())
            if key is not None:
                self._cache[key] = relative
        return [Issue(doc, prefix, _with_hint(i.message)) for i in relative]


def _with_hint(message: str) -> str:
    if message.startswith("missing required field "):
        return f"{message}; set it on the cluster or in defaults"
    if message.startswith("missing required fields "):
        return f"{message}; set them on the cluster or in defaults"
    return message
