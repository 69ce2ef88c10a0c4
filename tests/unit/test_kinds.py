"""The kinds registry: field tables complete and consistent with the schema and the simulator."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from reconciler import kinds
from reconciler.kinds import KINDS, FieldClass, Kind
from reconciler.model import ActionKind
from reconciler.schema import schema
from reconciler.simulator.shapes import CREATE_FIELDS, UPDATE_FIELDS

IDS = [k.name for k in KINDS]
SENT_ON_CREATE = (
    FieldClass.IN_PLACE,
    FieldClass.REPLACE,
    FieldClass.CREATE_ONLY,
    FieldClass.NESTED,
)
#: Spec keys from older API documentation, read and translated (spec_item) but never sent.
LEGACY_SPEC_KEYS = {"cluster": {"driver_version", "auto_scaled", "gpu_node_failover_enabled"}}


def item_schema(kind: Kind) -> dict[str, Any]:
    """The JSON Schema of one spec item of `kind` (a nested kind's inside its parent's)."""
    defs: dict[str, Any] = schema()["$defs"]
    if kind.parent is None:
        return dict(defs[kind.name])
    items: dict[str, Any] = defs[kind.parent.kind]["properties"][kind.parent.key]["items"]
    return items


def schema_item_keys(kind: Kind) -> set[str]:
    """The keys the JSON Schema allows in one spec item of `kind`."""
    return set(item_schema(kind)["properties"])


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_every_field_has_exactly_one_row(kind: Kind) -> None:
    """No field name, and no name the API echoes, appears twice in a kind's table."""
    names = Counter(f.name for f in kind.fields)
    live_names = Counter(f.live_name for f in kind.fields)
    assert [n for n, c in names.items() if c > 1] == []
    assert [n for n, c in live_names.items() if c > 1] == []


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_schema_table_and_simulator_agree_on_create_fields(kind: Kind) -> None:
    """What a spec item may set, what the table sends on create and what the simulator
    accepts are one set (less the tool's own keys, the name, and fields no spec sets)."""
    sent = kind.names(*SENT_ON_CREATE)
    in_spec = {f.name for f in kind.fields if f.cls in SENT_ON_CREATE and f.in_spec}
    legacy = LEGACY_SPEC_KEYS.get(kind.name, set())
    assert schema_item_keys(kind) - kind.tool_keys - legacy == in_spec
    assert set(CREATE_FIELDS[kind.name]) == sent | {kind.api.name_key}


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_table_and_simulator_agree_on_update_fields(kind: Kind) -> None:
    """The in-place fields are exactly what the simulator's update accepts (plus the id, for
    a kind whose update carries it in the body; and the nested lists, which the API can
    update with their parent but the tool changes through their own endpoints)."""
    in_place = set(kind.names(FieldClass.IN_PLACE, FieldClass.NESTED))
    expected = in_place | ({kind.api.id_key} if kind.api.update_id_in_body else set())
    assert set(UPDATE_FIELDS[kind.name]) == expected


@pytest.mark.parametrize("kind", kinds.TOP_LEVEL, ids=[k.name for k in kinds.TOP_LEVEL])
def test_ignore_changes_offers_exactly_the_compared_fields(kind: Kind) -> None:
    """`lifecycle.ignore_changes` can name every compared field, and the list of each nested
    kind (its changes then left alone), and nothing else."""
    definition = schema()["$defs"][kind.name]["properties"]["lifecycle"]["properties"]
    nested = kind.names(FieldClass.NESTED)
    assert set(definition["ignore_changes"]["items"]["enum"]) == set(kind.compared | nested)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_every_action_has_a_rank(kind: Kind) -> None:
    """Apply can order every action a kind can have."""
    acting = {ActionKind.CREATE, ActionKind.UPDATE, ActionKind.REPLACE, ActionKind.DELETE}
    assert set(kind.rank) == acting


def test_nested_kinds_follow_their_parent() -> None:
    """A nested kind names a registered top-level parent that declares it as a nested field."""
    position = {k.name: i for i, k in enumerate(KINDS)}
    for kind in KINDS:
        if kind.parent is not None:
            parent = kinds.get(kind.parent.kind)
            assert parent.parent is None and position[parent.name] < position[kind.name]
            assert parent.by_name[kind.parent.key].cls is FieldClass.NESTED


def test_referenced_kinds_come_first() -> None:
    """KINDS lists a referenced kind before the kinds that refer to it (diff and export rely
    on it), and every reference names a registered kind."""
    position = {k.name: i for i, k in enumerate(KINDS)}
    for kind in KINDS:
        for ref in kind.refs:
            assert position[ref.kind] < position[kind.name], (kind.name, ref.key)


def test_sensitive_paths_come_from_the_tables() -> None:
    """Secrets are declared in the field tables, and redaction follows them."""
    assert {"kube_config", "oidc_config.ca_cert"} == kinds.SENSITIVE_PATHS
    assert kinds.redact({"oidc_config": {"ca_cert": "x", "issuer": "i"}}) == {
        "oidc_config": {"ca_cert": "(sensitive)", "issuer": "i"}
    }


def test_get_names_every_kind() -> None:
    """The registry finds each kind by its name and refuses other names."""
    assert [kinds.get(k.name) for k in KINDS] == list(KINDS)
    with pytest.raises(KeyError):
        kinds.get("node")
