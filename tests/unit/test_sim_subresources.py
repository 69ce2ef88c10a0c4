"""The simulator's issue-9 behaviour: add-on and remediation endpoints, scheduled clusters,
paused clusters, and `null` in request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.simulator.clusters import PHASE_SECONDS
from reconciler.simulator.remediations import QUEUE_SECONDS, RUN_SECONDS
from reconciler.simulator.state import SimState
from reconciler.simulator.wire import match_route
from tests.conftest import SIM_TOKEN, FakeClock
from tests.unit.test_sim_state import CLUSTERS, VOLUMES, call, create, error, get


@pytest.fixture
def slow_state(fake_clock: FakeClock) -> SimState:
    """Speed 1, scheduled clusters wait for their start."""
    return SimState(clock=fake_clock, token=SIM_TOKEN, speed=1.0, scheduled_waits=True)


def ok(sim: SimState, method: str, path: str, body: Any = None, **query: str) -> Any:
    response = call(sim, method, path, body, query=query)
    assert response.status == 200, response.body
    return response.json()


# --- add-ons ------------------------------------------------------------------------------------


def test_add_on_lifecycle_through_its_endpoints(sim_state: SimState) -> None:
    """POST adds, GET lists and reads by name, PUT merges config, DELETE answers {}."""
    cluster = create(sim_state)
    base = f"{CLUSTERS}/{cluster['cluster_id']}/addons"
    assert ok(sim_state, "GET", base) == {"add_ons": []}
    made = ok(sim_state, "POST", base, {"name": "dash", "add_on_type": "dashboard"})
    assert made == {
        "name": "dash",
        "add_on_type": "dashboard",
        "config": {},
        "state": {"dashboard": {}},
    }
    assert get(sim_state, cluster["cluster_id"]).json()["add_ons"] == [made]
    changed = ok(sim_state, "PUT", f"{base}/dash", {"config": {"dashboard": {"enabled": False}}})
    assert changed["config"] == {"dashboard": {"enabled": False}}
    assert get(sim_state, cluster["cluster_id"]).json()["add_ons"] == []  # only enabled ones
    assert ok(sim_state, "GET", base)["add_ons"] == [changed]  # the endpoint lists all
    assert ok(sim_state, "DELETE", f"{base}/dash") == {}
    assert ok(sim_state, "GET", base) == {"add_ons": []}


def test_add_on_id_is_its_name_percent_encoded(sim_state: SimState) -> None:
    """`addon_id` is the name; an encoded `/` or space stays inside the one path segment."""
    cluster = create(sim_state)
    base = f"{CLUSTERS}/{cluster['cluster_id']}/addons"
    ok(sim_state, "POST", base, {"name": "web ui/1", "add_on_type": "ingress"})
    assert ok(sim_state, "GET", f"{base}/web%20ui%2F1")["name"] == "web ui/1"
    assert match_route(f"{base}/web%20ui%2F1") == (
        "/v1/compute/clusters/{id}/addons/{addon_id}",
        (cluster["cluster_id"], "web ui/1"),
    )


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status", "param"),
    [
        ("POST", "", {"name": "dash", "add_on_type": "dashboard"}, 409, "name"),
        ("POST", "", {"name": " ", "add_on_type": "dashboard"}, 400, "name"),
        ("POST", "", {"name": "x", "add_on_type": "grafana"}, 400, "add_on_type"),
        ("POST", "", {"add_on_type": "dashboard"}, 400, "name"),
        ("GET", "/nope", None, 404, None),
        ("PUT", "/nope", {"config": {}}, 404, None),
        ("PUT", "/dash", {"name": "other"}, 400, "name"),
        ("DELETE", "/nope", None, 404, None),
    ],
    ids=[
        "duplicate",
        "blank",
        "bad-type",
        "no-name",
        "get-unknown",
        "put-unknown",
        "put-name",
        "delete-unknown",
    ],
)
def test_add_on_errors(
    sim_state: SimState, method: str, suffix: str, body: Any, status: int, param: str | None
) -> None:
    """A taken name is 409, an unknown add-on 404, a bad body 400 naming the field."""
    cluster = create(sim_state, add_ons=[{"name": "dash", "add_on_type": "dashboard"}])
    response = call(sim_state, method, f"{CLUSTERS}/{cluster['cluster_id']}/addons{suffix}", body)
    assert response.status == status, response.body
    assert error(response)["param"] == param


def test_add_ons_of_a_deleting_cluster_cannot_change(slow_state: SimState) -> None:
    """While the cluster is Deleting, add-on changes are 409; reads still answer."""
    cluster = create(slow_state, add_ons=[{"name": "dash", "add_on_type": "dashboard"}])
    call(slow_state, "DELETE", f"{CLUSTERS}/{cluster['cluster_id']}")
    base = f"{CLUSTERS}/{cluster['cluster_id']}/addons"
    assert call(slow_state, "DELETE", f"{base}/dash").status == 409
    assert ok(slow_state, "GET", base)["add_ons"][0]["name"] == "dash"


def test_a_create_body_cannot_name_two_add_ons_alike(sim_state: SimState) -> None:
    """Names are ids: the second of two equal names in one create body is a 400."""
    add_ons = [{"name": "d", "add_on_type": "dashboard"}, {"name": "d", "add_on_type": "ingress"}]
    response = call(sim_state, "POST", CLUSTERS, {**_base(), "add_ons": add_ons})
    assert (response.status, error(response)["param"]) == (400, "add_ons[1].name")


def _base() -> dict[str, Any]:
    from tests.unit.test_sim_state import BASE

    return dict(BASE)


# --- remediations -------------------------------------------------------------------------------


def test_a_system_remediation_waits_for_approval_then_runs(
    slow_state: SimState, fake_clock: FakeClock
) -> None:
    """PENDING_APPROVAL → approve → PENDING → RUNNING → SUCCEEDED on the clock."""
    cluster = create(slow_state)
    waiting = slow_state.request_remediation(cluster["cluster_id"])
    assert (waiting["state"], waiting["trigger"]) == (
        "PENDING_APPROVAL",
        "REMEDIATION_TRIGGER_AUTOMATED",
    )
    node = get(slow_state, cluster["cluster_id"]).json()["gpu_worker_nodes"][0]
    assert node["latest_remediation"] == waiting
    path = f"{CLUSTERS}/{cluster['cluster_id']}/instances/-/remediations/{waiting['id']}"
    approved = ok(slow_state, "POST", f"{path}/approve", {"comment": "ok"})
    assert (approved["state"], approved["review_comment"]) == ("PENDING", "ok")
    assert approved["reviewed_by"] and approved["review_time"]
    fake_clock.advance(QUEUE_SECONDS)
    assert ok(slow_state, "GET", path)["state"] == "RUNNING"
    fake_clock.advance(RUN_SECONDS)
    done = ok(slow_state, "GET", path)
    assert (done["state"], done["end_time"] > done["start_time"]) == ("SUCCEEDED", True)


@pytest.mark.parametrize(
    ("action", "body", "state"),
    [("reject", {"comment": "no"}, "CANCELLED"), ("cancel", None, "CANCELLED")],
    ids=["reject", "cancel"],
)
def test_reject_and_cancel_end_a_pending_approval(
    sim_state: SimState, action: str, body: Any, state: str
) -> None:
    """Both end it CANCELLED; a second try is 409 (the spec's allowed states)."""
    cluster = create(sim_state)
    waiting = sim_state.request_remediation(cluster["cluster_id"])
    path = f"{CLUSTERS}/{cluster['cluster_id']}/instances/{waiting['instance_id']}"
    path += f"/remediations/{waiting['id']}/{action}"
    assert ok(sim_state, "POST", path, body)["state"] == state
    assert call(sim_state, "POST", path, body).status == 409


def test_an_api_remediation_is_pending_and_idempotent_by_client_id(slow_state: SimState) -> None:
    """POST creates it PENDING (manual); the same `remediation_id` returns it again."""
    cluster = create(slow_state)
    node = cluster["gpu_worker_nodes"][0]["instance_id"]
    base = f"{CLUSTERS}/{cluster['cluster_id']}/instances/{node}/remediations"
    body = {"mode": "REMEDIATION_MODE_REBOOT_VM", "reason": None}
    made = ok(slow_state, "POST", base, body, remediation_id="mine")
    assert (made["id"], made["state"], made["trigger"]) == (
        "mine",
        "PENDING",
        "REMEDIATION_TRIGGER_MANUAL",
    )
    assert "reason" not in made
    assert ok(slow_state, "POST", base, body, remediation_id="mine") == made
    assert ok(slow_state, "POST", f"{base}/mine/cancel")["state"] == "CANCELLED"


def test_listing_remediations_filters_and_pages(sim_state: SimState) -> None:
    """`-` lists every node's; `state` filters (comma-joined); `page_size` pages."""
    cluster = create(sim_state, num_gpus=16)
    cid = cluster["cluster_id"]
    first, second = (n["instance_id"] for n in cluster["gpu_worker_nodes"])
    one = sim_state.request_remediation(cid, first)
    two = sim_state.request_remediation(cid, second)
    base = f"{CLUSTERS}/{cid}/instances"
    ok(sim_state, "POST", f"{base}/-/remediations/{one['id']}/reject", {})
    every = ok(sim_state, "GET", f"{base}/-/remediations")
    assert [r["id"] for r in every["remediations"]] == [one["id"], two["id"]]
    assert (every["has_next"], every["next_page_token"]) == (False, "")
    mine = ok(sim_state, "GET", f"{base}/{second}/remediations")["remediations"]
    assert [r["id"] for r in mine] == [two["id"]]
    waiting = ok(sim_state, "GET", f"{base}/-/remediations", state="PENDING_APPROVAL,PENDING")
    assert [r["id"] for r in waiting["remediations"]] == [two["id"]]
    page = ok(sim_state, "GET", f"{base}/-/remediations", page_size="1")
    assert (len(page["remediations"]), page["has_next"], page["next_page_token"]) == (1, True, "1")
    rest = ok(sim_state, "GET", f"{base}/-/remediations", page_size="1", page_token="1")
    assert [r["id"] for r in rest["remediations"]] == [two["id"]]


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("GET", "/i-unknown/remediations", None, 404),
        ("POST", "/-/remediations", {"mode": "REMEDIATION_MODE_VM_ONLY"}, 404),
        ("POST", "/{node}/remediations", {}, 400),
        ("POST", "/{node}/remediations", {"mode": "REMEDIATION_MODE_HOST_POWER_CYCLE"}, 400),
        ("GET", "/-/remediations/rem-unknown", None, 404),
        ("GET", "/-/remediations", None, 200),
    ],
    ids=["unknown-node", "create-on-all", "no-mode", "mode-not-in-spec", "unknown-id", "empty"],
)
def test_remediation_errors(
    sim_state: SimState, method: str, suffix: str, body: Any, status: int
) -> None:
    """Unknown nodes and ids are 404; a create needs one node and a spec mode."""
    cluster = create(sim_state)
    node = cluster["gpu_worker_nodes"][0]["instance_id"]
    path = f"{CLUSTERS}/{cluster['cluster_id']}/instances{suffix.format(node=node)}"
    assert call(sim_state, method, path, body).status == status


def test_remediations_are_saved_and_go_with_their_cluster(fake_clock: FakeClock) -> None:
    """The state file keeps them; a cluster's deletion forgets them."""
    state = SimState(clock=fake_clock, token=SIM_TOKEN, speed=0)
    cluster = create(state)
    waiting = state.request_remediation(cluster["cluster_id"])
    again = SimState.from_json(state.to_json(), clock=fake_clock)
    path = f"{CLUSTERS}/{cluster['cluster_id']}/instances/-/remediations/{waiting['id']}"
    assert ok(again, "GET", path) == waiting
    ok(again, "DELETE", f"{CLUSTERS}/{cluster['cluster_id']}")
    assert get(again, cluster["cluster_id"]).status == 404
    assert again.remediations == {}


# --- scheduled and paused clusters --------------------------------------------------------------


def scheduled(state: SimState, start: str = "2027-01-22T08:00:00Z") -> dict[str, Any]:
    return create(
        state,
        billing_type="SCHEDULED_CAPACITY",
        reservation_start_time=start,
        reservation_end_time="2027-02-22T08:00:00Z",
    )


def test_a_scheduled_cluster_waits_for_its_start(
    slow_state: SimState, fake_clock: FakeClock
) -> None:
    """Until reservation_start_time: status WaitingForControlPlaneNodes (the spec has no
    scheduled status), last phase CLUSTER_PHASE_SCHEDULED, no nodes; then it provisions."""
    cluster = scheduled(slow_state)
    assert cluster["status"] == "WaitingForControlPlaneNodes"
    assert [t["phase"] for t in cluster["phase_transitions"]] == ["CLUSTER_PHASE_SCHEDULED"]
    assert (cluster["gpu_worker_nodes"], cluster["control_plane_nodes"]) == ([], [])
    fake_clock.advance(7 * 86_400 - 1)
    assert get(slow_state, cluster["cluster_id"]).json()["phase_transitions"][-1]["phase"] == (
        "CLUSTER_PHASE_SCHEDULED"
    )
    fake_clock.advance(1)
    started = get(slow_state, cluster["cluster_id"]).json()
    assert started["phase_transitions"][-1] == {
        "phase": "CLUSTER_PHASE_WAITING_FOR_CONTROL_PLANE_NODES",
        "transition_time": "2027-01-22T08:00:00Z",
    }
    assert len(started["control_plane_nodes"]) == 3
    fake_clock.advance(sum(PHASE_SECONDS.values()))
    assert get(slow_state, cluster["cluster_id"]).json()["status"] == "Ready"


def test_a_scheduled_cluster_whose_start_passed_provisions_at_once(slow_state: SimState) -> None:
    """A start in the past (or now) does not wait."""
    cluster = scheduled(slow_state, start="2027-01-01T00:00:00Z")
    assert (
        cluster["phase_transitions"][0]["phase"] == "CLUSTER_PHASE_WAITING_FOR_CONTROL_PLANE_NODES"
    )


def test_scheduled_waits_is_on_by_default_can_be_switched_off_and_is_saved(
    fake_clock: FakeClock,
) -> None:
    """On by default (as the real API: the tool does not wait for a scheduled cluster); off,
    it provisions at once; the setting round-trips."""
    state = SimState(clock=fake_clock, token=SIM_TOKEN, speed=0)
    assert state.scheduled_waits is True
    state.scheduled_waits = False
    assert scheduled(state)["status"] == "Ready"
    assert SimState.from_json(state.to_json(), clock=fake_clock).scheduled_waits is False


@pytest.mark.parametrize("status", ["Paused", "OnDemandComputePaused"])
def test_pause_holds_a_cluster_until_recovered(
    sim_state: SimState, fake_clock: FakeClock, status: str
) -> None:
    """The hook pauses it now, for good; `recover` makes it Ready again."""
    cluster = create(sim_state)
    sim_state.pause(cluster["cluster_id"], status)
    fake_clock.advance(86_400)
    paused = get(sim_state, cluster["cluster_id"]).json()
    assert paused["status"] == status
    assert paused["phase_transitions"][-1]["phase"].endswith("PAUSED")
    sim_state.recover(cluster["cluster_id"])
    assert get(sim_state, cluster["cluster_id"]).json()["status"] == "Ready"
    with pytest.raises(ValueError, match="Paused, OnDemandComputePaused"):
        sim_state.pause(cluster["cluster_id"], "Degraded")


# --- null in requests, absent in answers ---------------------------------------------------------


def test_null_optional_request_fields_read_as_absent(sim_state: SimState) -> None:
    """The official CLI sends `null` for unset options: accepted, as if left out."""
    cluster = create(sim_state, capacity_pool_id=None, cluster_config=None, num_reserved_gpus=None)
    assert "capacity_pool_id" not in cluster and "cluster_config" not in cluster
    path = f"{CLUSTERS}/{cluster['cluster_id']}"
    assert ok(sim_state, "PUT", path, {"num_gpus": None, "cluster_type": None})["num_gpus"] == 8
    volume = ok(
        sim_state,
        "POST",
        VOLUMES,
        {"volume_name": "v", "size_tib": 1, "region": "us-central-8", "project_id": None},
    )
    assert volume["status"] == "available"


def test_a_required_field_sent_as_null_is_missing(sim_state: SimState) -> None:
    """`null` for a required field is reported as missing, naming it."""
    response = call(sim_state, "POST", CLUSTERS, {**_base(), "num_gpus": None})
    assert (response.status, error(response)["param"]) == (400, "num_gpus")
    assert error(response)["message"] == "num_gpus is required"
