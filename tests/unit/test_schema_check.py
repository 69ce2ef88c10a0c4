"""The fast check of the spec's schemas (`reconciler.schema_check`) answers as jsonschema does:
a valid spec needs no jsonschema (issue 11), an invalid one still gets jsonschema's words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.schema import prices_validator, schema, validators
from reconciler.schema_check import Validator, compile_check, equal

ROOT = Path(__file__).parents[2]


def _words(node: Any, found: set[Any]) -> set[Any]:
    """Every property name, enum and const value of a schema: what generated values use."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                found.update(value)
            if key == "enum" and isinstance(value, list):
                found.update(v for v in value if not isinstance(v, dict | list))
            if key == "const" and not isinstance(value, dict | list):
                found.add(value)
            _words(value, found)
    elif isinstance(node, list):
        for value in node:
            _words(value, found)
    return found


WORDS = sorted(_words(schema(), set()) | _words(prices_validator().node, set()), key=repr)
KEYS = st.sampled_from([w for w in WORDS if isinstance(w, str)])
SCALARS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from([0, 1, 8, 16, -8, 7, 8.0, 0.5, 1e9, True, False, None, "", "x", "a b"]),
    st.integers(-100, 10_000),
    st.text(max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=12,
)
DOCUMENTS = st.dictionaries(KEYS, VALUES, max_size=8)
CHECKED = {**validators(), "prices": prices_validator()}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(CHECKED)), value=st.one_of(DOCUMENTS, VALUES))
def test_the_fast_check_answers_as_jsonschema(name: str, value: Any) -> None:
    validator = CHECKED[name]
    assert validator.passes is not None, f"{name}: a keyword the fast check does not know"
    assert validator.passes(value) == validator.real.is_valid(value), (name, value)


def _bases() -> dict[str, list[Any]]:
    """Valid values for each validator, from the shipped example specs and prices."""
    import yaml

    from reconciler.kinds import TOP_LEVEL

    def read(path: Path) -> Any:  # timestamps as the spec reader leaves them: text
        return json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))

    docs = [read(p) for p in sorted((ROOT / "tests/data/good").glob("*.yaml"))]
    docs += [read(ROOT / "examples/clusters.yaml")]
    bases: dict[str, list[Any]] = {"document": docs}
    bases["prices"] = [read(ROOT / "examples/prices.yaml")]
    for kind in TOP_LEVEL:
        items = [i for d in docs for i in d.get(kind.plural) or () if isinstance(i, dict)]
        bases[kind.name] = items
        bases[kind.api.name_key] = [i[kind.api.name_key] for i in items]
        merged = [
            kind.hooks.spec_item(d.get("defaults") or {}, i, True)
            for d in docs
            for i in d.get(kind.plural) or ()
            if kind.hooks.spec_item is not None and i.get("ensure") != "absent"
        ]
        bases[f"{kind.name}Rules"] = [dict(m) for m in merged]
    return {k: v for k, v in bases.items() if k in CHECKED and v}


BASES = _bases()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(BASES)))
def test_one_change_to_a_valid_value_is_answered_as_jsonschema_does(
    data: st.DataObject, name: str
) -> None:
    """A valid value with one key set, replaced or dropped, at any depth: the boundaries."""
    value = json.loads(json.dumps(data.draw(st.sampled_from(BASES[name]))))
    node = value
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        key = data.draw(
            st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node)))
        )
        if not isinstance(node[key], dict | list):
            break
        node = node[key]
    if isinstance(node, dict):
        key = data.draw(st.one_of(st.sampled_from(sorted(node) or ["x"]), KEYS))
        if node and key in node and data.draw(st.booleans()):
            del node[key]
        else:
            node[key] = data.draw(VALUES)
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(0, len(node) - 1))] = data.draw(VALUES)
    else:
        value = data.draw(VALUES)
    validator = CHECKED[name]
    assert validator.passes is not None
    assert validator.passes(value) == validator.real.is_valid(value), (name, value)


#: Specs that are valid as a whole: the shipped examples (the infra repo read together, as
#: `plan -f` reads a directory) and the test specs.
VALID_SPECS = [
    ROOT / "examples/clusters.yaml",
    ROOT / "examples/infra-repo",
    *sorted((ROOT / "tests/data/good").glob("*.yaml")),
]


@pytest.mark.parametrize("path", VALID_SPECS, ids=lambda p: p.name)
def test_every_valid_example_passes_without_jsonschema(path: Path) -> None:
    """The shipped examples and the test specs are valid: checked by the fast check alone."""
    code = (
        "import sys\n"
        "from reconciler.cli import read_spec_files\n"
        "from reconciler.spec import check_spec\n"
        "check_spec(read_spec_files([sys.argv[1]]))\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("node", "value", "expected"),
    [
        ({"type": "integer", "multipleOf": 8}, 16, True),
        ({"type": "integer", "multipleOf": 8}, 12, False),
        ({"uniqueItems": True}, ["a", "b"], True),
        ({"multipleOf": 8}, 16.0, False),  # not sure: jsonschema answers (it is valid)
        ({"uniqueItems": True}, ["a", "a"], False),
        ({"uniqueItems": True}, [1, True], False),  # not sure: jsonschema answers
        ({"enum": [1]}, True, False),
        ({"enum": [1]}, 1.0, True),
        ({"const": [1, {"a": None}]}, [1.0, {"a": None}], True),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}, False),
        ({"not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}}, {"c": 1}, True),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1, False),
        ({"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}}, "s", True),
        ({"minimum": 1}, object(), False),  # not JSON: jsonschema answers
    ],
)
def test_each_keyword(node: dict[str, Any], value: Any, expected: bool) -> None:
    check = compile_check(node, node)
    assert check is not None and check(value) is expected


@pytest.mark.parametrize(
    "node",
    [
        {"patternProperties": {"a": {}}, "additionalProperties": False},
        {"prefixItems": [{}]},
        {"$ref": "https://example.com/schema"},
        {"multipleOf": 0.5},
        {"type": "whatever"},
    ],
)
def test_a_keyword_it_does_not_know_leaves_it_to_jsonschema(node: dict[str, Any]) -> None:
    assert compile_check(node, node) is None
    assert Validator(node, node).passes is None


def test_equal_is_jsonschema_s() -> None:
    assert equal(1, 1.0) and not equal(True, 1) and not equal(False, 0) and equal("a", "a")
    assert equal({"a": [1]}, {"a": [1.0]}) and not equal({"a": 1}, {"b": 1})


def test_an_invalid_spec_still_gets_jsonschema_s_words() -> None:
    issues = validators()["cluster"].real.iter_errors({"cluster_name": "a", "num_gpus": 7})
    assert any("multiple of 8" in error.message for error in issues)
    assert not validators()["cluster"].passes({"cluster_name": "a", "num_gpus": 7})
    assert json.dumps(WORDS, default=str)  # the generated values come from the schema
