"""Export writes the same YAML with libyaml's C emitter as with the pure-Python one."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.export import SAFE_DUMPER, dump_yaml

DOCUMENTS: list[Any] = [
    {"version": 1, "clusters": []},
    {
        "clusters": [
            {
                "cluster_name": "train-a",
                "num_gpus": 8,
                "install_traefik": True,
                "cluster_config": {"gpu_operator_version": "v25.3.0", "empty": {}},
                "note": "x" * 250,
                "text": "line one\nline two\n",
                "unicode": "épreuve ✓",
                "odd": ["yes", "no", "null", "~", "0x1F", "1e3", "", " lead", "a: b", "#c"],
                "number": 1.5,
                "none": None,
            }
        ]
    },
]


@pytest.mark.skipif(not hasattr(yaml, "CSafeDumper"), reason="PyYAML built without libyaml")
def test_the_c_emitter_is_used_when_built_in() -> None:
    """Export uses CSafeDumper where PyYAML has it."""
    assert SAFE_DUMPER is yaml.CSafeDumper


@pytest.mark.parametrize("document", DOCUMENTS, ids=["empty", "mixed"])
def test_same_text_as_the_python_emitter(document: Any) -> None:
    """Hand-picked awkward values: the text equals yaml.safe_dump's, and reads back equal."""
    text = dump_yaml(document)
    assert text == yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=100)
    assert yaml.safe_load(text) == document


TEXT = st.text(max_size=120)
PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=240)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT, PRINTABLE
)
KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_same_text_for_any_document(document: dict[str, Any]) -> None:
    """Any document of JSON-like values under field-like keys (an export's keys are field
    names): the C emitter writes what the Python one writes."""
    assert dump_yaml(document) == dump_yaml(document, yaml.SafeDumper)
