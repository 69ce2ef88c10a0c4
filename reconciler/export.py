"""Live state → spec YAML (`reconciler export`), through each kind's field table. Pure.

`reconciler plan` on what this writes reports no changes: live values equal to the server's
default are left out, secrets are never written, references are written by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from reconciler.kinds import NO_DEFAULT, TOP_LEVEL, Kind, children, redact, referrers
from reconciler.model import Live, LiveState, thaw

#: libyaml's C emitter when PyYAML was built with it; the pure-Python one otherwise.
SAFE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

EXPORT_HEADER = """\
# Written by `reconciler export` from live state. `reconciler plan` on this file reports
# no changes. Not exported: secrets (kube_config, oidc_config.ca_cert) and create-only
# fields the API does not report back (duration_days, auto_scale, auto_scale_max_gpus,
# slurm_image, acceptance_tests_params): add them if you replace a cluster.
# Editor completion: `reconciler schema > clusters.schema.json`, then add the line
# `# yaml-language-server: $schema=clusters.schema.json` at the top.
"""


class _Omit:
    """Marker for a secret left out of an export."""


def _drop_omitted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_omitted(v) for k, v in value.items() if v is not _Omit}
    if isinstance(value, list):
        return [_drop_omitted(v) for v in value]
    return value


def export_resource(
    kind: Kind,
    resource: Live,
    names_by_id: dict[tuple[str, str], str],
    nested: dict[tuple[str, str], list[Live]] | None = None,
    filled: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One live resource as a spec item: its name, its fields in order, the resources nested
    in it (a cluster's add-ons), then references. `filled`: values of unreported fields."""
    item: dict[str, Any] = {kind.api.name_key: resource.name}
    live = {**thaw(resource.fields), **(filled or {})}
    if kind.hooks.export is not None:
        live = kind.hooks.export(live)
    for key in sorted(live):
        value = live[key]
        row = kind.by_name.get(key)
        default = row.export_default if row is not None else NO_DEFAULT
        if value is None or (default is not NO_DEFAULT and default == value):
            continue
        item[key] = redact(value, key, mark=lambda _secret: _Omit)
    item = _drop_omitted(item)
    for child in children(kind):
        inside = (nested or {}).get((child.name, resource.id), [])
        if child.parent is not None and inside:
            item[child.parent.key] = [export_resource(child, r, names_by_id) for r in inside]
    for ref in kind.refs:
        ids = resource.links.get(ref.key, ())
        used = [names_by_id[(ref.kind, i)] for i in ids if (ref.kind, i) in names_by_id]
        if used:
            item[ref.key] = used[0]
    return item


def unreported_values(
    kind: Kind, resource: Live, live: LiveState
) -> tuple[dict[str, Any], str | None]:
    """Fields the API does not report for `resource` (a volume's region), taken from a live
    resource that uses it (the cluster it is attached to: same region); and the first field
    that cannot be known that way (then no spec the API would refuse is written)."""
    values: dict[str, Any] = {}
    for name in sorted(kind.unreported_matches):
        if resource.fields.get(name) is not None:
            continue
        users = [
            r
            for referrer, ref in referrers(kind)
            for r in live.of_kind(referrer.name)
            if resource.id in r.links.get(ref.key, ()) and r.fields.get(name) is not None
        ]
        if not users:
            return values, name
        values[name] = thaw(users[0].fields[name])
    return values, None


def _chosen(live: LiveState, wanted: set[str]) -> dict[str, list[Live]]:
    """Kind → the resources to export: named ones (all when none are named) and what they use."""
    chosen: dict[str, list[Live]] = {}
    used: set[str] = set()  # ids referred to by a chosen resource
    for kind in reversed(TOP_LEVEL):  # referrers first, so their references are known
        chosen[kind.name] = [
            r
            for r in live.of_kind(kind.name)
            if r.status != kind.statuses.deleting
            and (not wanted or r.name in wanted or r.id in used)
        ]
        used.update(i for r in chosen[kind.name] for ids in r.links.values() for i in ids)
    return chosen


def render_export(live: LiveState, names: Iterable[str] = (), project_id: str | None = None) -> str:
    """A spec (YAML text) that declares the live resources as they are."""
    chosen = _chosen(live, set(names))
    names_by_id = {(r.kind, r.id): r.name for r in live.resources}
    nested: dict[tuple[str, str], list[Live]] = {}
    for resource in live.resources:
        if resource.parent_id is not None:
            nested.setdefault((resource.kind, resource.parent_id), []).append(resource)
    document: dict[str, Any] = {"version": 1}
    if project_id:
        document["project_id"] = project_id
    left_out: list[str] = []
    for kind in TOP_LEVEL:
        items = []
        for resource in chosen[kind.name]:
            filled, unknown = unreported_values(kind, resource, live)
            if unknown is not None:
                left_out.append(f'{kind.name} "{resource.name}" (its {unknown})')
                continue
            items.append(export_resource(kind, resource, names_by_id, nested, filled))
        if items:
            document[kind.plural] = items
    if len(document) == (2 if project_id else 1):
        document[TOP_LEVEL[-1].plural] = []  # an empty account: still a recognisable spec
    body = dump_yaml(document)
    return EXPORT_HEADER + "".join(f"# {line}\n" for line in _left_out_lines(left_out)) + body


def dump_yaml(document: Any, dumper: Any = None) -> str:
    """`yaml.safe_dump` of the document, with libyaml's C emitter where it is built in (~3x
    faster on 10,000 clusters) and every string is printable ASCII: the two emitters wrap
    escaped (double-quoted) strings differently, so such a document keeps the Python one and
    the text is the same either way. `dumper` pins one for tests."""
    if dumper is None:
        dumper = SAFE_DUMPER if _is_printable_ascii(document) else yaml.SafeDumper
    text: str = yaml.dump(
        document,
        Dumper=dumper,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    return text


def _is_printable_ascii(value: Any) -> bool:
    """Every string in the document (keys too) is printable ASCII."""
    if isinstance(value, str):
        return value.isascii() and value.isprintable()
    if isinstance(value, Mapping):
        return all(_is_printable_ascii(k) and _is_printable_ascii(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_is_printable_ascii(item) for item in value)
    return True


def _left_out_lines(left_out: list[str]) -> list[str]:
    if not left_out:
        return []
    return [
        f"Left out: {', '.join(left_out)}: the API does not report it and no",
        "exported resource that uses it tells it; add it by hand (a guess could be refused).",
    ]
