"""The rules JSON Schema cannot express, and the whole check of a spec's documents. Pure.

Uniqueness of names across files, references to declared volumes, settings that must agree
between files, and comparisons between a cluster's GPU counts; `check_documents` runs them
after the schema (`reconciler.schema`) on each document and each merged cluster.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeGuard

from reconciler.kinds.cluster import merge_cluster
from reconciler.schema import (
    Issue,
    ItemChecker,
    Path,
    RulesChecker,
    did_you_mean,
    validate,
    validators,
)


def check_documents(documents: Sequence[Any]) -> list[Issue]:
    """Every problem of a spec made of these documents (one per file), in no special order.

    JSON Schema on each document, the merged-cluster rules on each present cluster, and the
    cross-file rules: names declared twice, volume references, settings that disagree.
    """
    document_validator = validators()["document"]
    clusters = ItemChecker("cluster", "cluster_name")
    volumes = ItemChecker("volume", "volume_name")
    rules = RulesChecker()
    issues: list[Issue] = []
    for doc, document in enumerate(documents):
        issues += validate(document_validator, document, doc, ())
        if not isinstance(document, dict):
            continue
        defaults = document.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        for index, item in _items(document, "volumes"):
            issues += volumes.check(item, doc, ("volumes", index))
        for index, item in _items(document, "clusters"):
            issues += clusters.check(item, doc, ("clusters", index))
            if isinstance(item, dict) and item.get("ensure") != "absent":
                merged = merge_cluster(defaults, item)
                issues += rules.check(merged, doc, ("clusters", index))
                issues += _compare_gpu_counts(merged, doc, ("clusters", index))
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
                hint = did_you_mean(ref, sorted(declared)) or "; declare it or fix the name"
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
