"""The cluster kind: GPU clusters (`/v1/compute/clusters`) and the rules only they have. Pure.

Field classes follow DESIGN §5 and REFERENCE §3–§5: what a PUT can change in place, what
forces delete + create, what is sent on create and never reported back.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import Any

from reconciler.kinds.base import (
    CostBasis,
    Endpoints,
    Field,
    FieldClass,
    Hooks,
    Kind,
    Prepaid,
    Ref,
    Statuses,
    Texts,
)
from reconciler.kinds.catalogue import compute_problem
from reconciler.kinds.cluster_spec import (
    check_item,
    is_int,
    legacy_warnings,
    spec_item,
)
from reconciler.kinds.values import cuda, epoch, normalise_time, text, upper
from reconciler.model import ActionKind

IN_PLACE, REPLACE = FieldClass.IN_PLACE, FieldClass.REPLACE
CREATE_ONLY, COMPUTED = FieldClass.CREATE_ONLY, FieldClass.COMPUTED

FIELDS = (
    # in place: one PUT with only the changed fields
    Field("num_gpus", IN_PLACE),
    Field(
        "cluster_type",
        IN_PLACE,
        normalise=upper,
        server_default="KUBERNETES",
        export_default="KUBERNETES",
    ),
    Field("reservation_end_time", IN_PLACE, normalise=normalise_time),
    Field("num_reserved_gpus", IN_PLACE),
    Field(
        "num_preemptible_gpus",
        IN_PLACE,
        live="desired_preemptible_gpus",
        server_default=0,
        export_default=0,
    ),
    Field("num_capacity_pool_gpus", IN_PLACE, export_default=0),
    Field("cluster_config", IN_PLACE),
    # replace: delete, then create
    Field("region", REPLACE),
    Field("gpu_type", REPLACE, normalise=upper),
    Field("cuda_version", REPLACE, normalise=cuda),
    Field("nvidia_driver_version", REPLACE, normalise=text),
    Field("nvidia_version_id", REPLACE, live="nvidia_driver_version_id", normalise=text),
    Field("billing_type", REPLACE, normalise=upper),
    Field("capacity_pool_id", REPLACE),
    Field("reservation_start_time", REPLACE, normalise=normalise_time),
    Field("slurm_shm_size_gib", REPLACE),
    Field("install_traefik", REPLACE, server_default=False, export_default=False),
    Field("oidc_config", REPLACE, sensitive=("ca_cert",)),
    # nested: a kind of its own (kinds/addon.py), sent in the create body with the cluster
    Field("add_ons", FieldClass.NESTED),
    # create-only: sent on create, never reported back
    Field("duration_days", CREATE_ONLY),
    Field("auto_scale", CREATE_ONLY),
    Field("auto_scale_max_gpus", CREATE_ONLY),
    Field("slurm_image", CREATE_ONLY),
    Field("acceptance_tests_params", CREATE_ONLY),
    Field("shared_volume", CREATE_ONLY),
    Field("volume_id", CREATE_ONLY),
    Field("project_id", CREATE_ONLY, in_spec=False),  # from the spec's top-level project_id
    # computed: reported, never sent or compared
    Field("kube_config", COMPUTED, sensitive=("",)),
)


# --- comparing ----------------------------------------------------------------------------------


def complete_desired(wanted: dict[str, Any]) -> None:
    """RESERVED clusters reserve all their GPUs unless told otherwise (server default)."""
    if wanted.get("billing_type") == "RESERVED" and "num_gpus" in wanted:
        wanted.setdefault("num_reserved_gpus", wanted["num_gpus"])


def ungoverned(fields: Mapping[str, Any]) -> frozenset[str]:
    """With `auto_scale`, the autoscaler owns `num_gpus`."""
    return frozenset({"num_gpus"}) if fields.get("auto_scale") else frozenset()


def settles_later(body: Mapping[str, Any], now: float) -> str | None:
    """A SCHEDULED_CAPACITY cluster whose reservation has not started is accepted, then waits
    for its start: apply does not wait for Ready (it could be next week)."""
    if str(body.get("billing_type", "")).upper() != "SCHEDULED_CAPACITY":
        return None
    start = body.get("reservation_start_time")
    at = epoch(start)
    if at is None or at <= now:
        return None
    return f"scheduled, starts {normalise_time(start)}"


#: Node repairs that are not over: a reviewer should know (PENDING_APPROVAL waits for a human).
OPEN_REMEDIATIONS = frozenset({"PENDING_APPROVAL", "PENDING", "RUNNING", "FAILED"})


def attention(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """A line per GPU node with an open remediation, or not ready in a cluster that is."""
    lines = []
    settled = obj.get("status") in ("Ready", "Degraded")
    nodes = obj.get("gpu_worker_nodes")
    for node in nodes if isinstance(nodes, list) else ():
        if type(node) is not dict and not isinstance(node, Mapping):  # the ABC check is slow
            continue
        name = node.get("host_name") or node.get("node_id") or "?"
        repair = node.get("latest_remediation")
        state = repair.get("state") if isinstance(repair, Mapping) else None
        if state in OPEN_REMEDIATIONS:
            assert isinstance(repair, Mapping)
            lines.append(f"node {name}: remediation {state} ({repair.get('mode', '?')})")
        elif settled and node.get("status") not in ("Ready", "Deleted", None):
            lines.append(f"node {name}: {node.get('status')}")
    return tuple(lines)


def collateral(fields: Mapping[str, Any], attached: list[Any]) -> list[tuple[str, str]]:
    """A volume created inline (`shared_volume`) goes with its cluster unless it was made
    lifecycle-independent: deleting or replacing the cluster deletes its data."""
    inline = fields.get("shared_volume")
    if not isinstance(inline, Mapping) or inline.get("is_lifecycle_independent"):
        return []
    name = inline.get("volume_name")
    for volume in attached:
        if volume.name == name:
            size = volume.fields.get("size_tib") or inline.get("size_tib")
            note = (
                f'volume "{name}" ({size} TiB) was created with it and is deleted with it: '
                "its data is deleted"
            )
            return [(volume.key, note)]
    return []


def capacity(fields: Mapping[str, Any]) -> tuple[str, int]:
    num_gpus = fields.get("num_gpus")
    return str(fields.get("gpu_type") or "").upper(), num_gpus if isinstance(num_gpus, int) else 0


def cost_basis(fields: Mapping[str, Any]) -> CostBasis:
    """Every GPU at the cluster's billing type's rate (GPUs beyond a reservation are billed
    on demand: the plan does not split them)."""
    try:
        raw = _BASIS_FIELDS(fields)  # one C call, where a read-only map's get is slow
    except KeyError:  # a field the answer lacks: read as None
        get = fields.get
        raw = (get("gpu_type"), get("num_gpus"), get("billing_type"), get("region"))
    try:
        return _cost_basis(*raw)
    except TypeError:  # a value that cannot be hashed (the API sent a list): not cached
        return _cost_basis.__wrapped__(*raw)


_BASIS_FIELDS = operator.itemgetter("gpu_type", "num_gpus", "billing_type", "region")


@functools.lru_cache(maxsize=256, typed=True)
def _cost_basis(gpu_type: Any, num_gpus: Any, billing: Any, region: Any) -> CostBasis:
    """One CostBasis per set of raw values: a plan asks for every live cluster's (10,000 of
    them come down to a few distinct ones). `typed`: 1 and True are not the same count."""
    gpu, gpus = capacity({"gpu_type": gpu_type, "num_gpus": num_gpus})
    return CostBasis(gpu, str(billing or "").upper(), str(region or ""), gpus)


#: Billing types paid in advance: deleting the cluster early forfeits what is left.
PREPAID = frozenset({"RESERVED", "SCHEDULED_CAPACITY"})
DAY = 86_400.0


def prepaid(fields: Mapping[str, Any], now: float | None) -> Prepaid | None:
    """The reservation a delete would forfeit; with no reported end, one of unknown length
    (a reserved cluster is prepaid until it ends, whether or not the API says when)."""
    billing = str(fields.get("billing_type") or "").upper()
    if billing not in PREPAID:
        return None
    end = epoch(fields.get("reservation_end_time"))
    if end is None:
        return Prepaid(billing, None, None)
    if now is not None and end <= now:
        return None
    starts = [t for t in (now, epoch(fields.get("reservation_start_time"))) if t is not None]
    reserved = fields.get("num_reserved_gpus")
    gpus = reserved if is_int(reserved) and reserved > 0 else capacity(fields)[1]
    days = gpus * (end - max(starts)) / DAY if starts else None
    return Prepaid(billing, normalise_time(fields["reservation_end_time"]), days)


def export(live: dict[str, Any]) -> dict[str, Any]:
    """Live fields an export would write twice or that the server fills in anyway."""
    if live.get("cuda_version") and live.get("nvidia_driver_version"):
        live.pop("nvidia_version_id", None)  # the pair says the same; the schema wants one
    reserved = live.get("num_reserved_gpus")
    billing = live.get("billing_type")
    if (billing != "RESERVED" and reserved == 0) or (
        billing == "RESERVED" and reserved == live.get("num_gpus")
    ):
        live.pop("num_reserved_gpus", None)
    return live


KIND = Kind(
    name="cluster",
    plural="clusters",
    api=Endpoints(
        collection="/v1/compute/clusters",
        list_key="clusters",
        id_key="cluster_id",
        name_key="cluster_name",
        required=("cluster_id", "cluster_name", "status"),
    ),
    fields=FIELDS,
    rank={
        ActionKind.REPLACE: 1,  # first: a replace frees the name its create needs
        ActionKind.CREATE: 2,
        ActionKind.UPDATE: 3,
        ActionKind.DELETE: 4,
    },
    statuses=Statuses(
        ready="Ready",
        deleting="Deleting",
        failed=frozenset({"Degraded", "Paused", "OnDemandComputePaused"}),
        unhealthy=frozenset({"Degraded", "Paused", "OnDemandComputePaused"}),
        explanations={
            "Paused": "the cluster is paused; it does not become Ready until it is resumed",
            "OnDemandComputePaused": "on-demand compute is paused, usually because the "
            "account ran out of credits",
        },
        provisioning_prefixes=("Waiting", "Installing", "Running"),
    ),
    waits=True,
    refs=(
        Ref(
            key="volume",
            kind="volume",
            body_key="volume_id",
            live_list="volumes",
            live_id="volume_id",
        ),
    ),
    prunable=True,
    texts=Texts(
        ungoverned="{fields} of {names} is the autoscaler's to set (auto_scale: true; the spec's "
        "value was its lower bound at create): not compared",
    ),
    hooks=Hooks(
        spec_item=spec_item,
        spec_warnings=legacy_warnings,
        spec_checks=check_item,
        complete_desired=complete_desired,
        ungoverned=ungoverned,
        catalogue=compute_problem,
        cost_basis=cost_basis,
        prepaid=prepaid,
        settles_later=settles_later,
        attention=attention,
        attention_reads=(
            ("status", None),
            ("gpu_worker_nodes", ("host_name", "node_id", "latest_remediation", "status")),
        ),
        collateral=collateral,
        export=export,
    ),
)
API = KIND.api
