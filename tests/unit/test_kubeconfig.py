"""The kubeconfig command's logic on plain values: which cluster, decoding, renaming, merging."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from reconciler.cli.kubeconfig import (
    decode_kube_config,
    default_merge_path,
    find_cluster,
    merge_kubeconfig,
    named_after,
)
from reconciler.errors import ApiResponseError, ConfigError

CANARY = "CANARYunitKubeToken31"
KUBECONFIG = f"""\
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster: {{server: "https://10.0.0.1:6443"}}
contexts:
- name: kubernetes-admin@kubernetes
  context: {{cluster: kubernetes, user: kubernetes-admin, namespace: ml}}
current-context: kubernetes-admin@kubernetes
users:
- name: kubernetes-admin
  user: {{token: {CANARY}}}
"""


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def cluster(name: str = "train-a", cid: str = "c-1", **fields: Any) -> dict[str, Any]:
    return {"cluster_id": cid, "cluster_name": name, "status": "Ready", **fields}


def test_find_cluster_by_name_or_id() -> None:
    """A name matches one live cluster; an id matches exactly; Deleting ones do not count."""
    clusters = [
        cluster("a", "c-1", status="Deleting"),
        cluster("a", "c-2"),
        cluster("b", "c-3"),
    ]
    assert find_cluster(clusters, "a")["cluster_id"] == "c-2"
    assert find_cluster(clusters, "c-1")["cluster_id"] == "c-1"


@pytest.mark.parametrize(
    ("clusters", "name", "project", "message"),
    [
        ([], "a", None, 'kubeconfig: no live cluster named "a"'),
        ([], "a", "p-9", 'kubeconfig: no live cluster named "a" in project p-9'),
        ([cluster("a", status="Deleting")], "a", None, "no live cluster named"),
        ([], "a\x1b[2J", None, 'no live cluster named "a\\x1b[2J"'),
        (
            [cluster("a", "c-2"), cluster("a", "c-1")],
            "a",
            None,
            'kubeconfig: 2 clusters are named "a" (c-1, c-2); pass the id',
        ),
    ],
    ids=["none", "none-in-project", "only-deleting", "escaped", "ambiguous"],
)
def test_find_cluster_errors(
    clusters: list[dict[str, Any]], name: str, project: str | None, message: str
) -> None:
    """Missing or ambiguous names are a ConfigError, one line, the name escaped."""
    with pytest.raises(ConfigError) as info:
        find_cluster(clusters, name, project)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_decode_gives_the_text_back() -> None:
    """base64 (wrapped at 76 columns, as some encoders do) decodes to the kubeconfig."""
    encoded = b64(KUBECONFIG)
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert decode_kube_config(cluster(kube_config=wrapped), "train-a") == KUBECONFIG


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (None, ConfigError, 'cluster "train-a" has no kubeconfig yet (status Ready)'),
        ("", ConfigError, "has no kubeconfig yet"),
        (42, ApiResponseError, "kube_config is not a string"),
        (KUBECONFIG, ApiResponseError, "kube_config is not base64-encoded UTF-8 text"),
        (b64(b"\xff" + CANARY.encode()), ApiResponseError, "not base64-encoded UTF-8"),
        (b64(f"users:\n  - a\n  {{{CANARY}: ]\n"), ApiResponseError, "decoded kube_config:4:"),
        (b64(f"- {CANARY}\n"), ApiResponseError, "decoded kube_config: not a kubeconfig"),
        (b64(f"users: {CANARY}\n"), ApiResponseError, "`users` is not a list"),
    ],
    ids=[
        "missing",
        "empty",
        "not-a-string",
        "plain-yaml",
        "not-utf8",
        "bad-yaml",
        "a-list",
        "users-not-a-list",
    ],
)
def test_decode_errors_never_quote_the_secret(
    value: Any, error: type[Exception], message: str
) -> None:
    """Unusable kube_config: a one-line error naming the cluster, never any of its text."""
    with pytest.raises(error) as info:
        decode_kube_config(cluster(kube_config=value), "train-a")
    text = str(info.value)
    assert message in text
    assert CANARY not in text
    assert "\n" not in text
    if isinstance(value, str) and value:
        assert value[:20] not in text


def test_named_after_renames_the_single_entries_and_their_references() -> None:
    """One cluster, user and context: all three named after the Together cluster."""
    document = decode_and_load(KUBECONFIG)
    renamed = named_after(document, "train-a")
    assert [c["name"] for c in renamed["clusters"]] == ["train-a"]
    assert [u["name"] for u in renamed["users"]] == ["train-a"]
    assert renamed["contexts"] == [
        {
            "name": "train-a",
            "context": {"cluster": "train-a", "user": "train-a", "namespace": "ml"},
        }
    ]
    assert renamed["current-context"] == "train-a"
    assert renamed["users"][0]["user"]["token"] == CANARY
    assert document["clusters"][0]["name"] == "kubernetes"  # the input is not changed


def test_named_after_leaves_an_unusual_shape_alone() -> None:
    """Two users (or none): no guess at which is which; merged as the API named them."""
    document = {"clusters": [{"name": "k"}], "users": [{"name": "a"}, {"name": "b"}]}
    assert named_after(document, "train-a") == document


def test_merge_replaces_in_place_appends_and_keeps_the_rest() -> None:
    """Same name → replaced where it was; new → appended; other keys and entries kept."""
    existing = {
        "kind": "Config",
        "preferences": {"colors": True},
        "clusters": [{"name": "train-a", "cluster": {"server": "old"}}, {"name": "home"}],
        "users": [{"name": "me"}],
        "contexts": [],
        "current-context": "home",
    }
    incoming = {
        "clusters": [{"name": "train-a", "cluster": {"server": "new"}}],
        "users": [{"name": "train-a"}, {"user": "nameless"}],
        "contexts": [{"name": "train-a"}],
        "current-context": "train-a",
    }
    merged, is_set = merge_kubeconfig(existing, incoming)
    assert merged == {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {"colors": True},
        "clusters": [{"name": "train-a", "cluster": {"server": "new"}}, {"name": "home"}],
        "users": [{"name": "me"}, {"name": "train-a"}, {"user": "nameless"}],
        "contexts": [{"name": "train-a"}],
        "current-context": "home",
    }
    assert is_set is False
    assert existing["clusters"][0]["cluster"] == {"server": "old"}  # the input is not changed


@pytest.mark.parametrize("current", [None, ""], ids=["missing", "empty"])
def test_merge_sets_the_current_context_only_when_there_is_none(current: str | None) -> None:
    """A file without a current context gets the new one; a set one is never switched."""
    existing = {} if current is None else {"current-context": current}
    merged, is_set = merge_kubeconfig(existing, {"current-context": "train-a"})
    assert (merged["current-context"], is_set) == ("train-a", True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a/one:/a/two", ("/a/one", False)),
        (":/a/two", ("/a/two", False)),
        ("", None),
        (None, None),
    ],
    ids=["first-path", "leading-empty", "empty", "unset"],
)
def test_default_merge_path(value: str | None, expected: tuple[str, bool] | None) -> None:
    """$KUBECONFIG's first non-empty path, else ~/.kube/config (the default, flagged)."""
    env = {"HOME": "/home/u"} if value is None else {"KUBECONFIG": value}
    path, is_default = default_merge_path(env)
    if expected is None:
        assert path.endswith("/.kube/config") and is_default
    else:
        assert (path, is_default) == expected


def decode_and_load(text: str) -> dict[str, Any]:
    import yaml

    document: dict[str, Any] = yaml.safe_load(text)
    return document
