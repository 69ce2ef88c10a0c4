"""A plan's list answer decoded to just what it reads (`live.listed_reads`, msgspec in
client/streaming.py, issue 11): the same live state as reading every object whole, the
same error for every answer read the usual way, and nothing read that is not named."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cli.listing import read_live
from reconciler.client import Client
from reconciler.client.answers import Shape
from reconciler.client.streaming import picked
from reconciler.errors import ApiResponseError
from reconciler.kinds import TOP_LEVEL, Kind
from reconciler.kinds import get as kind_of
from reconciler.live import listed_reads, parse_listed, parse_live_state
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import SIM_TOKEN
from tests.integration.test_list_streaming import _VALUES, BAD_ANSWERS, answering, cluster

CLUSTER = kind_of("cluster")
NODES = [
    {
        "node_id": "n-0",
        "host_name": "a-gpu-0",
        "status": "Ready",
        "phase_transitions": [{"phase": "NODE_PHASE_RUNNING", "transition_time": "x"}],
        "latest_remediation": {"state": "PENDING_APPROVAL", "mode": "REMEDIATION_MODE_VM_ONLY"},
    },
    {"node_id": "n-1", "host_name": "a-gpu-1", "status": "NotReady"},
    {"node_id": "n-2", "status": "Booting", "latest_remediation": {"state": "RUNNING"}},
]


def both(body: str | bytes, kind: Kind = CLUSTER) -> tuple[Any, Any]:
    """(read whole then parsed; decoded to what the plan reads), each the parsed resources
    or the error's text."""
    outcomes = []
    for cut in (False, True):
        with answering(body) as client:
            try:
                if cut:
                    convert = lambda obj: parse_listed(kind, obj)  # noqa: E731
                    outcomes.append(
                        client.list_converted(kind.api, None, convert, listed_reads(kind))
                    )
                else:
                    outcomes.append(
                        [parse_listed(kind, o) for o in client.list_resources(kind.api)]
                    )
            except (ApiResponseError, ValueError) as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
    return outcomes[0], outcomes[1]


class Recorder(dict[str, Any]):
    """An object of an answer that notes each key read of it (and of the objects it holds)."""

    def __init__(self, data: dict[str, Any], seen: set[str], prefix: str = "") -> None:
        super().__init__({k: _wrapped(v, seen, f"{prefix}{k}.") for k, v in data.items()})
        self.seen, self.prefix = seen, prefix

    def __getitem__(self, key: str) -> Any:
        self.seen.add(self.prefix + key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(self.prefix + key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.seen.add(f"{self.prefix}{key}")
        return super().__contains__(key)


def _wrapped(value: Any, seen: set[str], prefix: str) -> Any:
    if isinstance(value, dict):
        return Recorder(value, seen, prefix)
    if isinstance(value, list):
        return [_wrapped(v, seen, prefix) for v in value]
    return value


def rich_answers(sim_state: SimState) -> dict[str, list[dict[str, Any]]]:
    """Each top-level kind's list answer from the simulator: add-ons, an attached volume, a
    node repair waiting for approval, a degraded cluster."""
    volume = sim_state.add_volume(volume_name="data", size_tib=2)
    dash = {"add_on_type": "dashboard", "name": "dash", "config": {"dashboard": {"enabled": True}}}
    a = sim_state.add_cluster(cluster_name="a", add_ons=[dash], volume_id=volume["volume_id"])
    sim_state.add_cluster(cluster_name="b", num_gpus=16, status="Degraded")
    sim_state.request_remediation(a["cluster_id"])
    with Client("http://sim", SIM_TOKEN, transport=SimTransport(sim_state)) as client:
        answers = {k.name: client.list_resources(k.api) for k in TOP_LEVEL}
    answers["cluster"].append(cluster(9, gpu_worker_nodes=NODES))
    return answers


def test_parse_listed_reads_nothing_listed_reads_does_not_name(sim_state: SimState) -> None:
    """Every key parse_listed (the kind's attention hook included) reads of an object, and of
    the objects of a list it holds, is named: else the plan would see it missing."""
    for kind_name, objects in rich_answers(sim_state).items():
        kind = kind_of(kind_name)
        named = {key: keys for key, keys in listed_reads(kind)}
        seen: set[str] = set()
        lives = [live for obj in objects for live in parse_listed(kind, Recorder(obj, seen))]
        assert lives  # something was read
        for path in seen:
            key, _, sub = path.partition(".")  # a key of the object, then of one it holds
            assert key in named, f"{kind_name}: {key!r} is read, not named"
            keys = named[key]
            inner = sub.split(".")[0]
            assert keys is None or not inner or inner in keys, f"{kind_name}: {path!r} not named"


def test_the_plan_s_lists_give_the_live_state_of_the_whole_answers(sim_state: SimState) -> None:
    """read_live (decoded to what it reads) and parse_live_state over the whole answers
    agree, and the plan's attention lines come through."""
    answers = rich_answers(sim_state)

    def answer(request: httpx.Request) -> httpx.Response:
        kind = next(k for k in TOP_LEVEL if request.url.path == k.api.collection)
        return httpx.Response(200, json={kind.api.list_key: answers[kind.name]})

    with Client("http://sim", SIM_TOKEN, transport=httpx.MockTransport(answer)) as client:
        cut = read_live(client, None)
    assert cut == parse_live_state(answers)
    attention = [line for r in cut.resources for line in r.attention]
    assert "node a-gpu-0: remediation PENDING_APPROVAL (REMEDIATION_MODE_VM_ONLY)" in attention
    assert any("remediation PENDING_APPROVAL (REMEDIATION_MODE_HOST_AWARE)" in a for a in attention)


@settings(max_examples=60, deadline=None)
@given(
    extra=st.lists(
        st.dictionaries(
            st.sampled_from(["region", "volumes", "x", "add_ons", "num_gpus", "gpu_worker_nodes"]),
            _VALUES,
        ),
        max_size=4,
    ),
    nodes=st.lists(st.sampled_from(NODES) | _VALUES, max_size=3),
    indent=st.sampled_from([None, 2]),
)
def test_any_answer_gives_the_same_lives_cut_down_or_whole(
    extra: list[dict[str, Any]], nodes: list[Any], indent: int | None
) -> None:
    """Whatever the objects hold where the plan reads (odd types included) or does not."""
    items = [cluster(i, **{"gpu_worker_nodes": nodes, **more}) for i, more in enumerate(extra)]
    whole, cut = both(json.dumps({"clusters": items, "next": nodes}, indent=indent))
    assert cut == whole


@pytest.mark.parametrize(
    "body",
    [
        # 1e999 where nothing reads is the one difference: test_a_too_large_number_...
        *(p for p in BAD_ANSWERS if p.id != "too-large-number"),
        pytest.param(
            '{"clusters": [{"cluster_id": "c-1", "cluster_name": 5, "status": "Ready"}]}',
            id="number-name",
        ),
        pytest.param(
            '{"clusters": ['
            + json.dumps(cluster(1)).replace('"num_gpus": 8', '"num_gpus": 1e999')
            + "]}",
            id="too-large-a-number-read",
        ),
        pytest.param(
            '{"clusters": [' + json.dumps(cluster(1, x="\ud800")) + "]}", id="lone-surrogate"
        ),
        pytest.param(
            '{"clusters": [' + json.dumps(cluster(1, add_ons=[{"name": 5}])) + "]}",
            id="unusable-add-on",
        ),
        pytest.param(
            '{"clusters": [' + json.dumps(cluster(1, volumes=1)) + "]}", id="volumes-not-a-list"
        ),
        pytest.param(
            '{"clusters": [' + json.dumps(cluster(1, add_ons="dash")) + "]}",
            id="add-ons-not-a-list",
        ),
        pytest.param(  # not all ASCII: read from text, not from its bytes (json_text's raw)
            '{"clusters": [' + json.dumps(cluster(1, region="région"), ensure_ascii=False) + "]}",
            id="utf-8-text",
        ),
        pytest.param(
            b'{"clusters": [{"cluster_id": "c-1", "cluster_name": "a\xff", "status": "Ready"}]}',
            id="not-utf-8",
        ),
    ],
)
def test_every_other_answer_is_refused_or_read_alike(body: str | bytes) -> None:
    whole, cut = both(body)
    assert cut == whole


def test_a_list_that_is_not_one_is_the_api_s_one_line_error() -> None:
    """`volumes: 1` in a cluster (a TypeError, a traceback, before): the lists are refused."""
    body = json.dumps({"clusters": [cluster(1, volumes=1)], "volumes": []})
    with answering(body) as client, pytest.raises(ApiResponseError) as caught:
        read_live(client, None)
    assert str(caught.value) == (
        "the API's lists are unusable: cluster 'train-1' has a 'volumes' that is not a list"
    )


def test_a_too_large_number_nothing_reads_is_let_pass() -> None:
    """The one difference (documented in `picked`): 1e999 where the plan reads nothing."""
    body = '{"clusters": [' + json.dumps(cluster(1)).replace('"num_gpus": 8', '"x": 1e999') + "]}"
    whole, cut = both(body)
    assert "too large a number" in whole
    assert [live.name for lives in cut for live in lives] == ["train-1"]


def test_a_usual_answer_is_cut_down_to_what_is_read(sim_state: SimState) -> None:
    """The fast path is the one taken: each object holds only what the plan reads (no
    phase history, no kube_config), its nodes only the keys the attention hook reads."""
    text = json.dumps({"clusters": rich_answers(sim_state)["cluster"]})
    objects = picked(text, "clusters", Shape.of(CLUSTER.api), listed_reads(CLUSTER))
    assert objects is not None and len(objects) == 3  # not read the usual way
    named = dict(listed_reads(CLUSTER))
    for obj in objects:
        assert set(obj) <= set(named) and "kube_config" not in obj
        for node in obj.get("gpu_worker_nodes") or ():
            assert set(node) <= set(named["gpu_worker_nodes"] or ())
    assert picked('{"clusters": [1]}', "clusters", Shape.of(CLUSTER.api), ()) is None


@pytest.mark.parametrize(
    ("ensure_ascii", "given"), [(True, bytearray), (False, str)], ids=["ascii", "utf-8"]
)
def test_an_all_ascii_answer_is_decoded_from_its_bytes(
    monkeypatch: pytest.MonkeyPatch, ensure_ascii: bool, given: type
) -> None:
    """No text copy of an all-ASCII list answer (38 MB at 10,000 clusters): msgspec reads
    its bytes; an answer with other characters is checked as UTF-8 and read as text."""
    import reconciler.client.streaming as streaming

    seen: list[type] = []
    real = streaming.picked

    def spy(text: Any, *args: Any) -> Any:
        seen.append(type(text))
        return real(text, *args)

    monkeypatch.setattr(streaming, "picked", spy)
    body = json.dumps({"clusters": [cluster(1, region="\u00e9")]}, ensure_ascii=ensure_ascii)
    with answering(body) as client:
        lives = client.list_converted(
            CLUSTER.api, None, lambda obj: parse_listed(CLUSTER, obj), listed_reads(CLUSTER)
        )
    assert seen == [given]
    assert [live.fields["region"] for lives_ in lives for live in lives_] == ["\u00e9"]
