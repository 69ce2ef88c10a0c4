"""Plan-after-apply is empty (DESIGN §10): random valid specs against random live states.

Specs are written as YAML and read by the real loader; live states are built in the
simulator; apply runs the real Applier (and, in one test, the real CLI).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.model import Outcome
from reconciler.plan import PlanOptions
from reconciler.simulator.state import SimState
from reconciler.simulator.transport import SimTransport, save_state
from reconciler.spec import load_spec
from tests.conftest import FakeClock
from tests.integration.helpers import (
    apply_spec,
    duplicate_names,
    load_sim_file,
    new_sim_state,
    plan_against,
    run_cli,
    sim_api,
    sim_args,
)

#: (region, gpu_type, cuda, driver) that the simulator's catalogue offers.
PLACES = [
    ("us-central-8", "H100_SXM", "12.6", "560"),
    ("us-central-8", "H200_SXM", "12.8", "570"),
    ("us-central-4", "L40_PCIE", "12.5", "555"),
    ("us-east-1", "B200_SXM", "12.9", "575"),
    ("eu-north-1", "H100_SXM_INF", "12.8", "570"),
]
#: Pairs the older `driver_version: CUDA_x_y_driver` form can name.
LEGACY_PAIRS = {("12.5", "555"), ("12.6", "560"), ("12.8", "570")}
NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]
PRUNE_PREFIX = "tmp-"
#: Every field is allowed to be replaced and anything may be deleted: the property is about
#: convergence, the safety rules have their own tests.
#: Deleting or replacing prepaid (RESERVED, SCHEDULED_CAPACITY) clusters is allowed too.
FORFEITABLE = (*NAMES, *(f"{PRUNE_PREFIX}{i}" for i in range(2)))
ALLOW_ALL = PlanOptions(allow_replace=tuple(NAMES), max_deletes=100, allow_forfeit=FORFEITABLE)


@dataclass(frozen=True)
class Case:
    spec_yaml: str
    live: tuple[dict[str, Any], ...]  # add_cluster keyword sets
    declared: tuple[str, ...]
    untouchable: tuple[str, ...]  # undeclared, outside the prune prefix


@st.composite
def cluster_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Create fields of one valid cluster, as a user writes them (API names, legacy forms)."""
    region, gpu_type, cuda, driver = draw(st.sampled_from(PLACES))
    num_gpus = 8 * draw(st.integers(1, 6))
    fields: dict[str, Any] = {"region": region, "gpu_type": gpu_type, "num_gpus": num_gpus}
    match draw(st.sampled_from(["pair", "legacy", "version-id", "os-suffix"])):
        case "legacy" if (cuda, driver) in LEGACY_PAIRS:
            fields["driver_version"] = f"CUDA_{cuda.replace('.', '_')}_{driver}"
        case "os-suffix":
            # The OS picks the image at create time; the API echoes the version only.
            fields.update(cuda_version=f"{cuda}-ubuntu-22.04", nvidia_driver_version=driver)
        case "legacy" | "pair":
            fields.update(cuda_version=cuda, nvidia_driver_version=driver)
        case _:
            os_code = {"us-central-8": "usc8", "us-central-4": "usc4", "us-east-1": "use1"}
            fields["nvidia_version_id"] = f"nv-{os_code.get(region, 'eun1')}-{cuda}-{driver}-u2204"
    billing = draw(st.sampled_from(["ON_DEMAND", "RESERVED", "SCHEDULED_CAPACITY"]))
    fields["billing_type"] = billing
    if billing == "SCHEDULED_CAPACITY":
        # The same instants written in other offsets than the API echoes them.
        fields["reservation_start_time"] = "2027-02-01T01:00:00+01:00"
        fields["reservation_end_time"] = draw(
            st.sampled_from(["2027-03-01T00:00:00Z", "2027-02-28T19:00:00-05:00"])
        )
    if billing == "RESERVED" and draw(st.booleans()):
        fields["duration_days"] = draw(st.integers(1, 90))
    if draw(st.booleans()):
        fields["cluster_type"] = "SLURM"
        fields["slurm_shm_size_gib"] = draw(st.sampled_from([16, 64]))
    elif draw(st.booleans()):
        fields["cluster_type"] = "KUBERNETES"
    if draw(st.booleans()):
        fields["install_traefik"] = draw(st.booleans())
    if draw(st.booleans()):
        fields["num_preemptible_gpus"] = 8 * draw(st.integers(0, 2))
    if draw(st.integers(0, 3)) == 0:
        fields["cluster_config"] = {"load_balancer": draw(st.sampled_from(["NONE", "TRAEFIK"]))}
    if draw(st.integers(0, 3)) == 0:
        on = {"dashboard": {"enabled": True}}
        config = {"config": on} if draw(st.booleans()) else {}
        fields["add_ons"] = [{"add_on_type": "dashboard", "name": "dash", **config}]
    if draw(st.integers(0, 4)) == 0:
        fields["auto_scale"] = True
        fields["auto_scale_max_gpus"] = num_gpus + 8 * draw(st.integers(0, 4))
    return fields


def _yaml_value(value: Any) -> str:
    return json.dumps(value)  # JSON scalars are YAML scalars; strings stay strings


@st.composite
def cases(draw: st.DrawFn) -> Case:  # noqa: C901 (split by the resource-kinds redesign)
    declared = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    spec_clusters: list[tuple[str, dict[str, Any]]] = []
    live: list[dict[str, Any]] = []
    for name in declared:
        fields = draw(cluster_fields())
        spec_clusters.append((name, fields))
        kinds = ["absent", "same", "resized", "tweaked", "other-place", "twin-absent"]
        match draw(st.sampled_from(kinds)):
            case "same":
                live.append({"cluster_name": name, **_live_of(fields)})
            case "resized":
                other = {**_live_of(fields), "num_gpus": 8 * draw(st.integers(1, 6))}
                live.append({"cluster_name": name, **other})
            case "tweaked":
                live.append({"cluster_name": name, **draw(_tweaked(_live_of(fields)))})
            case "other-place":
                live.append({"cluster_name": name, **_live_of(draw(cluster_fields()))})
            case _:
                pass
    absent = [n for n in NAMES if n not in declared and draw(st.booleans())]
    for name in absent:
        if draw(st.booleans()):
            live.append({"cluster_name": name, **_live_of(draw(cluster_fields()))})
    pruned = draw(st.integers(0, 2))
    for index in range(pruned):
        live.append({"cluster_name": f"{PRUNE_PREFIX}{index}", **_live_of(draw(cluster_fields()))})
    untouchable = [f"hand-made-{i}" for i in range(draw(st.integers(0, 2)))]
    for name in untouchable:
        live.append({"cluster_name": name, **_live_of(draw(cluster_fields()))})
    use_prune = pruned > 0 or draw(st.booleans())
    lines = ["version: 1", "clusters:"]
    volume_sizes: dict[str, int] = {}
    for name, fields in spec_clusters:
        lines.append(f"  - cluster_name: {name}")
        lines += [f"    {k}: {_yaml_value(v)}" for k, v in fields.items()]
        if name not in {c["cluster_name"] for c in live} and draw(st.integers(0, 3)) == 0:
            volume = f"vol-{fields['region']}"
            volume_sizes[volume] = draw(st.integers(1, 4))
            lines.append(f"    volume: {volume}")
    for name in absent:
        lines += [f"  - cluster_name: {name}", "    ensure: absent"]
    if volume_sizes:
        lines.append("volumes:")
        for volume, size in sorted(volume_sizes.items()):
            region = volume.removeprefix("vol-")
            lines += [
                f"  - volume_name: {volume}",
                f"    region: {region}",
                f"    size_tib: {size}",
            ]
    if use_prune:
        lines += ["prune:", "  enabled: true", f'  name_prefix: "{PRUNE_PREFIX}"']
    return Case(
        spec_yaml="\n".join(lines) + "\n",
        live=tuple(live),
        declared=tuple(declared),
        untouchable=tuple(untouchable),
    )


@st.composite
def _tweaked(draw: st.DrawFn, twin: dict[str, Any]) -> dict[str, Any]:
    """A live twin whose in-place fields differ (what a console user may have changed)."""
    twin = dict(twin)
    if draw(st.booleans()):
        twin["num_preemptible_gpus"] = 8 * draw(st.integers(0, 2))
    if draw(st.booleans()):
        twin["cluster_config"] = {"load_balancer": draw(st.sampled_from(["NONE", "TRAEFIK"]))}
    if "add_ons" in twin and draw(st.booleans()):
        # Switched off by hand: the API stops listing it; the spec's config turns it back on.
        off = {"dashboard": {"enabled": False}}
        twin["add_ons"] = [{"add_on_type": "dashboard", "name": "dash", "config": off}]
    if twin.get("cluster_type") != "SLURM" and draw(st.booleans()):
        twin["cluster_type"] = "KUBERNETES"
    return twin


def _live_of(fields: dict[str, Any]) -> dict[str, Any]:
    """The add_cluster keywords for a live twin of these spec fields: the autoscaler settings
    are create-only (not observable), so the twin is made without them."""
    twin = {k: v for k, v in fields.items() if k not in ("auto_scale", "auto_scale_max_gpus")}
    legacy = twin.pop("driver_version", None)
    if legacy is not None:
        _, major, minor, driver = legacy.split("_")
        twin.update(cuda_version=f"{major}.{minor}", nvidia_driver_version=driver)
    return twin


def _check_converged(state: SimState, case: Case) -> None:
    assert duplicate_names(state) == {}
    names = sorted(c.fields.cluster_name for c in state.clusters.values())
    assert names == sorted([*case.declared, *case.untouchable]), case.spec_yaml


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_plan_after_apply_is_empty(case: Case) -> None:
    """Any valid spec against any live state: apply, then the next plan has no changes."""
    spec = load_spec([("spec.yaml", case.spec_yaml.encode())])
    clock = FakeClock()
    state = SimState(clock=clock, token="sim-token", speed=0)
    for fields in case.live:
        state.add_cluster(**fields)
    api = sim_api(SimTransport(state, sleep=clock.sleep), clock)
    plan, report = apply_spec(api, spec, clock, plan_options=ALLOW_ALL)
    assert not plan.is_blocked, (plan.actions, plan.refusals, case.spec_yaml)
    failed = [(r.action.name, r.message) for r in report.results if r.outcome is not Outcome.DONE]
    assert failed == [], case.spec_yaml
    again, _ = plan_against(api, spec, ALLOW_ALL)
    assert not again.has_changes and not again.is_blocked, (again.actions, case.spec_yaml)
    _check_converged(state, case)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_cli_apply_then_plan_says_no_changes(case: Case) -> None:
    """The same property through the CLI: apply --auto-approve, then plan exits 0, no changes."""
    with tempfile.TemporaryDirectory() as tmp:
        sim_file = Path(tmp) / "sim.json"
        state = new_sim_state()
        for fields in case.live:
            state.add_cluster(**fields)
        save_state(state, str(sim_file))
        spec_file = Path(tmp) / "spec.yaml"
        spec_file.write_text(case.spec_yaml)
        allow = [arg for name in NAMES for arg in ("--allow-replace", name)]
        allow += [arg for name in FORFEITABLE for arg in ("--allow-forfeit", name)]
        applied = run_cli(
            [
                *sim_args(sim_file),
                "apply",
                "-f",
                str(spec_file),
                "--auto-approve",
                "--max-deletes",
                "100",
                *allow,
            ]
        )
        assert applied.code == 0, (applied.all, case.spec_yaml)
        planned = run_cli(
            [*sim_args(sim_file), "plan", "-f", str(spec_file), "--detailed-exitcode"]
        )
        assert planned.code == 0, (planned.all, case.spec_yaml)
        assert "No changes." in planned.out
        _check_converged(load_sim_file(sim_file), case)
