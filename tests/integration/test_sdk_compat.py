"""The official `together` SDK (3.x, `client.clusters.*`) works unchanged against the simulator."""

from __future__ import annotations

from base64 import b64decode
from collections.abc import Iterator

import pytest
import together
from together import Together

from reconciler.simulator.state import Faults, SimState
from tests.conftest import SIM_TOKEN

CREATE = {
    "cluster_name": "sdk-a",
    "region": "us-central-8",
    "gpu_type": "H100_SXM",
    "num_gpus": 8,
    "billing_type": "ON_DEMAND",
}


@pytest.fixture(autouse=True)
def _no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK must not phone home, nor pick up a real key or URL from the environment."""
    monkeypatch.setenv("TOGETHER_TELEMETRY_DISABLED", "1")
    for name in ("TOGETHER_API_KEY", "TOGETHER_BASE_URL", "TOGETHER_CUSTOM_HEADERS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sdk(sim_server: str) -> Iterator[Together]:
    """An SDK client at the simulator's host root, no retries."""
    client = Together(api_key=SIM_TOKEN, base_url=sim_server, max_retries=0)
    try:
        yield client
    finally:
        client.close()


def test_sdk_cluster_lifecycle_with_nvidia_version_id(sdk: Together) -> None:
    """create (version id) → list → retrieve → update → delete, parsed into SDK models."""
    regions = sdk.clusters.list_regions().regions
    central = next(r for r in regions if r.name == "us-central-8")
    version = next(d for d in central.driver_versions if d.cuda_version == "12.6")
    created = sdk.clusters.create(**CREATE, nvidia_version_id=version.id)
    assert created.status == "Ready"
    assert created.nvidia_driver_version_id == version.id
    assert created.gpu_worker_nodes[0].node_id
    assert created.phase_transitions[-1].phase == "CLUSTER_PHASE_READY"
    assert created.control_plane_nodes[0].phase_transitions

    listed = sdk.clusters.list().clusters
    assert [c.cluster_id for c in listed] == [created.cluster_id]
    fetched = sdk.clusters.retrieve(created.cluster_id)
    assert fetched.cluster_name == "sdk-a"
    assert b64decode(fetched.kube_config).startswith(b"apiVersion: v1")  # base64, as the API

    updated = sdk.clusters.update(created.cluster_id, num_gpus=16, num_preemptible_gpus=8)
    assert updated.num_gpus == 16
    assert updated.desired_preemptible_gpus == 8
    assert len(updated.gpu_worker_nodes) == 2

    deleted = sdk.clusters.delete(created.cluster_id)
    assert deleted.cluster_id == created.cluster_id
    assert sdk.clusters.list().clusters == []


def test_sdk_create_with_the_legacy_pair_and_project_filter(sdk: Together) -> None:
    """create (cuda/driver pair, project) and list with and without project_id."""
    created = sdk.clusters.create(
        **CREATE, cuda_version="12.8", nvidia_driver_version="570", project_id="proj-x"
    )
    assert (created.cuda_version, created.nvidia_driver_version) == ("12.8", "570")
    assert created.project_id == "proj-x"
    other = sdk.clusters.create(
        **{**CREATE, "cluster_name": "sdk-b"}, cuda_version="12.6", nvidia_driver_version="560"
    )
    assert [c.cluster_id for c in sdk.clusters.list(project_id="proj-x").clusters] == [
        created.cluster_id
    ]
    assert {c.cluster_id for c in sdk.clusters.list().clusters} == {
        created.cluster_id,
        other.cluster_id,
    }


def test_sdk_storage_lifecycle(sdk: Together) -> None:
    """storage create → list → retrieve → update (grow) → delete."""
    volume = sdk.clusters.storage.create(volume_name="team-data", size_tib=2, region="us-central-8")
    assert volume.status in ("provisioning", "available")
    assert [v.volume_id for v in sdk.clusters.storage.list().volumes] == [volume.volume_id]
    assert sdk.clusters.storage.list(project_id="nope").volumes == []
    assert sdk.clusters.storage.retrieve(volume.volume_id).volume_name == "team-data"
    grown = sdk.clusters.storage.update(volume_id=volume.volume_id, size_tib=4)
    assert grown.size_tib == 4
    assert sdk.clusters.storage.delete(volume.volume_id).success is True
    assert sdk.clusters.storage.list().volumes == []


def test_sdk_sees_a_volume_attached_to_a_cluster(sdk: Together) -> None:
    """A cluster created with volume_id lists it in volumes[]; deleting it is a ConflictError."""
    volume = sdk.clusters.storage.create(volume_name="v", size_tib=1, region="us-central-8")
    cluster = sdk.clusters.create(
        **CREATE, cuda_version="12.6", nvidia_driver_version="560", volume_id=volume.volume_id
    )
    assert cluster.volumes[0].volume_id == volume.volume_id
    assert cluster.volumes[0].status == "bound"
    with pytest.raises(together.ConflictError):
        sdk.clusters.storage.delete(volume.volume_id)


def test_sdk_error_classes(sdk: Together, sim_server: str, sim_state: SimState) -> None:
    """The SDK maps 400, 401, 404 and 429 to its Bad/Auth/NotFound/RateLimit error classes."""
    with pytest.raises(together.BadRequestError) as bad:
        sdk.clusters.create(
            **{**CREATE, "num_gpus": 12}, cuda_version="12.6", nvidia_driver_version="560"
        )
    assert bad.value.status_code == 400
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["error"]["param"] == "num_gpus"

    with (
        Together(api_key="wrong", base_url=sim_server, max_retries=0) as stranger,
        pytest.raises(together.AuthenticationError),
    ):
        stranger.clusters.list()

    with pytest.raises(together.NotFoundError):
        sdk.clusters.retrieve("c-missing")

    sim_state.faults = Faults({"429": 1.0})
    with pytest.raises(together.RateLimitError) as limited:
        sdk.clusters.storage.create(volume_name="v", size_tib=1, region="us-central-8")
    assert limited.value.response.headers["retry-after"] == "1"
    assert sim_state.volumes == {}


def test_sdk_update_of_immutable_field_is_a_bad_request(sdk: Together) -> None:
    """Fields the update schema lacks are refused even when sent through extra_body."""
    cluster = sdk.clusters.create(**CREATE, cuda_version="12.6", nvidia_driver_version="560")
    with pytest.raises(together.BadRequestError, match="region"):
        sdk.clusters.update(cluster.cluster_id, extra_body={"region": "us-east-1"})


def test_sdk_remediations_lifecycle(sdk: Together, sim_state: SimState) -> None:
    """remediations list (`-`) → retrieve → approve; create → cancel; reject; state filter."""
    cluster = sdk.clusters.create(**CREATE, cuda_version="12.6", nvidia_driver_version="560")
    sim_state.speed = 1.0  # the fake clock stands still: a queued remediation stays PENDING
    waiting = sim_state.request_remediation(cluster.cluster_id)
    node = waiting["instance_id"]
    listed = sdk.clusters.remediations.list("-", cluster_id=cluster.cluster_id)
    assert [(r.id, r.state) for r in listed.remediations] == [(waiting["id"], "PENDING_APPROVAL")]
    assert listed.has_next is False
    fetched = sdk.clusters.remediations.retrieve(
        waiting["id"], cluster_id=cluster.cluster_id, instance_id=node
    )
    assert fetched.trigger == "REMEDIATION_TRIGGER_AUTOMATED"
    approved = sdk.clusters.remediations.approve(
        waiting["id"], cluster_id=cluster.cluster_id, instance_id=node, comment="go"
    )
    assert (approved.state, approved.review_comment) == ("PENDING", "go")
    made = sdk.clusters.remediations.create(
        node, cluster_id=cluster.cluster_id, mode="REMEDIATION_MODE_REBOOT_VM"
    )
    assert made.state == "PENDING"
    cancelled = sdk.clusters.remediations.cancel(
        made.id, cluster_id=cluster.cluster_id, instance_id=node
    )
    assert cancelled.state == "CANCELLED"
    other = sim_state.request_remediation(cluster.cluster_id)
    rejected = sdk.clusters.remediations.reject(
        other["id"], cluster_id=cluster.cluster_id, instance_id=node
    )
    assert rejected.state == "CANCELLED"
    pending = sdk.clusters.remediations.list(
        node, cluster_id=cluster.cluster_id, state=["PENDING_APPROVAL", "PENDING", "RUNNING"]
    )
    assert [r.id for r in pending.remediations] == [waiting["id"]]
    with pytest.raises(together.ConflictError):
        sdk.clusters.remediations.cancel(made.id, cluster_id=cluster.cluster_id, instance_id=node)
