"""The model's values are msgspec Structs (docs/architecture.md, "Values"): what the rest of the
code relies on from them, which a change of their base class must keep."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from reconciler import kinds
from reconciler.frozen import remember_last
from reconciler.model import (
    Action,
    ActionKind,
    Desired,
    GpuChange,
    Live,
    LiveState,
    Spec,
    frozen_map,
)


def test_a_value_cannot_be_changed_in_place() -> None:
    desired = Desired("cluster", "a")
    with pytest.raises(AttributeError):
        desired.name = "b"  # type: ignore[misc]


def test_the_key_is_worked_out_at_construction_and_again_by_replace() -> None:
    added = Desired("add-on", "dash", parent="a")
    assert added.key == "add-on.a/dash"
    assert replace(added, parent="b").key == "add-on.b/dash"
    assert Live("cluster", "c-1", "a", "READY").key == "cluster.a"
    assert Live("cluster", "c-1", "a", "READY", key="bogus").key == "cluster.a"  # replaced


def test_values_compare_by_their_fields_and_hash_by_them() -> None:
    one = Action(ActionKind.DELETE, "cluster", "a", resource_id="c-1")
    assert one == Action(ActionKind.DELETE, "cluster", "a", resource_id="c-1")
    assert one != replace(one, resource_id="c-2")
    change = GpuChange("H100", 8, 16)
    assert len({change, GpuChange("H100", 8, 16), GpuChange("H100", 8, 24)}) == 2
    assert Desired("cluster", "a") != Live("cluster", "c-1", "a", "READY")


def test_the_groups_by_kind_follow_the_resources() -> None:
    spec = Spec(resources=(Desired("cluster", "a"), Desired("volume", "v")))
    assert [d.name for d in spec.of_kind("volume")] == ["v"]
    assert [d.name for d in replace(spec, resources=()).of_kind("volume")] == []
    live = LiveState((Live("cluster", "c-1", "a", "READY"),))
    assert live.of_kind("cluster")[0].id == "c-1"


def test_empty_mappings_are_one_shared_read_only_value() -> None:
    first, second = Desired("cluster", "a"), Desired("cluster", "b")
    assert first.fields is second.fields
    with pytest.raises(TypeError):
        first.fields["num_gpus"] = 8  # type: ignore[index]


def test_kinds_are_equal_only_to_themselves_and_work_out_their_tables() -> None:
    desired = Desired("cluster", "a", fields=frozen_map({"num_gpus": 8}))
    assert dict(desired.fields) == {"num_gpus": 8}
    cluster = kinds.get("cluster")
    assert cluster == cluster and cluster != replace(cluster)
    assert cluster.by_name["num_gpus"].name == "num_gpus"


def test_remember_last_answers_again_only_for_the_very_same_object() -> None:
    calls: list[object] = []

    @remember_last
    def work(value: dict[str, int]) -> int:
        calls.append(value)
        return len(value)

    first, equal = {"a": 1}, {"a": 1}
    assert (work(first), work(first), work(equal), work(first)) == (1, 1, 1, 1)
    assert [c is first for c in calls] == [True, False, True]  # one entry: the last object
