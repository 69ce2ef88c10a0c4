"""A list answer read one object at a time (client/streaming.py, issue 11): the same result
as reading it whole, the same error for every answer that is not the usual one, and a
fraction of the memory."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cli.listing import read_live
from reconciler.client import Client
from reconciler.errors import ApiResponseError
from reconciler.kinds import TOP_LEVEL
from reconciler.kinds import get as kind_of
from reconciler.live import parse_live_state
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport
from tests.conftest import SIM_TOKEN

CLUSTERS = kind_of("cluster").api
JSON = {"Content-Type": "application/json"}


def answering(body: str | bytes) -> Client:
    """A client whose every call is answered 200 with `body`."""
    content = body.encode() if isinstance(body, str) else body
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=content, headers=JSON))
    return Client("http://sim", SIM_TOKEN, transport=transport)


def cluster(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "cluster_id": f"c-{number:04d}",
        "cluster_name": f"train-{number}",
        "status": "Ready",
        "num_gpus": 8,
        **extra,
    }


def both(body: str, convert: Callable[[dict[str, Any]], Any] = dict) -> tuple[Any, Any]:
    """(read whole, then converted; read one object at a time), each a result or the error
    text: the two ways must agree on both."""
    outcomes = []
    for streamed in (False, True):
        with answering(body) as client:
            try:
                if streamed:
                    outcomes.append(client.list_converted(CLUSTERS, None, convert))
                else:
                    outcomes.append([convert(o) for o in client.list_resources(CLUSTERS)])
            except (ApiResponseError, ValueError) as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
    return outcomes[0], outcomes[1]


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=8),
    st.floats(-1e6, 1e6),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    objects=st.lists(st.dictionaries(st.sampled_from(["a", "b", "é", "x y"]), _VALUES), max_size=5),
    before=st.dictionaries(st.sampled_from(["next", "total"]), _VALUES, max_size=2),
    after=st.dictionaries(st.sampled_from(["page", "meta"]), _VALUES, max_size=2),
    indent=st.sampled_from([None, 0, 2]),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
    ascii_only=st.booleans(),
)
def test_any_usual_answer_reads_the_same_one_object_at_a_time(
    objects: list[dict[str, Any]],
    before: dict[str, Any],
    after: dict[str, Any],
    indent: int | None,
    separators: tuple[str, str],
    ascii_only: bool,
) -> None:
    """Whatever the spacing, the other members around the list and the objects' contents."""
    items = [cluster(i, **extra) for i, extra in enumerate(objects)]
    answer = {**before, "clusters": items, **after}
    body = json.dumps(answer, indent=indent, separators=separators, ensure_ascii=ascii_only)
    whole, streamed = both(body)
    assert streamed == whole == items


#: Answers that are not the usual one, each with its id: read whole, and refused or read alike
#: (test_list_reads.py runs them through the plan's reading too).
BAD_ANSWERS = [
    pytest.param('{"clusters": [' + json.dumps(cluster(1)) + ",", id="cut-off"),
    pytest.param("[]", id="an-array"),
    pytest.param("{}", id="no-key"),
    pytest.param('{"items": []}', id="another-key"),
    pytest.param('{"clusters": {}}', id="not-a-list"),
    pytest.param('{"clusters": [1]}', id="not-objects"),
    pytest.param('{"clusters": [{"cluster_id": "c-1", "status": "Ready"}]}', id="no-name"),
    pytest.param(
        '{"clusters": [{"cluster_id": "c-1", "cluster_name": "", "status": "Ready"}]}',
        id="empty-name",
    ),
    pytest.param('{"clusters": []} trailing', id="trailing-text"),
    pytest.param('\ufeff{"clusters": []}', id="bom"),
    pytest.param(
        '{"clusters": [' + json.dumps(cluster(1, num_gpus=1)).replace("1}", "NaN}") + "]}",
        id="nan",
    ),
    pytest.param(
        '{"clusters": [' + json.dumps(cluster(1)).replace('"num_gpus": 8', '"x": 1e999') + "]}",
        id="too-large-number",
    ),
    pytest.param(
        '{"clusters": [' + json.dumps(cluster(1, deep=None)).replace("null", "[" * 5000) + "]}",
        id="too-deep",
    ),
    pytest.param(  # the last one counts
        '{"clusters": [{}], "clusters": [' + json.dumps(cluster(2)) + "]}", id="key-twice"
    ),
    pytest.param('{"clusters": [' + json.dumps(cluster(1)) + "], [}", id="broken-after-the-list"),
]


@pytest.mark.parametrize("body", BAD_ANSWERS)
def test_every_other_answer_is_read_whole_and_refused_or_read_alike(body: str) -> None:
    whole, streamed = both(body)
    assert streamed == whole


def test_a_conversion_error_comes_after_the_answer_s_own_errors() -> None:
    """`convert` fails on the first object, the third lacks its name: the missing name is
    reported, as when the answer was checked whole before anything converted it."""

    def convert(obj: dict[str, Any]) -> str:
        if obj["cluster_name"] == "train-0":
            raise ValueError("cannot convert train-0")
        return str(obj["cluster_name"])

    broken = [cluster(0), cluster(1), {"cluster_id": "c-2", "status": "Ready"}]
    whole, streamed = both(json.dumps({"clusters": broken}), convert)
    assert streamed == whole
    assert "lacks the string field(s) cluster_name" in str(streamed)
    whole, streamed = both(json.dumps({"clusters": broken[:2]}), convert)
    assert streamed == whole == "ValueError: cannot convert train-0"


def test_read_live_gives_the_live_state_of_the_whole_answers(sim_state: SimState) -> None:
    """The plan's path (one object at a time) and parse_live_state over the whole answers
    agree, nested add-ons and volumes included."""
    volume = sim_state.add_volume(volume_name="data", size_tib=2)
    dash = {"add_on_type": "dashboard", "name": "dash", "config": {"dashboard": {"enabled": True}}}
    sim_state.add_cluster(cluster_name="b-train", add_ons=[dash], volume_id=volume["volume_id"])
    sim_state.add_cluster(cluster_name="a-infer", num_gpus=16)
    sim_state.add_cluster(cluster_name="a-infer", install_traefik=True)  # a twin: kept in order
    with Client("http://sim", SIM_TOKEN, transport=SimTransport(sim_state)) as client:
        streamed = read_live(client, None)
        whole = parse_live_state({k.name: client.list_resources(k.api) for k in TOP_LEVEL})
    assert streamed == whole
    assert [(r.kind, r.name) for r in streamed.resources] == [
        ("volume", "data"),
        ("cluster", "a-infer"),
        ("cluster", "a-infer"),
        ("cluster", "b-train"),
        ("add-on", "dash"),
    ]


def test_read_live_of_an_unusable_object_is_an_api_response_error() -> None:
    """A cluster whose add-on has a number for a name: the model cannot read it, and the
    command gets its one-line API error, not a traceback."""
    clusters = {"clusters": [cluster(1, add_ons=[{"name": 5, "add_on_type": "dashboard"}])]}

    def answer(request: httpx.Request) -> httpx.Response:
        volumes = request.url.path.endswith("/volumes")
        return httpx.Response(200, json={"volumes": []} if volumes else clusters)

    with (
        Client("http://sim", SIM_TOKEN, transport=httpx.MockTransport(answer)) as client,
        pytest.raises(ApiResponseError, match=r"^the API's lists are unusable: add-on "),
    ):
        read_live(client, None)


def test_one_object_at_a_time_holds_a_fraction_of_the_memory() -> None:
    """2,000 objects of ~2 KB: reading them whole holds the text and every object at once;
    one at a time holds the text and what `convert` keeps (here a name)."""
    nodes = [{"node_id": f"n-{i}", "status": "Ready", "host_name": f"h-{i}"} for i in range(12)]
    body = json.dumps({"clusters": [cluster(i, nodes=nodes) for i in range(2_000)]})
    peaks = []
    for streamed in (False, True):
        with answering(body) as client:
            tracemalloc.start()
            if streamed:
                names = client.list_converted(CLUSTERS, None, lambda o: o["cluster_name"])
            else:
                names = [o["cluster_name"] for o in client.list_resources(CLUSTERS)]
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            assert len(names) == 2_000
    whole, streamed_peak = peaks
    assert streamed_peak < 2.5 * len(body)  # the answer's bytes, then its text: little more
    assert whole > 2 * streamed_peak  # the objects of the whole answer: ~5 times its text
