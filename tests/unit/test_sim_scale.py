"""The simulator's work per request does not grow with the account: no request but a list
scans the stored clusters or remediations, and the answers are those of a small account."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.simulator.state import SimState
from reconciler.simulator.wire import SimRequest, SimResponse
from tests.conftest import SIM_TOKEN, FakeClock

CLUSTERS = "/v1/compute/clusters"
VOLUMES = "/v1/compute/clusters/storage/volumes"
AUTH = {"authorization": f"Bearer {SIM_TOKEN}"}
BODY: dict[str, Any] = {
    "cluster_name": "probe",
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "num_gpus": 16,
    "billing_type": "ON_DEMAND",
    "cuda_version": "12.6",
    "nvidia_driver_version": "560",
}


class NoScan(dict[str, Any]):
    """A dict that fails the test if anything walks it (lookups by key are allowed)."""

    def _scan(self, *args: Any) -> Any:
        raise AssertionError("a request walked every stored record")

    __iter__ = _scan  # type: ignore[assignment]
    keys = _scan  # type: ignore[assignment]
    values = _scan  # type: ignore[assignment]
    items = _scan  # type: ignore[assignment]


def call(state: SimState, method: str, path: str, body: Any = None) -> SimResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    return state.handle(SimRequest(method, path, {}, AUTH, raw))


def ok(response: SimResponse) -> Any:
    assert response.status == 200, response.body
    return response.json()


def filled(clock: FakeClock, clusters: int) -> SimState:
    """A state holding `clusters` Ready clusters (and a remediation on the first)."""
    state = SimState(clock=clock, token=SIM_TOKEN, speed=0)
    for index in range(clusters):
        state.add_cluster(cluster_name=f"bulk-{index}")
    first = next(iter(state.clusters))
    state.request_remediation(first)
    return state


def walk_requests(state: SimState) -> Iterator[tuple[str, Any]]:
    """Every kind of single-resource request, yielding (what, answer) as it goes."""
    volume = ok(call(state, "POST", VOLUMES, {"volume_name": "v", "size_tib": 1, **_REGION}))
    yield "volume create", volume
    vid = volume["volume_id"]
    yield "volume get", ok(call(state, "GET", f"{VOLUMES}/{vid}"))
    cluster = ok(call(state, "POST", CLUSTERS, {**BODY, "volume_id": vid}))
    yield "cluster create", cluster
    cid = cluster["cluster_id"]
    yield "cluster get", ok(call(state, "GET", f"{CLUSTERS}/{cid}"))
    yield "cluster update", ok(call(state, "PUT", f"{CLUSTERS}/{cid}", {"num_gpus": 24}))
    node = cluster["gpu_worker_nodes"][0]["instance_id"]
    remediations = f"{CLUSTERS}/{cid}/instances/{node}/remediations"
    made = ok(call(state, "POST", remediations, {"mode": "REMEDIATION_MODE_HOST_AWARE"}))
    yield "remediation create", made
    yield "remediation list", ok(call(state, "GET", remediations))
    yield "volume in use", call(state, "DELETE", f"{VOLUMES}/{vid}").json()
    yield "cluster delete", ok(call(state, "DELETE", f"{CLUSTERS}/{cid}"))
    yield "cluster gone", call(state, "GET", f"{CLUSTERS}/{cid}").json()
    yield "volume delete", ok(call(state, "DELETE", f"{VOLUMES}/{vid}"))


_REGION = {"region": "us-central-8"}
# Generated ids, the kubeconfig (which names the cluster id) and the node IPs (drawn from the
# same generator): they differ between two accounts, whatever their size.
ID_KEYS = ("cluster_id", "volume_id", "node_id", "instance_id", "id", "machine_cluster_id")
ID_KEYS += ("kube_config", "message")


def test_no_request_but_a_list_walks_the_stored_clusters(fake_clock: FakeClock) -> None:
    """Create, get, update, delete, volumes and remediations never scan the account."""
    state = filled(fake_clock, 300)
    state.clusters = NoScan(state.clusters)
    state.remediations = NoScan(state.remediations)
    answers = dict(walk_requests(state))
    assert answers["cluster gone"]["error"]["code"] == "not_found"
    assert answers["volume in use"]["error"]["code"] == "volume_attached"


@pytest.mark.parametrize("clusters", [10, 3_000], ids=["10 clusters", "3,000 clusters"])
def test_answers_do_not_depend_on_the_account_size(fake_clock: FakeClock, clusters: int) -> None:
    """With 10 or 3,000 clusters stored, every single-resource answer is the same (ids aside)."""
    small = [_without_ids(a) for _, a in walk_requests(filled(FakeClock(fake_clock.now), 1))]
    large = [_without_ids(a) for _, a in walk_requests(filled(fake_clock, clusters))]
    assert large == small


def _without_ids(answer: Any) -> Any:
    """The answer with generated ids (and what is derived from them) blanked."""
    text = json.dumps(answer, sort_keys=True)
    for key in ID_KEYS:
        text = re.sub(rf'"{key}": "[^"]*"', f'"{key}": "-"', text)
    text = re.sub(r'"networks": \[[^\]]*\]', '"networks": []', text)
    return json.loads(text)
