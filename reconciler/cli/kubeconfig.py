"""`reconciler kubeconfig`: a cluster's kube_config, decoded from the API's base64, written to a
private file or merged into the user's kubeconfig (as `tg clusters get-credentials` does).

Its text is a credential: it never goes into a message, a log line or the terminal. Messages
name the cluster, the file and the context, nothing read from inside the kubeconfig's secrets.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from reconciler.cli.files import file_lock, private_target, read_private_file, write_private_file
from reconciler.cli.listing import make_client
from reconciler.errors import ApiResponseError, ConfigError, ReconcilerError
from reconciler.kinds import get
from reconciler.render import escape

if TYPE_CHECKING:
    from reconciler.cli import Settings

#: The named lists of a kubeconfig; merging keys their entries by `name`.
ENTRY_KEYS = ("clusters", "users", "contexts")


def default_merge_path(env: Mapping[str, str]) -> tuple[str, bool]:
    """Where --merge writes, as kubectl would: the first path of $KUBECONFIG, else
    ~/.kube/config. The flag says it is the default (whose directory may be created)."""
    first = next((p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p), None)
    if first is not None:
        return first, False
    return os.path.join(os.path.expanduser("~"), ".kube", "config"), True


# --- fetching ------------------------------------------------------------------------------------


def fetch_kube_config(settings: Settings, name: str) -> str:
    """The decoded kubeconfig of the live cluster `name` (or id), from one list call."""
    api = get("cluster").api
    with make_client(settings) as client:
        clusters = client.list_resources(api, settings.project_id)
    cluster = find_cluster(clusters, name, settings.project_id)
    return decode_kube_config(cluster, name)


def find_cluster(
    clusters: list[dict[str, Any]], name: str, project_id: str | None = None
) -> dict[str, Any]:
    """The one live cluster with this id, else with this name; a deleting one does not count."""
    kind = get("cluster")
    shown = escape(name)
    by_id = [c for c in clusters if c.get(kind.api.id_key) == name]
    if by_id:
        return by_id[0]
    matches = [
        c
        for c in clusters
        if c.get(kind.api.name_key) == name and c.get("status") != kind.statuses.deleting
    ]
    if not matches:
        scope = f" in project {escape(project_id)}" if project_id else ""
        raise ConfigError(f'kubeconfig: no live cluster named "{shown}"{scope}')
    if len(matches) > 1:
        ids = ", ".join(sorted(escape(str(c[kind.api.id_key])) for c in matches))
        raise ConfigError(
            f'kubeconfig: {len(matches)} clusters are named "{shown}" ({ids}); '
            "pass the id of the one you want instead of the name"
        )
    return matches[0]


def decode_kube_config(cluster: Mapping[str, Any], name: str) -> str:
    """The kubeconfig text from the API's base64; checked to be a kubeconfig, never shown."""
    where = f'GET /v1/compute/clusters: cluster "{escape(name)}"'
    raw = cluster.get("kube_config")
    if raw is None or raw == "":
        status = escape(str(cluster.get("status", "unknown")))
        raise ConfigError(
            f'kubeconfig: cluster "{escape(name)}" has no kubeconfig yet (status {status}); '
            "try again when it is Ready"
        )
    if not isinstance(raw, str):
        raise ApiResponseError(f"{where}: kube_config is not a string")
    try:
        text = base64.b64decode("".join(raw.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ApiResponseError(
            f"{where}: kube_config is not base64-encoded UTF-8 text, as the API sends it; "
            "nothing was written"
        ) from None
    load_kubeconfig(text, f"{where}: the decoded kube_config", ApiResponseError, detail=False)
    return text


# --- reading and merging -------------------------------------------------------------------------


def load_kubeconfig(
    text: str, where: str, error: type[ReconcilerError], *, detail: bool
) -> dict[str, Any]:
    """A kubeconfig document (empty text: an empty one). `detail` adds YAML's own complaint to
    an error (for the user's file); for the API's secret text only the line is named."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) if detail else None
        because = f" ({escape(str(problem))})" if problem else ""
        raise error(f"{where}{at}: not valid YAML{because}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise error(f"{where}: not a kubeconfig (a YAML mapping with clusters, users, contexts)")
    for key in ENTRY_KEYS:
        entries = document.get(key)
        if entries is not None and not (
            isinstance(entries, list) and all(isinstance(e, dict) for e in entries)
        ):
            raise error(f"{where}: `{key}` is not a list of named entries")
    return document


def named_after(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """With exactly one cluster, user and context (the API's shape), all three renamed after the
    Together cluster, so two clusters' entries never collide in a merged file; else as is."""
    clusters, users, contexts = (document.get(key) or [] for key in ENTRY_KEYS)
    if not len(clusters) == len(users) == len(contexts) == 1:
        return dict(document)
    context = {**(contexts[0].get("context") or {}), "cluster": name, "user": name}
    return {
        **document,
        "clusters": [{**clusters[0], "name": name}],
        "users": [{**users[0], "name": name}],
        "contexts": [{**contexts[0], "name": name, "context": context}],
        "current-context": name,
    }


def merge_kubeconfig(
    existing: Mapping[str, Any], incoming: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """`existing` with `incoming`'s entries: a same-named entry is replaced in place, a new one
    appended, every other entry and key kept. The current context is set only when `existing`
    has none (a merge never switches the user's kubectl to another cluster). Returns the
    merged document and whether the current context was set."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", **existing}
    for key in ENTRY_KEYS:
        entries = list(merged.get(key) or [])
        for entry in incoming.get(key) or []:
            same = [i for i, old in enumerate(entries) if old.get("name") == entry.get("name")]
            if same and entry.get("name") is not None:
                entries[same[0]] = entry
            else:
                entries.append(entry)
        merged[key] = entries
    is_set = not merged.get("current-context") and bool(incoming.get("current-context"))
    if is_set:
        merged["current-context"] = incoming["current-context"]
    return merged, is_set


# --- writing -------------------------------------------------------------------------------------


def output_target(path: str, env: Mapping[str, str]) -> str:
    """Where -o writes (checked before any API call): a file name, not `-`, in an existing
    directory, and not the kubeconfig --merge would edit (replacing it loses its clusters)."""
    if path == "-":
        raise ConfigError(
            "kubeconfig: -o -: the kubeconfig is a credential and is never printed; "
            "give a file name"
        )
    target = private_target(path)
    merge_path, _ = default_merge_path(env)
    if os.path.exists(target) and target == os.path.realpath(os.path.expanduser(merge_path)):
        raise ConfigError(
            f"kubeconfig: -o {path}: that is your kubeconfig ({merge_path}), and -o replaces "
            "the whole file; use --merge to add the cluster and keep the others"
        )
    return target


def write_kubeconfig(target: str, path: str, text: str, name: str) -> str:
    """Write the kubeconfig as the API gave it to `target` (mode 600); returns the message."""
    write_private_file(target, text)
    return (
        f'Wrote the kubeconfig of cluster "{escape(name)}" to {path} (mode 600). '
        f"Use it with: KUBECONFIG={path} kubectl get nodes"
    )


def merge_kubeconfig_file(target: str, path: str, text: str, name: str) -> str:
    """Merge the kubeconfig into `target` (atomic, mode 600, under kubectl's lock file);
    returns the message."""
    incoming = named_after(
        load_kubeconfig(text, "kube_config", ApiResponseError, detail=False), name
    )
    with file_lock(target):
        current = read_private_file(target) or ""
        existing = load_kubeconfig(current, path, ConfigError, detail=True)
        merged, is_set = merge_kubeconfig(existing, incoming)
        write_private_file(target, yaml.safe_dump(merged, sort_keys=False))
    context = escape(str(incoming.get("current-context") or name))
    message = f'Merged cluster "{escape(name)}" into {path} (mode 600) as context "{context}".'
    if is_set:
        return f"{message} It is the current context (the file had none)."
    current_context = escape(str(merged.get("current-context")))
    if current_context == context:
        return f"{message} It is the current context."
    return (
        f'{message} The current context is still "{current_context}"; switch with: '
        f"kubectl config use-context {context}"
    )
