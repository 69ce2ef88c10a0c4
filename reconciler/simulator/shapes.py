"""Request body shapes as data, and `check_shape`, which answers 400 naming the field.

`CREATE_FIELDS` and `UPDATE_FIELDS` are the top-level fields each kind's body accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from reconciler.simulator.catalogue import (
    ADD_ON_TYPES,
    BILLING_TYPES,
    CLUSTER_TYPES,
    DCGM_LEVELS,
    GPU_TYPES,
    LOAD_BALANCERS,
)
from reconciler.simulator.remediations import MODES
from reconciler.simulator.wire import bad, parse_time

# A shape: an Obj, a one-item list (a list of that shape), an enum tuple or a scalar tag
# ("str", "int", "bool", "time").
Shape: TypeAlias = "Obj | list[Shape] | tuple[str, ...] | str"


@dataclass(frozen=True)
class Obj:
    """A JSON object shape: field name → shape."""

    fields: Mapping[str, Shape]
    required: frozenset[str] = frozenset()


ENABLED = Obj({"enabled": "bool"})
ADD_ON_CONFIG = Obj({name: ENABLED for name in ADD_ON_TYPES})
CREATE_ADD_ON = Obj(
    {"add_on_type": ADD_ON_TYPES, "name": "str", "config": ADD_ON_CONFIG},
    frozenset({"add_on_type", "name"}),
)
UPDATE_ADD_ON = Obj({"name": "str", "config": ADD_ON_CONFIG}, frozenset({"name"}))
# The add-on endpoints' bodies (ClusterAddOnCreateRequest, ClusterAddOnUpdateRequest).
ADD_ON_CREATE = CREATE_ADD_ON
ADD_ON_UPDATE = Obj({"config": ADD_ON_CONFIG})
# Remediations: a create carries only what is not read-only; approve may change the mode
# (the SDK sends it); reject and cancel take a comment at most (CommentBody).
REMEDIATION_CREATE = Obj({"mode": MODES, "reason": "str"}, frozenset({"mode"}))
COMMENT_BODY = Obj({"comment": "str"})
APPROVE_BODY = Obj({"comment": "str", "mode": MODES})
SLURM_SCRIPTS = (
    "controller_prolog",
    "controller_epilog",
    "worker_prolog",
    "worker_epilog",
    "login_init_script",
    "nodeset_init_script",
    "extra_slurm_conf",
)
CLUSTER_CONFIG = Obj(
    {
        "load_balancer": LOAD_BALANCERS,
        "gpu_operator_version": "str",
        "network_operator_version": "str",
        "ingress": ENABLED,
        "observability": ENABLED,
        "jumphost_enabled": "bool",
        "kubernetes_dashboard_enabled": "bool",
        "ssh_ca_enabled": "bool",
        "slurm_startup_scripts": Obj({name: "str" for name in SLURM_SCRIPTS}),
    },
    frozenset({"load_balancer"}),
)
OIDC_REQUIRED = (
    "client_id",
    "issuer_url",
    "username_claim",
    "username_prefix",
    "group_claim",
    "group_prefix",
)
OIDC_CONFIG = Obj(
    {**{name: "str" for name in OIDC_REQUIRED}, "ca_cert": "str"}, frozenset(OIDC_REQUIRED)
)
ACCEPTANCE_TESTS = Obj(
    {
        "enabled": "bool",
        "dcgm_diag_level": DCGM_LEVELS,
        "dcgm_diag_skipped": "bool",
        "gpu_burn_duration": "int",
        "gpu_burn_skipped": "bool",
        "nccl_single_node_skipped": "bool",
        "nccl_multi_node_skipped": "bool",
        "storage_skipped": "bool",
    }
)
VOLUME_CREATE = Obj(
    {
        "volume_name": "str",
        "size_tib": "int",
        "region": "str",
        "instance_cluster_id": "str",
        "is_lifecycle_independent": "bool",
        "project_id": "str",
    },
    frozenset({"volume_name", "size_tib", "region"}),
)
VOLUME_UPDATE = Obj({"volume_id": "str", "size_tib": "int"}, frozenset({"volume_id"}))
CLUSTER_CREATE = Obj(
    {
        "billing_type": BILLING_TYPES,
        "cluster_name": "str",
        "gpu_type": GPU_TYPES,
        "num_gpus": "int",
        "region": "str",
        "nvidia_version_id": "str",
        "cuda_version": "str",
        "nvidia_driver_version": "str",
        "acceptance_tests_params": ACCEPTANCE_TESTS,
        "add_ons": [CREATE_ADD_ON],
        "auto_scale": "bool",
        "auto_scale_max_gpus": "int",
        "capacity_pool_id": "str",
        "cluster_config": CLUSTER_CONFIG,
        "cluster_type": CLUSTER_TYPES,
        "duration_days": "int",
        "install_traefik": "bool",
        "num_capacity_pool_gpus": "int",
        "num_preemptible_gpus": "int",
        "num_reserved_gpus": "int",
        "oidc_config": OIDC_CONFIG,
        "project_id": "str",
        "reservation_start_time": "time",
        "reservation_end_time": "time",
        "shared_volume": VOLUME_CREATE,
        "slurm_image": "str",
        "slurm_shm_size_gib": "int",
        "volume_id": "str",
    },
    frozenset({"billing_type", "cluster_name", "gpu_type", "num_gpus", "region"}),
)
CLUSTER_UPDATE = Obj(
    {
        "cluster_type": CLUSTER_TYPES,
        "num_gpus": "int",
        "reservation_end_time": "time",
        "num_reserved_gpus": "int",
        "num_preemptible_gpus": "int",
        "num_capacity_pool_gpus": "int",
        "add_ons": [UPDATE_ADD_ON],
        "cluster_config": CLUSTER_CONFIG,
    }
)

# The top-level body fields each kind accepts, as plain data (cross-checked by tests against
# the product's field tables and JSON schema, which this package never imports).
CREATE_FIELDS: Mapping[str, frozenset[str]] = {
    "cluster": frozenset(CLUSTER_CREATE.fields),
    "volume": frozenset(VOLUME_CREATE.fields),
    "add-on": frozenset(ADD_ON_CREATE.fields),
}
UPDATE_FIELDS: Mapping[str, frozenset[str]] = {
    "cluster": frozenset(CLUSTER_UPDATE.fields),
    "volume": frozenset(VOLUME_UPDATE.fields),
    "add-on": frozenset(ADD_ON_UPDATE.fields),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Scalar tag → (test, what the value must be).
SCALARS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda value: isinstance(value, str), "a string"),
    "int": (_is_int, "an integer"),
    "bool": (lambda value: isinstance(value, bool), "a boolean"),
}


def check_shape(value: Any, shape: Shape, param: str, *, updating: bool = False) -> None:
    """Raise a 400 naming `param` when `value` does not fit `shape`."""
    where = param or "body"
    if isinstance(shape, Obj):
        check_object(value, shape, param, updating=updating)
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise bad(f"{where} must be a list", param)
        for index, item in enumerate(value):
            check_shape(item, shape[0], f"{param}[{index}]")
    elif isinstance(shape, tuple):
        if value not in shape:
            raise bad(f"{where} must be one of {', '.join(shape)}; got {value!r}", param)
    elif shape == "time":
        parse_time(value, param)
    else:
        is_valid, what = SCALARS[shape]
        if not is_valid(value):
            raise bad(f"{where} must be {what}", param)


def check_object(value: Any, shape: Obj, param: str, *, updating: bool) -> None:
    """Unknown keys first, then missing required ones, then each value in body order."""
    if not isinstance(value, dict):
        raise bad(f"{param or 'body'} must be a JSON object", param or None)
    for key in value:
        if key not in shape.fields:
            sub = f"{param}.{key}" if param else key
            if updating and not param:
                raise bad(f"{key} cannot be updated (not an update field of this API)", sub)
            raise bad(f"unknown field {sub}", sub)
    for key in sorted(shape.required):
        if key not in value or value[key] is None:
            sub = f"{param}.{key}" if param else key
            raise bad(f"{sub} is required", sub, "missing_field")
    for key, item in value.items():
        check_shape(item, shape.fields[key], f"{param}.{key}" if param else key)
