"""Live state → spec YAML (`reconciler export`), through each kind's field table. Pure.

`reconciler plan` on what this writes reports no changes: live values equal to the server's
default are left out, secrets are never written, references are written by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from reconciler.kinds import NO_DEFAULT, TOP_LEVEL, Kind, children, redact
from reconciler.model import Live, LiveState, thaw

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
) -> dict[str, Any]:
    """One live resource as a spec item: its name, its fields in order, the resources nested
    in it (a cluster's add-ons), then references."""
    item: dict[str, Any] = {kind.api.name_key: resource.name}
    live = thaw(resource.fields)
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
    for kind in TOP_LEVEL:
        if chosen[kind.name]:
            document[kind.plural] = [
                export_resource(kind, r, names_by_id, nested) for r in chosen[kind.name]
            ]
    if len(document) == (2 if project_id else 1):
        document[TOP_LEVEL[-1].plural] = []  # an empty account: still a recognisable spec
    body = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
    return EXPORT_HEADER + body
