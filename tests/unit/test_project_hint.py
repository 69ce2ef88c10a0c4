"""`project_hint`: the project a spec names, read off its lines before the YAML is parsed, so
`plan` can start its list calls at once (issue 11). A guess the caller checks: every case
where it cannot read the value plainly gives None, never a wrong project."""

from __future__ import annotations

import pytest

from reconciler.cli.listing import project_hint
from reconciler.spec import check_spec
from tests.conftest import SPEC_HEADER

HEAD = SPEC_HEADER.replace("version: 1\n", "version: 1\n{line}\n") + (
    "  - cluster_name: a\n    num_gpus: 8\n"
)


@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("project_id: proj-a", "proj-a"),
        ('project_id: "proj-a"', "proj-a"),
        ("project_id: 'proj-a'", "proj-a"),
        ("project_id: proj-a   # the training team", "proj-a"),
        ("project_id:    proj_a.b ", "proj_a.b"),
        ("", None),
        ("project_id: !!str proj-a", None),  # a tag: not read here, the check reads it
        ("project_id: &p proj-a", None),
        ('project_id: "proj a"', None),
        ("project_id: null", None),
        ("project_id: 'null'", "null"),
        ("project_id: 12", "12"),  # YAML reads an int: the check refuses the spec anyway
    ],
)
def test_the_hint_reads_plain_values_and_nothing_else(line: str, hint: str | None) -> None:
    assert project_hint([("spec.yaml", HEAD.format(line=line).encode())]) == hint


def test_the_hint_agrees_with_the_checked_spec_where_it_reads_one() -> None:
    for line in ("project_id: proj-a", 'project_id: "proj-a"  # quoted', ""):
        data = HEAD.format(line=line).encode()
        assert project_hint([("spec.yaml", data)]) == check_spec([("spec.yaml", data)]).project_id


def test_a_project_named_in_one_file_is_the_spec_s() -> None:
    first = ("a.yaml", HEAD.format(line="").encode())
    second = (
        "b.yaml",
        HEAD.format(line="project_id: proj-b").encode().replace(b"name: a", b"name: b"),
    )
    third = ("c.yaml", HEAD.format(line="").encode().replace(b"name: a", b"name: c"))
    assert project_hint([first, second, third]) == "proj-b"
    assert check_spec([first, second, third]).project_id == "proj-b"


def test_an_indented_key_is_not_the_spec_s_project() -> None:
    data = b"version: 1\nclusters:\n  - cluster_name: a\n    project_id: proj-x\n"
    assert project_hint([("spec.yaml", data)]) is None
