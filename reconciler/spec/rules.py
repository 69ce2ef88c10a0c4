"""The rules JSON Schema cannot express, and the whole check of a spec's documents. Pure.

Uniqueness of names across files, references to declared volumes, settings that must agree
between files, and comparisons between a cluster's GPU counts; `check_documents` runs them
after the schema (`reconciler.schema`) on each document and each merged cluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from reconciler import kinds
from reconciler.kinds import TOP_LEVEL, Kind
from reconciler.schema import (
    Issue,
    ItemChecker,
    Path,
    RulesChecker,
    did_you_mean,
    rules_key,
    validate,
    validators,
)


def check_documents(documents: Sequence[Any], merged: MergedItems | None = None) -> list[Issue]:
    """Every problem of a spec made of these documents (one per file), in no special order.

    JSON Schema on each document and each item, each kind's merged-item rules on each present
    item, and the cross-file rules: names declared twice, references, settings that disagree.
    `merged` keeps each present item as its kind reads it, for the builder to reuse.
    """
    merged = MergedItems() if merged is None else merged
    document_validator = validators()["document"]
    items = {k.name: ItemChecker(k.name, k.api.name_key) for k in TOP_LEVEL}
    merged_rules = {
        k.name: RulesChecker(k.name) for k in TOP_LEVEL if rules_key(k.name) in validators()
    }
    issues: list[Issue] = []
    for doc, document in enumerate(documents):
        issues += validate(document_validator, document, doc, ())
        if not isinstance(document, dict):
            continue
        defaults = document.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        for kind in TOP_LEVEL:
            for index, item in _items(document, kind.plural):
                where: Path = (kind.plural, index)
                issues += items[kind.name].check(item, doc, where)
                if isinstance(item, dict) and item.get("ensure") != "absent":
                    issues += _check_merged(
                        kind,
                        merged_rules.get(kind.name),
                        merged.get(kind, defaults, item),
                        doc,
                        where,
                    )
    issues += _check_names(documents)
    issues += _check_references(documents, merged)
    issues += _check_settings_agree(documents, "project_id")
    issues += _check_settings_agree(documents, "prune")
    issues += _check_settings_agree(documents, "budget")
    issues += _check_settings_agree(documents, "prices")
    return issues


class MergedItems:
    """Present items as their kind reads them (defaults merged, older names translated),
    each merged once: the rules, the references and the builder all read them. Keyed by the
    item's identity, so only for documents that outlive it (one `load_spec` call)."""

    def __init__(self) -> None:
        self._done: dict[int, Mapping[str, Any]] = {}

    def get(
        self, kind: Kind, defaults: Mapping[str, Any], item: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        found = self._done.get(id(item))
        if found is None:
            found = kind.hooks.spec_item(defaults, item, True) if kind.hooks.spec_item else item
            self._done[id(item)] = found
        return found


def _check_merged(
    kind: Kind,
    rules: RulesChecker | None,
    merged: Mapping[str, Any],
    doc: int,
    where: Path,
) -> list[Issue]:
    """The rules a present item must meet once defaults are merged: the schema's, then the
    kind's own."""
    if rules is None and kind.hooks.spec_checks is None:
        return []
    issues = rules.check(merged, doc, where) if rules is not None else []
    if kind.hooks.spec_checks is not None:
        issues += [
            Issue(doc, (*where, *(k if isinstance(k, tuple) else (k,))), m)
            for k, m in kind.hooks.spec_checks(merged)
        ]
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
    for kind in TOP_LEVEL:
        name_key = kind.api.name_key
        first: dict[str, tuple[int, Path]] = {}
        for doc, index, name, _item in _names(documents, kind.plural, name_key):
            path: Path = (kind.plural, index, name_key)
            if name in first:
                message = (
                    f'{kind.name} "{name}" is declared twice (first at {{see}}); '
                    "rename one or remove one"
                )
                issues.append(Issue(doc, path, message, see=first[name]))
            else:
                first[name] = (doc, path)
    return issues


def _check_references(documents: Sequence[Any], merged: MergedItems) -> list[Issue]:
    """Every reference by name (`volume: team-data`) names a declared, present resource."""
    issues: list[Issue] = []
    for kind in TOP_LEVEL:
        for ref in kind.refs:
            target = kinds.get(ref.kind)
            declared = {
                name: item
                for _d, _i, name, item in _names(documents, target.plural, target.api.name_key)
            }
            for doc, where, name in _references(documents, kind, ref.key, merged):
                issues += _reference_problems(kind, target, declared, name, doc, where)
    return issues


def _references(
    documents: Sequence[Any], kind: Kind, key: str, merged: MergedItems
) -> Iterator[tuple[int, Path, str]]:
    """(document, path, name) of each reference `key` a present item of `kind` makes."""
    for doc, document in enumerate(documents):
        if not isinstance(document, dict):
            continue
        defaults = document.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        for index, item in _items(document, kind.plural):
            if not isinstance(item, dict) or item.get("ensure") == "absent":
                continue
            name = merged.get(kind, defaults, item).get(key)
            if isinstance(name, str) and name:
                yield doc, (kind.plural, index, key), name


def _reference_problems(
    kind: Kind, target: Kind, declared: Mapping[str, Any], name: str, doc: int, where: Path
) -> list[Issue]:
    if name not in declared:
        hint = did_you_mean(name, sorted(declared)) or "; declare it or fix the name"
        message = f'no {target.name} named "{name}" is declared under {target.plural}{hint}'
        return [Issue(doc, where, message)]
    if declared[name].get("ensure") == "absent":
        message = (
            f'{target.name} "{name}" is declared with ensure: absent; a present {kind.name} '
            f"cannot use a {target.name} that is being deleted"
        )
        return [Issue(doc, where, message)]
    return []


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
