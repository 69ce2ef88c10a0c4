"""The YAML reader exactly: values, the marks tree, surprises, problems and fatal errors.

`test_spec.py` checks what `load_spec` makes of them; these pin the reader's own output, which
the event handlers in `spec/events.py` build by hand for speed.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec.events import Fatal
from reconciler.spec.reader import MAX_ALIAS_NODES, MAX_DEPTH, Node, Reader, locate

OCTAL_8 = (
    '010 is read as the octal number 8 by YAML 1.1; write 10 or quote it ("010") if it is text'
)
DUPLICATE = "YAML would silently keep only one — remove one of them"
EMPTY = "the file is empty; a spec needs version: 1 and clusters or volumes"
NOT_PLAIN_DATA = "is not allowed; specs are plain YAML data, remove it"
COLLECTION_KEY = "mapping keys must be plain words, not collections"


def fatal(text: str) -> tuple[int, int, str]:
    with pytest.raises(Fatal) as raised:
        Reader().read(text)
    return raised.value.line, raised.value.col, raised.value.message


# --- whole results -------------------------------------------------------------------------------


def test_merge_keys_duplicates_and_surprises() -> None:
    """Merged keys keep the marks of where they were written; a duplicate is reported at the
    second key with the first one's position, and its value is dropped."""
    text = "base: &b {x: 1, 'y': no}\nitem:\n  <<: *b\n  x: 2\n  x: 3\n  z: [010, '<<']\n"
    base = (1, 7, {"x": (1, 14, "1", True), "y": (1, 22, "no", True)}, {"x": (1, 11), "y": (1, 17)})
    item = (
        3,
        3,
        {
            "x": (4, 6, "2", True),
            "z": (6, 6, [(6, 7, "010", True), (6, 12, "<<", False)]),
            "y": (1, 22, "no", True),
        },
        {"x": (4, 3), "z": (6, 3), "y": (1, 17)},
    )
    assert Reader().read(text) == (
        {"base": {"x": 1, "y": False}, "item": {"x": 2, "z": [8, "<<"], "y": False}},
        (1, 1, {"base": base, "item": item}, {"base": (1, 1), "item": (2, 1)}),
        [(("item", "z", 0), OCTAL_8)],
        [(5, 3, f"item.x: duplicate key 'x' (first at 4:3); {DUPLICATE}")],
    )


def test_surprises_in_lists_and_in_a_dropped_duplicate() -> None:
    text = "a:\n  - 1:30\n  - {b: on}\ndup: 1\ndup: 0777\n"
    value, node, surprises, problems = Reader().read(text)
    assert value == {"a": [90, {"b": True}], "dup": 1}
    assert node == (
        1,
        1,
        {
            "a": (2, 3, [(2, 5, "1:30", True), (3, 5, {"b": (3, 9, "on", True)}, {"b": (3, 6)})]),
            "dup": (4, 6, "1", True),
        },
        {"a": (1, 1), "dup": (4, 1)},
    )
    assert [path for path, _message in surprises] == [("a", 0), ("dup",)]
    assert problems == [(5, 1, f"dup: duplicate key 'dup' (first at 4:1); {DUPLICATE}")]


def test_tags_anchors_and_an_alias_as_key() -> None:
    """Tagged keys are text; `!` keeps text; an alias of a key is that key again."""
    text = "!!str k: !!int '7'\n&n m: ! 8\n*n : 9\nq: &v 10\nr: *v\n"
    value, node, surprises, problems = Reader().read(text)
    assert value == {"k": 7, "m": "8", "q": 10, "r": 10}
    assert node[2] == {
        "k": (1, 10, "7", False),
        "m": (2, 7, "8", False),
        "q": (4, 4, "10", True),
        "r": (4, 4, "10", True),
    }
    assert node[3] == {"k": (1, 1), "m": (2, 1), "q": (4, 1), "r": (5, 1)}
    assert surprises == []
    assert problems == [(3, 1, f"m: duplicate key 'm' (first at 2:1); {DUPLICATE}")]


def test_merge_of_a_list_of_mappings() -> None:
    text = "a: &a {p: 1}\nb: &b {q: 2}\nc: {<<: [*a, *b], p: 3}\n"
    value, node, _, _ = Reader().read(text)
    assert value["c"] == {"p": 3, "q": 2}
    assert node[2]["c"] == (
        3,
        4,
        {"p": (3, 22, "3", True), "q": (2, 11, "2", True)},
        {"p": (3, 19), "q": (2, 8)},
    )
    assert locate(node, ("c", "q"), True) == ((2, 8, "q", True), True)


def test_a_plain_value_at_the_root() -> None:
    assert Reader().read("0o10\n") == ("0o10", (1, 1, "0o10", True), [], [])
    assert Reader().read("010\n")[2] == [((), OCTAL_8)]


# --- what stops a file ---------------------------------------------------------------------------


def _bomb(copies: int) -> str:
    # Each *a adds 12 nodes: the mapping, four keys, four values (the dropped duplicate's
    # too), the merged mapping and the key it brings; *b adds 25.
    return (
        "a: &a {x: 1, x: 2, <<: {k: 1}, y: 3}\nb: &b [*a, *a]\nc: ["
        + ", ".join(["*b"] * copies)
        + "]\n"
    )


def test_alias_nodes_are_counted_exactly() -> None:
    assert MAX_ALIAS_NODES == 100_000
    Reader().read(_bomb(3999))  # 24 + 3999 × 25 = 99,999 nodes
    assert fatal(_bomb(4000)) == (
        3,
        16001,
        "aliases expand to more than 100000 nodes (an alias bomb?); write the values out or "
        "use defaults",
    )


def test_depth_limit() -> None:
    assert MAX_DEPTH == 32
    Reader().read("a: " + "[" * 31 + "]" * 31 + "\n")
    assert fatal("a: " + "[" * 32 + "]" * 32 + "\n") == (
        1,
        35,
        "nesting is deeper than 32 levels; flatten the spec",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (1, 1, EMPTY)),
        ("# a comment\n", (1, 1, EMPTY)),
        ("~\n", (1, 1, EMPTY)),
        ("a: 1\n--- \nb: 2\n", (2, 1, "a second YAML document starts here; put one spec per file")),
        ("? [a]\n: b\n", (1, 3, COLLECTION_KEY)),
        ("a: &m {x: 1}\n*m : 2\n", (2, 1, COLLECTION_KEY)),
        ("a: !!set {x}\n", (1, 4, f"the tag !!set {NOT_PLAIN_DATA}")),
        (
            "!!python/name:os.system a: 1\n",
            (1, 1, f"the tag !!python/name:os.system {NOT_PLAIN_DATA}"),
        ),
        ("a: *nope\n", (1, 4, "alias *nope refers to no anchor defined before it")),
        ("a: [<<: 1]\n", (1, 9, "'<<' must merge a mapping or a list of mappings")),
        ("version: !!int\n", (1, 10, "'' is not a valid !!int")),
        ("version: !!float\n", (1, 10, "'' is not a valid !!float")),
    ],
    ids=[
        "nothing",
        "only-a-comment",
        "null-document",
        "second-document",
        "collection-key",
        "alias-of-a-mapping-as-key",
        "set-tag",
        "python-tag-on-a-key",
        "unknown-alias",
        "merge-of-a-number",
        "empty-int-tag",
        "empty-float-tag",
    ],
)
def test_fatal_problems(text: str, expected: tuple[int, int, str]) -> None:
    assert fatal(text) == expected


# --- every mark points at what it marks ----------------------------------------------------------

_WORDS = st.text("abcxyz_-", min_size=1, max_size=8)
_SCALARS = st.one_of(
    _WORDS,
    st.integers(-1000, 10**6),
    st.booleans(),
    st.none(),
    st.sampled_from(["010", "1:30", "no"]),
)
_DOCUMENTS = st.dictionaries(
    _WORDS,
    st.recursive(
        _SCALARS,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_WORDS, inner, max_size=4),
        max_leaves=12,
    ),
    min_size=1,
    max_size=5,
)


def _walk(node: Node, lines: list[str]) -> None:
    line, col, children = node[0], node[1], node[2]
    assert 1 <= line <= len(lines) and col >= 1
    if isinstance(children, str):  # a scalar: written at its mark (quoted when not plain)
        at = lines[line - 1][col - 1 :]
        assert at.startswith(children if node[3] else ("'", '"'))
    elif isinstance(children, dict):
        for key, child in children.items():
            key_line, key_col = node[3][key]
            written = lines[key_line - 1][key_col - 1 :]
            assert written.startswith(key) or written[0] in "'\""
            _walk(child, lines)
    else:
        for child in children:
            _walk(child, lines)


@settings(max_examples=150, deadline=None)
@given(_DOCUMENTS, st.booleans())
def test_values_are_yamls_and_every_mark_points_at_its_text(
    document: dict[str, Any], flow: bool
) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, sort_keys=False)
    value, node, surprises, problems = Reader().read(text)
    assert value == yaml.safe_load(text)
    assert problems == [] and surprises == []  # safe_dump quotes what 1.1 would read otherwise
    _walk(node, text.splitlines())
