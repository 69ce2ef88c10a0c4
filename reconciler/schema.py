"""The spec's JSON Schema, loaded once, and the rules JSON Schema cannot express. Pure.

Works on plain parsed documents (one per file) and returns `Issue`s addressed by document
index and JSON path; `spec.py` turns those into `file:line:col` lines.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeGuard

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from reconciler.model import CLUSTER_CREATE_ONLY_FIELDS

Path = tuple[str | int, ...]

#: Deprecated `driver_version` values → (cuda_version, nvidia_driver_version).
LEGACY_DRIVER_VERSIONS: Mapping[str, tuple[str, str]] = {
    "CUDA_12_5_555": ("12.5", "555"),
    "CUDA_12_6_560": ("12.6", "560"),
    "CUDA_12_6_565": ("12.6", "565"),
    "CUDA_12_8_570": ("12.8", "570"),
}
#: Keys of a cluster entry that are the tool's, not the API's.
CLUSTER_TOOL_KEYS: frozenset[str] = frozenset({"cluster_name", "ensure", "lifecycle", "volume"})
VOLUME_TOOL_KEYS: frozenset[str] = frozenset({"volume_name", "ensure", "lifecycle"})

_SCHEMA_FILE = "clusters.schema.json"
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, addressed by document index and JSON path inside that document.

    `at_key`: point at the key rather than the value (unknown fields). `expected`: the JSON
    types a type error wanted (spec.py adds YAML hints). `see`: another place the message
    refers to, substituted for `{see}` by the caller.
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


def _is_strict_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 8.0 as an integer; the API and YAML readers do not.
    return isinstance(instance, int) and not isinstance(instance, bool)


#: Draft 2020-12 with integers that are ints only (8.0 is reported, not sent as a float).
SpecValidator: Any = extend(  # type: ignore[no-untyped-call]  # jsonschema leaves it untyped
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


@cache
def _validators() -> dict[str, Any]:
    """Validators built once: the document skeleton, one list item, the merged-cluster rules.

    Clusters and volumes are validated item by item (see `_ItemChecker`) so identical items
    are checked once; the skeleton validator sees the lists with `items: true`.
    """
    root = dict(schema())
    props = dict(root["properties"])
    for key in ("clusters", "volumes"):
        props[key] = {**props[key], "items": True}
    root["properties"] = props
    defs = root["$defs"]
    return {
        "document": SpecValidator(root),
        "cluster": SpecValidator(defs["cluster"]),
        "cluster_name": SpecValidator(defs["cluster"]["properties"]["cluster_name"]),
        "volume": SpecValidator(defs["volume"]),
        "volume_name": SpecValidator(defs["volume"]["properties"]["volume_name"]),
        "rules": SpecValidator(defs["clusterRules"]),
    }


@cache
def _rule_condition_fields() -> tuple[str, ...]:
    """Fields whose values (not only presence) the merged-cluster rules look at."""
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

    walk(schema()["$defs"]["clusterRules"])
    return tuple(sorted(found))


# --- JSON Schema errors → issues -----------------------------------------------------------------


def _did_you_mean(word: object, choices: Sequence[str]) -> str:
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
                hint = _misplaced_hint(key, path) or _did_you_mean(key, known)
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
        hint = _did_you_mean(value, allowed) if isinstance(value, str) else ""
        if (
            isinstance(value, str)
            and value in CLUSTER_CREATE_ONLY_FIELDS
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


def _validate(validator: Any, instance: Any, doc: int, prefix: Path) -> list[Issue]:
    issues: dict[Issue, None] = {}  # ordered set: one `required` error per missing field
    for error in validator.iter_errors(instance):
        issues.update(dict.fromkeys(_issues_from_error(error, doc, prefix)))
    return list(issues)


def _freeze_key(value: Any) -> Any:
    """A hashable twin of a JSON value that keeps types apart (8, 8.0 and true differ)."""
    if isinstance(value, dict):
        return ("{", tuple((k, _freeze_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[", tuple(_freeze_key(v) for v in value))
    return (type(value), value)


class _ItemChecker:
    """Validates list items, each distinct shape once: items differ mostly by their name.

    The name is checked on its own and replaced by a fixed valid one for the cached check;
    the item schema has no rule that ties the name to another field.
    """

    def __init__(self, kind: str, name_key: str) -> None:
        validators = _validators()
        self._item = validators[kind]
        self._name = validators[name_key]
        self._name_key = name_key
        self._cache: dict[Any, list[Issue]] = {}

    def check(self, item: Any, doc: int, prefix: Path) -> list[Issue]:
        if not isinstance(item, dict):
            return _validate(self._item, item, doc, prefix)
        name = item.get(self._name_key, _MISSING)
        probe = item if name is _MISSING else {**item, self._name_key: "x"}
        try:
            key = _freeze_key(probe)
            relative = self._cache.get(key)
        except TypeError:  # unhashable (NaN-free JSON never is, but be safe)
            key, relative = None, None
        if relative is None:
            relative = _validate(self._item, probe, 0, ())
            if key is not None:
                self._cache[key] = relative
        issues = [Issue(doc, prefix + i.path, i.message, i.at_key, i.expected) for i in relative]
        if name is not _MISSING:
            issues += _validate(self._name, name, doc, (*prefix, self._name_key))
        return issues


# --- merging and the merged-cluster rules --------------------------------------------------------


def translate_legacy(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Older API names → current ones: driver_version → the cuda/driver pair, auto_scaled →
    auto_scale; gpu_node_failover_enabled (removed from the API) is dropped."""
    result = dict(fields)
    if "driver_version" in result:
        legacy = result.pop("driver_version")
        # An unknown value is reported by the schema; "?" keeps the rules from adding noise.
        pair = LEGACY_DRIVER_VERSIONS.get(legacy) if isinstance(legacy, str) else None
        cuda, driver = pair or ("?", "?")
        result.setdefault("cuda_version", cuda)
        result.setdefault("nvidia_driver_version", driver)
    if "auto_scaled" in result:
        result.setdefault("auto_scale", result.pop("auto_scaled"))
        result.pop("auto_scaled", None)
    result.pop("gpu_node_failover_enabled", None)
    return result


def merge_cluster(defaults: Mapping[str, Any] | None, cluster: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults under the cluster (cluster keys win), each side translated first."""
    merged = translate_legacy(defaults or {})
    merged.update(translate_legacy(cluster))
    return merged


class _RulesChecker:
    """The merged-cluster rules of the schema, plus comparisons JSON Schema cannot make."""

    def __init__(self) -> None:
        self._rules = _validators()["rules"]
        self._conditions = _rule_condition_fields()
        self._cache: dict[Any, list[Issue]] = {}

    def check(self, merged: Mapping[str, Any], doc: int, prefix: Path) -> list[Issue]:
        # The rules look only at which keys exist and at a few values: cache on exactly that.
        try:
            key = (
                frozenset(merged),
                tuple(_freeze_key(merged.get(f, _MISSING)) for f in self._conditions),
            )
            relative = self._cache.get(key)
        except TypeError:
            key, relative = None, None
        if relative is None:
            relative = _validate(self._rules, dict(merged), 0, ())
            if key is not None:
                self._cache[key] = relative
        issues = [Issue(doc, prefix, _with_hint(i.message)) for i in relative]
        issues += _compare_gpu_counts(merged, doc, prefix)
        return issues


def _with_hint(message: str) -> str:
    if message.startswith("missing required field "):
        return f"{message}; set it on the cluster or in defaults"
    if message.startswith("missing required fields "):
        return f"{message}; set them on the cluster or in defaults"
    return message


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _compare_gpu_counts(merged: Mapping[str, Any], doc: int, prefix: Path) -> list[Issue]:
    issues: list[Issue] = []
    num = merged.get("num_gpus")
    if not _is_int(num):
        return issues
    top = merged.get("auto_scale_max_gpus")
    if merged.get("auto_scale") is True and _is_int(top) and top < num:
        issues.append(
            Issue(
                doc,
                (*prefix, "auto_scale_max_gpus"),
                f"{top} is less than num_gpus ({num}); the autoscaler's maximum must be at "
                "least num_gpus",
            )
        )
    pool = merged.get("num_capacity_pool_gpus")
    if _is_int(pool) and pool > num:
        issues.append(
            Issue(
                doc,
                (*prefix, "num_capacity_pool_gpus"),
                f"{pool} is more than num_gpus ({num}); it must not exceed num_gpus",
            )
        )
    return issues


# --- the whole check ---------------------------------------------------------------------------


def check_documents(documents: Sequence[Any]) -> list[Issue]:
    """Every problem of a spec made of these documents (one per file), in no special order.

    JSON Schema on each document, the merged-cluster rules on each present cluster, and the
    cross-file rules: names declared twice, volume references, settings that disagree.
    """
    validators = _validators()
    clusters = _ItemChecker("cluster", "cluster_name")
    volumes = _ItemChecker("volume", "volume_name")
    rules = _RulesChecker()
    issues: list[Issue] = []
    for doc, document in enumerate(documents):
        issues += _validate(validators["document"], document, doc, ())
        if not isinstance(document, dict):
            continue
        defaults = document.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        for index, item in _items(document, "volumes"):
            issues += volumes.check(item, doc, ("volumes", index))
        for index, item in _items(document, "clusters"):
            issues += clusters.check(item, doc, ("clusters", index))
            if isinstance(item, dict) and item.get("ensure") != "absent":
                issues += rules.check(merge_cluster(defaults, item), doc, ("clusters", index))
    issues += _check_names(documents)
    issues += _check_volume_references(documents)
    issues += _check_settings_agree(documents, "project_id")
    issues += _check_settings_agree(documents, "prune")
    return issues


def _items(document: Mapping[str, Any], key: str) -> Iterator[tuple[int, Any]]:
    items = document.get(key)
    if isinstance(items, list):
        yield from enumerate(items)


def _names(
    documents: Sequence[Any], key: str, name_key: str
) -> Iterator[tuple[int, int, str, Mapping[str, Any]]]:
    for doc, document in enumerate(documents):
        if isinstance(document, dict):
            for index, item in _items(document, key):
                if isinstance(item, dict) and isinstance(item.get(name_key), str):
                    yield doc, index, item[name_key], item


def _check_names(documents: Sequence[Any]) -> list[Issue]:
    issues: list[Issue] = []
    for key, name_key, kind in (
        ("clusters", "cluster_name", "cluster"),
        ("volumes", "volume_name", "volume"),
    ):
        first: dict[str, tuple[int, Path]] = {}
        for doc, index, name, _item in _names(documents, key, name_key):
            path: Path = (key, index, name_key)
            if name in first:
                message = (
                    f'{kind} "{name}" is declared twice (first at {{see}}); '
                    "rename one or remove one"
                )
                issues.append(Issue(doc, path, message, see=first[name]))
            else:
                first[name] = (doc, path)
    return issues


def _check_volume_references(documents: Sequence[Any]) -> list[Issue]:
    declared = {name: item for _d, _i, name, item in _names(documents, "volumes", "volume_name")}
    issues: list[Issue] = []
    for doc, document in enumerate(documents):
        if not isinstance(document, dict):
            continue
        defaults = document.get("defaults")
        default_ref = defaults.get("volume") if isinstance(defaults, dict) else None
        for index, item in _items(document, "clusters"):
            if not isinstance(item, dict) or item.get("ensure") == "absent":
                continue
            ref = item.get("volume", default_ref)
            if not isinstance(ref, str) or not ref:
                continue
            where: Path = ("clusters", index, "volume")
            if ref not in declared:
                hint = _did_you_mean(ref, sorted(declared)) or "; declare it or fix the name"
                message = f'no volume named "{ref}" is declared under volumes{hint}'
                issues.append(Issue(doc, where, message))
            elif declared[ref].get("ensure") == "absent":
                issues.append(
                    Issue(
                        doc,
                        where,
                        f'volume "{ref}" is declared with ensure: absent; a present cluster '
                        "cannot use a volume that is being deleted",
                    )
                )
    return issues


def _check_settings_agree(documents: Sequence[Any], key: str) -> list[Issue]:
    """Top-level settings (project_id, prune) may repeat across files only with one value."""
    issues: list[Issue] = []
    first: tuple[int, Any] | None = None
    for doc, document in enumerate(documents):
        if not isinstance(document, dict) or key not in document:
            continue
        if first is None:
            first = (doc, document[key])
        elif document[key] != first[1]:
            message = f"differs from the {key} set at {{see}}; set it in one file only"
            issues.append(Issue(doc, (key,), message, see=(first[0], (key,))))
    return issues
