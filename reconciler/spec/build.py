"""The builder: valid, checked documents → the frozen `Spec`. Pure.

The only module of `spec` that constructs model values; it runs after every check passed, so
it reads the documents without guarding against wrong shapes. Each kind's spec items are read
the same way; a kind's own spec rules (defaults, older names) are its `spec_item` hook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from reconciler.frozen import freeze_owned
from reconciler.kinds import TOP_LEVEL, Kind, children
from reconciler.kinds.values import normalise_time
from reconciler.model import (
    Budget,
    Desired,
    Ensure,
    Lifecycle,
    Location,
    PricesRef,
    Prune,
    Spec,
    frozen_map,
)
from reconciler.spec.reader import File, Node, locate
from reconciler.spec.rules import MergedItems


def build_spec(
    files: Sequence[File],
    digest: str,
    warnings: Sequence[str],
    merged: MergedItems,
) -> Spec:
    """Valid documents → the frozen Spec (defaults merged, legacy names translated);
    `merged`: the items as the checks merged them, reused."""
    resources: list[Desired] = []
    budget = Budget()
    prune = Prune()
    for file in files:
        document: Mapping[str, Any] = file.value
        if "budget" in document:
            raw = document["budget"]
            budget = Budget(raw.get("max_hourly_increase"), raw.get("max_gpu_increase"))
        if "prune" in document:
            raw_prune = document["prune"]
            prune = Prune(bool(raw_prune.get("enabled", False)), raw_prune.get("name_prefix"))
        defaults: Mapping[str, Any] = document.get("defaults", {})
        for kind in TOP_LEVEL:
            nodes = _item_nodes(file, kind.plural)
            for index, item in enumerate(document.get(kind.plural, ())):
                node = nodes[index] if index < len(nodes) else None
                where = (kind.plural, index)
                resources += _build(kind, file, where, item, defaults, merged, node)
    project_id, prices = spec_settings(files)
    return Spec(
        resources=tuple(resources),
        project_id=project_id,
        prune=prune,
        budget=budget,
        prices=prices,
        warnings=tuple(warnings),
        digest=digest,
    )


def spec_settings(files: Sequence[File]) -> tuple[str | None, PricesRef | None]:
    """(project_id, prices) of valid documents: the last file's project, the first prices."""
    project_id: str | None = None
    prices: PricesRef | None = None
    for file in files:
        project_id = file.value.get("project_id", project_id)
        if "prices" in file.value and prices is None:
            node, _ = locate(file.node, ("prices",), False)
            prices = PricesRef(file.value["prices"], Location(file.path, node[0], node[1]))
    return project_id, prices


def _build(
    kind: Kind,
    file: File,
    path: tuple[str | int, ...],
    item: Mapping[str, Any],
    defaults: Mapping[str, Any],
    memo: MergedItems,
    node: Node | None = None,
    parent: str | None = None,
) -> list[Desired]:
    """The item as a Desired resource, followed by the resources nested in it (add-ons).
    `node`: the item's node of marks, when the caller has it (else found from `path`)."""
    if node is None:
        node, _ = locate(file.node, path, False)
    ensure = _ENSURE[item.get("ensure", "present")]
    prepare = kind.hooks.spec_item
    if ensure is Ensure.PRESENT:
        merged = memo.get(kind, defaults, item)
    else:
        merged = prepare(defaults, item, False) if prepare else item
    nested, tool_keys = _nested_kinds(kind)
    built = [
        Desired(
            kind=kind.name,
            name=item[kind.api.name_key],
            # The dict made here is frozen in place, not copied again.
            fields=freeze_owned({k: v for k, v in merged.items() if k not in tool_keys}),
            ensure=ensure,
            lifecycle=_lifecycle(item.get("lifecycle")),
            refs=_refs(kind, merged),
            location=Location(file.path, node[0], node[1]),
            parent=parent,
        )
    ]
    for key, child in nested.items():
        if key not in item and ensure is Ensure.PRESENT and key in defaults:
            path_of_items: tuple[str | int, ...] = ("defaults", key)  # inherited from defaults
        else:
            path_of_items = (*path, key)
        for index, sub in enumerate(merged.get(key) or ()):
            where = (*path_of_items, index)
            built += _build(child, file, where, sub, {}, memo, parent=built[0].name)
    return built


def _item_nodes(file: File, key: str) -> list[Node]:
    """The nodes of marks of the items of a file's list `key` (none: each is looked up by its
    path): one lookup of the list, not a walk from the root per item (10,000)."""
    found, whole = locate(file.node, (key,), False)
    return found[2] if whole and len(found) > 2 and isinstance(found[2], list) else []


def marks_to_build(root: Node, value: Any) -> Node:
    """A valid file's tree of marks with only what the build reads (cli/forked.py sends it
    from the child that checked the file): an item of a top-level list keeps its line and
    column (its Location), and its marks only when it nests items of another kind (add-ons,
    located too); the rest of the file's marks are kept. At 10,000 clusters the marks of every
    field of every item were 2.0 MiB of the child's answer, read back in 25 ms; 0.8 MiB, 9 ms."""
    marks = root[2]
    if not isinstance(marks, dict) or not isinstance(value, dict):
        return root
    kept = dict(marks)
    for kind in TOP_LEVEL:
        node, items = marks.get(kind.plural), value.get(kind.plural)
        if node is None or not isinstance(node[2], list) or not isinstance(items, list):
            continue
        if len(node[2]) != len(items):
            continue
        nesting = _nested_kinds(kind)[0].keys()
        kept[kind.plural] = (
            node[0],
            node[1],
            [
                mark
                if isinstance(item, dict) and not nesting.isdisjoint(item)
                else (mark[0], mark[1], {}, {})
                for mark, item in zip(node[2], items, strict=True)
            ],
        )
    return (root[0], root[1], kept, *root[3:])


@cache
def _nested_kinds(kind: Kind) -> tuple[dict[str, Kind], frozenset[str]]:
    """(the kinds nested in `kind` by their key in its items, the keys of an item that are not
    API fields): the same for every item of a kind."""
    nested = {child.parent.key: child for child in children(kind) if child.parent}
    return nested, kind.tool_keys | nested.keys()


#: Shared by every item that has none of its own: 10,000 clusters held 10,000 empty copies.
_NO_REFS: Mapping[str, Any] = frozen_map()
_DEFAULT_LIFECYCLE = Lifecycle()
#: `Ensure(value)` without the enum call (the values were checked already).
_ENSURE = {e.value: e for e in Ensure}


def _refs(kind: Kind, merged: Mapping[str, Any]) -> Mapping[str, Any]:
    refs = {r.key: merged[r.key] for r in kind.refs if merged.get(r.key)}
    return frozen_map(refs) if refs else _NO_REFS


def _lifecycle(raw: Mapping[str, Any] | None) -> Lifecycle:
    if not raw:
        return _DEFAULT_LIFECYCLE
    return Lifecycle(
        prevent_destroy=bool(raw.get("prevent_destroy", False)),
        ignore_changes=tuple(raw.get("ignore_changes", ())),
        replace_on_change=bool(raw.get("replace_on_change", False)),
        allow_forfeit=bool(raw.get("allow_forfeit", False)),
        expires_at=normalise_time(raw["expires_at"]) if "expires_at" in raw else None,
    )
